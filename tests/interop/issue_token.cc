// Test helper for tests/interop: issues one access token with bulwark's own key ring and signer,
// so independent JWT libraries can verify it from the published JWKS alone. Not part of the
// shipped binary: minting tokens is the auth service's job.
//
//   jwt_interop_issue DATA_DIR ALGORITHM ISSUER AUDIENCE SUBJECT  -> prints the token

#include <iostream>

#include "core/clock.h"
#include "crypto/random.h"
#include "jwt/key_ring.h"
#include "jwt/signer.h"

int main(int argc, char** argv) {
  using namespace bulwark;
  if (argc != 6) {
    std::cerr << "usage: jwt_interop_issue DATA_DIR ALGORITHM ISSUER AUDIENCE SUBJECT\n";
    return 2;
  }
  const auto algorithm = crypto::algorithmFromName(argv[2]);
  if (!algorithm) {
    std::cerr << "unknown algorithm\n";
    return 2;
  }
  jwt::KeyRingConfig ring_config;
  ring_config.directory = std::filesystem::path(argv[1]) / "keys";
  ring_config.algorithm = *algorithm;
  auto ring = jwt::KeyRing::open(ring_config, core::realClock(), crypto::systemRandom());
  if (!ring) {
    std::cerr << ring.error().message << '\n';
    return 1;
  }
  jwt::SignerConfig signer_config;
  signer_config.issuer = argv[3];
  signer_config.audiences = {argv[4]};
  auto signer =
      jwt::TokenSigner::create(signer_config, *ring, core::realClock(), crypto::systemRandom());
  jwt::AccessTokenRequest request;
  request.subject = argv[5];
  request.session_id = "interop-session";
  request.roles = {"user", "admin"};
  auto issued = signer->sign(request);
  if (!issued) {
    std::cerr << jwt::signErrorName(issued.error()) << '\n';
    return 1;
  }
  std::cout << issued->token << '\n';
  return 0;
}

#pragma once
// The verifier's JWS parse (private to src/jwt): the rules and errors of parseJws() (jws.h),
// with the header and signature decoded into storage the caller lends, so that a token costs no
// allocation but its payload. parseJws() is this parse plus copies into the public Jws.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "crypto/signature_key.h"
#include "jwt/errors.h"

namespace bulwark::jwt::detail {

// Storage a parse borrows; a caller keeps it (on its stack) as long as the JwsParts it filled.
// Parts that do not fit the arrays go to the strings, so any size the token limit allows works.
struct JwsScratch {
  std::array<char, 1024> header;     // the decoded header, while it is read
  std::array<char, 1024> signature;  // RSA up to 8192 bits fits
  std::string header_overflow, signature_overflow;
  // kid/typ values that are not plain views of the decoded header (escapes: the general JSON
  // parser's path hands them over in its own buffers).
  std::string kid, typ;
};

// A parsed JWS whose signature has NOT been checked yet. The views point into the token and
// the scratch.
struct JwsParts {
  std::string_view signing_input;  // "<header>.<payload>" as it appears in the token
  crypto::Algorithm alg = crypto::Algorithm::kEdDSA;
  bool has_kid = false;
  bool has_typ = false;
  std::string_view kid, typ;
  std::string payload;  // the decoded payload bytes
  std::string_view signature;
};

// parseJws() (same rules, same order, same errors) into `out`, borrowing `scratch`.
// Thread-safe.
[[nodiscard]] VerifyResult<void> parseJwsParts(std::string_view token, std::size_t max_token_bytes,
                                               JwsScratch& scratch, JwsParts& out);

// verifyJwsSignature() for JwsParts. Thread-safe.
[[nodiscard]] VerifyResult<void> verifyJwsPartsSignature(crypto::Algorithm header_alg,
                                                         std::string_view signing_input,
                                                         std::string_view signature,
                                                         const crypto::SignatureKey& key);

}  // namespace bulwark::jwt::detail

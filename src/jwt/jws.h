#pragma once
// JWS compact serialization (RFC 7515 §7.1), strict: the structural and header rules of SPEC
// F2.2 that do not depend on who issued the token. Parsing never selects a key and never trusts
// the header's `alg` to pick an algorithm: verifyJwsSignature() compares it with the algorithm
// the key owns. Issuer policy (typ, kid, claims) lives in verifier.h.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/signature_key.h"
#include "jwt/errors.h"

namespace bulwark::jwt {

inline constexpr std::size_t kDefaultMaxTokenBytes = 8 * 1024;

// The protected-header members the verifier uses. Members not listed are ignored once the rules
// of parseJws() have passed.
struct JoseHeader {
  crypto::Algorithm alg = crypto::Algorithm::kEdDSA;
  std::optional<std::string> kid;
  std::optional<std::string> typ;
};

// A parsed JWS whose signature has NOT been checked yet.
struct Jws {
  std::string_view signing_input;  // "<header>.<payload>" as it appears in the token (a view)
  JoseHeader header;
  std::string payload;    // the decoded payload bytes (any bytes at this layer)
  std::string signature;  // the decoded signature bytes
};

// Parses `token` and applies the header rules. `signing_input` views `token`, so the token must
// outlive the result. Rejects, in this order:
//   kTokenTooLarge  token.size() > max_token_bytes
//   kMalformed      not exactly three '.'-separated parts, or an empty header or signature
//   kBadBase64      a part that is not canonical unpadded base64url
//   kBadJson / kDuplicateMember   a header that is not a strict JSON object
//   kMissingAlg, kBadHeader (alg/kid/typ/cty not strings), kAlgNone (any case),
//   kUnsupportedAlg, kCritUnsupported (any `crit`), kForbiddenHeader (jku, x5u, jwk, x5c),
//   kUnencodedPayload (`b64` present and not true), kNestedToken (`cty` JWT, any case).
// Thread-safe.
[[nodiscard]] VerifyResult<Jws> parseJws(std::string_view token,
                                         std::size_t max_token_bytes = kDefaultMaxTokenBytes);

// Checks the signature of `jws` with `key`: kAlgMismatch when the header alg is not the key's
// algorithm (the only way a header influences verification), kMalformedSignature, or
// kBadSignature. Thread-safe.
[[nodiscard]] VerifyResult<void> verifyJwsSignature(const Jws& jws,
                                                    const crypto::SignatureKey& key);

// Returns the compact JWS of `payload` under the protected header {"alg":<key's>,"typ":typ,
// "kid":kid} (typ and kid omitted when empty), or nullopt when the key cannot sign.
[[nodiscard]] std::optional<std::string> signJws(const crypto::SignatureKey& key,
                                                 std::string_view kid, std::string_view typ,
                                                 std::string_view payload);

}  // namespace bulwark::jwt

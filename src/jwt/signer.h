#pragma once
// Issues our access tokens (SPEC F2.2, RFC 9068): header {alg, typ "at+jwt", kid} and claims
// iss, sub, aud, exp, nbf, iat, jti, sid, roles, signed with the key ring's active key.

#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "crypto/random.h"
#include "jwt/key_source.h"

namespace bulwark::jwt {

struct SignerConfig {
  std::string issuer;                  // iss
  std::vector<std::string> audiences;  // aud: one is written as a string, several as an array
  std::chrono::seconds ttl{15 * 60};   // exp - iat; must not exceed the key ring's max_token_ttl
};

struct AccessTokenRequest {
  std::string subject;             // sub (the user id), required
  std::string session_id;          // sid (the refresh-token family), required
  std::vector<std::string> roles;  // roles
  // Optional, for a caller that decides them itself (auth::AccessTokenIssuer): the jti and the
  // validity window (truncated to whole seconds; nbf = iat). Unset: a 128-bit random jti and
  // now .. now + ttl. expires_at must be after issued_at and no later than now + ttl, so that
  // the key ring's retention (max_token_ttl) covers every token.
  std::string token_id;
  std::optional<core::SystemTime> issued_at;
  std::optional<core::SystemTime> expires_at;
};

struct IssuedToken {
  std::string token;  // compact JWS
  std::string jti;    // 128-bit random, base64url
  std::string kid;
  core::SystemTime issued_at;   // iat = nbf (whole seconds)
  core::SystemTime expires_at;  // exp
};

enum class SignError : std::uint8_t {
  kNoSigningKey = 1,  // the key source has no active key that can sign
  kInvalidRequest,    // empty subject or session id, or a validity window the signer refuses
  kSigningFailed,     // OpenSSL failure
};
// "no_signing_key" | "invalid_request" | "signing_failed".
std::string_view signErrorName(SignError error);
// Lets result<T, SignError>::value() throw std::runtime_error(signErrorName(error)).
[[noreturn]] void throw_exception_from_error(SignError error,
                                             const boost::source_location& location);

class TokenSigner {
 public:
  virtual ~TokenSigner() = default;

  // `keys` (usually the KeyRing) supplies the active key at each call, so a rotation takes effect
  // at the next token. Throws std::invalid_argument on an empty issuer or audience list or a ttl
  // outside 1 s .. 24 h (start-up configuration).
  static std::unique_ptr<TokenSigner> create(SignerConfig config, KeySourcePtr keys,
                                             core::Clock& clock, crypto::Random& random);

  // Issues a token for `request`. Thread-safe.
  [[nodiscard]] virtual boost::system::result<IssuedToken, SignError> sign(
      const AccessTokenRequest& request) const = 0;
};
using TokenSignerPtr = std::unique_ptr<TokenSigner>;

}  // namespace bulwark::jwt

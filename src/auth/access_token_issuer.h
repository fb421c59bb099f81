#pragma once
// How the session service gets access tokens minted without knowing JWT: it decides who, which
// session, which roles, the token id and the validity window; an issuer turns that into a signed
// token. The JWT signer (src/jwt, key ring) is adapted to this interface and adds what only it
// knows: iss, aud, nbf, typ "at+jwt", kid and the signature.

#include <boost/system/result.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"

namespace bulwark::auth {

// The claims the session service decides.
struct TokenSubject {
  std::string subject;             // `sub`: the user id (store::User::id), never the username
  std::string session_id;          // `sid`
  std::vector<std::string> roles;  // `roles`
  std::string token_id;            // `jti`: 128 random bits, unique per token
  core::SystemTime issued_at{};    // `iat` (whole seconds; also use it for `nbf`)
  core::SystemTime expires_at{};   // `exp` (whole seconds)
};

struct IssuedToken {
  std::string token;  // the compact JWS (a bearer credential: never log it)
};

class AccessTokenIssuer {
 public:
  virtual ~AccessTokenIssuer() = default;
  // Signs an access token for `subject`. Thread-safe; must not block on I/O (key material is in
  // memory). An error (no signing key, signer failure) makes the caller answer 503.
  [[nodiscard]] virtual boost::system::result<IssuedToken> issue(const TokenSubject& subject) = 0;
};
using AccessTokenIssuerPtr = std::shared_ptr<AccessTokenIssuer>;

}  // namespace bulwark::auth

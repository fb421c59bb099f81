#pragma once
// What the gateway asks before proxying to a route with `auth = "required"`: who is this bearer
// token, and may we trust it right now (signature, claims, revocation). Implemented by the auth
// service on top of the JWT verifier and the revocation set; called on I/O threads, so an
// implementation must answer from memory (verified-token cache, in-memory revocation set) and
// never block on I/O.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::auth {

struct Principal {
  std::string subject;
  std::vector<std::string> roles;
  std::string session_id;  // sid
  std::string token_id;    // jti
  std::string issuer;
};

enum class AuthStatus {
  kAuthenticated,
  kInvalidToken,  // 401 invalid_token: bad signature, expired, revoked, wrong issuer/audience…
  kUnavailable,   // 503: revocation state unknown, so fail closed
};

struct AuthOutcome {
  AuthStatus status = AuthStatus::kInvalidToken;
  Principal principal;  // when authenticated
  std::string reason;   // stable code for the audit event, e.g. "expired", "revoked"; never sent
                        // to the client beyond invalid_token
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Authenticates a compact JWT taken from `Authorization: Bearer <token>`. Thread-safe.
  virtual AuthOutcome authenticate(std::string_view token) = 0;
};
using AuthenticatorPtr = std::shared_ptr<Authenticator>;

}  // namespace bulwark::auth

#include "auth/token_authenticator.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "auth/jwt_bridge.h"

namespace bulwark::auth {
namespace {

// The principal travels to the upstream in X-Bulwark-* header fields. An external issuer chooses
// sub, sid and roles: a control character there (CR LF above all) would let its token write
// header lines of its own, and a comma inside a role would split it in X-Bulwark-Roles.
bool headerSafe(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

bool principalHeaderSafe(const jwt::Claims& claims) {
  return headerSafe(claims.sub) && headerSafe(claims.sid) &&
         std::all_of(claims.roles.begin(), claims.roles.end(), [](const std::string& role) {
           return !role.empty() && headerSafe(role) && role.find(',') == std::string::npos;
         });
}

class TokenAuthenticator final : public Authenticator {
 public:
  TokenAuthenticator(std::shared_ptr<const jwt::Verifier> verifier,
                     std::shared_ptr<SessionService> sessions,
                     store::RevocationStorePtr revocations)
      : verifier_(std::move(verifier)),
        sessions_(std::move(sessions)),
        revocations_(std::move(revocations)) {}

  AuthOutcome authenticate(std::string_view token) override {
    AuthOutcome outcome;
    // A cache hit costs a hash and a lookup; a miss a signature check (no I/O either way).
    auto verified = verifier_->verify(token);
    if (!verified) {
      outcome.status = AuthStatus::kInvalidToken;
      outcome.reason = std::string(jwt::verifyErrorName(verified.error()));
      return outcome;
    }
    if (!principalHeaderSafe((*verified)->claims)) {
      outcome.status = AuthStatus::kInvalidToken;
      outcome.reason = "unsafe_claim";
      return outcome;
    }
    // Revocation is checked on every request, cached token or not. A set that may be missing
    // revocations cannot vouch for any token: fail closed.
    if (!revocations_->isCurrent()) {
      outcome.status = AuthStatus::kUnavailable;
      outcome.reason = "revocation_state_unknown";
      return outcome;
    }
    const jwt::Claims& claims = (*verified)->claims;
    if (sessions_->isRevoked(accessTokenClaims(claims))) {
      outcome.status = AuthStatus::kInvalidToken;
      outcome.reason = "revoked";
      return outcome;
    }
    outcome.status = AuthStatus::kAuthenticated;
    outcome.principal = {claims.sub, claims.roles, claims.sid, claims.jti, claims.iss};
    return outcome;
  }

 private:
  const std::shared_ptr<const jwt::Verifier> verifier_;
  const std::shared_ptr<SessionService> sessions_;
  const store::RevocationStorePtr revocations_;
};

}  // namespace

AuthenticatorPtr makeTokenAuthenticator(std::shared_ptr<const jwt::Verifier> verifier,
                                        std::shared_ptr<SessionService> sessions,
                                        store::RevocationStorePtr revocations) {
  if (!verifier || !sessions || !revocations) {
    throw std::invalid_argument("token authenticator: verifier, sessions and revocations required");
  }
  return std::make_shared<TokenAuthenticator>(std::move(verifier), std::move(sessions),
                                              std::move(revocations));
}

}  // namespace bulwark::auth

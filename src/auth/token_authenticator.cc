#include "auth/token_authenticator.h"

#include <stdexcept>
#include <utility>

#include "auth/jwt_bridge.h"

namespace bulwark::auth {
namespace {

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

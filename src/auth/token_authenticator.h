#pragma once
// The gateway's Authenticator (auth/authenticator.h) for real: the JWT verifier (with its
// verified-token cache) and then the revocation check on every request, cached or not.

#include <memory>

#include "auth/authenticator.h"
#include "auth/session_service.h"
#include "jwt/verifier.h"
#include "store/revocation_store.h"

namespace bulwark::auth {

// Returns an authenticator that verifies the token (jwt::Verifier, cached), refuses it with
// kInvalidToken "unsafe_claim" when sub, sid or a role could not travel in an X-Bulwark-* header
// (a control character; a comma or empty role), then answers kUnavailable
// "revocation_state_unknown" while `revocations` is not current (fail closed), then
// kInvalidToken "revoked" when `sessions` says the token is revoked, else kAuthenticated with
// sub, roles, sid, jti and iss. A rejected token's reason is jwt::verifyErrorName() ("expired",
// "bad_signature", ...). Never blocks (the verifier and the revocation set are in memory).
// Throws std::invalid_argument when a dependency is missing (start-up only).
AuthenticatorPtr makeTokenAuthenticator(std::shared_ptr<const jwt::Verifier> verifier,
                                        std::shared_ptr<SessionService> sessions,
                                        store::RevocationStorePtr revocations);

}  // namespace bulwark::auth

#pragma once
// The auth service's HTTP endpoints (SPEC "Interfaces"), transport-neutral: the gateway mounts
// it (http::ApiMount) and hands over complete, bounded requests. Every blocking call (argon2id,
// stores) runs on the auth WorkerPool; the handler answers from that pool's thread.
//
//   POST /auth/register      {username, password}            201 {id}
//   POST /auth/login         {username, password}            200 token response | 401 | 429
//   POST /auth/refresh       {refresh_token}                 200 token response | 401 invalid_grant
//   POST /auth/logout        Bearer, {refresh_token?}        204
//   POST /auth/logout-all    Bearer                          204
//   POST /auth/revoke        RFC 7009 form (token, token_type_hint)   200
//   POST /auth/introspect    RFC 7662 form (token), admin Bearer      200 {active, …}
//   GET  /.well-known/jwks.json                              200 JWKS (public keys only)
//   POST /admin/users/{name}/lock | /unlock                  admin Bearer, 204
//   POST /admin/keys/rotate                                  admin Bearer, 200 {kid}

#include <memory>
#include <string>

#include "audit/event.h"
#include "auth/account_service.h"
#include "auth/session_service.h"
#include "auth/worker_pool.h"
#include "core/clock.h"
#include "http/api.h"
#include "jwt/key_ring.h"
#include "jwt/verifier.h"
#include "store/revocation_store.h"

namespace bulwark::auth {

struct HttpApiDeps {
  AccountServicePtr accounts;
  std::shared_ptr<SessionService> sessions;
  std::shared_ptr<WorkerPool> pool;
  // Verifies Bearer tokens on logout, logout-all, introspect and admin endpoints (the same
  // verifier the gateway uses for routes).
  std::shared_ptr<const jwt::Verifier> verifier;
  std::shared_ptr<jwt::KeyRing> key_ring;  // JWKS and rotation
  std::string admin_role = "admin";
  const core::Clock* clock = &core::realClock();
  // The `iss` of our own tokens. Bearer tokens of other issuers the verifier trusts (F2.7) are
  // refused on these endpoints: their subjects are not our users. Empty: any trusted issuer.
  std::string issuer;
  // When set, Bearer checks fail closed (503) while !revocations->isCurrent(), as on routes.
  store::RevocationStorePtr revocations;
  // May be null. Events the services cannot write: ACCESS_DENIED for refused Bearer tokens,
  // LOGIN_FAILED for logins refused by the lockout pre-check, CONFIG_CHANGE for key rotation.
  // With syncDurability(), every answer waits until the request's events are durable (F3.4).
  audit::SinkPtr audit;
};

// Returns the handler for the paths above; mount it at "/auth/", "/.well-known/jwks.json" and
// "/admin/users/", "/admin/keys/". Thread-safe. Throws std::invalid_argument when a dependency
// (accounts, sessions, pool, verifier, key_ring, clock) is missing (start-up only).
//
// Answers: JSON bodies must be `application/json` objects (strict: UTF-8, no duplicate member
// names, the right types); /auth/revoke and /auth/introspect take
// `application/x-www-form-urlencoded`. Any malformed request is 400 invalid_request. Errors are
// {"error", "error_description"} with OAuth codes; 401 Bearer problems carry
// `WWW-Authenticate: Bearer realm="bulwark", error="invalid_token"`, admin endpoints 403
// insufficient_scope without the admin role, a wrong method 405 with Allow, an unknown path 404.
// Token responses carry Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1). A login
// while the account or address is locked out is answered 429 with Retry-After on the calling
// thread, before any work is queued; a full pool answers 503 with Retry-After: 1.
http::ApiHandlerPtr makeHttpApi(HttpApiDeps deps);

}  // namespace bulwark::auth

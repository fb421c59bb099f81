#pragma once
// Sessions and refresh-token rotation (SPEC F2.4, F2.5): starts a session at login, rotates its
// refresh token on every use, detects reuse, and revokes (logout, logout-all, RFC 7009).
//
// Refresh tokens are opaque: 32 random bytes (256 bits, crypto::Random) in base64url, stored only
// as their SHA-256. Each rotation is one compare-and-swap in the SessionStore. Presenting a token
// that was already rotated is reuse: the store revokes the whole family, this service puts its
// sid in the revocation set so its access tokens fail at once, and writes SECURITY_INCIDENT
// (reason "refresh_token_reuse") and TOKEN_REVOKE. With a reuse leeway (0 by default, at most
// 60 s), a retry of the immediately previous token within the leeway (a client that lost the
// response) gets the successor the first rotation minted, never a new one; it is sealed in the
// store under a key derived from the previous token, so the store still holds no usable token.
//
// Audit events written here: TOKEN_REFRESH (success / failure with reason), TOKEN_REVOKE,
// LOGOUT, SECURITY_INCIDENT. Secrets (tokens, hashes) never appear in events, logs or errors.
//
// All methods are thread-safe and block on the stores: run them on the auth WorkerPool.
// isRevoked() is the exception: in-memory, for the I/O threads.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event.h"
#include "auth/access_token_issuer.h"
#include "auth/context.h"
#include "auth/error.h"
#include "core/clock.h"
#include "crypto/random.h"
#include "store/revocation_store.h"
#include "store/session_store.h"
#include "store/user_store.h"

namespace bulwark::auth {

struct SessionConfig {
  std::chrono::seconds access_ttl{15 * 60};               // access token lifetime (SPEC: 15 min)
  std::chrono::seconds refresh_ttl{7 * 24 * 3600};        // each refresh token (SPEC: 7 days)
  std::chrono::seconds session_lifetime{30 * 24 * 3600};  // absolute, whatever rotations happen
  std::chrono::milliseconds reuse_leeway{0};              // 0 .. kMaxReuseLeeway
  static constexpr std::chrono::seconds kMaxReuseLeeway{60};
};

// Returns why `config` is unusable (a non-positive TTL, a leeway above 60 s), or nullopt.
std::optional<std::string> validateSessionConfig(const SessionConfig& config);

// What login and refresh answer (SPEC: {access_token, token_type, expires_in, refresh_token}).
struct TokenGrant {
  std::string access_token;  // secret
  std::string token_type = "Bearer";
  std::chrono::seconds expires_in{0};
  std::string refresh_token;  // secret
  std::string session_id;
  std::string user_id;
  std::vector<std::string> roles;
  core::SystemTime refresh_expires{};
};

// The verified claims of an access token, as the JWT verifier produced them.
struct AccessTokenClaims {
  std::string subject;     // sub
  std::string session_id;  // sid ("" for tokens without one)
  std::string token_id;    // jti
  core::SystemTime issued_at{};
  core::SystemTime expires_at{};
};

// RFC 7662 answer for a refresh token (access tokens are introspected from their claims).
struct RefreshIntrospection {
  bool active = false;  // false: every other field is empty
  std::string user_id;
  std::string session_id;
  core::SystemTime issued_at{};   // when this token was minted
  core::SystemTime expires_at{};  // this token's end
};

// Decision counters (STYLE habit 7), for /metrics. Monotonic since creation.
struct SessionStats {
  std::uint64_t started = 0;
  std::uint64_t rotated = 0;
  std::uint64_t leeway_retries = 0;
  std::uint64_t reuse_detected = 0;   // families revoked for reuse
  std::uint64_t refresh_refused = 0;  // invalid_grant other than reuse
  std::uint64_t revoked = 0;          // sessions and tokens revoked (logout, RFC 7009, locks)
  std::uint64_t unavailable = 0;      // store or signer failures
};

struct SessionDeps {
  store::SessionStorePtr sessions;
  store::UserStorePtr users;  // roles and locked flag are re-read at each refresh
  store::RevocationStorePtr revocations;
  // Null for tools that never mint tokens (the CLI, which only revokes): start() and refresh()
  // then answer kUnavailable.
  AccessTokenIssuerPtr issuer;
  audit::SinkPtr audit;  // may be null (no events)
};

class SessionService {
 public:
  virtual ~SessionService() = default;

  // Starts a session for `user` (its password was just verified): a new family with refresh token
  // generation 1, and an access token. Writes no event (the caller's LOGIN carries the sid).
  // kUnavailable when the store or the issuer fails.
  [[nodiscard]] virtual AuthResult<TokenGrant> start(const store::User& user,
                                                     const RequestContext& context) = 0;

  // Rotates `refresh_token`: a new refresh token and access token for the same session, with the
  // user's current roles. kInvalidGrant for an unknown, expired, revoked or reused token, and for
  // a user who was deleted or locked (the family is then revoked). kUnavailable on store or issuer
  // failure (nothing rotated).
  [[nodiscard]] virtual AuthResult<TokenGrant> refresh(std::string_view refresh_token,
                                                       const RequestContext& context) = 0;

  // Logs out the session `claims.session_id` of `claims.subject` (POST /auth/logout with a
  // verified Bearer token): revokes the family and its access tokens. A `refresh_token` of
  // another session of the same user is revoked too (other users' tokens are ignored). Writes
  // LOGOUT. Idempotent.
  [[nodiscard]] virtual AuthResult<void> logout(const AccessTokenClaims& claims,
                                                std::string_view refresh_token,
                                                const RequestContext& context) = 0;

  // Revokes every session of `user_id` and raises the user's not-before to now (whole seconds),
  // so every access token issued before is rejected. Writes LOGOUT (scope "all") with `actor`
  // (the user, or the administrator / CLI that locked the account) and `reason`. Returns the
  // number of sessions revoked.
  [[nodiscard]] virtual AuthResult<std::size_t> logoutAll(std::string_view user_id,
                                                          std::string_view actor,
                                                          std::string_view reason,
                                                          const RequestContext& context) = 0;

  // RFC 7009 for a refresh token: revokes its whole family. An unknown token is not an error
  // (RFC 7009 §2.2: answer 200 all the same). Writes TOKEN_REVOKE when something was revoked.
  [[nodiscard]] virtual AuthResult<void> revokeRefreshToken(std::string_view refresh_token,
                                                            const RequestContext& context) = 0;

  // RFC 7009 for an access token (claims verified by the caller): revokes that token (its jti,
  // until its exp). Its session stays usable. Writes TOKEN_REVOKE.
  [[nodiscard]] virtual AuthResult<void> revokeAccessToken(const AccessTokenClaims& claims,
                                                           const RequestContext& context) = 0;

  // RFC 7662 for a refresh token. Inactive for unknown, expired, revoked or superseded tokens.
  [[nodiscard]] virtual AuthResult<RefreshIntrospection> introspectRefreshToken(
      std::string_view refresh_token) = 0;

  // Counters of the decisions taken so far. Thread-safe.
  virtual SessionStats stats() const = 0;

  // The hot-path check for a verified access token (DESIGN decision 5): revoked by jti, by sid,
  // or issued before its user's not-before. In memory; never blocks.
  virtual bool isRevoked(const AccessTokenClaims& claims) const = 0;

  // Creates the service. Throws std::invalid_argument for a config validateSessionConfig()
  // refuses or a missing dependency (start-up only). `clock` and `random` must outlive it.
  static std::shared_ptr<SessionService> create(const SessionConfig& config, SessionDeps deps,
                                                const core::Clock& clock, crypto::Random& random);
};
using SessionServicePtr = std::shared_ptr<SessionService>;

}  // namespace bulwark::auth

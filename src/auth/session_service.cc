#include "auth/session_service.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "auth/detail/events.h"
#include "auth/detail/successor_seal.h"
#include "core/log.h"
#include "crypto/hmac.h"

namespace bulwark::auth {
namespace {

using audit::EventType;
using audit::Outcome;
using audit::Severity;
using store::RotateOutcome;
using store::StoreError;

constexpr std::size_t kRefreshTokenBytes = 32;  // 256 bits (SPEC F2.4)
constexpr std::size_t kIdBytes = 16;            // sid, jti: 128 bits
// Longer than any token we mint; longer input is refused before it is hashed.
constexpr std::size_t kMaxRefreshTokenLength = 512;

AuthFailure failure(AuthError error) { return AuthFailure{error}; }

core::SystemTime wholeSeconds(core::SystemTime time) {
  return std::chrono::floor<std::chrono::seconds>(time);
}

class SessionServiceImpl final : public SessionService {
 public:
  SessionServiceImpl(const SessionConfig& config, SessionDeps deps, const core::Clock& clock,
                     crypto::Random& random)
      : config_(config), deps_(std::move(deps)), clock_(clock), random_(random) {}

  AuthResult<TokenGrant> start(const store::User& user, const RequestContext& context) override {
    auto started = counted(startImpl(user));
    if (started) {
      ++counters_.started;
    }
    return started;
  }

  AuthResult<void> logout(const AccessTokenClaims& claims, std::string_view refresh_token,
                          const RequestContext& context) override {
    return counted(logoutImpl(claims, refresh_token, context));
  }

  AuthResult<std::size_t> logoutAll(std::string_view user_id, std::string_view actor,
                                    std::string_view reason,
                                    const RequestContext& context) override {
    return counted(logoutAllImpl(user_id, actor, reason, context));
  }

  AuthResult<void> revokeRefreshToken(std::string_view refresh_token,
                                      const RequestContext& context) override {
    return counted(revokeRefreshTokenImpl(refresh_token, context));
  }

  AuthResult<void> revokeAccessToken(const AccessTokenClaims& claims,
                                     const RequestContext& context) override {
    return counted(revokeAccessTokenImpl(claims, context));
  }

  AuthResult<RefreshIntrospection> introspectRefreshToken(std::string_view refresh_token) override {
    return counted(introspectImpl(refresh_token));
  }

  AuthResult<TokenGrant> refresh(std::string_view refresh_token,
                                 const RequestContext& context) override {
    return counted(refreshImpl(refresh_token, context));
  }

  SessionStats stats() const override {
    SessionStats out;
    out.started = counters_.started.load();
    out.rotated = counters_.rotated.load();
    out.leeway_retries = counters_.leeway_retries.load();
    out.reuse_detected = counters_.reuse_detected.load();
    out.refresh_refused = counters_.refresh_refused.load();
    out.revoked = counters_.revoked.load();
    out.unavailable = counters_.unavailable.load();
    return out;
  }

  bool isRevoked(const AccessTokenClaims& claims) const override {
    return deps_.revocations->isRevoked(claims.token_id, claims.session_id, claims.subject,
                                        claims.issued_at);
  }

 private:
  AuthResult<TokenGrant> startImpl(const store::User& user) {
    const auto now = clock_.systemTime();
    const std::string sid = crypto::randomToken(random_, kIdBytes);
    // Minted before the family exists: a signer failure then leaves nothing behind.
    auto access = mint(user.id, sid, user.roles, now);
    if (!access) {
      return access.error();
    }
    const std::string refresh_token = crypto::randomToken(random_, kRefreshTokenBytes);
    store::NewSession session;
    session.sid = sid;
    session.user_id = user.id;
    session.created = now;
    session.expires = now + config_.session_lifetime;
    session.token_expires = std::min(now + config_.refresh_ttl, session.expires);
    session.token_hash = crypto::sha256(refresh_token);
    if (auto created = deps_.sessions->create(session); !created) {
      logStoreFailure("session create", created.error());
      return failure(AuthError::kUnavailable);
    }
    return grant(std::move(*access), refresh_token, sid, user, session.token_expires);
  }

  AuthResult<TokenGrant> refreshImpl(std::string_view refresh_token,
                                     const RequestContext& context) {
    const auto now = clock_.systemTime();
    if (refresh_token.empty() || refresh_token.size() > kMaxRefreshTokenLength) {
      refreshFailed(context, "", "", "malformed");
      return failure(AuthError::kInvalidGrant);
    }
    const auto presented = crypto::sha256(refresh_token);
    auto lookup = deps_.sessions->findByToken(presented);
    if (!lookup) {
      if (lookup.error() == StoreError::kNotFound) {
        refreshFailed(context, "", "", "unknown_token");
        return failure(AuthError::kInvalidGrant);
      }
      logStoreFailure("session lookup", lookup.error());
      return failure(AuthError::kUnavailable);
    }
    const store::Session& family = lookup->session;

    // The user is re-read so that roles changed since login reach the next access token, and a
    // deleted or locked account loses its sessions.
    auto user = deps_.users->findById(family.user_id);
    if (!user && user.error() != StoreError::kNotFound) {
      logStoreFailure("user lookup", user.error());
      return failure(AuthError::kUnavailable);
    }
    if (!user || user->locked) {
      const std::string reason = !user ? "user_deleted" : "account_locked";
      if (auto revoked = revokeFamily(family.sid, family.user_id, family.expires, reason, now);
          !revoked) {
        return revoked.error();
      }
      refreshFailed(context, family.user_id, family.sid, reason);
      return failure(AuthError::kInvalidGrant);
    }

    // Minted before the rotation: if signing fails, nothing has rotated and the client may
    // simply retry with the same refresh token.
    auto access = mint(user->id, family.sid, user->roles, now);
    if (!access) {
      return access.error();
    }
    const std::string successor = crypto::randomToken(random_, kRefreshTokenBytes);
    store::RotateRequest request;
    request.presented = presented;
    request.next = crypto::sha256(successor);
    if (config_.reuse_leeway.count() > 0) {
      request.next_sealed = detail::sealSuccessor(refresh_token, successor, random_);
    }
    request.now = now;
    request.next_expires = now + config_.refresh_ttl;
    request.reuse_leeway = config_.reuse_leeway;
    auto rotated = deps_.sessions->rotate(request);
    if (!rotated) {
      logStoreFailure("session rotate", rotated.error());
      return failure(AuthError::kUnavailable);
    }

    const store::Session& after = rotated->session;
    switch (rotated->outcome) {
      case RotateOutcome::kRotated:
        ++counters_.rotated;
        detail::record(deps_.audit.get(), clock_, context,
                       {EventType::kTokenRefresh,
                        Severity::kInfo,
                        Outcome::kSuccess,
                        user->id,
                        after.sid,
                        {{"generation", std::to_string(after.generation)}}});
        return grant(std::move(*access), successor, after.sid, *user, after.token_expires);
      case RotateOutcome::kRetry: {
        auto opened = detail::openSuccessor(refresh_token, rotated->successor_sealed);
        if (!opened) {
          core::log(core::LogLevel::kError, "sealed refresh-token successor does not open",
                    {{"sid", after.sid}});
          refreshFailed(context, user->id, after.sid, "retry_unavailable");
          return failure(AuthError::kInvalidGrant);
        }
        ++counters_.leeway_retries;
        detail::record(
            deps_.audit.get(), clock_, context,
            {EventType::kTokenRefresh,
             Severity::kInfo,
             Outcome::kSuccess,
             user->id,
             after.sid,
             {{"generation", std::to_string(after.generation)}, {"retry", "reuse_leeway"}}});
        return grant(std::move(*access), *opened, after.sid, *user, after.token_expires);
      }
      case RotateOutcome::kReuse:
        return reuseDetected(*rotated, context, now);
      case RotateOutcome::kRevoked:
        refreshFailed(context, user->id, after.sid, "revoked");
        return failure(AuthError::kInvalidGrant);
      case RotateOutcome::kExpired:
        refreshFailed(context, user->id, after.sid, "expired");
        return failure(AuthError::kInvalidGrant);
      case RotateOutcome::kUnknown:
        break;
    }
    refreshFailed(context, "", "", "unknown_token");
    return failure(AuthError::kInvalidGrant);
  }

  AuthResult<void> logoutImpl(const AccessTokenClaims& claims, std::string_view refresh_token,
                              const RequestContext& context) {
    const auto now = clock_.systemTime();
    if (claims.subject.empty()) {
      return failure(AuthError::kInvalidGrant);
    }
    AuthResult<void> outcome;
    if (!claims.session_id.empty()) {
      outcome = revokeOwnSession(claims.subject, claims.session_id, "logout", now);
    } else if (!claims.token_id.empty()) {
      outcome = revokeToken(claims, now);  // not one of our sessions: end this token at least
    }
    if (!refresh_token.empty() && refresh_token.size() <= kMaxRefreshTokenLength) {
      auto other = deps_.sessions->findByToken(crypto::sha256(refresh_token));
      if (other && other->session.user_id == claims.subject &&
          other->session.sid != claims.session_id) {
        auto revoked = revokeOwnSession(claims.subject, other->session.sid, "logout", now);
        if (!revoked && outcome) {
          outcome = revoked;
        }
      }
    }
    if (outcome) {
      detail::record(deps_.audit.get(), clock_, context,
                     {EventType::kLogout,
                      Severity::kInfo,
                      Outcome::kSuccess,
                      claims.subject,
                      claims.session_id,
                      {{"scope", "session"}}});
    }
    return outcome;
  }

  AuthResult<std::size_t> logoutAllImpl(std::string_view user_id, std::string_view actor,
                                        std::string_view reason, const RequestContext& context) {
    const auto now = clock_.systemTime();
    if (user_id.empty()) {
      return failure(AuthError::kNotFound);
    }
    // JWT `iat` has whole seconds. A token issued earlier in this same second is not caught by
    // the not-before, but by its sid, revoked below with every session that exists now.
    const auto not_before = wholeSeconds(now);
    bool persisted = true;
    persisted &= keep(deps_.revocations->revoke({store::RevocationKind::kUser, std::string(user_id),
                                                 not_before, now + store::kMaxRevocationLifetime}));
    auto sessions = deps_.sessions->revokeAllForUser(user_id, reason, now);
    if (!sessions) {
      logStoreFailure("session revoke all", sessions.error());
      return failure(AuthError::kUnavailable);
    }
    counters_.revoked += sessions->size();
    for (const auto& session : *sessions) {
      persisted &=
          keep(deps_.revocations->revoke(sessionRevocation(session.sid, session.expires, now)));
    }
    if (auto raised = deps_.users->raiseNotBefore(user_id, not_before);
        !raised && raised.error() != StoreError::kNotFound) {
      logStoreFailure("user not-before", raised.error());
      persisted = false;
    }
    detail::record(deps_.audit.get(), clock_, context,
                   {EventType::kLogout,
                    Severity::kInfo,
                    Outcome::kSuccess,
                    std::string(actor),
                    std::string(user_id),
                    {{"scope", "all"},
                     {"reason", std::string(reason)},
                     {"sessions", std::to_string(sessions->size())}}});
    if (!persisted) {
      return failure(AuthError::kUnavailable);  // this node enforces it; the caller may retry
    }
    return sessions->size();
  }

  AuthResult<void> revokeRefreshTokenImpl(std::string_view refresh_token,
                                          const RequestContext& context) {
    if (refresh_token.empty() || refresh_token.size() > kMaxRefreshTokenLength) {
      return {};
    }
    auto lookup = deps_.sessions->findByToken(crypto::sha256(refresh_token));
    if (!lookup) {
      if (lookup.error() == StoreError::kNotFound) {
        return {};
      }
      logStoreFailure("session lookup", lookup.error());
      return failure(AuthError::kUnavailable);
    }
    const auto& session = lookup->session;
    auto revoked =
        revokeFamily(session.sid, session.user_id, session.expires, "revoked", clock_.systemTime());
    if (!revoked) {
      return revoked.error();
    }
    detail::record(deps_.audit.get(), clock_, context,
                   {EventType::kTokenRevoke,
                    Severity::kInfo,
                    Outcome::kSuccess,
                    session.user_id,
                    session.sid,
                    {{"token_type", "refresh_token"}, {"scope", "session"}}});
    return {};
  }

  AuthResult<void> revokeAccessTokenImpl(const AccessTokenClaims& claims,
                                         const RequestContext& context) {
    if (claims.token_id.empty()) {
      return {};  // nothing to name it by (RFC 7009: still a 200)
    }
    auto revoked = revokeToken(claims, clock_.systemTime());
    detail::record(deps_.audit.get(), clock_, context,
                   {EventType::kTokenRevoke,
                    Severity::kInfo,
                    Outcome::kSuccess,
                    claims.subject,
                    claims.token_id,
                    {{"token_type", "access_token"}, {"scope", "token"}}});
    return revoked;
  }

  AuthResult<RefreshIntrospection> introspectImpl(std::string_view refresh_token) {
    RefreshIntrospection out;
    if (refresh_token.empty() || refresh_token.size() > kMaxRefreshTokenLength) {
      return out;
    }
    auto lookup = deps_.sessions->findByToken(crypto::sha256(refresh_token));
    if (!lookup) {
      if (lookup.error() == StoreError::kNotFound) {
        return out;
      }
      logStoreFailure("session lookup", lookup.error());
      return failure(AuthError::kUnavailable);
    }
    const auto& session = lookup->session;
    const auto now = clock_.systemTime();
    if (session.revoked || lookup->generation != session.generation ||
        now >= session.token_expires || now >= session.expires) {
      return out;
    }
    out.active = true;
    out.user_id = session.user_id;
    out.session_id = session.sid;
    out.issued_at = session.rotated;
    out.expires_at = session.token_expires;
    return out;
  }

  template <class T>
  AuthResult<T> counted(AuthResult<T> result) {
    if (!result && result.error().error == AuthError::kUnavailable) {
      ++counters_.unavailable;
    }
    return result;
  }

  AuthResult<IssuedToken> mint(const std::string& user_id, const std::string& sid,
                               const std::vector<std::string>& roles, core::SystemTime now) {
    TokenSubject subject;
    subject.subject = user_id;
    subject.session_id = sid;
    subject.roles = roles;
    subject.token_id = crypto::randomToken(random_, kIdBytes);
    subject.issued_at = wholeSeconds(now);
    subject.expires_at = subject.issued_at + config_.access_ttl;
    if (!deps_.issuer) {
      return failure(AuthError::kUnavailable);
    }
    auto issued = deps_.issuer->issue(subject);
    if (!issued) {
      core::log(core::LogLevel::kError, "access token could not be issued",
                {{"error", issued.error().message()}});
      return failure(AuthError::kUnavailable);
    }
    return std::move(*issued);
  }

  TokenGrant grant(IssuedToken access, std::string refresh_token, const std::string& sid,
                   const store::User& user, core::SystemTime refresh_expires) const {
    TokenGrant out;
    out.access_token = std::move(access.token);
    out.expires_in = config_.access_ttl;
    out.refresh_token = std::move(refresh_token);
    out.session_id = sid;
    out.user_id = user.id;
    out.roles = user.roles;
    out.refresh_expires = refresh_expires;
    return out;
  }

  AuthResult<TokenGrant> reuseDetected(const store::RotateResult& rotated,
                                       const RequestContext& context, core::SystemTime now) {
    const store::Session& family = rotated.session;
    ++counters_.reuse_detected;
    // The store revoked the family with the decision; its access tokens die here.
    const bool persisted =
        keep(deps_.revocations->revoke(sessionRevocation(family.sid, family.expires, now)));
    detail::record(deps_.audit.get(), clock_, context,
                   {EventType::kSecurityIncident,
                    Severity::kHigh,
                    Outcome::kBlocked,
                    family.user_id,
                    family.sid,
                    {{"reason", "refresh_token_reuse"},
                     {"presented_generation", std::to_string(rotated.presented_generation)},
                     {"current_generation", std::to_string(family.generation)},
                     {"action", "session_revoked"}}});
    detail::record(deps_.audit.get(), clock_, context,
                   {EventType::kTokenRevoke,
                    Severity::kHigh,
                    Outcome::kSuccess,
                    family.user_id,
                    family.sid,
                    {{"reason", "reuse"}, {"scope", "session"}}});
    if (!persisted) {
      core::log(core::LogLevel::kError, "revocation after refresh-token reuse not persisted",
                {{"sid", family.sid}});
    }
    return failure(AuthError::kInvalidGrant);
  }

  // Revokes `sid` if it belongs to `user_id` (or is unknown: purged sessions still get their
  // access tokens revoked).
  AuthResult<void> revokeOwnSession(const std::string& user_id, const std::string& sid,
                                    std::string_view reason, core::SystemTime now) {
    auto session = deps_.sessions->find(sid);
    if (!session && session.error() != StoreError::kNotFound) {
      logStoreFailure("session lookup", session.error());
      // Still end its access tokens on this node.
      (void)deps_.revocations->revoke(
          sessionRevocation(sid, now + store::kMaxRevocationLifetime, now));
      return failure(AuthError::kUnavailable);
    }
    if (session && session->user_id != user_id) {
      core::log(core::LogLevel::kWarn, "logout of a session of another user ignored",
                {{"sid", sid}});
      return {};
    }
    const auto expires = session ? session->expires : now + store::kMaxRevocationLifetime;
    auto revoked = revokeFamily(sid, user_id, expires, reason, now);
    if (!revoked) {
      return revoked.error();
    }
    return {};
  }

  // Revokes the family in the store and its access tokens in the revocation set.
  AuthResult<void> revokeFamily(const std::string& sid, const std::string& user_id,
                                core::SystemTime expires, std::string_view reason,
                                core::SystemTime now) {
    const bool in_set = keep(deps_.revocations->revoke(sessionRevocation(sid, expires, now)));
    auto revoked = deps_.sessions->revoke(sid, reason, now);
    if (!revoked && revoked.error() != StoreError::kNotFound) {
      logStoreFailure("session revoke", revoked.error());
      return failure(AuthError::kUnavailable);
    }
    if (revoked && *revoked) {
      ++counters_.revoked;
    }
    if (!in_set) {
      return failure(AuthError::kUnavailable);
    }
    return {};
  }

  AuthResult<void> revokeToken(const AccessTokenClaims& claims, core::SystemTime now) {
    const auto expires = std::min(claims.expires_at, now + store::kMaxRevocationLifetime);
    if (!keep(deps_.revocations->revoke(
            {store::RevocationKind::kToken, claims.token_id, {}, expires}))) {
      return failure(AuthError::kUnavailable);
    }
    ++counters_.revoked;
    return {};
  }

  static store::Revocation sessionRevocation(const std::string& sid, core::SystemTime expires,
                                             core::SystemTime now) {
    return {store::RevocationKind::kSession,
            sid,
            {},
            std::min(expires, now + store::kMaxRevocationLifetime)};
  }

  // True when a revocation was persisted; logs otherwise (it is in this node's set regardless).
  static bool keep(const store::Result<void>& revoked) {
    if (!revoked) {
      logStoreFailure("revocation", revoked.error());
      return false;
    }
    return true;
  }

  void refreshFailed(const RequestContext& context, std::string actor, std::string sid,
                     std::string reason) {
    ++counters_.refresh_refused;
    detail::record(deps_.audit.get(), clock_, context,
                   {EventType::kTokenRefresh,
                    Severity::kLow,
                    Outcome::kFailure,
                    std::move(actor),
                    std::move(sid),
                    {{"reason", std::move(reason)}}});
  }

  static void logStoreFailure(std::string_view operation, const boost::system::error_code& error) {
    core::log(core::LogLevel::kError, "auth store operation failed",
              {{"operation", operation}, {"error", error.message()}});
  }

  struct Counters {
    std::atomic<std::uint64_t> started{0};
    std::atomic<std::uint64_t> rotated{0};
    std::atomic<std::uint64_t> leeway_retries{0};
    std::atomic<std::uint64_t> reuse_detected{0};
    std::atomic<std::uint64_t> refresh_refused{0};
    std::atomic<std::uint64_t> revoked{0};
    std::atomic<std::uint64_t> unavailable{0};
  };

  Counters counters_;
  const SessionConfig config_;
  const SessionDeps deps_;
  const core::Clock& clock_;
  crypto::Random& random_;
};

}  // namespace

std::optional<std::string> validateSessionConfig(const SessionConfig& config) {
  if (config.access_ttl.count() <= 0 || config.refresh_ttl.count() <= 0 ||
      config.session_lifetime.count() <= 0) {
    return "token lifetimes must be positive";
  }
  if (config.reuse_leeway.count() < 0 || config.reuse_leeway > SessionConfig::kMaxReuseLeeway) {
    return "the refresh reuse leeway must be between 0 and 60 s";
  }
  return std::nullopt;
}

std::shared_ptr<SessionService> SessionService::create(const SessionConfig& config,
                                                       SessionDeps deps, const core::Clock& clock,
                                                       crypto::Random& random) {
  if (auto problem = validateSessionConfig(config)) {
    throw std::invalid_argument(*problem);
  }
  if (!deps.sessions || !deps.users || !deps.revocations) {
    throw std::invalid_argument("session service needs session, user and revocation stores");
  }
  return std::make_shared<SessionServiceImpl>(config, std::move(deps), clock, random);
}

}  // namespace bulwark::auth

#include "auth/session_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include "fakes.h"
#include "support/recording_sink.h"

namespace bulwark::auth {
namespace {

using audit::EventType;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

class SessionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::User user;
    user.id = "user-1";
    user.username = "alice";
    user.password_hash = "x";
    user.roles = {"user"};
    ASSERT_TRUE(users_->create(user));
    user_ = *users_->findById("user-1");
  }

  SessionServicePtr service(SessionConfig config = {}) {
    return SessionService::create(config, {sessions_, users_, revocations_, issuer_, audit_},
                                  clock_, random_);
  }

  // The claims the JWT verifier would hand back for the last access token minted.
  AccessTokenClaims lastClaims() const {
    const auto subject = issuer_->last();
    return {subject.subject, subject.session_id, subject.token_id, subject.issued_at,
            subject.expires_at};
  }

  core::SimulatedClock clock_;
  testing::SequenceRandom random_;
  store::UserStorePtr users_ = store::makeMemoryUserStore();
  store::SessionStorePtr sessions_ = store::makeMemorySessionStore();
  store::RevocationStorePtr revocations_ = store::makeMemoryRevocationStore();
  std::shared_ptr<testing::FakeIssuer> issuer_ = std::make_shared<testing::FakeIssuer>();
  std::shared_ptr<bulwark::testing::RecordingSink> audit_ =
      std::make_shared<bulwark::testing::RecordingSink>();
  store::User user_;
  const RequestContext context_{"203.0.113.7", "req-1"};
};

TEST_F(SessionServiceTest, ConfigDefaultsFollowTheSpec) {
  const SessionConfig defaults;
  EXPECT_EQ(defaults.access_ttl, minutes(15));
  EXPECT_EQ(defaults.refresh_ttl, hours(24 * 7));
  EXPECT_EQ(defaults.reuse_leeway.count(), 0);
  SessionConfig bad;
  bad.reuse_leeway = seconds(61);
  EXPECT_TRUE(validateSessionConfig(bad).has_value());
  EXPECT_THROW(service(bad), std::invalid_argument);
}

TEST_F(SessionServiceTest, StartMintsOpaqueHighEntropyTokens) {
  auto grant = service()->start(user_, context_);
  ASSERT_TRUE(grant);
  EXPECT_EQ(grant->token_type, "Bearer");
  EXPECT_EQ(grant->expires_in, minutes(15));
  EXPECT_EQ(grant->refresh_token.size(), 43u);  // 32 bytes base64url
  EXPECT_EQ(grant->user_id, "user-1");
  EXPECT_EQ(grant->roles, std::vector<std::string>{"user"});
  EXPECT_EQ(grant->access_token, "at." + issuer_->last().token_id);

  const auto subject = issuer_->last();
  EXPECT_EQ(subject.subject, "user-1");
  EXPECT_EQ(subject.session_id, grant->session_id);
  EXPECT_EQ(subject.roles, std::vector<std::string>{"user"});
  EXPECT_FALSE(subject.token_id.empty());
  EXPECT_EQ(subject.expires_at - subject.issued_at, minutes(15));
  EXPECT_EQ(subject.issued_at, std::chrono::floor<seconds>(subject.issued_at));

  // Stored as a hash only.
  auto session = sessions_->find(grant->session_id);
  ASSERT_TRUE(session);
  EXPECT_EQ(session->token_hash, crypto::sha256(grant->refresh_token));
  EXPECT_EQ(session->expires, clock_.systemTime() + hours(24 * 30));
  EXPECT_EQ(session->token_expires, clock_.systemTime() + hours(24 * 7));
}

TEST_F(SessionServiceTest, StartLeavesNothingWhenTheSignerFails) {
  issuer_->fail = true;
  auto grant = service()->start(user_, context_);
  ASSERT_FALSE(grant);
  EXPECT_EQ(grant.error().error, AuthError::kUnavailable);
  EXPECT_TRUE(sessions_->listActive("user-1", clock_.systemTime())->empty());
}

TEST_F(SessionServiceTest, RefreshRotatesEveryTime) {
  auto sessions = service();
  auto first = sessions->start(user_, context_);
  ASSERT_TRUE(first);
  clock_.advance(minutes(10));
  auto second = sessions->refresh(first->refresh_token, context_);
  ASSERT_TRUE(second);
  EXPECT_NE(second->refresh_token, first->refresh_token);
  EXPECT_NE(second->access_token, first->access_token);
  EXPECT_EQ(second->session_id, first->session_id);
  EXPECT_EQ(sessions_->find(first->session_id)->generation, 2u);
  EXPECT_EQ(audit_->count(EventType::kTokenRefresh), 1);
  const auto event = audit_->events().back();
  EXPECT_EQ(event.actor, "user-1");
  EXPECT_EQ(event.target, first->session_id);
  EXPECT_EQ(event.client_address, "203.0.113.7");
  EXPECT_EQ(event.request_id, "req-1");
  auto third = sessions->refresh(second->refresh_token, context_);
  ASSERT_TRUE(third);
}

TEST_F(SessionServiceTest, RefreshCarriesTheCurrentRoles) {
  auto sessions = service();
  auto grant = sessions->start(user_, context_);
  ASSERT_TRUE(users_->setRoles("user-1", {"admin", "user"}));
  auto refreshed = sessions->refresh(grant->refresh_token, context_);
  ASSERT_TRUE(refreshed);
  EXPECT_EQ(issuer_->last().roles, (std::vector<std::string>{"admin", "user"}));
  EXPECT_EQ(refreshed->roles, (std::vector<std::string>{"admin", "user"}));
}

TEST_F(SessionServiceTest, ReuseRevokesTheFamilyAndItsAccessTokens) {
  auto sessions = service();
  auto first = sessions->start(user_, context_);
  const auto first_claims = lastClaims();
  auto second = sessions->refresh(first->refresh_token, context_);
  ASSERT_TRUE(second);
  const auto second_claims = lastClaims();
  EXPECT_FALSE(sessions->isRevoked(second_claims));

  // The stolen first token is presented again.
  auto reused = sessions->refresh(first->refresh_token, {"198.51.100.9", "req-2"});
  ASSERT_FALSE(reused);
  EXPECT_EQ(reused.error().error, AuthError::kInvalidGrant);

  EXPECT_EQ(audit_->count(EventType::kSecurityIncident, "refresh_token_reuse"), 1);
  EXPECT_EQ(audit_->count(EventType::kTokenRevoke, "reuse"), 1);
  for (const auto& event : audit_->events()) {
    if (event.type == EventType::kSecurityIncident) {
      EXPECT_EQ(event.severity, audit::Severity::kHigh);
      EXPECT_EQ(event.target, first->session_id);
      EXPECT_EQ(event.client_address, "198.51.100.9");
      for (const auto& [key, value] : event.details) {
        EXPECT_EQ(value.find(first->refresh_token), std::string::npos) << key;
        EXPECT_EQ(value.find(second->refresh_token), std::string::npos) << key;
      }
    }
  }
  // Every access token of the session fails at once; the legitimate holder's refresh too.
  EXPECT_TRUE(sessions->isRevoked(first_claims));
  EXPECT_TRUE(sessions->isRevoked(second_claims));
  auto legitimate = sessions->refresh(second->refresh_token, context_);
  ASSERT_FALSE(legitimate);
  EXPECT_EQ(legitimate.error().error, AuthError::kInvalidGrant);
  EXPECT_TRUE(sessions_->find(first->session_id)->revoked);
  const auto stats = sessions->stats();
  EXPECT_EQ(stats.started, 1u);
  EXPECT_EQ(stats.rotated, 1u);
  EXPECT_EQ(stats.reuse_detected, 1u);
  EXPECT_EQ(stats.refresh_refused, 1u);  // the legitimate holder, after the revocation
}

TEST_F(SessionServiceTest, LeewayRetryReturnsTheSameSuccessor) {
  SessionConfig config;
  config.reuse_leeway = seconds(10);
  auto sessions = service(config);
  auto first = sessions->start(user_, context_);
  auto second = sessions->refresh(first->refresh_token, context_);
  ASSERT_TRUE(second);
  clock_.advance(seconds(5));
  auto retry = sessions->refresh(first->refresh_token, context_);
  ASSERT_TRUE(retry) << static_cast<int>(retry.error().error);
  EXPECT_EQ(retry->refresh_token, second->refresh_token);  // never a new mint
  EXPECT_EQ(retry->session_id, second->session_id);
  EXPECT_EQ(sessions_->find(first->session_id)->generation, 2u);
  EXPECT_EQ(audit_->count(EventType::kTokenRefresh, "reuse_leeway"), 1);
  EXPECT_EQ(audit_->count(EventType::kSecurityIncident), 0);
  EXPECT_EQ(sessions->stats().leeway_retries, 1u);
  // The successor is still good.
  EXPECT_TRUE(sessions->refresh(second->refresh_token, context_));
}

TEST_F(SessionServiceTest, LeewayRetryTooLateIsReuse) {
  SessionConfig config;
  config.reuse_leeway = seconds(10);
  auto sessions = service(config);
  auto first = sessions->start(user_, context_);
  ASSERT_TRUE(sessions->refresh(first->refresh_token, context_));
  clock_.advance(seconds(11));
  EXPECT_FALSE(sessions->refresh(first->refresh_token, context_));
  EXPECT_EQ(audit_->count(EventType::kSecurityIncident, "refresh_token_reuse"), 1);
}

TEST_F(SessionServiceTest, OlderGenerationIsReuseEvenWithinTheLeeway) {
  SessionConfig config;
  config.reuse_leeway = seconds(60);
  auto sessions = service(config);
  auto first = sessions->start(user_, context_);
  auto second = sessions->refresh(first->refresh_token, context_);
  auto third = sessions->refresh(second->refresh_token, context_);
  ASSERT_TRUE(third);
  auto old = sessions->refresh(first->refresh_token, context_);
  ASSERT_FALSE(old);
  EXPECT_EQ(audit_->count(EventType::kSecurityIncident, "refresh_token_reuse"), 1);
  EXPECT_FALSE(sessions->refresh(third->refresh_token, context_));
}

TEST_F(SessionServiceTest, UnknownExpiredAndMalformedTokensAreInvalidGrants) {
  auto sessions = service();
  for (const std::string& token : {std::string(), std::string("nope"), std::string(600, 'a')}) {
    auto refreshed = sessions->refresh(token, context_);
    ASSERT_FALSE(refreshed);
    EXPECT_EQ(refreshed.error().error, AuthError::kInvalidGrant);
  }
  auto grant = sessions->start(user_, context_);
  clock_.advance(hours(24 * 7));
  auto expired = sessions->refresh(grant->refresh_token, context_);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().error, AuthError::kInvalidGrant);
  EXPECT_EQ(audit_->count(EventType::kTokenRefresh, "expired"), 1);
  EXPECT_EQ(audit_->count(EventType::kSecurityIncident), 0);
}

TEST_F(SessionServiceTest, SessionLifetimeIsAbsolute) {
  SessionConfig config;
  config.session_lifetime = hours(24 * 10);
  auto sessions = service(config);
  auto grant = sessions->start(user_, context_);
  std::string token = grant->refresh_token;
  for (int day = 1; day < 10; ++day) {
    clock_.advance(hours(24));
    auto next = sessions->refresh(token, context_);
    ASSERT_TRUE(next) << day;
    EXPECT_LE(next->refresh_expires, grant->refresh_expires + hours(24 * 3));
    token = next->refresh_token;
  }
  clock_.advance(hours(24));
  EXPECT_FALSE(sessions->refresh(token, context_));
}

TEST_F(SessionServiceTest, SignerFailureRotatesNothing) {
  auto sessions = service();
  auto grant = sessions->start(user_, context_);
  issuer_->fail = true;
  auto failed = sessions->refresh(grant->refresh_token, context_);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().error, AuthError::kUnavailable);
  EXPECT_EQ(sessions->stats().unavailable, 1u);
  issuer_->fail = false;
  EXPECT_TRUE(sessions->refresh(grant->refresh_token, context_));  // not reuse
}

TEST_F(SessionServiceTest, LockedOrDeletedUsersLoseTheirSessionOnRefresh) {
  auto sessions = service();
  auto grant = sessions->start(user_, context_);
  const auto claims = lastClaims();
  ASSERT_TRUE(users_->setLocked("user-1", true));
  auto refused = sessions->refresh(grant->refresh_token, context_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error, AuthError::kInvalidGrant);
  EXPECT_TRUE(sessions_->find(grant->session_id)->revoked);
  EXPECT_TRUE(sessions->isRevoked(claims));
  EXPECT_EQ(audit_->count(EventType::kTokenRefresh, "account_locked"), 1);
}

TEST_F(SessionServiceTest, LogoutRevokesThisSessionOnly) {
  auto sessions = service();
  auto one = sessions->start(user_, context_);
  const auto one_claims = lastClaims();
  auto two = sessions->start(user_, context_);
  const auto two_claims = lastClaims();
  ASSERT_TRUE(sessions->logout(one_claims, "", context_));
  EXPECT_TRUE(sessions->isRevoked(one_claims));
  EXPECT_FALSE(sessions->isRevoked(two_claims));
  EXPECT_FALSE(sessions->refresh(one->refresh_token, context_));
  EXPECT_TRUE(sessions->refresh(two->refresh_token, context_));
  EXPECT_EQ(audit_->count(EventType::kLogout), 1);
  // Idempotent.
  EXPECT_TRUE(sessions->logout(one_claims, "", context_));
}

TEST_F(SessionServiceTest, LogoutAlsoRevokesTheGivenRefreshTokensSession) {
  auto sessions = service();
  auto one = sessions->start(user_, context_);
  auto two = sessions->start(user_, context_);
  const auto two_claims = lastClaims();
  ASSERT_TRUE(sessions->logout(two_claims, one->refresh_token, context_));
  EXPECT_TRUE(sessions_->find(one->session_id)->revoked);
  EXPECT_TRUE(sessions_->find(two->session_id)->revoked);
}

TEST_F(SessionServiceTest, LogoutAllRevokesEverySessionAndEarlierTokens) {
  auto sessions = service();
  auto one = sessions->start(user_, context_);
  const auto one_claims = lastClaims();
  auto two = sessions->start(user_, context_);
  const auto two_claims = lastClaims();
  clock_.advance(seconds(2));
  auto revoked = sessions->logoutAll("user-1", "user-1", "logout_all", context_);
  ASSERT_TRUE(revoked);
  EXPECT_EQ(*revoked, 2u);
  EXPECT_TRUE(sessions->isRevoked(one_claims));
  EXPECT_TRUE(sessions->isRevoked(two_claims));
  // A token of no known session, issued before, is caught by the not-before.
  AccessTokenClaims stray{"user-1", "", "jti-x", one_claims.issued_at, one_claims.expires_at};
  EXPECT_TRUE(sessions->isRevoked(stray));
  EXPECT_EQ(users_->findById("user-1")->not_before,
            std::chrono::floor<seconds>(clock_.systemTime()));
  EXPECT_FALSE(sessions->refresh(one->refresh_token, context_));
  EXPECT_FALSE(sessions->refresh(two->refresh_token, context_));
  EXPECT_EQ(audit_->count(EventType::kLogout, "all"), 1);

  // A login right after (even in the same second) works.
  auto fresh = sessions->start(user_, context_);
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(sessions->isRevoked(lastClaims()));
}

TEST_F(SessionServiceTest, Rfc7009RevokesRefreshAndAccessTokens) {
  auto sessions = service();
  auto one = sessions->start(user_, context_);
  const auto one_claims = lastClaims();
  ASSERT_TRUE(sessions->revokeRefreshToken(one->refresh_token, context_));
  EXPECT_TRUE(sessions->isRevoked(one_claims));
  EXPECT_FALSE(sessions->refresh(one->refresh_token, context_));
  EXPECT_TRUE(sessions->revokeRefreshToken("unknown", context_));  // 200 all the same

  auto two = sessions->start(user_, context_);
  const auto two_claims = lastClaims();
  ASSERT_TRUE(sessions->revokeAccessToken(two_claims, context_));
  EXPECT_TRUE(sessions->isRevoked(two_claims));
  auto refreshed = sessions->refresh(two->refresh_token, context_);  // the session lives on
  ASSERT_TRUE(refreshed);
  EXPECT_FALSE(sessions->isRevoked(lastClaims()));
  EXPECT_EQ(audit_->count(EventType::kTokenRevoke), 2);
}

TEST_F(SessionServiceTest, RevokedAccessTokensAreForgottenAfterTheyExpire) {
  auto sessions = service();
  ASSERT_TRUE(sessions->start(user_, context_));
  ASSERT_TRUE(sessions->revokeAccessToken(lastClaims(), context_));
  EXPECT_EQ(revocations_->size(), 1u);
  clock_.advance(minutes(16));
  ASSERT_TRUE(revocations_->sync(clock_.systemTime()));
  EXPECT_EQ(revocations_->size(), 0u);
}

TEST_F(SessionServiceTest, IntrospectsRefreshTokens) {
  auto sessions = service();
  auto one = sessions->start(user_, context_);
  auto active = sessions->introspectRefreshToken(one->refresh_token);
  ASSERT_TRUE(active);
  EXPECT_TRUE(active->active);
  EXPECT_EQ(active->user_id, "user-1");
  EXPECT_EQ(active->session_id, one->session_id);
  auto two = sessions->refresh(one->refresh_token, context_);
  EXPECT_FALSE(sessions->introspectRefreshToken(one->refresh_token)->active);  // superseded
  EXPECT_TRUE(sessions->introspectRefreshToken(two->refresh_token)->active);
  EXPECT_FALSE(sessions->introspectRefreshToken("nope")->active);
}

TEST_F(SessionServiceTest, AToolWithoutAnIssuerCanStillRevoke) {
  auto sessions = SessionService::create({}, {sessions_, users_, revocations_, nullptr, nullptr},
                                         clock_, random_);
  EXPECT_EQ(sessions->start(user_, context_).error().error, AuthError::kUnavailable);
  auto grant = service()->start(user_, context_);
  ASSERT_TRUE(sessions->logoutAll("user-1", "cli", "account_locked", context_));
  EXPECT_TRUE(sessions_->find(grant->session_id)->revoked);
}

// The race of SPEC F2.4 through the whole service, on SQLite with two service instances (two
// connections, as two gateway processes would have): of 16 concurrent refreshes with one token,
// exactly one gets tokens; the rest are refused and the family is revoked as reuse.
TEST_F(SessionServiceTest, ConcurrentRefreshesOnSqliteHaveExactlyOneWinner) {
  const auto directory = std::filesystem::path(::testing::TempDir()) /
                         ("bulwark_auth_race_" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  const store::SqliteConfig sqlite{(directory / "bulwark.db").string()};
  auto users = store::openSqliteUserStore(sqlite);
  ASSERT_TRUE(users);
  ASSERT_TRUE((*users)->create(user_));
  std::vector<SessionServicePtr> services;
  for (int i = 0; i < 2; ++i) {
    auto sessions = store::openSqliteSessionStore(sqlite);
    ASSERT_TRUE(sessions);
    services.push_back(SessionService::create(
        {}, {*sessions, *users, revocations_, issuer_, audit_}, clock_, random_));
  }
  auto grant = services[0]->start(user_, context_);
  ASSERT_TRUE(grant);

  std::atomic<int> ready{0};
  std::atomic<int> winners{0};
  std::atomic<int> invalid{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      ready++;
      while (ready.load() < 16) std::this_thread::yield();
      auto result = services[i % 2]->refresh(grant->refresh_token, context_);
      if (result) {
        winners++;
      } else if (result.error().error == AuthError::kInvalidGrant) {
        invalid++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(invalid.load(), 15);
  EXPECT_EQ(audit_->count(EventType::kSecurityIncident, "refresh_token_reuse"), 1);
  std::error_code ignored;
  std::filesystem::remove_all(directory, ignored);
}

}  // namespace
}  // namespace bulwark::auth

#pragma once
// The SessionStore contract, run against every backend (instantiated in *_stores_test.cc):
// creation, compare-and-swap rotation by generation, reuse, the leeway retry, revocation, purge,
// and the race of many callers (and two store instances) on one token.

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "crypto/hmac.h"
#include "store/session_store.h"

namespace bulwark::store::testing {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

inline TokenHash hashOf(std::string_view token) { return crypto::sha256(token); }

template <class Backend>
class SessionStoreSuite : public ::testing::Test {
 protected:
  // Whole milliseconds: stores keep millisecond precision.
  const core::SystemTime t0_{milliseconds{1'800'000'000'000}};

  NewSession newSession(std::string sid, std::string user, std::string_view token) const {
    NewSession session;
    session.sid = std::move(sid);
    session.user_id = std::move(user);
    session.created = t0_;
    session.expires = t0_ + hours(24 * 30);
    session.token_expires = t0_ + hours(24 * 7);
    session.token_hash = hashOf(token);
    return session;
  }

  RotateRequest rotation(std::string_view presented, std::string_view next, core::SystemTime now,
                         milliseconds leeway = milliseconds{0}) const {
    RotateRequest request;
    request.presented = hashOf(presented);
    request.next = hashOf(next);
    request.next_sealed = "sealed:" + std::string(next);
    request.now = now;
    request.next_expires = now + hours(24 * 7);
    request.reuse_leeway = leeway;
    return request;
  }

  Backend backend_;
  SessionStorePtr store_ = backend_.sessions();
};

TYPED_TEST_SUITE_P(SessionStoreSuite);

TYPED_TEST_P(SessionStoreSuite, CreatesAndFinds) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  auto found = this->store_->find("s1");
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->user_id, "u1");
  EXPECT_EQ(found->generation, 1u);
  EXPECT_EQ(found->token_hash, hashOf("tok1"));
  EXPECT_FALSE(found->previous_hash.has_value());
  EXPECT_EQ(found->created, this->t0_);
  EXPECT_EQ(found->rotated, this->t0_);
  EXPECT_EQ(found->expires, this->t0_ + hours(24 * 30));
  EXPECT_EQ(found->token_expires, this->t0_ + hours(24 * 7));
  EXPECT_FALSE(found->revoked);
  EXPECT_TRUE(found->successor_sealed.empty());

  auto by_token = this->store_->findByToken(hashOf("tok1"));
  ASSERT_TRUE(by_token);
  EXPECT_EQ(by_token->session.sid, "s1");
  EXPECT_EQ(by_token->generation, 1u);

  EXPECT_EQ(this->store_->find("nope").error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->findByToken(hashOf("nope")).error(), StoreError::kNotFound);
}

TYPED_TEST_P(SessionStoreSuite, RefusesDuplicatesAndBadInput) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  EXPECT_EQ(this->store_->create(this->newSession("s1", "u1", "tok2")).error(),
            StoreError::kAlreadyExists);
  EXPECT_EQ(this->store_->create(this->newSession("s2", "u1", "tok1")).error(),
            StoreError::kAlreadyExists);
  EXPECT_EQ(this->store_->find("s2").error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->create(this->newSession("", "u1", "tok3")).error(),
            StoreError::kInvalidArgument);
  auto inverted = this->newSession("s3", "u1", "tok3");
  inverted.token_expires = inverted.expires + seconds(1);
  EXPECT_EQ(this->store_->create(inverted).error(), StoreError::kInvalidArgument);
}

TYPED_TEST_P(SessionStoreSuite, RotationAdvancesTheGeneration) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  const auto now = this->t0_ + hours(1);
  auto rotated = this->store_->rotate(this->rotation("tok1", "tok2", now));
  ASSERT_TRUE(rotated) << rotated.error().message();
  EXPECT_EQ(rotated->outcome, RotateOutcome::kRotated);
  EXPECT_EQ(rotated->presented_generation, 1u);
  EXPECT_EQ(rotated->session.generation, 2u);
  EXPECT_EQ(rotated->session.token_hash, hashOf("tok2"));
  ASSERT_TRUE(rotated->session.previous_hash.has_value());
  EXPECT_EQ(*rotated->session.previous_hash, hashOf("tok1"));
  EXPECT_EQ(rotated->session.rotated, now);
  EXPECT_EQ(rotated->session.token_expires, now + hours(24 * 7));
  EXPECT_EQ(rotated->session.successor_sealed, "sealed:tok2");

  const auto stored = this->store_->find("s1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->generation, 2u);
  EXPECT_EQ(stored->token_hash, hashOf("tok2"));
  EXPECT_EQ(this->store_->findByToken(hashOf("tok2"))->generation, 2u);
  EXPECT_EQ(this->store_->findByToken(hashOf("tok1"))->generation, 1u);

  auto again = this->store_->rotate(this->rotation("tok2", "tok3", now + hours(1)));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->outcome, RotateOutcome::kRotated);
  EXPECT_EQ(again->session.generation, 3u);
}

TYPED_TEST_P(SessionStoreSuite, TokenExpiryIsCappedByTheSessionEnd) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  const auto now = this->t0_ + hours(24 * 29);  // one day before the absolute end
  auto rotated = this->store_->rotate(this->rotation("tok1", "tok2", now));
  ASSERT_TRUE(rotated);
  ASSERT_EQ(rotated->outcome, RotateOutcome::kExpired);  // tok1 itself ended after 7 days
  // A family rotated in time is still capped.
  ASSERT_TRUE(this->store_->create(this->newSession("s2", "u1", "tokA")));
  auto current = std::string("tokA");
  for (int day = 6; day <= 30; day += 6) {
    const auto next = "tokA" + std::to_string(day);
    auto step = this->store_->rotate(this->rotation(current, next, this->t0_ + hours(24 * day)));
    ASSERT_TRUE(step);
    if (day < 30) {
      ASSERT_EQ(step->outcome, RotateOutcome::kRotated) << day;
      EXPECT_LE(step->session.token_expires, this->t0_ + hours(24 * 30));
      current = next;
    } else {
      EXPECT_EQ(step->outcome, RotateOutcome::kExpired);
    }
  }
}

TYPED_TEST_P(SessionStoreSuite, OlderGenerationIsReuseAndRevokesTheFamily) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  const auto now = this->t0_ + seconds(10);
  ASSERT_EQ(this->store_->rotate(this->rotation("tok1", "tok2", now))->outcome,
            RotateOutcome::kRotated);
  auto reused = this->store_->rotate(this->rotation("tok1", "tokX", now + seconds(1)));
  ASSERT_TRUE(reused);
  EXPECT_EQ(reused->outcome, RotateOutcome::kReuse);
  EXPECT_EQ(reused->presented_generation, 1u);
  EXPECT_EQ(reused->session.generation, 2u);
  EXPECT_TRUE(reused->session.revoked);
  EXPECT_EQ(reused->session.revoked_reason, "reuse");

  // The whole family is dead: the current token no longer rotates.
  auto current = this->store_->rotate(this->rotation("tok2", "tok3", now + seconds(2)));
  ASSERT_TRUE(current);
  EXPECT_EQ(current->outcome, RotateOutcome::kRevoked);
  EXPECT_TRUE(this->store_->find("s1")->revoked);
  EXPECT_EQ(this->store_->findByToken(hashOf("tokX")).error(), StoreError::kNotFound);
}

TYPED_TEST_P(SessionStoreSuite, PreviousTokenWithinLeewayGetsTheSameSuccessor) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  const auto now = this->t0_ + seconds(10);
  const milliseconds leeway{30'000};
  ASSERT_EQ(this->store_->rotate(this->rotation("tok1", "tok2", now, leeway))->outcome,
            RotateOutcome::kRotated);
  for (int retry = 0; retry < 3; ++retry) {
    auto again = this->store_->rotate(
        this->rotation("tok1", "other" + std::to_string(retry), now + seconds(30), leeway));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->outcome, RotateOutcome::kRetry);
    EXPECT_EQ(again->successor_sealed, "sealed:tok2");  // never a new mint
    EXPECT_EQ(again->session.generation, 2u);
    EXPECT_FALSE(again->session.revoked);
  }
  // Nothing was minted by the retries.
  EXPECT_EQ(this->store_->findByToken(hashOf("other0")).error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->find("s1")->token_hash, hashOf("tok2"));
}

TYPED_TEST_P(SessionStoreSuite, PreviousTokenAfterTheLeewayIsReuse) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  const auto now = this->t0_ + seconds(10);
  const milliseconds leeway{30'000};
  ASSERT_EQ(this->store_->rotate(this->rotation("tok1", "tok2", now, leeway))->outcome,
            RotateOutcome::kRotated);
  auto late =
      this->store_->rotate(this->rotation("tok1", "tokX", now + leeway + milliseconds(1), leeway));
  ASSERT_TRUE(late);
  EXPECT_EQ(late->outcome, RotateOutcome::kReuse);
  EXPECT_TRUE(this->store_->find("s1")->revoked);
}

TYPED_TEST_P(SessionStoreSuite, PreviousTokenWithoutLeewayIsReuse) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  const auto now = this->t0_ + seconds(10);
  ASSERT_EQ(this->store_->rotate(this->rotation("tok1", "tok2", now))->outcome,
            RotateOutcome::kRotated);
  auto retry = this->store_->rotate(this->rotation("tok1", "tokX", now));
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->outcome, RotateOutcome::kReuse);
}

TYPED_TEST_P(SessionStoreSuite, TwoGenerationsOldIsReuseEvenWithinLeeway) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  const auto now = this->t0_ + seconds(10);
  const milliseconds leeway{60'000};
  ASSERT_EQ(this->store_->rotate(this->rotation("tok1", "tok2", now, leeway))->outcome,
            RotateOutcome::kRotated);
  ASSERT_EQ(this->store_->rotate(this->rotation("tok2", "tok3", now, leeway))->outcome,
            RotateOutcome::kRotated);
  auto old = this->store_->rotate(this->rotation("tok1", "tokX", now, leeway));
  ASSERT_TRUE(old);
  EXPECT_EQ(old->outcome, RotateOutcome::kReuse);
  EXPECT_EQ(old->presented_generation, 1u);
  EXPECT_TRUE(this->store_->find("s1")->revoked);
}

TYPED_TEST_P(SessionStoreSuite, ExpiredRevokedAndUnknownTokensChangeNothing) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  auto unknown = this->store_->rotate(this->rotation("never", "tok2", this->t0_));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->outcome, RotateOutcome::kUnknown);

  auto expired = this->store_->rotate(this->rotation("tok1", "tok2", this->t0_ + hours(24 * 7)));
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->outcome, RotateOutcome::kExpired);
  EXPECT_EQ(this->store_->find("s1")->generation, 1u);

  ASSERT_TRUE(this->store_->create(this->newSession("s2", "u1", "tokB")));
  ASSERT_EQ(this->store_->revoke("s2", "logout", this->t0_).value(), true);
  auto revoked = this->store_->rotate(this->rotation("tokB", "tokC", this->t0_ + seconds(1)));
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->outcome, RotateOutcome::kRevoked);
  EXPECT_EQ(revoked->session.revoked_reason, "logout");
  EXPECT_EQ(this->store_->findByToken(hashOf("tokC")).error(), StoreError::kNotFound);
}

TYPED_TEST_P(SessionStoreSuite, RevokesOneOrEveryFamilyOfAUser) {
  for (const char* sid : {"a", "b", "c"}) {
    ASSERT_TRUE(this->store_->create(this->newSession(sid, "u1", std::string("tok-") + sid)));
  }
  ASSERT_TRUE(this->store_->create(this->newSession("d", "u2", "tok-d")));
  auto active = this->store_->listActive("u1", this->t0_ + seconds(1));
  ASSERT_TRUE(active);
  EXPECT_EQ(active->size(), 3u);

  EXPECT_EQ(this->store_->revoke("b", "logout", this->t0_).value(), true);
  EXPECT_EQ(this->store_->revoke("b", "revoked", this->t0_).value(), false);  // first reason kept
  EXPECT_EQ(this->store_->find("b")->revoked_reason, "logout");
  EXPECT_EQ(this->store_->find("b")->revoked_at, this->t0_);
  EXPECT_EQ(this->store_->revoke("zzz", "logout", this->t0_).error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->listActive("u1", this->t0_ + seconds(1))->size(), 2u);

  auto all = this->store_->revokeAllForUser("u1", "logout_all", this->t0_ + seconds(2));
  ASSERT_TRUE(all);
  std::set<std::string> sids;
  for (const auto& session : *all) {
    sids.insert(session.sid);
    EXPECT_TRUE(session.revoked);
    EXPECT_EQ(session.revoked_reason, "logout_all");
  }
  EXPECT_EQ(sids, (std::set<std::string>{"a", "c"}));  // b was revoked already
  EXPECT_TRUE(this->store_->listActive("u1", this->t0_ + seconds(3))->empty());
  EXPECT_EQ(this->store_->listActive("u2", this->t0_ + seconds(3))->size(), 1u);
  EXPECT_TRUE(this->store_->listActive("u1", this->t0_)->empty());
}

TYPED_TEST_P(SessionStoreSuite, ListsOnlyLiveSessions) {
  ASSERT_TRUE(this->store_->create(this->newSession("a", "u1", "tok-a")));
  auto later = this->newSession("b", "u1", "tok-b");
  later.created = this->t0_ + hours(24 * 5);
  later.token_expires = later.created + hours(24 * 7);
  ASSERT_TRUE(this->store_->create(later));
  auto active = this->store_->listActive("u1", this->t0_ + hours(24 * 8));
  ASSERT_TRUE(active);
  ASSERT_EQ(active->size(), 1u);  // a's token ended after 7 days
  EXPECT_EQ(active->front().sid, "b");
}

TYPED_TEST_P(SessionStoreSuite, PurgesDeadFamiliesWithTheirTokens) {
  ASSERT_TRUE(this->store_->create(this->newSession("old", "u1", "tok-old")));
  ASSERT_EQ(this->store_->rotate(this->rotation("tok-old", "tok-old2", this->t0_))->outcome,
            RotateOutcome::kRotated);
  auto fresh = this->newSession("new", "u1", "tok-new");
  fresh.created = this->t0_ + hours(24 * 6);
  fresh.token_expires = fresh.created + hours(24 * 7);
  ASSERT_TRUE(this->store_->create(fresh));

  auto purged = this->store_->purgeExpired(this->t0_ + hours(24 * 8));
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(this->store_->find("old").error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->findByToken(hashOf("tok-old")).error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->findByToken(hashOf("tok-old2")).error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->rotate(this->rotation("tok-old", "x", this->t0_))->outcome,
            RotateOutcome::kUnknown);
  EXPECT_TRUE(this->store_->find("new"));
}

// Races `threads` callers presenting the same token; returns the outcomes, in no order.
template <class Suite>
std::vector<RotateOutcome> race(Suite& suite, const std::vector<SessionStorePtr>& stores,
                                int threads, milliseconds leeway,
                                std::vector<std::string>* sealed = nullptr) {
  std::vector<RotateOutcome> outcomes(threads);
  std::vector<std::string> successors(threads);
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      auto& store = stores[i % stores.size()];
      const auto request = suite.rotation("tok1", "next" + std::to_string(i), suite.now(), leeway);
      ready.fetch_add(1);
      while (ready.load() < threads) {
        std::this_thread::yield();  // start together
      }
      auto result = store->rotate(request);
      ASSERT_TRUE(result) << result.error().message();
      outcomes[i] = result->outcome;
      successors[i] = result->outcome == RotateOutcome::kRotated ? result->session.successor_sealed
                                                                 : result->successor_sealed;
    });
  }
  for (auto& thread : pool) {
    thread.join();
  }
  if (sealed != nullptr) {
    *sealed = successors;
  }
  return outcomes;
}

template <class Backend>
class SessionRaceSuite : public SessionStoreSuite<Backend> {
 public:
  using SessionStoreSuite<Backend>::rotation;
  core::SystemTime now() const { return this->t0_ + seconds(5); }
};

TYPED_TEST_SUITE_P(SessionRaceSuite);

TYPED_TEST_P(SessionRaceSuite, SixteenConcurrentRefreshesHaveExactlyOneWinner) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  const auto outcomes = race(*this, {this->store_}, 16, milliseconds{0});
  const auto count = [&](RotateOutcome outcome) {
    return std::count(outcomes.begin(), outcomes.end(), outcome);
  };
  EXPECT_EQ(count(RotateOutcome::kRotated), 1);
  // Without a leeway the first loser is reuse (it revokes the family); the rest find it revoked.
  EXPECT_EQ(count(RotateOutcome::kReuse), 1);
  EXPECT_EQ(count(RotateOutcome::kRevoked), 14);
  EXPECT_TRUE(this->store_->find("s1")->revoked);
  EXPECT_EQ(this->store_->find("s1")->generation, 2u);
}

TYPED_TEST_P(SessionRaceSuite, WithALeewayTheLosersGetTheWinnersSuccessor) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  std::vector<std::string> sealed;
  const auto outcomes = race(*this, {this->store_}, 16, milliseconds{10'000}, &sealed);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), RotateOutcome::kRotated), 1);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), RotateOutcome::kRetry), 15);
  EXPECT_EQ(std::set<std::string>(sealed.begin(), sealed.end()).size(), 1u);  // one successor
  EXPECT_FALSE(this->store_->find("s1")->revoked);
  EXPECT_EQ(this->store_->find("s1")->generation, 2u);
}

TYPED_TEST_P(SessionRaceSuite, TwoStoreInstancesOnTheSameDataHaveExactlyOneWinner) {
  ASSERT_TRUE(this->store_->create(this->newSession("s1", "u1", "tok1")));
  const auto second = this->backend_.secondSessions();
  ASSERT_TRUE(second);
  const auto outcomes = race(*this, {this->store_, second}, 16, milliseconds{0});
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), RotateOutcome::kRotated), 1);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), RotateOutcome::kReuse), 1);
  EXPECT_EQ(second->find("s1")->generation, 2u);
  EXPECT_TRUE(second->find("s1")->revoked);
}

REGISTER_TYPED_TEST_SUITE_P(SessionStoreSuite, CreatesAndFinds, RefusesDuplicatesAndBadInput,
                            RotationAdvancesTheGeneration, TokenExpiryIsCappedByTheSessionEnd,
                            OlderGenerationIsReuseAndRevokesTheFamily,
                            PreviousTokenWithinLeewayGetsTheSameSuccessor,
                            PreviousTokenAfterTheLeewayIsReuse, PreviousTokenWithoutLeewayIsReuse,
                            TwoGenerationsOldIsReuseEvenWithinLeeway,
                            ExpiredRevokedAndUnknownTokensChangeNothing,
                            RevokesOneOrEveryFamilyOfAUser, ListsOnlyLiveSessions,
                            PurgesDeadFamiliesWithTheirTokens);

REGISTER_TYPED_TEST_SUITE_P(SessionRaceSuite, SixteenConcurrentRefreshesHaveExactlyOneWinner,
                            WithALeewayTheLosersGetTheWinnersSuccessor,
                            TwoStoreInstancesOnTheSameDataHaveExactlyOneWinner);

}  // namespace bulwark::store::testing

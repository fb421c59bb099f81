#include "auth/lockout.h"

#include <gtest/gtest.h>

namespace bulwark::auth {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

LockoutConfig config() {
  LockoutConfig c;
  c.account_threshold = 3;
  c.address_threshold = 5;
  c.base_delay = seconds(10);
  c.max_delay = seconds(60);
  c.forget_after = std::chrono::minutes(30);
  return c;
}

TEST(Lockout, DefaultsAreSensible) {
  const LockoutConfig defaults;
  EXPECT_EQ(defaults.account_threshold, 5u);
  EXPECT_EQ(defaults.address_threshold, 20u);
  EXPECT_LE(defaults.base_delay, defaults.max_delay);
  EXPECT_GE(defaults.forget_after, defaults.max_delay);
}

TEST(Lockout, LocksAnAccountAtTheThresholdWithRetryAfter) {
  core::SimulatedClock clock;
  Lockout lockout(config(), clock);
  EXPECT_FALSE(lockout.check("alice", "").locked());
  EXPECT_EQ(lockout.recordFailure("alice", "").account_locked_for, milliseconds(0));
  EXPECT_EQ(lockout.recordFailure("alice", "").account_locked_for, milliseconds(0));
  EXPECT_FALSE(lockout.check("alice", "").locked());
  const auto third = lockout.recordFailure("alice", "");
  EXPECT_EQ(third.account_failures, 3u);
  EXPECT_EQ(third.account_locked_for, seconds(10));
  auto status = lockout.check("alice", "");
  EXPECT_EQ(status.scope, LockoutScope::kAccount);
  EXPECT_EQ(status.retry_after, seconds(10));
  EXPECT_FALSE(lockout.check("bob", "").locked());

  clock.advance(milliseconds(9'500));
  status = lockout.check("alice", "");
  EXPECT_TRUE(status.locked());
  EXPECT_EQ(status.retry_after, seconds(1));  // rounded up
  clock.advance(milliseconds(500));
  EXPECT_FALSE(lockout.check("alice", "").locked());
}

TEST(Lockout, BackoffDoublesUpToTheMaximum) {
  core::SimulatedClock clock;
  Lockout lockout(config(), clock);
  for (int i = 0; i < 2; ++i) lockout.recordFailure("alice", "");
  std::vector<std::int64_t> lockouts;
  for (int i = 0; i < 5; ++i) {
    const auto outcome = lockout.recordFailure("alice", "");
    lockouts.push_back(std::chrono::duration_cast<seconds>(outcome.account_locked_for).count());
    clock.advance(outcome.account_locked_for);  // wait it out, then fail again
    EXPECT_FALSE(lockout.check("alice", "").locked());
  }
  EXPECT_EQ(lockouts, (std::vector<std::int64_t>{10, 20, 40, 60, 60}));
}

TEST(Lockout, SuccessResetsTheAccountButNotTheAddress) {
  core::SimulatedClock clock;
  Lockout lockout(config(), clock);
  for (int i = 0; i < 2; ++i) lockout.recordFailure("alice", "10.0.0.1");
  lockout.recordSuccess("alice");
  EXPECT_EQ(lockout.recordFailure("alice", "10.0.0.1").account_failures, 1u);
  // The address kept counting: 3 failures so far, 2 more lock it.
  lockout.recordFailure("mallory", "10.0.0.1");
  const auto fifth = lockout.recordFailure("mallory", "10.0.0.1");
  EXPECT_EQ(fifth.address_failures, 5u);
  EXPECT_EQ(fifth.address_locked_for, seconds(10));
  const auto status = lockout.check("carol", "10.0.0.1");
  EXPECT_EQ(status.scope, LockoutScope::kAddress);
  EXPECT_FALSE(lockout.check("carol", "10.0.0.2").locked());
}

TEST(Lockout, CountersAreForgottenAfterQuietTime) {
  core::SimulatedClock clock;
  Lockout lockout(config(), clock);
  lockout.recordFailure("alice", "");
  lockout.recordFailure("alice", "");
  clock.advance(std::chrono::minutes(30));
  EXPECT_EQ(lockout.recordFailure("alice", "").account_failures, 1u);
}

TEST(Lockout, ClearingAnAccountEndsItsLockout) {
  core::SimulatedClock clock;
  Lockout lockout(config(), clock);
  for (int i = 0; i < 3; ++i) lockout.recordFailure("alice", "");
  ASSERT_TRUE(lockout.check("alice", "").locked());
  lockout.clearAccount("alice");
  EXPECT_FALSE(lockout.check("alice", "").locked());
}

TEST(Lockout, MemoryIsBoundedButLockedKeysSurviveAFlood) {
  core::SimulatedClock clock;
  auto c = config();
  c.max_entries = 100;
  Lockout lockout(c, clock);
  for (int i = 0; i < 3; ++i) lockout.recordFailure("victim", "");
  for (int i = 0; i < 10'000; ++i) lockout.recordFailure("spray-" + std::to_string(i), "");
  EXPECT_LE(lockout.size(), 100u);
  EXPECT_TRUE(lockout.check("victim", "").locked());
}

// A shared store (as Redis is) that other nodes also write: `remote_failures` are failures other
// nodes counted; `down` makes every call fail.
class SharedStore final : public store::LockoutStore {
 public:
  std::uint32_t remote_failures = 0;
  bool down = false;
  std::chrono::milliseconds locked{0};

  store::Result<store::LockoutCount> recordFailure(store::LockoutKind kind, std::string_view,
                                                   const store::LockoutRule& rule) override {
    if (down) return store::StoreError::kUnavailable;
    if (kind != store::LockoutKind::kAccount) return store::LockoutCount{1, {}};
    ++remote_failures;
    if (remote_failures >= rule.threshold) locked = rule.base_delay;
    return store::LockoutCount{remote_failures, remote_failures >= rule.threshold
                                                    ? rule.base_delay
                                                    : std::chrono::milliseconds(0)};
  }
  store::Result<std::chrono::milliseconds> lockedFor(store::LockoutKind kind,
                                                     std::string_view) override {
    if (down) return store::StoreError::kUnavailable;
    return kind == store::LockoutKind::kAccount ? locked : std::chrono::milliseconds(0);
  }
  store::Result<void> clear(store::LockoutKind, std::string_view, bool unless_locked) override {
    if (down) return store::StoreError::kUnavailable;
    if (!unless_locked || locked.count() == 0) {
      remote_failures = 0;
      locked = {};
    }
    return {};
  }
};

TEST(Lockout, SharedStoreCountsEveryNodesFailuresAndIsMirrored) {
  core::SimulatedClock clock;
  auto shared = std::make_shared<SharedStore>();
  Lockout lockout(config(), clock, shared);
  shared->remote_failures = 2;  // two guesses on other nodes
  const auto outcome = lockout.recordFailure("alice", "10.0.0.1");
  EXPECT_EQ(outcome.account_failures, 3u);
  EXPECT_EQ(outcome.account_locked_for, seconds(10));
  // Mirrored: the cheap local check refuses without asking the store.
  shared->down = true;
  EXPECT_EQ(lockout.check("alice", "").scope, LockoutScope::kAccount);
}

TEST(Lockout, SharedLockSeenByANodeThatCountedNothing) {
  core::SimulatedClock clock;
  auto shared = std::make_shared<SharedStore>();
  Lockout lockout(config(), clock, shared);
  shared->locked = seconds(20);  // another node locked alice
  EXPECT_FALSE(lockout.check("alice", "").locked());  // this node's memory knows nothing yet
  const auto status = lockout.checkShared("alice", "10.0.0.1");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->scope, LockoutScope::kAccount);
  EXPECT_EQ(status->retry_after, seconds(20));
}

TEST(Lockout, SharedStoreDownFailsClosedButStillCountsLocally) {
  core::SimulatedClock clock;
  auto shared = std::make_shared<SharedStore>();
  shared->down = true;
  Lockout lockout(config(), clock, shared);
  EXPECT_FALSE(lockout.checkShared("alice", "10.0.0.1"));  // the login answers 503
  for (int i = 0; i < 3; ++i) lockout.recordFailure("alice", "10.0.0.1");
  EXPECT_EQ(lockout.check("alice", "").scope, LockoutScope::kAccount);
}

}  // namespace
}  // namespace bulwark::auth

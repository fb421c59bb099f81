// Failed-login counters in Redis, shared by two nodes: thresholds, doubling lockouts up to the
// cap, the expiry of every counter, and the two ways of clearing one.

#include "redis_support.h"

namespace bulwark::store::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

class RedisLockoutTest : public TwoRedisNodesTest {
 protected:
  void SetUp() override {
    TwoRedisNodesTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    on_a_ = makeRedisLockoutStore(node_a_);
    on_b_ = makeRedisLockoutStore(node_b_);
    rule_.threshold = 3;
    rule_.base_delay = seconds(60);
    rule_.max_delay = seconds(200);
    rule_.forget_after = minutes(10);
  }

  long long pttl(const std::string& key) {
    auto reply = node_a_->commandSync({"PTTL", prefix_ + key});
    return reply ? reply->integer : -3;
  }

  LockoutStorePtr on_a_, on_b_;
  LockoutRule rule_;
};

TEST_F(RedisLockoutTest, CountsAcrossNodesAndLocksWithDoublingDelays) {
  auto first = on_a_->recordFailure(LockoutKind::kAccount, "alice", rule_);
  ASSERT_TRUE(first) << node_a_->lastError();
  EXPECT_EQ(first->failures, 1u);
  EXPECT_EQ(first->locked_for, milliseconds::zero());
  EXPECT_EQ(on_b_->recordFailure(LockoutKind::kAccount, "alice", rule_)->failures, 2u);
  EXPECT_EQ(*on_a_->lockedFor(LockoutKind::kAccount, "alice"), milliseconds::zero());
  // Unlocked counters are forgotten after the quiet time.
  EXPECT_GT(pttl("lock:a:alice"), milliseconds(minutes(9)).count());
  EXPECT_LE(pttl("lock:a:alice"), milliseconds(minutes(10)).count());

  auto third = on_a_->recordFailure(LockoutKind::kAccount, "alice", rule_);
  EXPECT_EQ(third->failures, 3u);
  EXPECT_EQ(third->locked_for, seconds(60));
  const auto locked = on_b_->lockedFor(LockoutKind::kAccount, "alice");  // the other node too
  ASSERT_TRUE(locked);
  EXPECT_GT(*locked, seconds(55));
  EXPECT_LE(*locked, seconds(60));
  EXPECT_EQ(on_b_->recordFailure(LockoutKind::kAccount, "alice", rule_)->locked_for, seconds(120));
  EXPECT_EQ(on_a_->recordFailure(LockoutKind::kAccount, "alice", rule_)->locked_for, seconds(200));
  EXPECT_EQ(on_a_->recordFailure(LockoutKind::kAccount, "alice", rule_)->locked_for, seconds(200));

  // Accounts and addresses are separate counters.
  EXPECT_EQ(*on_a_->lockedFor(LockoutKind::kAddress, "alice"), milliseconds::zero());
  EXPECT_EQ(on_a_->recordFailure(LockoutKind::kAddress, "10.0.0.1", rule_)->failures, 1u);
}

TEST_F(RedisLockoutTest, ALockedCounterLivesAtLeastAsLongAsItsLock) {
  rule_.forget_after = seconds(30);  // shorter than the lockout
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(on_a_->recordFailure(LockoutKind::kAddress, "10.0.0.9", rule_));
  }
  EXPECT_GT(pttl("lock:i:10.0.0.9"), milliseconds(seconds(55)).count());
  EXPECT_LE(pttl("lock:i:10.0.0.9"), milliseconds(seconds(60)).count());
  for (const auto& key : keysUnder(*node_a_, prefix_))
    EXPECT_GT(pttl(key.substr(prefix_.size())), 0);
}

TEST_F(RedisLockoutTest, ASuccessDoesNotEndALockoutButAnUnlockDoes) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(on_a_->recordFailure(LockoutKind::kAccount, "bob", rule_));
  }
  ASSERT_TRUE(on_b_->clear(LockoutKind::kAccount, "bob", /*unless_locked=*/true));
  EXPECT_GT(*on_a_->lockedFor(LockoutKind::kAccount, "bob"), seconds(50));
  ASSERT_TRUE(on_b_->clear(LockoutKind::kAccount, "bob", /*unless_locked=*/false));
  EXPECT_EQ(*on_a_->lockedFor(LockoutKind::kAccount, "bob"), milliseconds::zero());
  EXPECT_EQ(on_a_->recordFailure(LockoutKind::kAccount, "bob", rule_)->failures, 1u);

  ASSERT_TRUE(on_a_->recordFailure(LockoutKind::kAccount, "carol", rule_));
  ASSERT_TRUE(on_a_->clear(LockoutKind::kAccount, "carol", /*unless_locked=*/true));
  EXPECT_EQ(pttl("lock:a:carol"), -2);  // gone
  EXPECT_EQ(on_a_->recordFailure(LockoutKind::kAccount, "", rule_).error(),
            StoreError::kInvalidArgument);
}

}  // namespace
}  // namespace bulwark::store::testing

// The Redis revocation store across two nodes (two clients, as two `bulwark serve` processes
// would have): pub/sub propagation, the resync that heals a missed message, and expiry on every
// key it writes.

#include "redis_support.h"

namespace bulwark::store::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

class RedisRevocationTest : public TwoRedisNodesTest {
 protected:
  RevocationStorePtr open(const RedisClientPtr& client, milliseconds resync = seconds(30)) {
    auto store = openRedisRevocationStore(client, now_, resync);
    EXPECT_TRUE(store.has_value()) << client->lastError();
    return store.has_value() ? *store : nullptr;
  }

  const core::SystemTime now_ = std::chrono::system_clock::now();
};

TEST_F(RedisRevocationTest, ARevocationOnOneNodeReachesTheOtherWithinASecond) {
  auto a = open(node_a_);
  auto b = open(node_b_);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->isCurrent());
  EXPECT_TRUE(b->isCurrent());
  EXPECT_FALSE(b->isRevoked("jti-1", "", "", now_));

  ASSERT_TRUE(a->revoke({RevocationKind::kToken, "jti-1", {}, now_ + minutes(15)}));
  EXPECT_TRUE(a->isRevoked("jti-1", "", "", now_));  // the revoking node at once
  EXPECT_TRUE(eventually([&] { return b->isRevoked("jti-1", "", "", now_); }, seconds(1)));

  ASSERT_TRUE(b->revoke({RevocationKind::kUser, "user-7", now_, now_ + minutes(15)}));
  EXPECT_TRUE(
      eventually([&] { return a->isRevoked("", "", "user-7", now_ - seconds(1)); }, seconds(1)));
  EXPECT_FALSE(a->isRevoked("", "", "user-7", now_));

  // A node opened later loads what is already there.
  auto late = open(node_b_);
  ASSERT_TRUE(late);
  EXPECT_TRUE(late->isRevoked("jti-1", "", "", now_));
  EXPECT_TRUE(late->isRevoked("", "", "user-7", now_ - seconds(1)));
}

TEST_F(RedisRevocationTest, AResyncHealsAMissedMessage) {
  auto b = open(node_b_, seconds(5));
  ASSERT_TRUE(b);
  // An entry written without a message, as if node B had missed it.
  auto third = connectOrFail(config_);
  ASSERT_TRUE(third);
  const auto expires_ms =
      std::chrono::duration_cast<milliseconds>((now_ + minutes(10)).time_since_epoch()).count();
  ASSERT_TRUE(
      third->commandSync({"SET", prefix_ + "rev:s:missed-session",
                          "0 " + std::to_string(expires_ms), "PXAT", std::to_string(expires_ms)}));

  auto synced = b->sync(now_ + seconds(1));  // before the interval: not reloaded yet
  ASSERT_TRUE(synced);
  EXPECT_FALSE(b->isRevoked("", "missed-session", "", now_));
  synced = b->sync(now_ + seconds(6));  // the interval has passed: the whole set is reloaded
  ASSERT_TRUE(synced);
  EXPECT_GE(*synced, 1u);
  EXPECT_TRUE(b->isRevoked("", "missed-session", "", now_));
  EXPECT_TRUE(b->isCurrent());
}

TEST_F(RedisRevocationTest, EveryKeyItWritesExpiresWithItsEntry) {
  auto a = open(node_a_);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->revoke({RevocationKind::kToken, "j", {}, now_ + minutes(15)}));
  ASSERT_TRUE(a->revoke({RevocationKind::kSession, "s", {}, now_ + minutes(5)}));
  ASSERT_TRUE(a->revoke({RevocationKind::kUser, "u", now_, now_ + minutes(1)}));
  // A later revocation of the same user with an earlier expiry keeps the later one.
  ASSERT_TRUE(a->revoke({RevocationKind::kUser, "u", now_ - seconds(5), now_ + seconds(30)}));

  const auto keys = keysUnder(*node_a_, prefix_);
  EXPECT_EQ(keys.size(), 3u);
  for (const auto& key : keys) {
    auto ttl = node_a_->commandSync({"PTTL", key});
    ASSERT_TRUE(ttl);
    EXPECT_GT(ttl->integer, 0) << key << " has no expiry";
  }
  auto token_ttl = node_a_->commandSync({"PTTL", prefix_ + "rev:t:j"});
  EXPECT_GT(token_ttl->integer, milliseconds(minutes(14)).count());
  EXPECT_LE(token_ttl->integer, milliseconds(minutes(15)).count());
  auto user_ttl = node_a_->commandSync({"PTTL", prefix_ + "rev:u:u"});
  EXPECT_GT(user_ttl->integer, milliseconds(seconds(50)).count());  // the later expiry won
  const auto not_before_ms =
      std::chrono::duration_cast<milliseconds>(now_.time_since_epoch()).count();
  EXPECT_TRUE(
      node_a_->commandSync({"GET", prefix_ + "rev:u:u"})
          ->text.starts_with(std::to_string(not_before_ms) + " "));  // and the later not-before
}

}  // namespace
}  // namespace bulwark::store::testing

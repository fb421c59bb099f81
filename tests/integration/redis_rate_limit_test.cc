// The Redis rate limiter: one bucket shared by every node, refused with a sane retry_after, and
// each bucket expiring once it would be full again.

#include <future>

#include "redis_support.h"

namespace bulwark::store::testing {
namespace {

using std::chrono::milliseconds;

using RedisRateLimitTest = TwoRedisNodesTest;

TEST_F(RedisRateLimitTest, RefusesTheRequestAfterTheBurstWithARetryAfter) {
  auto limiter = makeRedisRateLimitStore(node_a_);
  EXPECT_TRUE(limiter->isRemote());
  const core::RateLimit limit{0.5, 5};  // one token every 2 s, burst 5
  const std::string client = std::string("route\x1f") + "10.0.0.1";
  const std::string other_client = std::string("route\x1f") + "10.0.0.2";
  for (int i = 0; i < 5; ++i) {
    const auto decision = limiter->consume(client, limit);
    EXPECT_TRUE(decision.allowed) << i;
    EXPECT_FALSE(decision.unavailable);
  }
  const auto refused = limiter->consume(client, limit);
  EXPECT_FALSE(refused.allowed);
  EXPECT_FALSE(refused.unavailable);
  EXPECT_GT(refused.retry_after, milliseconds(1'000));
  EXPECT_LE(refused.retry_after, milliseconds(2'000));
  EXPECT_TRUE(limiter->consume(other_client, limit).allowed);

  auto ttl = node_a_->commandSync({"PTTL", prefix_ + "rl:" + client});
  ASSERT_TRUE(ttl);
  EXPECT_GT(ttl->integer, 8'000);  // empty: 5 tokens at 0.5/s = 10 s to refill
  EXPECT_LE(ttl->integer, 10'000);
}

TEST_F(RedisRateLimitTest, TwoNodesShareOneBucket) {
  auto on_a = makeRedisRateLimitStore(node_a_);
  auto on_b = makeRedisRateLimitStore(node_b_);
  const core::RateLimit limit{0.1, 4};
  EXPECT_TRUE(on_a->consume("shared", limit).allowed);
  EXPECT_TRUE(on_b->consume("shared", limit).allowed);
  EXPECT_TRUE(on_a->consume("shared", limit).allowed);
  EXPECT_TRUE(on_b->consume("shared", limit).allowed);
  EXPECT_FALSE(on_a->consume("shared", limit).allowed);
  EXPECT_FALSE(on_b->consume("shared", limit).allowed);
}

TEST_F(RedisRateLimitTest, DecidesAsynchronouslyAndLoadsItsScriptAfterAFlush) {
  auto limiter = makeRedisRateLimitStore(node_a_);
  const core::RateLimit limit{100, 10};
  // The server forgets its scripts (as after a restart): EVALSHA answers NOSCRIPT, then EVAL.
  ASSERT_TRUE(node_a_->commandSync({"SCRIPT", "FLUSH"}));
  std::promise<RateDecision> decided;
  limiter->consumeAsync("async", limit, [&](RateDecision d) { decided.set_value(d); });
  auto future = decided.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const auto decision = future.get();
  EXPECT_TRUE(decision.allowed);
  EXPECT_FALSE(decision.unavailable);
}

}  // namespace
}  // namespace bulwark::store::testing

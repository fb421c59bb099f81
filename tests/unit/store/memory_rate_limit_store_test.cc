#include <gtest/gtest.h>

#include <thread>

#include "store/rate_limit_store.h"

namespace bulwark::store {
namespace {

using namespace std::chrono_literals;

TEST(MemoryRateLimitStore, AllowsBurstThenRefusesWithRetryAfter) {
  core::SimulatedClock clock;
  auto store = makeMemoryRateLimitStore(clock);
  const core::RateLimit limit{2, 3};
  EXPECT_TRUE(store->consume("k", limit).allowed);
  EXPECT_TRUE(store->consume("k", limit).allowed);
  EXPECT_TRUE(store->consume("k", limit).allowed);
  const auto refused = store->consume("k", limit);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 500ms);
  clock.advance(499ms);
  EXPECT_FALSE(store->consume("k", limit).allowed);
  clock.advance(2ms);
  EXPECT_TRUE(store->consume("k", limit).allowed);
}

TEST(MemoryRateLimitStore, KeysAreIndependent) {
  core::SimulatedClock clock;
  auto store = makeMemoryRateLimitStore(clock);
  const core::RateLimit limit{1, 1};
  EXPECT_TRUE(store->consume("a", limit).allowed);
  EXPECT_FALSE(store->consume("a", limit).allowed);
  EXPECT_TRUE(store->consume("b", limit).allowed);
}

TEST(MemoryRateLimitStore, RefillNeverExceedsBurst) {
  core::SimulatedClock clock;
  auto store = makeMemoryRateLimitStore(clock);
  const core::RateLimit limit{10, 2};
  EXPECT_TRUE(store->consume("k", limit).allowed);
  clock.advance(1h);
  EXPECT_TRUE(store->consume("k", limit).allowed);
  EXPECT_TRUE(store->consume("k", limit).allowed);
  EXPECT_FALSE(store->consume("k", limit).allowed);
}

TEST(MemoryRateLimitStore, MemoryIsBoundedUnderAFloodOfKeys) {
  core::SimulatedClock clock;
  auto store = makeMemoryRateLimitStore(clock, {.max_buckets = 64, .shards = 4});
  const core::RateLimit limit{1, 1};
  for (int i = 0; i < 10000; ++i) store->consume("client-" + std::to_string(i), limit);
  EXPECT_LE(store->size(), 64u);
}

TEST(MemoryRateLimitStore, ConcurrentConsumersNeverExceedTheBurst) {
  core::SimulatedClock clock;  // frozen: no refill during the test
  auto store = makeMemoryRateLimitStore(clock);
  const core::RateLimit limit{1, 100};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (store->consume("shared", limit).allowed) allowed++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), 100);
}

}  // namespace
}  // namespace bulwark::store

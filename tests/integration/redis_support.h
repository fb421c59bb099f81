#pragma once
// Helpers for the tests against the real Redis (tests/support/services.sh): a key prefix per test
// (tests run in parallel processes and never FLUSHALL), a client configuration with short but
// generous timeouts, and cleanup of a test's keys.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "store/redis.h"
#include "support/services.h"

namespace bulwark::store::testing {

// "bulwark-test:<pid>:<n>:<random>:" — no other test, and no earlier run, uses it.
inline std::string uniqueRedisPrefix() {
  static std::atomic<int> counter{0};
  return "bulwark-test:" + std::to_string(::getpid()) + ":" + std::to_string(counter++) + ":" +
         std::to_string(std::random_device{}()) + ":";
}

inline RedisConfig redisTestConfig(const bulwark::testing::TestServices& services,
                                   std::string prefix) {
  RedisConfig config;
  config.url = services.redis_url;
  config.ca_file = services.ca;
  config.pool_size = 2;
  config.key_prefix = std::move(prefix);
  config.client_name = "bulwark-test";
  return config;
}

inline RedisClientPtr connectOrFail(const RedisConfig& config) {
  std::string reason;
  auto client = connectRedis(config, &reason);
  EXPECT_TRUE(client.has_value()) << reason;
  return client.has_value() ? *client : nullptr;
}

// The keys under `prefix` (SCAN; bounded).
inline std::vector<std::string> keysUnder(RedisClient& client, const std::string& prefix) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  for (int step = 0; step < 10'000; ++step) {
    auto page = client.commandSync({"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"});
    if (!page || page->elements.size() != 2) break;
    cursor = page->elements[0].text;
    for (const auto& key : page->elements[1].elements) keys.push_back(key.text);
    if (cursor == "0") break;
  }
  return keys;
}

inline void deleteKeysUnder(RedisClient& client, const std::string& prefix) {
  for (const auto& key : keysUnder(client, prefix)) {
    (void)client.commandSync({"DEL", key});
  }
}

// Two clients of the test Redis under one fresh key prefix, as two `bulwark serve` nodes would
// have; the prefix's keys are deleted afterwards. Skips (or, in CI, fails) without services.
class TwoRedisNodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BULWARK_REQUIRE_SERVICES();
    config_ = redisTestConfig(*bulwark::testing::testServices(), prefix_);
    node_a_ = connectOrFail(config_);
    node_b_ = connectOrFail(config_);
    ASSERT_TRUE(node_a_ && node_b_);
  }
  void TearDown() override {
    if (node_a_) deleteKeysUnder(*node_a_, prefix_);
  }

  std::string prefix_ = uniqueRedisPrefix();
  RedisConfig config_;
  RedisClientPtr node_a_;
  RedisClientPtr node_b_;
};

// Polls `condition` every few milliseconds until it holds or `limit` passes.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace bulwark::store::testing

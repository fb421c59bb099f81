// The gateway's rate-limit step with a remote store (Redis in production): the decision is
// awaited without blocking the I/O thread and resumes on it; when the store cannot decide the
// request is refused with 503 and an API_RATE_LIMIT event (fail closed). The Redis-backed cases
// share one bucket between two gateways and survive Redis stopping and starting.

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "redis_support.h"
#include "support/gateway_harness.h"
#include "support/raw_client.h"

namespace bulwark::testing {
namespace {

using namespace std::chrono_literals;

// Answers every decision from a thread of its own, as a remote store does.
class FakeRemoteRateLimits final : public store::RateLimitStore {
 public:
  FakeRemoteRateLimits() : thread_([this] { run(); }) {}
  ~FakeRemoteRateLimits() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void answer(store::RateDecision decision) {
    std::lock_guard lock(mutex_);
    decision_ = decision;
  }
  int syncCalls() const { return sync_calls_.load(); }

  store::RateDecision consume(std::string_view, const core::RateLimit&) override {
    ++sync_calls_;  // an I/O thread must never get here with a remote store
    return {false, {}, true};
  }
  void consumeAsync(std::string_view key, const core::RateLimit&,
                    std::function<void(store::RateDecision)> done) override {
    std::lock_guard lock(mutex_);
    keys_.emplace_back(key);
    pending_.push_back(std::move(done));
    wake_.notify_all();
  }
  bool isRemote() const override { return true; }
  std::size_t size() const override { return 0; }
  std::string lastKey() const {
    std::lock_guard lock(mutex_);
    return keys_.empty() ? std::string() : keys_.back();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;
      auto done = std::move(pending_.front());
      pending_.pop_front();
      const auto decision = decision_;
      lock.unlock();
      done(decision);
      lock.lock();
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void(store::RateDecision)>> pending_;
  std::vector<std::string> keys_;
  store::RateDecision decision_{};
  bool stopping_ = false;
  std::atomic<int> sync_calls_{0};
  std::thread thread_;  // last: starts after the state it uses
};

core::Settings limitedSettings(std::uint16_t upstream_port) {
  auto settings = testSettings();
  auto route = testRoute("/", upstream_port);
  route.name = "api";
  route.rate_limit = core::RateLimit{1, 2};
  settings.routes.push_back(route);
  return settings;
}

TEST(GatewayRemoteRateLimit, AwaitsTheStoreAndFailsClosedWhenItCannotDecide) {
  TestUpstream upstream;
  auto limits = std::make_shared<FakeRemoteRateLimits>();
  GatewayHarness gateway(limitedSettings(upstream.port()),
                         [&](gateway::ServerDeps& deps) { deps.rate_limits = limits; });
  RawClient client(gateway.port());
  const std::string request = "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n";

  EXPECT_EQ(client.roundTrip(request).status, 200);
  EXPECT_EQ(limits->lastKey(), std::string("api\x1f") + "127.0.0.1");

  limits->answer({false, 2'500ms, false});
  auto limited = client.roundTrip(request);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.headers["retry-after"], "3");

  limits->answer({false, 0ms, true});
  auto unavailable = client.roundTrip(request);
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_EQ(unavailable.headers["content-type"], "application/json");
  EXPECT_NE(unavailable.body.find("\"error\":\"temporarily_unavailable\""), std::string::npos)
      << unavailable.body;
  EXPECT_FALSE(unavailable.closed);
  EXPECT_EQ(gateway.audit().count(audit::EventType::kApiRateLimit), 2);
  EXPECT_EQ(gateway.audit().count(audit::EventType::kApiRateLimit, "rate_limit_store_unavailable"),
            1);
  for (const auto& event : gateway.audit().events()) {
    if (event.type == audit::EventType::kApiRateLimit &&
        gateway.audit().count(event.type, "rate_limit_store_unavailable") > 0 &&
        event.outcome == audit::Outcome::kError) {
      EXPECT_EQ(event.target, "api");
    }
  }

  limits->answer({true, 0ms, false});
  EXPECT_EQ(client.roundTrip(request).status, 200);  // the same connection carries on
  EXPECT_EQ(limits->syncCalls(), 0);
}

TEST(RedisGatewayRateLimit, TwoGatewaysShareABucketAndFailClosedWhileRedisIsDown) {
  BULWARK_REQUIRE_SERVICES();
  const auto services = *testServices();
  auto config = store::testing::redisTestConfig(services, store::testing::uniqueRedisPrefix());
  config.command_timeout = 300ms;
  config.connect_timeout = 500ms;
  config.retry_backoff = 20ms;
  config.reconnect_backoff_max = 200ms;
  auto node_a = store::testing::connectOrFail(config);
  auto node_b = store::testing::connectOrFail(config);
  ASSERT_TRUE(node_a && node_b);

  TestUpstream upstream;
  GatewayHarness gateway_a(limitedSettings(upstream.port()), [&](gateway::ServerDeps& deps) {
    deps.rate_limits = store::makeRedisRateLimitStore(node_a);
  });
  GatewayHarness gateway_b(limitedSettings(upstream.port()), [&](gateway::ServerDeps& deps) {
    deps.rate_limits = store::makeRedisRateLimitStore(node_b);
  });
  RawClient client_a(gateway_a.port());
  RawClient client_b(gateway_b.port());
  const std::string request = "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(client_a.roundTrip(request).status, 200);
  EXPECT_EQ(client_b.roundTrip(request).status, 200);
  auto limited = client_a.roundTrip(request);  // burst 2, shared: the third is refused
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.headers["retry-after"], "1");
  EXPECT_EQ(client_b.roundTrip(request).status, 429);

  {
    struct Restart {
      const TestServices& services;
      ~Restart() { EXPECT_TRUE(services.control("start-redis")); }
    } restart{services};
    ASSERT_TRUE(services.control("stop-redis"));
    auto refused = client_a.roundTrip(request);
    EXPECT_EQ(refused.status, 503);
    EXPECT_NE(refused.body.find("temporarily_unavailable"), std::string::npos);
    EXPECT_EQ(
        gateway_a.audit().count(audit::EventType::kApiRateLimit, "rate_limit_store_unavailable"),
        1);
  }
  // Redis is back (empty: it keeps nothing on disk); the limiter recovers by itself.
  EXPECT_TRUE(
      store::testing::eventually([&] { return client_b.roundTrip(request).status == 200; }, 10s));
  store::testing::deleteKeysUnder(*node_a, config.key_prefix);
}

}  // namespace
}  // namespace bulwark::testing

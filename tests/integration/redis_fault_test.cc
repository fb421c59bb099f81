// Redis stops and starts again under a client, a revocation store and a rate limiter: everything
// fails closed within bounded time while it is down, and recovers by itself when it is back.

#include "redis_support.h"

namespace bulwark::store::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

// Starts Redis again when the test ends, whatever happened.
class RestartRedisAtExit {
 public:
  explicit RestartRedisAtExit(const bulwark::testing::TestServices& services)
      : services_(services) {}
  ~RestartRedisAtExit() {
    if (armed_) {
      EXPECT_TRUE(services_.control("start-redis"));
    }
  }
  bool start() {
    armed_ = false;
    return services_.control("start-redis");
  }

 private:
  const bulwark::testing::TestServices& services_;
  bool armed_ = true;
};

TEST(RedisFaults, StopAndStartRedis) {
  BULWARK_REQUIRE_SERVICES();
  const auto services = *bulwark::testing::testServices();
  auto config = redisTestConfig(services, uniqueRedisPrefix());
  config.command_timeout = milliseconds(300);
  config.connect_timeout = milliseconds(500);
  config.retry_backoff = milliseconds(20);
  config.reconnect_backoff_max = milliseconds(200);
  auto client = connectOrFail(config);
  ASSERT_TRUE(client);
  const auto now = std::chrono::system_clock::now();
  auto opened = openRedisRevocationStore(client, now, seconds(30));
  ASSERT_TRUE(opened) << client->lastError();
  auto revocations = *opened;
  auto limiter = makeRedisRateLimitStore(client);
  const core::RateLimit limit{100, 100};
  ASSERT_TRUE(limiter->consume("k", limit).allowed);
  ASSERT_TRUE(revocations->isCurrent());

  {
    RestartRedisAtExit restart(services);
    ASSERT_TRUE(services.control("stop-redis"));

    // A budget: every attempt's timeout plus the backoffs, and a margin for a loaded machine.
    const auto budget =
        config.attempts * (config.command_timeout + config.retry_backoff * 4) + seconds(2);
    auto started = steady_clock::now();
    auto pong = client->commandSync({"PING"});
    EXPECT_FALSE(pong);
    if (!pong) {
      EXPECT_EQ(pong.error(), StoreError::kUnavailable);
    }
    EXPECT_LT(steady_clock::now() - started, budget);
    EXPECT_FALSE(client->lastError().empty());
    // Known down now: further commands fail at once instead of holding their caller.
    started = steady_clock::now();
    EXPECT_FALSE(client->commandSync({"PING"}));
    EXPECT_LT(steady_clock::now() - started, config.command_timeout);
    EXPECT_EQ(client->lastError().find(services.redis_password), std::string::npos);

    started = steady_clock::now();
    const auto decision = limiter->consume("k", limit);
    EXPECT_FALSE(decision.allowed);
    EXPECT_TRUE(decision.unavailable);
    EXPECT_LT(steady_clock::now() - started, budget);

    EXPECT_TRUE(eventually([&] { return !revocations->isCurrent(); }, seconds(5)));
    EXPECT_FALSE(revocations->sync(now));
    // The revoking node still applies what it could not share.
    const auto revoked = revocations->revoke(
        {RevocationKind::kToken, "during-outage", {}, now + std::chrono::minutes(5)});
    EXPECT_FALSE(revoked);
    EXPECT_TRUE(revocations->isRevoked("during-outage", "", "", now));
    EXPECT_FALSE(revocations->isCurrent());
    EXPECT_EQ(client->stats().connections_up, 0u);

    ASSERT_TRUE(restart.start());
  }

  // Back: reconnected in the background; the store is current again after its next sync.
  EXPECT_TRUE(eventually([&] { return client->commandSync({"PING"}).has_value(); }, seconds(10)));
  EXPECT_TRUE(eventually(
      [&] {
        (void)revocations->sync(now);
        return revocations->isCurrent();
      },
      seconds(10)));
  EXPECT_TRUE(revocations->sync(now));
  EXPECT_TRUE(eventually([&] { return limiter->consume("k", limit).allowed; }, seconds(5)));
  EXPECT_GE(client->stats().reconnects, 1u);
  EXPECT_GE(client->stats().errors, 2u);
  deleteKeysUnder(*client, config.key_prefix);
}

}  // namespace
}  // namespace bulwark::store::testing

// The shared revocation store suite on Redis (one key prefix per test, removed after it).

#include "redis_support.h"
#include "unit/store/revocation_store_suite.h"

namespace bulwark::store::testing {

class RedisBackend {
 public:
  static constexpr bool kPersistent = true;
  static constexpr bool kPushesRevocations = true;  // pub/sub applies revocations at once

  RedisBackend() {
    requireServices();  // skips (or fails, in CI) the test without Redis
    if (auto services = bulwark::testing::testServices()) {
      client_ = connectOrFail(redisTestConfig(*services, prefix_));
    }
  }
  ~RedisBackend() {
    if (client_) deleteKeysUnder(*client_, prefix_);
  }
  RedisBackend(const RedisBackend&) = delete;
  RedisBackend& operator=(const RedisBackend&) = delete;

  RevocationStorePtr revocations(core::SystemTime now) {
    if (!client_) return nullptr;
    auto opened = openRedisRevocationStore(client_, now, std::chrono::seconds(30));
    EXPECT_TRUE(opened.has_value()) << client_->lastError();
    return opened.has_value() ? *opened : nullptr;
  }

 private:
  static void requireServices() { BULWARK_REQUIRE_SERVICES(); }

  std::string prefix_ = uniqueRedisPrefix();
  RedisClientPtr client_;
};

INSTANTIATE_TYPED_TEST_SUITE_P(Redis, RevocationStoreSuite, RedisBackend);

}  // namespace bulwark::store::testing

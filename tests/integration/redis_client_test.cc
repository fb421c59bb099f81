// The Redis client against the real TLS-only Redis: commands, pipelining, and every way a
// connection must be refused (wrong CA, wrong password, plaintext) with a reason that says why
// and never carries the password.

#include <netdb.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "redis_support.h"

namespace bulwark::store::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BULWARK_REQUIRE_SERVICES();
    services_ = *bulwark::testing::testServices();
    config_ = redisTestConfig(services_, prefix_);
  }
  void TearDown() override {
    if (auto services = bulwark::testing::testServices()) {
      if (auto client = connectRedis(redisTestConfig(*services, prefix_))) {
        deleteKeysUnder(**client, prefix_);
      }
    }
  }

  // Tries to connect; returns the reason it was refused (empty when it connected).
  std::string refusal(const RedisConfig& config) {
    std::string reason;
    const auto started = steady_clock::now();
    auto client = connectRedis(config, &reason);
    EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(10));
    if (client) return {};
    EXPECT_EQ(client.error(), StoreError::kUnavailable);
    EXPECT_FALSE(reason.empty());
    EXPECT_EQ(reason.find(services_.redis_password), std::string::npos) << reason;
    return reason;
  }

  bulwark::testing::TestServices services_;
  std::string prefix_ = uniqueRedisPrefix();
  RedisConfig config_;
};

TEST_F(RedisClientTest, RunsCommandsOverVerifiedTls) {
  auto client = connectOrFail(config_);
  ASSERT_TRUE(client);
  auto pong = client->commandSync({"PING"});
  ASSERT_TRUE(pong) << client->lastError();
  EXPECT_EQ(pong->type, RedisReply::Type::kStatus);
  EXPECT_EQ(pong->text, "PONG");

  const std::string key = prefix_ + "binary";
  const std::string value("a\0b\r\n$3\r\nc", 10);  // binary-safe both ways
  ASSERT_TRUE(client->commandSync({"SET", key, value, "PX", "60000"}));
  auto got = client->commandSync({"GET", key});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->type, RedisReply::Type::kString);
  EXPECT_EQ(got->text, value);
  EXPECT_TRUE(client->commandSync({"GET", prefix_ + "missing"})->isNil());

  auto wrong = client->commandSync({"LPUSH", key, "x"});  // a Redis error is a value
  ASSERT_TRUE(wrong);
  EXPECT_TRUE(wrong->isError());
  EXPECT_TRUE(wrong->text.starts_with("WRONGTYPE")) << wrong->text;

  auto name = client->commandSync({"CLIENT", "GETNAME"});
  ASSERT_TRUE(name);
  EXPECT_EQ(name->text, "bulwark-test");
  EXPECT_EQ(client->stats().connections_up, 2u);
}

TEST_F(RedisClientTest, VerifiesAnIpAddressAgainstTheCertificate) {
  config_.url = "rediss://bulwark:" + services_.redis_password +
                "@127.0.0.1:" + std::to_string(services_.redis_port) + "/0";
  auto client = connectOrFail(config_);
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->commandSync({"PING"}));
}

TEST_F(RedisClientTest, PipelinesManyAsyncCommandsFromManyThreads) {
  auto client = connectOrFail(config_);
  ASSERT_TRUE(client);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::atomic<int> ok{0};
  std::atomic<int> answered{0};
  std::promise<void> all_done;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        client->command({"INCR", prefix_ + "counter"}, [&, t](Result<RedisReply> reply) {
          if (reply && reply->type == RedisReply::Type::kInteger) ++ok;
          if (++answered == kThreads * kPerThread) all_done.set_value();
        });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  auto total = client->commandSync({"GET", prefix_ + "counter"});
  ASSERT_TRUE(total);
  EXPECT_EQ(total->text, std::to_string(kThreads * kPerThread));
  EXPECT_GE(client->stats().commands, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(client->stats().errors, 0u);
  (void)client->commandSync({"PEXPIRE", prefix_ + "counter", "60000"});
}

TEST_F(RedisClientTest, RefusesAServerCertificateFromAnotherCa) {
  config_.ca_file = services_.wrong_ca;
  const auto reason = refusal(config_);
  EXPECT_NE(reason.find("TLS handshake"), std::string::npos) << reason;
  EXPECT_NE(reason.find("not trusted"), std::string::npos) << reason;
  EXPECT_NE(reason.find("localhost:" + std::to_string(services_.redis_port)), std::string::npos);
}

// A name of this machine that resolves to the loopback address Redis listens on but is not in
// its certificate (which names localhost, 127.0.0.1 and ::1); empty when there is none.
std::string loopbackAliasNotInTheCertificate() {
  char hostname[256] = {};
  ::gethostname(hostname, sizeof hostname - 1);
  for (std::string name : {std::string(hostname), std::string("ip6-localhost"),
                           std::string("ip6-loopback"), std::string("localhost.localdomain")}) {
    if (name.empty() || name == "localhost") continue;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(name.c_str(), nullptr, &hints, &found) != 0) continue;
    bool loopback = false;
    for (auto* a = found; a != nullptr; a = a->ai_next) {
      char text[64] = {};
      ::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST);
      loopback = loopback || std::string(text) == "127.0.0.1" || std::string(text) == "::1";
    }
    ::freeaddrinfo(found);
    if (loopback) return name;
  }
  return {};
}

TEST_F(RedisClientTest, RefusesACertificateForAnotherName) {
  const std::string alias = loopbackAliasNotInTheCertificate();
  if (alias.empty()) {
    GTEST_SKIP() << "no other name of this machine resolves to 127.0.0.1 or ::1";
  }
  config_.url = "rediss://bulwark:" + services_.redis_password + "@" + alias + ":" +
                std::to_string(services_.redis_port) + "/0";
  const auto reason = refusal(config_);
  EXPECT_NE(reason.find("not trusted"), std::string::npos) << reason;
}

TEST_F(RedisClientTest, RefusesAWrongPasswordWithoutRepeatingIt) {
  const std::string wrong = "Wrong-Password-Nobody-Uses-42";
  config_.url =
      "rediss://bulwark:" + wrong + "@localhost:" + std::to_string(services_.redis_port) + "/0";
  const auto reason = refusal(config_);
  EXPECT_NE(reason.find("refused AUTH"), std::string::npos) << reason;
  EXPECT_EQ(reason.find(wrong), std::string::npos) << reason;
}

TEST_F(RedisClientTest, RefusesPlaintextToTheTlsPort) {
  config_.url = "redis://bulwark:" + services_.redis_password +
                "@localhost:" + std::to_string(services_.redis_port) + "/0";
  config_.connect_timeout = milliseconds(1'000);
  const auto reason = refusal(config_);
  EXPECT_FALSE(reason.empty());
}

TEST_F(RedisClientTest, RejectsMalformedSettingsBeforeConnecting) {
  std::string reason;
  config_.url = "http://localhost:6379";
  EXPECT_EQ(connectRedis(config_, &reason).error(), StoreError::kInvalidArgument);
  config_.url = "rediss://user:Secret-Pass@localhost:notaport/0";
  EXPECT_EQ(connectRedis(config_, &reason).error(), StoreError::kInvalidArgument);
  EXPECT_EQ(reason.find("Secret-Pass"), std::string::npos) << reason;
  config_.url = services_.redis_url;
  config_.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(connectRedis(config_, &reason).error(), StoreError::kInvalidArgument);
  EXPECT_NE(reason.find("CA"), std::string::npos) << reason;
}

}  // namespace
}  // namespace bulwark::store::testing

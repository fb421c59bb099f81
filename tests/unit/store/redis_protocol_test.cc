// The parts of the Redis client that need no server: URL parsing, redaction, RESP through
// hiredis' reader and encoder, which commands may be repeated.

#include "store/redis/protocol.h"

#include <gtest/gtest.h>

#include "core/config.h"

namespace bulwark::store::redis {
namespace {

TEST(StoreRedisProtocol, ParsesUrls) {
  std::string error;
  auto full = parseRedisUrl("rediss://bulwark:p%40ss@cache.internal:6380/3", &error);
  ASSERT_TRUE(full) << error;
  EXPECT_TRUE(full->tls);
  EXPECT_EQ(full->user, "bulwark");
  EXPECT_EQ(full->password, "p@ss");
  EXPECT_EQ(full->host, "cache.internal");
  EXPECT_EQ(full->port, 6380);
  EXPECT_EQ(full->db, 3);

  auto lone = parseRedisUrl("redis://onlypassword@[::1]", &error);
  ASSERT_TRUE(lone) << error;
  EXPECT_FALSE(lone->tls);
  EXPECT_TRUE(lone->user.empty());
  EXPECT_EQ(lone->password, "onlypassword");
  EXPECT_EQ(lone->host, "::1");
  EXPECT_EQ(lone->port, 6379);
  EXPECT_EQ(lone->db, 0);

  for (const char* bad :
       {"http://h", "rediss://", "rediss://u:Secret-1@h:0", "rediss://h:99999",
        "rediss://u:Secret-1@h/x", "rediss://h/0?ssl=1", "rediss://[::1", "rediss://u:%zz@h"}) {
    error.clear();
    EXPECT_FALSE(parseRedisUrl(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
    EXPECT_EQ(error.find("Secret-1"), std::string::npos) << error;
  }
}

TEST(StoreRedisProtocol, RedactsUrlsAndReasons) {
  // URLs: the one redaction the settings use (core::redactUrl), Redis' shapes included.
  EXPECT_EQ(core::redactUrl("rediss://bulwark:s3cret@host:6380/0"),
            "rediss://bulwark:<redacted>@host:6380/0");
  EXPECT_EQ(core::redactUrl("redis://s3cret@host"), "redis://<redacted>@host");
  EXPECT_EQ(core::redactUrl("rediss://b:s3/cret@host:6380/0").find("cret"), std::string::npos);
  EXPECT_EQ(core::redactUrl("rediss://host:6380/0"), "rediss://host:6380/0");
  EXPECT_EQ(redact("a s3cret b s3cret", "s3cret"), "a *** b ***");
  EXPECT_EQ(redact("nothing", ""), "nothing");
}

TEST(StoreRedisProtocol, EncodesAndDecodesResp) {
  std::string encoded;
  appendCommand(encoded, {"SET", "k", std::string("v\0w", 3)});
  EXPECT_EQ(encoded, std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\0w\r\n", 29));

  ReplyReader reader;
  std::string error;
  const std::string stream = "+OK\r\n:42\r\n$-1\r\n*2\r\n$1\r\na\r\n-ERR bad\r\n$5\r\nhel";
  reader.feed(stream.data(), stream.size());
  auto ok = reader.next(error);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->type, RedisReply::Type::kStatus);
  EXPECT_EQ(reader.next(error)->integer, 42);
  EXPECT_TRUE(reader.next(error)->isNil());
  auto array = reader.next(error);
  ASSERT_TRUE(array);
  ASSERT_EQ(array->elements.size(), 2u);
  EXPECT_EQ(array->elements[0].text, "a");
  EXPECT_TRUE(array->elements[1].isError());
  EXPECT_FALSE(reader.next(error));  // "$5\r\nhel" is incomplete
  EXPECT_TRUE(error.empty());
  reader.feed("lo\r\n", 4);
  EXPECT_EQ(reader.next(error)->text, "hello");

  const std::string garbage = "?what\r\n";
  reader.feed(garbage.data(), garbage.size());
  EXPECT_FALSE(reader.next(error));
  EXPECT_FALSE(error.empty());
}

TEST(StoreRedisProtocol, TakesTheClientSettingsFromTheConfiguration) {
  core::Settings settings;
  settings.redis_url = "rediss://u:p@h:1/2";
  settings.redis_ca_file = "/etc/ca.pem";
  settings.redis_pool_size = 7;
  settings.redis_timeout = std::chrono::milliseconds(250);
  settings.redis_key_prefix = "tenant-a:";
  const auto config = redisConfigFrom(settings);
  EXPECT_EQ(config.url, settings.redis_url);
  EXPECT_EQ(config.ca_file, "/etc/ca.pem");
  EXPECT_EQ(config.pool_size, 7u);
  EXPECT_EQ(config.command_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(config.key_prefix, "tenant-a:");
}

TEST(StoreRedisProtocol, RepeatsOnlyIdempotentCommands) {
  EXPECT_TRUE(isIdempotent({"get", "k"}));
  EXPECT_TRUE(isIdempotent({"SCAN", "0"}));
  EXPECT_TRUE(isIdempotent({"SET", "k", "v", "PXAT", "1"}));
  EXPECT_FALSE(isIdempotent({"SET", "k", "v", "NX"}));
  EXPECT_FALSE(isIdempotent({"INCR", "k"}));
  EXPECT_FALSE(isIdempotent({"EVALSHA", "abc", "1", "k"}));
  EXPECT_FALSE(isIdempotent({}));
}

}  // namespace
}  // namespace bulwark::store::redis

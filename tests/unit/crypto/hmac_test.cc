#include "crypto/hmac.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "crypto/random.h"

namespace bulwark::crypto {
namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(Sha256, MatchesFips180Vector) {
  EXPECT_EQ(toHex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HmacSha256, MatchesRfc4231TestCase2) {
  EXPECT_EQ(toHex(hmacSha256(bytes("Jefe"), "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256, IncrementalEqualsOneShotAndResets) {
  HmacSha256 mac(bytes("Jefe"));
  mac.update("what do ya ");
  mac.update("want for nothing?");
  const auto first = mac.finish();
  EXPECT_EQ(first, hmacSha256(bytes("Jefe"), "what do ya want for nothing?"));
  mac.update("what do ya want for nothing?");
  EXPECT_EQ(mac.finish(), first);
}

TEST(HmacSha256Key, PreparedKeyEqualsOneShotFromManyThreads) {
  const HmacSha256Key jefe(bytes("Jefe"));
  EXPECT_EQ(toHex(jefe.mac("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // A key longer than the SHA-256 block is hashed first (RFC 2104); the template keeps that.
  const std::string long_key(131, '\xaa');
  const HmacSha256Key prepared(bytes(long_key));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string data(static_cast<std::size_t>(t * 200 + i), 'd');
        if (prepared.mac(data) != hmacSha256(bytes(long_key), data)) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(ConstantTime, ComparesContentAndLength) {
  EXPECT_TRUE(constantTimeEqual("secret", "secret"));
  EXPECT_FALSE(constantTimeEqual("secret", "secreT"));
  EXPECT_FALSE(constantTimeEqual("secret", "secret1"));
}

TEST(Hex, RoundTripsAndRejectsGarbage) {
  std::string out;
  EXPECT_TRUE(fromHex("00ff7A", out));
  EXPECT_EQ(out, std::string("\x00\xff\x7a", 3));
  EXPECT_FALSE(fromHex("abc", out));
  EXPECT_FALSE(fromHex("zz", out));
}

TEST(RandomToken, HasTheEntropyAskedForAndNeverRepeats) {
  const auto a = randomToken(systemRandom(), 32);
  const auto b = randomToken(systemRandom(), 32);
  EXPECT_EQ(a.size(), 43u);  // 256 bits in unpadded base64url
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
}

}  // namespace
}  // namespace bulwark::crypto

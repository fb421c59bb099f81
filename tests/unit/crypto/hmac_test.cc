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

TEST(HmacSha256Key, EqualsTheEvpMacForEveryKeyAndMessageSize) {
  // The prepared key hashes its padded blocks itself (RFC 2104): keys around the 64-byte block
  // (shorter, equal, longer: hashed first) and messages around the block boundaries, against
  // OpenSSL's EVP HMAC (hmacSha256).
  std::string key, data;
  for (std::size_t k = 0; k <= 140; ++k) {
    key.assign(k, '\0');
    for (std::size_t i = 0; i < k; ++i) key[i] = static_cast<char>(i * 29 + k);
    const HmacSha256Key prepared(bytes(key));
    for (std::size_t n : {0, 1, 31, 32, 55, 56, 63, 64, 65, 119, 120, 128, 200, 333, 1000}) {
      data.assign(n, '\0');
      for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<char>(i * 7 + n + k);
      ASSERT_EQ(prepared.mac(data), hmacSha256(bytes(key), data)) << "key " << k << " data " << n;
      // In parts (the audit record MAC: prev ‖ seq, then the record), split anywhere.
      const std::size_t cut = (n * 5 + k) % (n + 1);
      const std::string_view view(data);
      ASSERT_EQ(prepared.mac({view.substr(0, cut), view.substr(cut)}), prepared.mac(data))
          << "key " << k << " data " << n << " cut " << cut;
    }
  }
}

TEST(HmacSha256Key, MatchesRfc4231) {
  // Test case 1 (20-byte key) and 6 (131-byte key, longer than a block).
  const HmacSha256Key case1(bytes(std::string(20, '\x0b')));
  EXPECT_EQ(toHex(case1.mac("Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  const HmacSha256Key case6(bytes(std::string(131, '\xaa')));
  EXPECT_EQ(toHex(case6.mac("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
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

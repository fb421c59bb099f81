#include "audit/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "audit_test_support.h"

namespace bulwark::audit {
namespace {

using testing::kKeyHex1;
using testing::kKeyHex2;
using testing::readFile;
using testing::TempDir;

TEST(KeyText, ParsesHexBase64KidsAndEpochs) {
  // base64 of bytes 0..31 is the same key as kKeyHex1.
  auto ring = parseKeyRing(std::string("# comment\nold:") + kKeyHex2 +
                               "\n\nnew@4:base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=  ",
                           "test");
  ASSERT_TRUE(ring) << ring.error().message;
  ASSERT_EQ(ring->keys().size(), 2u);
  EXPECT_EQ(ring->active()->kid, "new");
  EXPECT_EQ(ring->active()->epoch, 4u);
  EXPECT_EQ(crypto::toHex(ring->active()->key.bytes()), kKeyHex1);
  EXPECT_EQ(ring->find("old")->epoch, 0u);
  EXPECT_EQ(ring->describe(), "old, new@4");
  // Comma-separated (an environment variable), URL-safe base64 without padding, default kid.
  auto env = parseKeyRing(std::string(kKeyHex1) + ",AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                          "BULWARK_AUDIT_KEY");
  ASSERT_TRUE(env) << env.error().message;
  ASSERT_EQ(env->keys().size(), 1u);  // the same key twice: one default kid
  EXPECT_EQ(env->active()->kid.size(), 9u);
  EXPECT_EQ(env->active()->kid[0], 'k');
}

TEST(KeyText, RefusesShortOrMalformedKeysWithoutEchoingThem) {
  for (const char* bad : {"", "# nothing", "k1:abcd", "k1:zz!!",
                          "bad kid:"
                          "00",
                          "k@x:00", "k1:rot13:abcdef"}) {
    auto ring = parseKeyRing(bad, "BULWARK_AUDIT_KEY");
    ASSERT_FALSE(ring) << bad;
    EXPECT_NE(ring.error().message.find("BULWARK_AUDIT_KEY"), std::string::npos);
  }
  auto short_key = parseKeyRing("k1:0011223344556677", "env");
  ASSERT_FALSE(short_key);
  EXPECT_EQ(short_key.error().message.find("0011223344556677"), std::string::npos);
  EXPECT_NE(short_key.error().message.find("at least 32"), std::string::npos);
}

TEST(KeyFile, RefusesGroupOrOtherAccessNamingTheFix) {
  TempDir dir;
  const std::string path = dir.sub("audit.key");
  testing::writeFile(path, std::string("k1:") + kKeyHex1 + "\n");
  ::chmod(path.c_str(), 0640);
  auto refused = loadKeyFile(path);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(Errc::kKeyFilePermissions));
  EXPECT_NE(refused.error().message.find(path), std::string::npos);
  EXPECT_NE(refused.error().message.find("chmod 600 " + path), std::string::npos);
  EXPECT_NE(refused.error().message.find("0640"), std::string::npos);
  EXPECT_EQ(refused.error().message.find(kKeyHex1), std::string::npos);
  ::chmod(path.c_str(), 0600);
  auto loaded = loadKeyFile(path);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->active()->kid, "k1");
  ::chmod(path.c_str(), 0400);
  EXPECT_TRUE(loadKeyFile(path));
  EXPECT_FALSE(loadKeyFile(dir.sub("missing.key")));
}

TEST(KeyFile, GeneratedFilesAreMode0600AndLoadBack) {
  TempDir dir;
  const std::string path = dir.sub("generated.key");
  auto generated = generateKeyFile(path, crypto::systemRandom());
  ASSERT_TRUE(generated) << generated.error().message;
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  auto loaded = loadKeyFile(path);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->active()->kid, generated->active()->kid);
  EXPECT_EQ(crypto::toHex(loaded->active()->key.bytes()),
            crypto::toHex(generated->active()->key.bytes()));
  EXPECT_FALSE(generateKeyFile(path, crypto::systemRandom()));  // never overwrites
}

TEST(EpochKeys, EvolveInPlaceByHkdfAndOnlyForward) {
  auto ring = testing::keyRing(std::string("k1:") + kKeyHex1);
  const AuditKey& base = *ring.active();
  SecretBytes key = base.key.clone();
  const std::uint8_t* storage = key.bytes().data();
  advanceEpochKey(key);
  EXPECT_EQ(key.bytes().data(), storage);  // same memory: epoch 0's key is overwritten
  EXPECT_NE(crypto::toHex(key.bytes()), kKeyHex1);
  // HKDF-SHA256 with empty salt and info "bulwark-audit-epoch" (RFC 5869), checked by hand:
  // PRK = HMAC(zeros32, k0); OKM = HMAC(PRK, info ‖ 0x01).
  std::string raw;
  ASSERT_TRUE(crypto::fromHex(kKeyHex1, raw));
  const std::array<std::uint8_t, 32> zeros{};
  const auto prk = crypto::hmacSha256(zeros, raw);
  const auto okm = crypto::hmacSha256(prk, std::string("bulwark-audit-epoch\x01"));
  EXPECT_EQ(crypto::toHex(key.bytes()), crypto::toHex(okm));

  auto epoch3 = deriveEpochKey(base, 3);
  ASSERT_TRUE(epoch3);
  advanceEpochKey(key);
  advanceEpochKey(key);
  EXPECT_EQ(crypto::toHex(epoch3->bytes()), crypto::toHex(key.bytes()));
  // From a later epoch there is no way back.
  AuditKey later{"k1", 3, epoch3->clone()};
  auto back = deriveEpochKey(later, 2);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, make_error_code(Errc::kUnknownKey));
  EXPECT_FALSE(deriveEpochKey(base, 1ull << 40));  // a forged epoch cannot make us spin
}

TEST(EpochKeys, WrittenKeyFilesHoldKidAndEpoch) {
  TempDir dir;
  const std::string path = dir.sub("evolved.key");
  KeyRing ring;
  auto derived = deriveEpochKey(*testing::key1().active(), 2);
  ASSERT_TRUE(derived);
  ring.add(AuditKey{"k1", 2, std::move(*derived)});
  ASSERT_TRUE(writeKeyFile(path, ring));
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_NE(readFile(path).find("k1@2:"), std::string::npos);
  auto loaded = loadKeyFile(path);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->active()->epoch, 2u);
}

}  // namespace
}  // namespace bulwark::audit

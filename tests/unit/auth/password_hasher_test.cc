#include "auth/password_hasher.h"

#include <gtest/gtest.h>

#include "fakes.h"

namespace bulwark::auth {
namespace {

TEST(PasswordHashConfig, DefaultsAreOwasps) {
  const PasswordHashConfig defaults;
  EXPECT_EQ(defaults.memory_bytes, 19u * 1024 * 1024);  // m = 19 MiB
  EXPECT_EQ(defaults.iterations, 2u);                   // t = 2
  EXPECT_EQ(defaults.parallelism, 1u);                  // p = 1
  EXPECT_FALSE(validatePasswordHashConfig(defaults).has_value());
}

TEST(PasswordHashConfig, RefusesWhatLibsodiumCannotDo) {
  PasswordHashConfig config;
  config.parallelism = 4;
  EXPECT_TRUE(validatePasswordHashConfig(config).has_value());
  config = {};
  config.iterations = 0;
  EXPECT_TRUE(validatePasswordHashConfig(config).has_value());
  config = {};
  config.memory_bytes = 1024;
  EXPECT_TRUE(validatePasswordHashConfig(config).has_value());
  EXPECT_THROW(makeArgon2idHasher(config), std::invalid_argument);
}

TEST(Argon2idHasher, EncodesItsParametersInTheHash) {
  const auto hasher = makeArgon2idHasher(testing::fastHashConfig());
  const auto hash = hasher->hash("correct horse battery staple");
  ASSERT_TRUE(hash);
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=8192,t=1,p=1$", 0), 0u) << *hash;
  EXPECT_EQ(hash->find("correct horse"), std::string::npos);
}

TEST(Argon2idHasher, DefaultParametersAppearInTheHash) {
  const auto hasher = makeArgon2idHasher(PasswordHashConfig{});
  const auto hash = hasher->hash("pw");
  ASSERT_TRUE(hash);
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *hash;
}

TEST(Argon2idHasher, VerifiesOnlyTheRightPassword) {
  const auto hasher = makeArgon2idHasher(testing::fastHashConfig());
  const auto hash = hasher->hash("s3cret password");
  ASSERT_TRUE(hash);
  EXPECT_TRUE(hasher->verify(*hash, "s3cret password"));
  EXPECT_FALSE(hasher->verify(*hash, "s3cret passworD"));
  EXPECT_FALSE(hasher->verify(*hash, ""));
  // Salted: the same password hashes differently each time.
  EXPECT_NE(*hasher->hash("s3cret password"), *hash);
}

TEST(Argon2idHasher, RejectsMalformedHashes) {
  const auto hasher = makeArgon2idHasher(testing::fastHashConfig());
  for (const char* bad : {"", "$argon2id$", "plaintext", "$argon2id$v=19$m=8192,t=1,p=1$xx$yy"}) {
    EXPECT_FALSE(hasher->verify(bad, "pw")) << bad;
    EXPECT_TRUE(hasher->needsRehash(bad)) << bad;
  }
  EXPECT_FALSE(hasher->verify(std::string(1000, 'a'), "pw"));
}

TEST(Argon2idHasher, AsksForARehashWhenParametersChange) {
  const auto weak = makeArgon2idHasher(testing::fastHashConfig());
  auto stronger_config = testing::fastHashConfig();
  stronger_config.iterations = 2;
  const auto stronger = makeArgon2idHasher(stronger_config);
  const auto hash = weak->hash("pw");
  ASSERT_TRUE(hash);
  EXPECT_FALSE(weak->needsRehash(*hash));
  EXPECT_TRUE(stronger->needsRehash(*hash));
  EXPECT_TRUE(stronger->verify(*hash, "pw"));  // old hashes still verify
}

}  // namespace
}  // namespace bulwark::auth

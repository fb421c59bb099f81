#include "jwt/key_ring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "jwt/signer.h"
#include "jwt/verifier.h"
#include "support/jwt_craft.h"

namespace bulwark::jwt {
namespace {

namespace fs = std::filesystem;
using crypto::Algorithm;
using std::chrono::seconds;

mode_t modeOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class KeyRingTest : public ::testing::Test {
 protected:
  KeyRingTest() {
    root_ = fs::temp_directory_path() /
            ("bulwark-keyring-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    dir_ = root_ / "keys";
  }
  ~KeyRingTest() override { fs::remove_all(root_); }

  KeyRingConfig config(Algorithm alg = Algorithm::kEdDSA) {
    KeyRingConfig c;
    c.directory = dir_;
    c.algorithm = alg;
    return c;
  }
  KeyRingPtr open(Algorithm alg = Algorithm::kEdDSA) {
    auto ring = KeyRing::open(config(alg), clock_, random_);
    EXPECT_TRUE(ring) << (ring ? "" : ring.error().message);
    return ring ? *ring : nullptr;
  }
  VerifierPtr verifierFor(KeySourcePtr keys) {
    VerifierConfig vc;
    IssuerConfig issuer;
    issuer.issuer = "https://bulwark.test";
    issuer.audiences = {"api"};
    issuer.required_claims = {"sub", "jti", "sid"};
    issuer.keys = std::move(keys);
    vc.issuers = {issuer};
    return Verifier::create(vc, clock_);
  }
  TokenSignerPtr signerFor(KeySourcePtr keys) {
    SignerConfig sc;
    sc.issuer = "https://bulwark.test";
    sc.audiences = {"api"};
    return TokenSigner::create(sc, std::move(keys), clock_, random_);
  }
  std::string issue(const TokenSigner& signer) {
    AccessTokenRequest request;
    request.subject = "u1";
    request.session_id = "s1";
    request.roles = {"user"};
    auto issued = signer.sign(request);
    EXPECT_TRUE(issued);
    return issued ? issued->token : "";
  }

  core::SimulatedClock clock_;
  test::SeededRandom random_;
  fs::path root_, dir_;
};

TEST_F(KeyRingTest, OpenCreatesAPrivateDirectoryWithOneActiveKey) {
  auto ring = open();
  ASSERT_TRUE(ring);
  EXPECT_EQ(modeOf(dir_), 0700u);
  const KeySetPtr keys = ring->keys();
  ASSERT_EQ(keys->entries().size(), 1u);
  const KeyEntry* active = keys->signingKey();
  ASSERT_NE(active, nullptr);
  EXPECT_EQ(active->status, KeyStatus::kActive);
  EXPECT_EQ(active->key->algorithm(), Algorithm::kEdDSA);
  EXPECT_EQ(active->created, fromNumericDate(toNumericDate(clock_.systemTime())));
  EXPECT_EQ(modeOf(dir_ / (active->kid + ".jwk")), 0600u);
  EXPECT_TRUE(fs::exists(dir_ / "keyring.json"));
}

TEST_F(KeyRingTest, ReopeningLoadsTheSameKeys) {
  auto first = open();
  const std::string token = issue(*signerFor(first));
  const std::string kid = first->keys()->signingKey()->kid;
  first.reset();
  auto second = open();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->keys()->signingKey()->kid, kid);
  EXPECT_TRUE(verifierFor(second)->verify(token));
}

TEST_F(KeyRingTest, RotationRetiresThePreviousKeyButKeepsItVerifying) {
  auto ring = open();
  auto verifier = verifierFor(ring);
  auto signer = signerFor(ring);
  const std::string old_token = issue(*signer);
  const std::string old_kid = ring->keys()->signingKey()->kid;
  ASSERT_TRUE(verifier->verify(old_token));

  clock_.advance(seconds(60));
  auto new_kid = ring->rotate();
  ASSERT_TRUE(new_kid) << new_kid.error().message;
  EXPECT_NE(*new_kid, old_kid);
  const KeySetPtr keys = ring->keys();
  EXPECT_EQ(keys->signingKey()->kid, *new_kid);
  const KeyEntry* old = keys->find(old_kid);
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->status, KeyStatus::kRetired);
  EXPECT_EQ(old->retired, fromNumericDate(toNumericDate(clock_.systemTime())));
  EXPECT_EQ(old->verify_until, *old->retired + seconds(15 * 60 + 30));
  // Both published; new tokens carry the new kid; the old token still verifies (from cache).
  EXPECT_NE(keys->jwks().find(old_kid), std::string::npos);
  EXPECT_NE(keys->jwks().find(*new_kid), std::string::npos);
  EXPECT_NE(issue(*signer).find('.'), std::string::npos);
  auto fresh = verifier->verify(issue(*signer));
  ASSERT_TRUE(fresh);
  EXPECT_EQ((*fresh)->kid, *new_kid);
  EXPECT_TRUE(verifier->verify(old_token));
  EXPECT_GE(verifier->stats().cache_hits, 1u);
  // The manifest on disk agrees after a reopen.
  auto reopened = open();
  EXPECT_EQ(reopened->keys()->signingKey()->kid, *new_kid);
  EXPECT_EQ(reopened->keys()->find(old_kid)->status, KeyStatus::kRetired);
}

TEST_F(KeyRingTest, PruneRemovesKeysOnceTheirLastTokenExpired) {
  auto ring = open();
  const std::string old_kid = ring->keys()->signingKey()->kid;
  ASSERT_TRUE(ring->rotate());
  clock_.advance(seconds(15 * 60 + 29));
  EXPECT_EQ(ring->prune().value(), 0u);
  EXPECT_TRUE(fs::exists(dir_ / (old_kid + ".jwk")));
  clock_.advance(seconds(1));
  EXPECT_EQ(ring->prune().value(), 1u);
  EXPECT_EQ(ring->keys()->find(old_kid), nullptr);
  EXPECT_FALSE(fs::exists(dir_ / (old_kid + ".jwk")));
  EXPECT_EQ(ring->keys()->jwks().find(old_kid), std::string::npos);
}

TEST_F(KeyRingTest, RemovingARetiredKeyEvictsItsCachedTokens) {
  auto ring = open();
  auto verifier = verifierFor(ring);
  const std::string token = issue(*signerFor(ring));
  const std::string old_kid = ring->keys()->signingKey()->kid;
  ASSERT_TRUE(verifier->verify(token));
  ASSERT_TRUE(ring->rotate());
  ASSERT_TRUE(verifier->verify(token));  // retired keys still verify
  EXPECT_EQ(verifier->stats().cache_entries, 1u);
  EXPECT_FALSE(ring->remove(ring->keys()->signingKey()->kid));  // the active key: rotate first
  ASSERT_TRUE(ring->remove(old_kid));
  auto result = verifier->verify(token);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), VerifyError::kUnknownKid);
  EXPECT_EQ(verifier->stats().cache_entries, 0u);
}

TEST_F(KeyRingTest, RefusesAKeyFileOthersCanRead) {
  auto ring = open();
  const fs::path file = dir_ / (ring->keys()->signingKey()->kid + ".jwk");
  ring.reset();
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  auto refused = KeyRing::open(config(), clock_, random_);
  ASSERT_FALSE(refused);
  const std::string& message = refused.error().message;
  EXPECT_NE(message.find(file.string() + " has mode 0644"), std::string::npos) << message;
  EXPECT_NE(message.find("fix: chmod 600 " + file.string()), std::string::npos) << message;
  ASSERT_EQ(::chmod(file.c_str(), 0640), 0);
  EXPECT_FALSE(KeyRing::open(config(), clock_, random_));
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  EXPECT_TRUE(KeyRing::open(config(), clock_, random_));
}

TEST_F(KeyRingTest, RefusesAGroupWritableDirectory) {
  ASSERT_TRUE(open());
  ASSERT_EQ(::chmod(dir_.c_str(), 0770), 0);
  auto refused = KeyRing::open(config(), clock_, random_);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("chmod 700"), std::string::npos);
}

TEST_F(KeyRingTest, RefusesAManifestNamingAPathOutsideTheDirectory) {
  ASSERT_TRUE(open());
  std::ofstream(dir_ / "keyring.json")
      << R"({"keys":[{"kid":"../../etc/passwd","alg":"EdDSA","status":"active","created":1}]})";
  EXPECT_FALSE(KeyRing::open(config(), clock_, random_));
}

TEST_F(KeyRingTest, KeyFilesHoldTheKeysButTheJwksNeverDoes) {
  auto ring = open();
  ASSERT_TRUE(ring->rotate(Algorithm::kES256));
  ASSERT_TRUE(ring->rotate(Algorithm::kHS256));
  const KeySetPtr keys = ring->keys();
  ASSERT_EQ(keys->entries().size(), 3u);
  const std::string& jwks = keys->jwks();
  EXPECT_EQ(jwks.find("\"d\""), std::string::npos);
  EXPECT_EQ(jwks.find("\"k\""), std::string::npos);
  EXPECT_EQ(jwks.find(keys->signingKey()->kid), std::string::npos);  // the HS256 key
  auto parsed = parseJwks(jwks);
  ASSERT_TRUE(parsed);
  EXPECT_EQ((*parsed)->entries().size(), 2u);
  for (const KeyEntry& entry : keys->entries()) {
    std::ifstream in(dir_ / (entry.kid + ".jwk"));
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find(entry.key->algorithm() == Algorithm::kHS256 ? "\"k\"" : "\"d\""),
              std::string::npos);
  }
}

TEST_F(KeyRingTest, EveryAlgorithmSignsTokensTheVerifierAccepts) {
  for (Algorithm alg : {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kHS256}) {
    fs::remove_all(dir_);
    auto ring = open(alg);
    ASSERT_TRUE(ring);
    auto result = verifierFor(ring)->verify(issue(*signerFor(ring)));
    ASSERT_TRUE(result) << crypto::algorithmName(alg) << ": " << verifyErrorName(result.error());
    EXPECT_EQ((*result)->algorithm, alg);
  }
}

TEST_F(KeyRingTest, TwoHandlesOnOneDirectoryDoNotLoseEachOthersKeys) {
  auto a = open();
  auto b = open();
  const std::string first = a->keys()->signingKey()->kid;
  auto from_a = a->rotate();
  ASSERT_TRUE(from_a);
  auto from_b = b->rotate();  // b re-reads the manifest under the lock first
  ASSERT_TRUE(from_b);
  ASSERT_TRUE(a->reload());
  const KeySetPtr keys = a->keys();
  EXPECT_EQ(keys->entries().size(), 3u);
  EXPECT_EQ(keys->signingKey()->kid, *from_b);
  EXPECT_EQ(keys->find(*from_a)->status, KeyStatus::kRetired);
  EXPECT_EQ(keys->find(first)->status, KeyStatus::kRetired);
}

TEST_F(KeyRingTest, RefusesRsaForSigning) {
  auto config_rsa = config(Algorithm::kRS256);
  EXPECT_FALSE(KeyRing::open(config_rsa, clock_, random_));
}

}  // namespace
}  // namespace bulwark::jwt

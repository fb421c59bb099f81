#include "jwt/key_set.h"

#include <gtest/gtest.h>

#include "support/jwt_craft.h"

namespace bulwark::jwt {
namespace {

using crypto::Algorithm;
using test::b64;

std::string okp(std::string_view kid, std::string_view x, std::string_view extra = "") {
  return "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"" + std::string(kid) + "\",\"x\":\"" +
         std::string(x) + "\"" + std::string(extra) + "}";
}

class Jwks : public ::testing::Test {
 protected:
  test::Pkey ed_ = test::generateEd25519();
  test::Pkey ec_ = test::generateP256();
  EVP_PKEY* rsa_ = test::sharedRsa2048();
  std::string edX() { return b64(test::publicMaterial(ed_.get(), Algorithm::kEdDSA).x); }
  std::string ec() {
    auto m = test::publicMaterial(ec_.get(), Algorithm::kES256);
    return "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\",\"x\":\"" + b64(m.x) + "\",\"y\":\"" +
           b64(m.y) + "\"}";
  }
  std::string rsa(std::string_view extra = "") {
    auto m = test::publicMaterial(rsa_, Algorithm::kRS256);
    return "{\"kty\":\"RSA\",\"kid\":\"rsa\",\"n\":\"" + b64(m.n) + "\",\"e\":\"" + b64(m.e) +
           "\"" + std::string(extra) + "}";
  }
  std::string set(std::initializer_list<std::string> keys) {
    std::string out = "{\"keys\":[";
    bool first = true;
    for (const auto& k : keys) {
      out += (first ? "" : ",") + k;
      first = false;
    }
    return out + "]}";
  }
  std::string errorOf(const std::string& text) {
    auto keys = parseJwks(text);
    EXPECT_FALSE(keys) << text;
    return keys ? "" : keys.error().message;
  }
};

TEST_F(Jwks, InfersTheOneAlgorithmOfEachKeyType) {
  auto keys = parseJwks(set({okp("ed", edX()), ec(), rsa()}));
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_EQ((*keys)->find("ed")->key->algorithm(), Algorithm::kEdDSA);
  EXPECT_EQ((*keys)->find("ec")->key->algorithm(), Algorithm::kES256);
  EXPECT_EQ((*keys)->find("rsa")->key->algorithm(), Algorithm::kRS256);
  EXPECT_EQ((*keys)->signingKey(), nullptr);
  EXPECT_EQ((*keys)->find("nope"), nullptr);
}

TEST_F(Jwks, ExplicitAlgMustFitTheKeyType) {
  auto ps = parseJwks(set({rsa(",\"alg\":\"PS256\"")}));
  ASSERT_TRUE(ps);
  EXPECT_EQ((*ps)->find("rsa")->key->algorithm(), Algorithm::kPS256);
  EXPECT_NE(errorOf(set({rsa(",\"alg\":\"ES256\"")})).find("does not fit"), std::string::npos);
  EXPECT_NE(errorOf(set({okp("ed", edX(), ",\"alg\":\"HS256\"")})).find("does not fit"),
            std::string::npos);
  EXPECT_NE(errorOf(set({rsa(",\"alg\":\"RS512\"")})).find("not supported"), std::string::npos);
}

TEST_F(Jwks, OctKeysMustNameTheirAlgorithm) {
  const std::string k = b64(std::string(32, 'k'));
  const std::string message = errorOf(set({"{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"" + k + "\"}"}));
  EXPECT_NE(message.find("oct keys must name their alg"), std::string::npos);
  EXPECT_EQ(message.find(k), std::string::npos);  // never the secret
  auto keys =
      parseJwks(set({"{\"kty\":\"oct\",\"kid\":\"h\",\"alg\":\"HS256\",\"k\":\"" + k + "\"}"}));
  ASSERT_TRUE(keys);
  EXPECT_EQ((*keys)->find("h")->key->algorithm(), Algorithm::kHS256);
  EXPECT_EQ((*keys)->jwks(), "{\"keys\":[]}");  // secrets are never published
  const std::string short_k = b64(std::string(16, 'k'));
  EXPECT_NE(
      errorOf(set({"{\"kty\":\"oct\",\"kid\":\"h\",\"alg\":\"HS256\",\"k\":\"" + short_k + "\"}"}))
          .find("32 bytes"),
      std::string::npos);
}

TEST_F(Jwks, RefusesSmallRsa) {
  auto small = test::generateRsa(1024);
  auto m = test::publicMaterial(small.get(), Algorithm::kRS256);
  const std::string text = set({"{\"kty\":\"RSA\",\"kid\":\"small\",\"n\":\"" + b64(m.n) +
                                "\",\"e\":\"" + b64(m.e) + "\"}"});
  const std::string message = errorOf(text);
  EXPECT_NE(message.find("\"small\""), std::string::npos);
  EXPECT_NE(message.find("1024 bits"), std::string::npos);
  std::vector<std::string> skipped;
  auto lenient = parseJwks(text, {.skip_unusable = true}, &skipped);
  ASSERT_TRUE(lenient);
  EXPECT_TRUE((*lenient)->entries().empty());
  ASSERT_EQ(skipped.size(), 1u);
}

TEST_F(Jwks, RefusesPrivateMaterialAndMissingKid) {
  EXPECT_NE(errorOf(set({okp("ed", edX(), ",\"d\":\"AAAA\"")})).find("private"), std::string::npos);
  EXPECT_NE(errorOf(set({rsa(",\"p\":\"AAAA\"")})).find("private"), std::string::npos);
  EXPECT_NE(errorOf(set({"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" + edX() + "\"}"}))
                .find("kid is required"),
            std::string::npos);
}

TEST_F(Jwks, IgnoresEncryptionKeysAndChecksKeyOps) {
  auto keys = parseJwks(set({okp("ed", edX()), rsa(",\"use\":\"enc\"")}));
  ASSERT_TRUE(keys);
  EXPECT_EQ((*keys)->entries().size(), 1u);
  EXPECT_FALSE(parseJwks(set({okp("ed", edX(), ",\"key_ops\":[\"encrypt\"]")})));
  EXPECT_TRUE(parseJwks(set({okp("ed", edX(), ",\"key_ops\":[\"verify\"]")})));
  EXPECT_FALSE(parseJwks(set({okp("ed", edX(), ",\"use\":\"sign\"")})));
}

TEST_F(Jwks, RefusesMalformedSets) {
  EXPECT_FALSE(parseJwks("[]"));
  EXPECT_FALSE(parseJwks("{}"));
  EXPECT_FALSE(parseJwks("{\"keys\":{}}"));
  EXPECT_FALSE(parseJwks("{\"keys\":[1]}"));
  EXPECT_FALSE(parseJwks(set({okp("ed", edX()), okp("ed", edX())})));  // repeated kid
  EXPECT_FALSE(parseJwks("{\"keys\":[],\"keys\":[]}"));
  EXPECT_FALSE(parseJwks(set({okp("ed", edX() + "=")})));
  EXPECT_FALSE(parseJwks(set({okp("ed", "AAAA")})));
  EXPECT_FALSE(parseJwks(
      set({"{\"kty\":\"OKP\",\"crv\":\"X25519\",\"kid\":\"x\",\"x\":\"" + edX() + "\"}"})));
  EXPECT_FALSE(parseJwks(set({"{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"x\"}"})));
}

TEST_F(Jwks, RoundTripsThroughKeySetJwks) {
  auto keys = parseJwks(set({okp("ed", edX()), ec(), rsa(",\"alg\":\"PS256\"")}));
  ASSERT_TRUE(keys);
  auto again = parseJwks((*keys)->jwks());
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_EQ((*again)->entries().size(), 3u);
  EXPECT_EQ((*again)->find("rsa")->key->algorithm(), Algorithm::kPS256);
  EXPECT_EQ((*again)->jwks(), (*keys)->jwks());
}

TEST(KeySetJwks, PublishesPublicPartsOnly) {
  test::SeededRandom random;
  std::vector<KeyEntry> entries;
  for (auto [kid, alg] : {std::pair{"e", Algorithm::kEdDSA}, std::pair{"p", Algorithm::kES256},
                          std::pair{"h", Algorithm::kHS256}}) {
    KeyEntry entry;
    entry.kid = kid;
    entry.key = crypto::SignatureKey::generate(alg, random).value();
    entry.status = alg == Algorithm::kEdDSA ? KeyStatus::kActive : KeyStatus::kRetired;
    entries.push_back(std::move(entry));
  }
  auto set = KeySet::create(std::move(entries)).value();
  const std::string& jwks = set->jwks();
  EXPECT_EQ(jwks.find("\"d\""), std::string::npos);
  EXPECT_EQ(jwks.find("\"k\""), std::string::npos);
  EXPECT_EQ(jwks.find("oct"), std::string::npos);
  EXPECT_EQ(jwks.find("\"kid\":\"h\""), std::string::npos);
  EXPECT_NE(jwks.find(R"("kty":"OKP","crv":"Ed25519","x":)"), std::string::npos);
  EXPECT_NE(jwks.find(R"("alg":"EdDSA","use":"sig","kid":"e")"), std::string::npos);
  EXPECT_NE(jwks.find(R"("kty":"EC","crv":"P-256","x":)"), std::string::npos);
  EXPECT_NE(jwks.find(R"("alg":"ES256","use":"sig","kid":"p")"), std::string::npos);
  ASSERT_NE(set->signingKey(), nullptr);
  EXPECT_EQ(set->signingKey()->kid, "e");
}

TEST(KeySetCreate, RefusesRepeatedKidsAndTwoSigningKeys) {
  test::SeededRandom random;
  KeyEntry a;
  a.kid = "a";
  a.key = crypto::SignatureKey::generate(Algorithm::kEdDSA, random).value();
  KeyEntry b = a;
  EXPECT_FALSE(KeySet::create({a, b}));  // same kid
  b.kid = "b";
  EXPECT_FALSE(KeySet::create({a, b}));  // two active signing keys
  b.status = KeyStatus::kRetired;
  EXPECT_TRUE(KeySet::create({a, b}));
}

TEST(PrivateJwk, RoundTripsAndChecksKid) {
  test::SeededRandom random;
  for (auto alg : {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kHS256}) {
    auto key = crypto::SignatureKey::generate(alg, random).value();
    const std::string text = toJwk("kid1", *key, true).value();
    auto loaded = parsePrivateJwk(text, "kid1");
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_TRUE((*loaded)->canSign());
    std::string sig;
    ASSERT_TRUE(key->sign("m", sig));
    EXPECT_EQ((*loaded)->verify("m", sig), crypto::SignatureCheck::kValid);
    EXPECT_FALSE(parsePrivateJwk(text, "other"));
  }
}

}  // namespace
}  // namespace bulwark::jwt

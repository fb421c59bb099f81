#include "crypto/signature_key.h"

#include <gtest/gtest.h>

#include "crypto/base64url.h"
#include "support/jwt_craft.h"

namespace bulwark::crypto {
namespace {

using test::b64;

std::string unb64(std::string_view text) {
  std::string out;
  EXPECT_TRUE(base64UrlDecode(text, out)) << text;
  return out;
}

// RFC 8037 Appendix A.1-A.4.
constexpr std::string_view kRfc8037D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr std::string_view kRfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr std::string_view kRfc8037Input =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
constexpr std::string_view kRfc8037Signature =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

TEST(SignatureKey, Rfc8037Ed25519Vector) {
  KeyMaterial m;
  m.algorithm = Algorithm::kEdDSA;
  m.d = unb64(kRfc8037D);
  m.x = unb64(kRfc8037X);
  auto key = SignatureKey::fromMaterial(m);
  ASSERT_TRUE(key) << key.error().message;
  std::string signature;
  ASSERT_TRUE((*key)->sign(kRfc8037Input, signature));
  EXPECT_EQ(b64(signature), kRfc8037Signature);  // Ed25519 is deterministic

  KeyMaterial pub;
  pub.algorithm = Algorithm::kEdDSA;
  pub.x = m.x;
  auto verifier = SignatureKey::fromMaterial(pub).value();
  EXPECT_FALSE(verifier->canSign());
  EXPECT_EQ(verifier->verify(kRfc8037Input, unb64(kRfc8037Signature)), SignatureCheck::kValid);
  std::string altered = unb64(kRfc8037Signature);
  altered[5] ^= 1;
  EXPECT_EQ(verifier->verify(kRfc8037Input, altered), SignatureCheck::kInvalid);
  EXPECT_EQ(verifier->verify(std::string(kRfc8037Input) + "x", unb64(kRfc8037Signature)),
            SignatureCheck::kInvalid);
  EXPECT_EQ(verifier->verify(kRfc8037Input, unb64(kRfc8037Signature).substr(1)),
            SignatureCheck::kMalformed);
}

TEST(SignatureKey, RefusesMismatchedEd25519Pair) {
  KeyMaterial m;
  m.algorithm = Algorithm::kEdDSA;
  m.d = unb64(kRfc8037D);
  m.x = std::string(32, '\x01');
  EXPECT_FALSE(SignatureKey::fromMaterial(m));
}

TEST(SignatureKey, GeneratedKeysSignAndVerify) {
  test::SeededRandom random;
  for (Algorithm alg : {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kHS256}) {
    auto key = SignatureKey::generate(alg, random);
    ASSERT_TRUE(key) << key.error().message;
    EXPECT_TRUE((*key)->canSign());
    std::string signature;
    ASSERT_TRUE((*key)->sign("payload", signature));
    EXPECT_EQ((*key)->verify("payload", signature), SignatureCheck::kValid);
    EXPECT_EQ((*key)->verify("payloaD", signature), SignatureCheck::kInvalid);
    // The private material rebuilds the same key; the public material verifies.
    auto again = SignatureKey::fromMaterial((*key)->privateMaterial());
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ((*again)->verify("payload", signature), SignatureCheck::kValid);
    if (alg != Algorithm::kHS256) {
      auto pub = SignatureKey::fromMaterial((*key)->publicMaterial()).value();
      EXPECT_FALSE(pub->canSign());
      EXPECT_EQ(pub->verify("payload", signature), SignatureCheck::kValid);
    }
  }
  EXPECT_FALSE(SignatureKey::generate(Algorithm::kRS256, random));
}

TEST(SignatureKey, GenerationIsRepeatableWithInjectedRandom) {
  test::SeededRandom a("seed"), b("seed");
  auto ka = SignatureKey::generate(Algorithm::kES256, a).value();
  auto kb = SignatureKey::generate(Algorithm::kES256, b).value();
  EXPECT_EQ(ka->publicMaterial().x, kb->publicMaterial().x);
  EXPECT_EQ(ka->publicMaterial().y, kb->publicMaterial().y);
}

TEST(SignatureKey, Es256InteroperatesWithOpenSsl) {
  auto pkey = test::generateP256();
  auto key = test::publicKey(pkey.get(), Algorithm::kES256);
  const std::string signature = test::opensslSign(pkey.get(), "data");
  EXPECT_EQ(key->verify("data", signature), SignatureCheck::kValid);
}

// CVE-2022-21449 ("psychic signatures"): r or s of zero, or not below the group order.
TEST(SignatureKey, Es256RejectsOutOfRangeScalarsBeforeOpenSsl) {
  auto pkey = test::generateP256();
  auto key = test::publicKey(pkey.get(), Algorithm::kES256);
  const std::string good = test::opensslSign(pkey.get(), "data");
  const std::string zero(32, '\0');
  const std::string n = unb64("_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE");
  ASSERT_EQ(n.size(), 32u);
  std::string n_plus_one = n;
  n_plus_one[31] = static_cast<char>(n_plus_one[31] + 1);
  const std::string all_ones(32, '\xff');
  const std::string r = good.substr(0, 32), s = good.substr(32);
  EXPECT_EQ(key->verify("data", zero + zero), SignatureCheck::kMalformed);
  EXPECT_EQ(key->verify("data", zero + s), SignatureCheck::kMalformed);
  EXPECT_EQ(key->verify("data", r + zero), SignatureCheck::kMalformed);
  EXPECT_EQ(key->verify("data", n + s), SignatureCheck::kMalformed);
  EXPECT_EQ(key->verify("data", r + n), SignatureCheck::kMalformed);
  EXPECT_EQ(key->verify("data", r + n_plus_one), SignatureCheck::kMalformed);
  EXPECT_EQ(key->verify("data", r + all_ones), SignatureCheck::kMalformed);
  EXPECT_EQ(key->verify("data", good.substr(0, 63)), SignatureCheck::kMalformed);
  EXPECT_EQ(key->verify("data", good + "x"), SignatureCheck::kMalformed);
  EXPECT_EQ(key->verify("data", good), SignatureCheck::kValid);
  // s and n - s are both valid ECDSA signatures; we accept either (as OpenSSL does).
}

TEST(SignatureKey, P256RefusesPointsOffTheCurve) {
  auto pkey = test::generateP256();
  KeyMaterial m = test::publicMaterial(pkey.get(), Algorithm::kES256);
  m.y[31] ^= 1;
  auto key = SignatureKey::fromMaterial(m);
  ASSERT_FALSE(key);
  m.y = std::string(31, '\0');
  EXPECT_FALSE(SignatureKey::fromMaterial(m));
}

TEST(SignatureKey, Hs256NeedsThirtyTwoBytesAndComparesExactly) {
  KeyMaterial m;
  m.algorithm = Algorithm::kHS256;
  m.k = std::string(31, 'k');
  auto short_key = SignatureKey::fromMaterial(m);
  ASSERT_FALSE(short_key);
  EXPECT_NE(short_key.error().message.find("32 bytes"), std::string::npos);
  EXPECT_EQ(short_key.error().message.find("kkkk"), std::string::npos);  // never the secret
  auto key = test::hmacKey(std::string(32, 'k'));
  const std::string mac = test::hmacSign(std::string(32, 'k'), "data");
  EXPECT_EQ(key->verify("data", mac), SignatureCheck::kValid);
  EXPECT_EQ(key->verify("data", mac.substr(0, 31)), SignatureCheck::kMalformed);
  EXPECT_TRUE(key->publicMaterial().k.empty());
}

TEST(SignatureKey, RsaSizeLimitsAndPadding) {
  auto small = test::generateRsa(1024);
  auto refused = SignatureKey::fromMaterial(test::publicMaterial(small.get(), Algorithm::kRS256));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("1024 bits"), std::string::npos);

  auto pkey = test::generateRsa(2048);
  auto rs = test::publicKey(pkey.get(), Algorithm::kRS256);
  auto ps = test::publicKey(pkey.get(), Algorithm::kPS256);
  EXPECT_EQ(rs->bits(), 2048);
  const std::string pkcs1 = test::opensslSign(pkey.get(), "data");
  const std::string pss = test::opensslSign(pkey.get(), "data", test::RsaPadding::kPss, 32);
  const std::string pss_max = test::opensslSign(pkey.get(), "data", test::RsaPadding::kPss, -2);
  EXPECT_EQ(rs->verify("data", pkcs1), SignatureCheck::kValid);
  EXPECT_EQ(rs->verify("data", pss), SignatureCheck::kInvalid);
  EXPECT_EQ(ps->verify("data", pss), SignatureCheck::kValid);
  EXPECT_EQ(ps->verify("data", pkcs1), SignatureCheck::kInvalid);
  EXPECT_EQ(ps->verify("data", pss_max), SignatureCheck::kInvalid);  // RFC 7518: salt = 32
  EXPECT_EQ(rs->verify("data", pkcs1.substr(1)), SignatureCheck::kMalformed);
  EXPECT_FALSE(rs->canSign());

  KeyMaterial with_private = test::publicMaterial(pkey.get(), Algorithm::kRS256);
  with_private.d = "x";
  EXPECT_FALSE(SignatureKey::fromMaterial(with_private));
  KeyMaterial even_e = test::publicMaterial(pkey.get(), Algorithm::kRS256);
  even_e.e = "\x01\x00\x00";
  EXPECT_FALSE(SignatureKey::fromMaterial(even_e));
}

TEST(Algorithm, NamesAreExactAndCaseSensitive) {
  EXPECT_EQ(algorithmFromName("EdDSA"), Algorithm::kEdDSA);
  EXPECT_EQ(algorithmFromName("ES256"), Algorithm::kES256);
  EXPECT_FALSE(algorithmFromName("es256"));
  EXPECT_FALSE(algorithmFromName("none"));
  EXPECT_FALSE(algorithmFromName("HS512"));
  EXPECT_EQ(algorithmName(Algorithm::kPS256), "PS256");
}

}  // namespace
}  // namespace bulwark::crypto

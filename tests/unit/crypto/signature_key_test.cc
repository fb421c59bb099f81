#include "crypto/signature_key.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

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

// The check RsaKey made before it kept a prepared context (EVP_DigestVerifyInit per call with
// SHA-256, and for PS256 PSS with a salt as long as the hash): the reference for the test below.
bool referenceRsaVerify(EVP_PKEY* key, bool pss, std::string_view data, std::string_view sig) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1) return false;
  if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
    return false;
  }
  const bool ok =
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  ERR_clear_error();
  return ok;
}

// An RSA signature with any digest, padding, MGF1 digest and salt length.
std::string rsaSign(EVP_PKEY* key, const EVP_MD* md, std::string_view data, bool pss,
                    const EVP_MD* mgf1 = nullptr, int salt = RSA_PSS_SALTLEN_DIGEST) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key), 1);
  if (pss) {
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt), 1);
    if (mgf1 != nullptr) {
      EXPECT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1), 1);
    }
  }
  std::size_t n = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &n, in, data.size()), 1);
  std::string sig(n, '\0');
  EXPECT_EQ(
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, in, data.size()),
      1);
  sig.resize(n);
  return sig;
}

TEST(SignatureKey, RsaVerifyAgreesWithDigestVerifyInit) {
  // RsaKey copies a context prepared once instead of EVP_DigestVerifyInit per call: the same
  // verdict on valid signatures, other digests (SHA-1, SHA-384 DigestInfo), other paddings, PSS
  // with other salt lengths or MGF1-SHA-1, altered messages and altered signature bytes.
  for (const int bits : {2048, 3072}) {
    auto pkey = test::generateRsa(bits);
    auto rs = test::publicKey(pkey.get(), Algorithm::kRS256);
    auto ps = test::publicKey(pkey.get(), Algorithm::kPS256);
    std::vector<std::string> signatures;
    const std::string data = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0";
    for (const bool pss : {false, true}) {
      for (const EVP_MD* md : {EVP_sha256(), EVP_sha1(), EVP_sha384()}) {
        signatures.push_back(rsaSign(pkey.get(), md, data, pss));
      }
    }
    for (const int salt : {0, 20, 32, 33, RSA_PSS_SALTLEN_MAX}) {
      signatures.push_back(rsaSign(pkey.get(), EVP_sha256(), data, true, nullptr, salt));
    }
    signatures.push_back(rsaSign(pkey.get(), EVP_sha256(), data, true, EVP_sha1()));
    signatures.push_back(rsaSign(pkey.get(), EVP_sha256(), data, true, EVP_sha384()));
    const std::size_t count = signatures.size();
    for (std::size_t i = 0; i < count; ++i) {
      for (const std::size_t at :
           {std::size_t{0}, signatures[i].size() / 2, signatures[i].size() - 1}) {
        std::string altered = signatures[i];
        altered[at] = static_cast<char>(altered[at] ^ 0x01);
        signatures.push_back(altered);
      }
    }
    int valid_rs = 0, valid_ps = 0;
    for (const std::string& sig : signatures) {
      for (const std::string& message : {data, data + "x", std::string()}) {
        const bool rs_ok = rs->verify(message, sig) == SignatureCheck::kValid;
        const bool ps_ok = ps->verify(message, sig) == SignatureCheck::kValid;
        EXPECT_EQ(rs_ok, referenceRsaVerify(pkey.get(), false, message, sig));
        EXPECT_EQ(ps_ok, referenceRsaVerify(pkey.get(), true, message, sig));
        valid_rs += rs_ok;
        valid_ps += ps_ok;
      }
    }
    // PKCS#1 v1.5 SHA-256 for RS256; PSS SHA-256 with a 32-byte salt (made twice) for PS256.
    EXPECT_EQ(valid_rs, 1);
    EXPECT_EQ(valid_ps, 2);
    EXPECT_EQ(ERR_peek_error(), 0UL);
  }
}

TEST(SignatureKey, RsaVerifiesFromManyThreadsAtOnce) {
  // Every thread copies the key's one prepared context.
  auto pkey = test::generateRsa(2048);
  for (const bool pss : {false, true}) {
    auto key = test::publicKey(pkey.get(), pss ? Algorithm::kPS256 : Algorithm::kRS256);
    std::vector<std::string> messages, signatures;
    for (int i = 0; i < 8; ++i) {
      messages.push_back("message-" + std::to_string(i));
      signatures.push_back(rsaSign(pkey.get(), EVP_sha256(), messages.back(), pss));
    }
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 100; ++i) {
          const std::size_t m = static_cast<std::size_t>(i + t) % messages.size();
          const std::size_t other = (m + 1) % messages.size();
          wrong += key->verify(messages[m], signatures[m]) != SignatureCheck::kValid;
          wrong += key->verify(messages[m], signatures[other]) != SignatureCheck::kInvalid;
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    EXPECT_EQ(wrong.load(), 0);
  }
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

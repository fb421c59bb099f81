#include "jwt/jws.h"

#include <gtest/gtest.h>

#include "support/jwt_craft.h"

namespace bulwark::jwt {
namespace {

using test::b64;
using test::craft;

const std::string kSecret(32, 's');

std::string hs256(std::string_view header, std::string_view payload = R"({"sub":"u"})") {
  return craft(header, payload, [](std::string_view in) { return test::hmacSign(kSecret, in); });
}

VerifyError parseError(std::string_view token, std::size_t limit = kDefaultMaxTokenBytes) {
  auto jws = parseJws(token, limit);
  EXPECT_FALSE(jws) << token;
  return jws ? VerifyError::kInternal : jws.error();
}

// RFC 7515 Appendix A.1 (HS256). Its typ is JWT and it has no aud: the JWS layer alone.
TEST(Jws, Rfc7515AppendixA1) {
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
      ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
      "cnVlfQ"
      ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  std::string k;
  ASSERT_TRUE(crypto::base64UrlDecode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow", k));
  auto key = test::hmacKey(k);
  auto jws = parseJws(token);
  ASSERT_TRUE(jws);
  EXPECT_EQ(jws->header.alg, crypto::Algorithm::kHS256);
  EXPECT_EQ(jws->header.typ, "JWT");
  EXPECT_FALSE(jws->header.kid);
  EXPECT_NE(jws->payload.find("\"iss\":\"joe\""), std::string::npos);
  EXPECT_TRUE(verifyJwsSignature(*jws, *key));

  std::string tampered = token;
  tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == 'X' ? 'Y' : 'X';
  auto bad = parseJws(tampered);
  ASSERT_TRUE(bad);
  EXPECT_EQ(verifyJwsSignature(*bad, *key).error(), VerifyError::kBadSignature);
}

// RFC 8037 Appendix A.4 (Ed25519) as a token.
TEST(Jws, Rfc8037AppendixA4) {
  const std::string token =
      "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
      ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  crypto::KeyMaterial m;
  m.algorithm = crypto::Algorithm::kEdDSA;
  ASSERT_TRUE(crypto::base64UrlDecode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", m.x));
  auto key = crypto::SignatureKey::fromMaterial(m).value();
  auto jws = parseJws(token);
  ASSERT_TRUE(jws);
  EXPECT_EQ(jws->payload, "Example of Ed25519 signing");
  EXPECT_TRUE(verifyJwsSignature(*jws, *key));
}

TEST(Jws, SignedTokensRoundTrip) {
  test::SeededRandom random;
  for (auto alg :
       {crypto::Algorithm::kEdDSA, crypto::Algorithm::kES256, crypto::Algorithm::kHS256}) {
    auto key = crypto::SignatureKey::generate(alg, random).value();
    auto token = signJws(*key, "k1", "at+jwt", R"({"a":1})");
    ASSERT_TRUE(token);
    auto jws = parseJws(*token);
    ASSERT_TRUE(jws);
    EXPECT_EQ(jws->header.kid, "k1");
    EXPECT_EQ(jws->header.typ, "at+jwt");
    EXPECT_EQ(jws->payload, R"({"a":1})");
    EXPECT_TRUE(verifyJwsSignature(*jws, *key));
  }
}

TEST(Jws, RejectsWrongNumberOfParts) {
  const std::string good = hs256(R"({"alg":"HS256"})");
  EXPECT_TRUE(parseJws(good));
  EXPECT_EQ(parseError("abc"), VerifyError::kMalformed);
  EXPECT_EQ(parseError(good.substr(0, good.rfind('.'))), VerifyError::kMalformed);
  EXPECT_EQ(parseError(good + ".x"), VerifyError::kMalformed);
  EXPECT_EQ(parseError(good + "."), VerifyError::kMalformed);
  EXPECT_EQ(parseError(good.substr(0, good.rfind('.') + 1)), VerifyError::kMalformed);
  EXPECT_EQ(parseError(".e30.c2ln"), VerifyError::kMalformed);
  EXPECT_EQ(parseError(""), VerifyError::kMalformed);
  EXPECT_EQ(parseError(".."), VerifyError::kMalformed);
  // Five parts: a JWE.
  EXPECT_EQ(parseError("a.b.c.d.e"), VerifyError::kMalformed);
}

TEST(Jws, RejectsNonCanonicalBase64) {
  const std::string good = hs256(R"({"alg":"HS256"})");
  const std::size_t dot1 = good.find('.'), dot2 = good.rfind('.');
  const std::string header = good.substr(0, dot1);
  const std::string payload = good.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string signature = good.substr(dot2 + 1);
  const auto join = [](std::string_view a, std::string_view b, std::string_view c) {
    return std::string(a) + "." + std::string(b) + "." + std::string(c);
  };
  EXPECT_EQ(parseError(join(header + "=", payload, signature)), VerifyError::kBadBase64);
  EXPECT_EQ(parseError(join(header, payload, signature + "=")), VerifyError::kBadBase64);
  EXPECT_EQ(parseError(join(header, payload + " ", signature)), VerifyError::kBadBase64);
  EXPECT_EQ(parseError(join(header, payload, " " + signature)), VerifyError::kBadBase64);
  EXPECT_EQ(parseError(join(header, payload, signature + "\n")), VerifyError::kBadBase64);
  std::string plus = signature;
  plus[3] = '+';
  EXPECT_EQ(parseError(join(header, payload, plus)), VerifyError::kBadBase64);
  std::string slash = signature;
  slash[3] = '/';
  EXPECT_EQ(parseError(join(header, payload, slash)), VerifyError::kBadBase64);
  // A 32-byte HMAC encodes to 43 characters whose last carries 2 unused bits: flip one of them.
  ASSERT_EQ(signature.size(), 43u);
  std::string decoded;
  ASSERT_TRUE(crypto::base64UrlDecode(signature, decoded));
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string noncanonical = signature;
  noncanonical.back() = kAlphabet[kAlphabet.find(signature.back()) ^ 1];
  EXPECT_EQ(parseError(join(header, payload, noncanonical)), VerifyError::kBadBase64);
  // The same for the header: {"alg":"HS256"} is 15 bytes -> 20 characters, none unused; add a
  // space to make 16 bytes -> 22 characters with 4 unused bits.
  const std::string header16 = b64(R"({"alg":"HS256"} )");
  ASSERT_EQ(header16.size(), 22u);
  std::string bad_header = header16;
  bad_header.back() = kAlphabet[kAlphabet.find(header16.back()) | 1];
  EXPECT_EQ(parseError(join(bad_header, payload, signature)), VerifyError::kBadBase64);
  EXPECT_TRUE(parseJws(join(header16, payload, signature)));
}

TEST(Jws, SizeLimitIsEnforcedAndConfigurable) {
  const std::string big =
      hs256(R"({"alg":"HS256"})", "{\"pad\":\"" + std::string(6000, 'x') + "\"}");
  ASSERT_GT(big.size(), 8000u);
  ASSERT_LT(big.size(), 8192u);
  EXPECT_TRUE(parseJws(big));
  const std::string bigger =
      hs256(R"({"alg":"HS256"})", "{\"pad\":\"" + std::string(6200, 'x') + "\"}");
  ASSERT_GT(bigger.size(), 8192u);
  EXPECT_EQ(parseError(bigger), VerifyError::kTokenTooLarge);
  EXPECT_EQ(parseError(big, 1024), VerifyError::kTokenTooLarge);
  EXPECT_TRUE(parseJws(bigger, 16384));
}

TEST(Jws, RejectsAlgNoneInAnyCase) {
  for (std::string_view alg : {"none", "None", "NONE", "nOnE"}) {
    const std::string token =
        b64("{\"alg\":\"" + std::string(alg) + "\"}") + "." + b64(R"({"sub":"u"})") + ".c2ln";
    EXPECT_EQ(parseError(token), VerifyError::kAlgNone) << alg;
  }
  // The classic unsigned form with an empty signature is not even a JWS for us.
  EXPECT_EQ(parseError(b64(R"({"alg":"none"})") + "." + b64("{}") + "."), VerifyError::kMalformed);
}

TEST(Jws, RejectsBadAlg) {
  EXPECT_EQ(parseError(hs256(R"({"typ":"JWT"})")), VerifyError::kMissingAlg);
  EXPECT_EQ(parseError(hs256(R"({"alg":null})")), VerifyError::kBadHeader);
  EXPECT_EQ(parseError(hs256(R"({"alg":["HS256"]})")), VerifyError::kBadHeader);
  for (std::string_view alg : {"HS512", "RS512", "ES256K", "hs256", "HS256 ", "Ed25519", ""}) {
    EXPECT_EQ(parseError(hs256("{\"alg\":\"" + std::string(alg) + "\"}")),
              VerifyError::kUnsupportedAlg)
        << alg;
  }
}

TEST(Jws, RejectsAnyCrit) {
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","crit":["exp"],"exp":1})")),
            VerifyError::kCritUnsupported);
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","crit":[]})")), VerifyError::kCritUnsupported);
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","crit":"b64"})")), VerifyError::kCritUnsupported);
}

TEST(Jws, RejectsKeySourceHeaders) {
  for (std::string_view member : {"jku", "x5u", "jwk", "x5c"}) {
    const std::string header =
        "{\"alg\":\"HS256\",\"" + std::string(member) + "\":\"https://attacker.example/k\"}";
    EXPECT_EQ(parseError(hs256(header)), VerifyError::kForbiddenHeader) << member;
  }
  EXPECT_EQ(
      parseError(hs256(
          R"({"alg":"HS256","jwk":{"kty":"oct","k":"c3NzcwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}})")),
      VerifyError::kForbiddenHeader);
}

TEST(Jws, RejectsUnencodedPayload) {
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","b64":false})")), VerifyError::kUnencodedPayload);
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","b64":"false"})")), VerifyError::kUnencodedPayload);
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","b64":0})")), VerifyError::kUnencodedPayload);
  EXPECT_TRUE(parseJws(hs256(R"({"alg":"HS256","b64":true})")));
}

TEST(Jws, RejectsNestedTokens) {
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","cty":"JWT"})")), VerifyError::kNestedToken);
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","cty":"jwt"})")), VerifyError::kNestedToken);
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","cty":"application/JWT"})")),
            VerifyError::kNestedToken);
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","cty":7})")), VerifyError::kBadHeader);
  EXPECT_TRUE(parseJws(hs256(R"({"alg":"HS256","cty":"text/plain"})")));
}

TEST(Jws, RejectsBadHeaderJson) {
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","alg":"HS256"})")), VerifyError::kDuplicateMember);
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","kid":"a","kid":"b"})")),
            VerifyError::kDuplicateMember);
  EXPECT_EQ(parseError(hs256(R"(["alg","HS256"])")), VerifyError::kBadJson);
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256")")), VerifyError::kBadJson);
  EXPECT_EQ(parseError(hs256("{\"alg\":\"HS256\",\"kid\":\"\xff\"}")), VerifyError::kBadJson);
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","kid":1})")), VerifyError::kBadHeader);
  EXPECT_EQ(parseError(hs256(R"({"alg":"HS256","typ":true})")), VerifyError::kBadHeader);
}

TEST(Jws, AlgMustMatchTheKey) {
  test::SeededRandom random;
  auto ed = crypto::SignatureKey::generate(crypto::Algorithm::kEdDSA, random).value();
  const std::string token = hs256(R"({"alg":"HS256","kid":"k"})");
  auto jws = parseJws(token);
  ASSERT_TRUE(jws);
  EXPECT_EQ(verifyJwsSignature(*jws, *ed).error(), VerifyError::kAlgMismatch);
}

TEST(Jws, PayloadMayBeAnyBytesAtThisLayer) {
  const std::string token = hs256(R"({"alg":"HS256"})", std::string("\0\xff not json", 11));
  auto jws = parseJws(token);
  ASSERT_TRUE(jws);
  EXPECT_TRUE(verifyJwsSignature(*jws, *test::hmacKey(kSecret)));
}

}  // namespace
}  // namespace bulwark::jwt

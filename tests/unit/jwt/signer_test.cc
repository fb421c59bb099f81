#include "jwt/signer.h"

#include <gtest/gtest.h>

#include <set>

#include "jwt/verifier.h"
#include "support/jwt_craft.h"

namespace bulwark::jwt {
namespace {

using crypto::Algorithm;

class SignerTest : public ::testing::Test {
 protected:
  KeySourcePtr source(Algorithm alg, KeyStatus status = KeyStatus::kActive) {
    KeyEntry e;
    e.kid = "kid-1";
    e.key = crypto::SignatureKey::generate(alg, random_).value();
    e.status = status;
    return staticKeySource(KeySet::create({e}).value());
  }
  TokenSignerPtr signer(KeySourcePtr keys, std::vector<std::string> audiences = {"api"}) {
    SignerConfig config;
    config.issuer = "https://bulwark.test";
    config.audiences = std::move(audiences);
    return TokenSigner::create(config, std::move(keys), clock_, random_);
  }
  static std::string part(const std::string& token, int index) {
    std::size_t start = 0;
    for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
    std::string decoded;
    EXPECT_TRUE(
        crypto::base64UrlDecode(token.substr(start, token.find('.', start) - start), decoded));
    return decoded;
  }

  core::SimulatedClock clock_;
  test::SeededRandom random_;
  static AccessTokenRequest makeRequest(std::string subject, std::string session,
                                        std::vector<std::string> roles) {
    AccessTokenRequest r;
    r.subject = std::move(subject);
    r.session_id = std::move(session);
    r.roles = std::move(roles);
    return r;
  }
  AccessTokenRequest request_ = makeRequest("user-7", "sess-3", {"admin", "user"});
};

TEST_F(SignerTest, WritesTheRfc9068HeaderAndOurClaims) {
  auto issued = signer(source(Algorithm::kEdDSA))->sign(request_);
  ASSERT_TRUE(issued);
  EXPECT_EQ(part(issued->token, 0), R"({"alg":"EdDSA","typ":"at+jwt","kid":"kid-1"})");
  const std::int64_t now = toNumericDate(clock_.systemTime());
  const std::string n = std::to_string(now);
  EXPECT_EQ(part(issued->token, 1),
            R"({"iss":"https://bulwark.test","aud":"api","sub":"user-7","exp":)" +
                std::to_string(now + 900) + R"(,"nbf":)" + n + R"(,"iat":)" + n + R"(,"jti":")" +
                issued->jti + R"(","sid":"sess-3","roles":["admin","user"]})");
  EXPECT_EQ(issued->kid, "kid-1");
  EXPECT_EQ(issued->expires_at - issued->issued_at, std::chrono::minutes(15));
  EXPECT_EQ(issued->jti.size(), 22u);  // 128 bits
}

TEST_F(SignerTest, TokensVerifyForEveryAlgorithm) {
  for (Algorithm alg : {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kHS256}) {
    auto keys = source(alg);
    VerifierConfig vc;
    IssuerConfig issuer;
    issuer.issuer = "https://bulwark.test";
    issuer.audiences = {"api"};
    issuer.required_claims = {"sub", "jti", "sid", "iat", "nbf"};
    issuer.keys = keys;
    vc.issuers = {issuer};
    auto verified = Verifier::create(vc, clock_)->verify(signer(keys)->sign(request_)->token);
    ASSERT_TRUE(verified) << verifyErrorName(verified.error());
    EXPECT_EQ((*verified)->claims.sub, "user-7");
    EXPECT_EQ((*verified)->claims.sid, "sess-3");
    EXPECT_EQ((*verified)->claims.roles, (std::vector<std::string>{"admin", "user"}));
  }
}

TEST_F(SignerTest, CallerMayChooseJtiAndValidityWindow) {
  auto s = signer(source(Algorithm::kEdDSA));
  AccessTokenRequest chosen = request_;
  chosen.token_id = "chosen-jti";
  chosen.issued_at = clock_.systemTime() - std::chrono::seconds(5);
  chosen.expires_at = clock_.systemTime() + std::chrono::minutes(10);
  auto issued = s->sign(chosen);
  ASSERT_TRUE(issued);
  EXPECT_EQ(issued->jti, "chosen-jti");
  const std::string claims = part(issued->token, 1);
  EXPECT_NE(claims.find("\"jti\":\"chosen-jti\""), std::string::npos);
  EXPECT_NE(claims.find("\"iat\":" + std::to_string(toNumericDate(*chosen.issued_at))),
            std::string::npos);
  EXPECT_NE(claims.find("\"exp\":" + std::to_string(toNumericDate(*chosen.expires_at))),
            std::string::npos);
  // Longer than the configured ttl (the key ring's retention would not cover it): refused.
  chosen.expires_at = clock_.systemTime() + std::chrono::minutes(16);
  EXPECT_EQ(s->sign(chosen).error(), SignError::kInvalidRequest);
  chosen.expires_at = chosen.issued_at;
  EXPECT_EQ(s->sign(chosen).error(), SignError::kInvalidRequest);
}

TEST_F(SignerTest, SeveralAudiencesBecomeAnArray) {
  auto issued = signer(source(Algorithm::kEdDSA), {"a", "b"})->sign(request_);
  ASSERT_TRUE(issued);
  EXPECT_NE(part(issued->token, 1).find(R"("aud":["a","b"])"), std::string::npos);
}

TEST_F(SignerTest, JtisAreUnique) {
  auto s = signer(source(Algorithm::kHS256));
  std::set<std::string> jtis;
  for (int i = 0; i < 100; ++i) {
    jtis.insert(s->sign(request_)->jti);
  }
  EXPECT_EQ(jtis.size(), 100u);
}

TEST_F(SignerTest, ClaimValuesAreEscaped) {
  const AccessTokenRequest tricky = makeRequest("a\",\"sub\":\"admin", "s\n", {"r\"]"});
  auto keys = source(Algorithm::kEdDSA);
  auto issued = signer(keys)->sign(tricky);
  ASSERT_TRUE(issued);
  auto claims = parseClaims(part(issued->token, 1));
  ASSERT_TRUE(claims);  // still one sub, no duplicate
  EXPECT_EQ(claims->sub, tricky.subject);
  EXPECT_EQ(claims->roles, tricky.roles);
}

TEST_F(SignerTest, Errors) {
  auto s = signer(source(Algorithm::kEdDSA, KeyStatus::kRetired));
  EXPECT_EQ(s->sign(request_).error(), SignError::kNoSigningKey);
  EXPECT_EQ(signErrorName(SignError::kNoSigningKey), "no_signing_key");
  AccessTokenRequest empty;
  EXPECT_EQ(signer(source(Algorithm::kEdDSA))->sign(empty).error(), SignError::kInvalidRequest);
  SignerConfig bad;
  bad.issuer = "i";
  EXPECT_THROW(TokenSigner::create(bad, source(Algorithm::kEdDSA), clock_, random_),
               std::invalid_argument);
}

}  // namespace
}  // namespace bulwark::jwt

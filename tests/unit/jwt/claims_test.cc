#include "jwt/claims.h"

#include <gtest/gtest.h>

#include <set>

namespace bulwark::jwt {
namespace {

using std::chrono::seconds;

const core::SystemTime kNow = fromNumericDate(1'800'000'000);

TEST(Claims, ParsesRegisteredClaims) {
  auto claims = parseClaims(
      R"({"iss":"https://i","sub":"u1","aud":"api","exp":1800000900,"nbf":1800000000,)"
      R"("iat":1800000000.7,"jti":"j","sid":"s","roles":["admin","user"],"x":{"y":1}})");
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->iss, "https://i");
  EXPECT_EQ(claims->sub, "u1");
  EXPECT_EQ(claims->aud, std::vector<std::string>{"api"});
  EXPECT_EQ(claims->exp, fromNumericDate(1800000900));
  EXPECT_EQ(claims->iat, fromNumericDate(1800000000));  // fraction truncated
  EXPECT_EQ(claims->roles, (std::vector<std::string>{"admin", "user"}));
  EXPECT_NE(claims->json.find("\"x\":{\"y\":1}"), std::string::npos);
}

TEST(Claims, FarFutureDatesDoNotOverflow) {
  auto claims = parseClaims(R"({"exp":253402300799,"nbf":18446744073,"iat":9000000001})");
  ASSERT_TRUE(claims);
  EXPECT_EQ(toNumericDate(*claims->exp), 9'000'000'000);
  EXPECT_EQ(toNumericDate(*claims->nbf), 9'000'000'000);
  Claims c = *claims;
  c.iss = "i";
  c.aud = {"a"};
  c.nbf.reset();
  c.iat.reset();
  EXPECT_TRUE(validateClaims(c, {}, kNow));  // valid "forever"
  c.nbf = claims->nbf;
  EXPECT_EQ(validateClaims(c, {}, kNow).error(), VerifyError::kNotYetValid);
}

TEST(Claims, AudienceMayBeAnArray) {
  auto claims = parseClaims(R"({"aud":["a","b"]})");
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->aud, (std::vector<std::string>{"a", "b"}));
}

TEST(Claims, RejectsWrongTypes) {
  for (std::string_view bad : std::initializer_list<std::string_view>{
           R"({"iss":1})", R"({"iss":""})", R"({"sub":null})", R"({"aud":1})", R"({"aud":["a",1]})",
           R"({"aud":{"a":1}})", R"({"exp":"1800000000"})", R"({"exp":-1})", R"({"exp":1e300})",
           R"({"exp":253402300800})", R"({"exp":18446744073709551615})", R"({"nbf":true})",
           R"({"iat":[1]})", R"({"jti":""})", R"({"sid":7})", R"({"roles":"admin"})",
           R"({"roles":["a",null]})"}) {
    auto claims = parseClaims(bad);
    ASSERT_FALSE(claims) << bad;
    EXPECT_EQ(claims.error(), VerifyError::kBadClaim) << bad;
  }
}

TEST(Claims, RolesClaimIsConfigurable) {
  auto claims = parseClaims(R"({"groups":["g"],"roles":"ignored-here"})", "groups");
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->roles, std::vector<std::string>{"g"});
}

TEST(Claims, RejectsDuplicateClaims) {
  EXPECT_EQ(parseClaims(R"({"sub":"a","sub":"admin"})").error(), VerifyError::kDuplicateMember);
  EXPECT_EQ(parseClaims(R"({"sub":"a"} )"
                        "x")
                .error(),
            VerifyError::kBadJson);
}

class ValidateClaims : public ::testing::Test {
 protected:
  Claims good() {
    Claims c;
    c.iss = "iss";
    c.aud = {"other", "api"};
    c.exp = kNow + seconds(60);
    c.nbf = kNow;
    c.iat = kNow;
    return c;
  }
  ClaimsPolicy policy() {
    ClaimsPolicy p;
    p.issuer = "iss";
    p.audiences = {"api"};
    return p;
  }
  VerifyError check(const Claims& c, core::SystemTime now = kNow) {
    auto r = validateClaims(c, policy(), now);
    return r ? VerifyError::kInternal : r.error();
  }
};

TEST_F(ValidateClaims, AcceptsAGoodSet) { EXPECT_TRUE(validateClaims(good(), policy(), kNow)); }

TEST_F(ValidateClaims, EachFailureIsDistinct) {
  Claims c = good();
  c.iss.clear();
  EXPECT_EQ(check(c), VerifyError::kMissingIssuer);
  c = good();
  c.iss = "ISS";
  EXPECT_EQ(check(c), VerifyError::kWrongIssuer);
  c = good();
  c.aud.clear();
  EXPECT_EQ(check(c), VerifyError::kMissingAudience);
  c = good();
  c.aud = {"API", "other"};
  EXPECT_EQ(check(c), VerifyError::kWrongAudience);
  c = good();
  c.exp.reset();
  EXPECT_EQ(check(c), VerifyError::kMissingExpiry);
}

TEST_F(ValidateClaims, ExpiryHonoursLeeway) {
  const Claims c = good();  // exp = now + 60, leeway 30
  EXPECT_TRUE(validateClaims(c, policy(), kNow + seconds(89)));
  EXPECT_EQ(check(c, kNow + seconds(90)), VerifyError::kExpired);
  ClaimsPolicy strict = policy();
  strict.leeway = seconds(0);
  EXPECT_TRUE(validateClaims(c, strict, kNow + seconds(59)));
  EXPECT_EQ(validateClaims(c, strict, kNow + seconds(60)).error(), VerifyError::kExpired);
}

TEST_F(ValidateClaims, NotBeforeAndIssuedAtHonourLeeway) {
  Claims c = good();
  c.nbf = kNow + seconds(30);
  EXPECT_TRUE(validateClaims(c, policy(), kNow));
  c.nbf = kNow + seconds(31);
  EXPECT_EQ(check(c), VerifyError::kNotYetValid);
  c = good();
  c.iat = kNow + seconds(31);
  EXPECT_EQ(check(c), VerifyError::kIssuedInFuture);
  c.iat = kNow + seconds(30);
  EXPECT_TRUE(validateClaims(c, policy(), kNow));
}

TEST_F(ValidateClaims, RequiredClaims) {
  ClaimsPolicy p = policy();
  p.required = {"sub", "jti"};
  Claims c = good();
  EXPECT_EQ(validateClaims(c, p, kNow).error(), VerifyError::kMissingClaim);
  c.sub = "u";
  EXPECT_EQ(validateClaims(c, p, kNow).error(), VerifyError::kMissingClaim);
  c.jti = "j";
  EXPECT_TRUE(validateClaims(c, p, kNow));
}

TEST_F(ValidateClaims, EmptyPolicyStillRequiresPresence) {
  ClaimsPolicy any;
  Claims c = good();
  EXPECT_TRUE(validateClaims(c, any, kNow));
  c.aud.clear();
  EXPECT_EQ(validateClaims(c, any, kNow).error(), VerifyError::kMissingAudience);
}

TEST(VerifyErrorNames, AreStableAndDistinct) {
  EXPECT_EQ(verifyErrorName(VerifyError::kExpired), "expired");
  EXPECT_EQ(verifyErrorName(VerifyError::kAlgNone), "alg_none");
  EXPECT_EQ(verifyErrorName(VerifyError::kWrongAudience), "wrong_audience");
  std::set<std::string_view> names;
  for (int i = static_cast<int>(VerifyError::kTokenTooLarge);
       i <= static_cast<int>(VerifyError::kInternal); ++i) {
    const auto name = verifyErrorName(static_cast<VerifyError>(i));
    EXPECT_NE(name, "unknown") << i;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  const boost::system::error_code ec = VerifyError::kBadSignature;
  EXPECT_EQ(ec.category().name(), std::string("bulwark.jwt"));
  EXPECT_EQ(ec.message(), "the signature does not verify");
}

}  // namespace
}  // namespace bulwark::jwt

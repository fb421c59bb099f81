#include "jwt/verifier.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "support/jwt_craft.h"

namespace bulwark::jwt {
namespace {

using crypto::Algorithm;
using std::chrono::seconds;
using test::b64;

constexpr std::string_view kOurs = "https://bulwark.test";
constexpr std::string_view kIdp = "https://idp.test";

// A key source whose snapshot a test replaces, counting unknown-kid notifications.
class SwappableKeySource final : public KeySource {
 public:
  explicit SwappableKeySource(KeySetPtr keys) : keys_(std::move(keys)) {}
  KeySetPtr keys() const override {
    std::lock_guard lock(mutex_);
    return keys_;
  }
  bool onUnknownKid(std::string_view) override {
    ++unknown_kid_calls;
    return false;
  }
  void set(KeySetPtr keys) {
    std::lock_guard lock(mutex_);
    keys_ = std::move(keys);
  }
  std::atomic<int> unknown_kid_calls{0};

 private:
  mutable std::mutex mutex_;
  KeySetPtr keys_;
};

KeyEntry entry(std::string kid, crypto::SignatureKeyPtr key) {
  KeyEntry e;
  e.kid = std::move(kid);
  e.key = std::move(key);
  e.status = KeyStatus::kRetired;  // verification-only entries
  return e;
}

// Claims with sensible defaults; tests change one field at a time.
struct Payload {
  std::string iss = std::string(kOurs);
  std::string aud = "\"api\"";
  std::optional<std::int64_t> exp, nbf, iat;
  std::string sub = "user-1";
  std::string jti = "jti-1";
  std::string sid = "sid-1";
  std::string extra;

  std::string json() const {
    std::string out = "{";
    const auto add = [&](std::string_view member) {
      out += (out.size() > 1 ? "," : "") + std::string(member);
    };
    if (!iss.empty()) add("\"iss\":\"" + iss + "\"");
    if (!aud.empty()) add("\"aud\":" + aud);
    if (exp) add("\"exp\":" + std::to_string(*exp));
    if (nbf) add("\"nbf\":" + std::to_string(*nbf));
    if (iat) add("\"iat\":" + std::to_string(*iat));
    if (!sub.empty()) add("\"sub\":\"" + sub + "\"");
    if (!jti.empty()) add("\"jti\":\"" + jti + "\"");
    if (!sid.empty()) add("\"sid\":\"" + sid + "\"");
    if (!extra.empty()) add(extra);
    return out + "}";
  }
};

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest() {
    const std::int64_t now = toNumericDate(clock_.systemTime());
    payload_.exp = now + 600;
    payload_.nbf = now;
    payload_.iat = now;
    ours_ = std::make_shared<SwappableKeySource>(
        KeySet::create({entry("ed", test::publicKey(ed_.get(), Algorithm::kEdDSA)),
                        entry("ec", test::publicKey(ec_.get(), Algorithm::kES256)),
                        entry("hs", test::hmacKey(secret_))})
            .value());
    idp_ = std::make_shared<SwappableKeySource>(
        KeySet::create({entry("rs", test::publicKey(rsa_, Algorithm::kRS256)),
                        entry("ps", test::publicKey(rsa_, Algorithm::kPS256))})
            .value());
    rebuild();
  }

  void rebuild(std::size_t cache_capacity = 1024, std::size_t max_bytes = kDefaultMaxTokenBytes) {
    VerifierConfig config;
    IssuerConfig ours;
    ours.issuer = kOurs;
    ours.audiences = {"api"};
    ours.required_claims = {"sub", "jti", "sid"};
    ours.keys = ours_;
    IssuerConfig idp;
    idp.issuer = kIdp;
    idp.audiences = {"api", "other-api"};
    idp.typ = TypPolicy::kAccessTokenOrJwt;
    idp.keys = idp_;
    config.issuers = {ours, idp};
    config.cache.capacity = cache_capacity;
    config.max_token_bytes = max_bytes;
    verifier_ = Verifier::create(std::move(config), clock_);
  }

  static std::string header(std::string_view alg, std::string_view kid,
                            std::string_view typ = "at+jwt", std::string_view extra = "") {
    std::string h = "{\"alg\":\"" + std::string(alg) + "\"";
    if (!typ.empty()) h += ",\"typ\":\"" + std::string(typ) + "\"";
    if (!kid.empty()) h += ",\"kid\":\"" + std::string(kid) + "\"";
    return h + std::string(extra) + "}";
  }

  std::string signEd(std::string_view h, std::string_view p) {
    return test::craft(h, p, [&](std::string_view in) { return test::opensslSign(ed_.get(), in); });
  }
  std::string signEc(std::string_view h, std::string_view p) {
    return test::craft(h, p, [&](std::string_view in) { return test::opensslSign(ec_.get(), in); });
  }
  std::string signHs(std::string_view h, std::string_view p, std::string_view secret) {
    return test::craft(h, p, [&](std::string_view in) { return test::hmacSign(secret, in); });
  }
  std::string signRsa(std::string_view h, std::string_view p, test::RsaPadding padding,
                      int salt = 32) {
    return test::craft(
        h, p, [&](std::string_view in) { return test::opensslSign(rsa_, in, padding, salt); });
  }
  std::string good() { return signEd(header("EdDSA", "ed"), payload_.json()); }
  std::string external(Payload p, std::string_view typ = "JWT") {
    p.iss = kIdp;
    return signRsa(header("RS256", "rs", typ), p.json(), test::RsaPadding::kPkcs1);
  }

  VerifyError rejected(std::string_view token) {
    auto result = verifier_->verify(token);
    EXPECT_FALSE(result) << token;
    return result ? VerifyError::kInternal : result.error();
  }

  core::SimulatedClock clock_;
  test::Pkey ed_ = test::generateEd25519();
  test::Pkey ec_ = test::generateP256();
  EVP_PKEY* rsa_ = test::sharedRsa2048();
  std::string secret_ = std::string(32, 'h') + "more-secret";
  std::shared_ptr<SwappableKeySource> ours_, idp_;
  Payload payload_;
  VerifierPtr verifier_;
};

TEST_F(VerifierTest, AcceptsEveryAlgorithmAndReturnsClaims) {
  const std::string p = payload_.json();
  for (const std::string& token :
       {good(), signEc(header("ES256", "ec"), p), signHs(header("HS256", "hs"), p, secret_)}) {
    auto verified = verifier_->verify(token);
    ASSERT_TRUE(verified) << verifyErrorName(verified.error());
    EXPECT_EQ((*verified)->claims.sub, "user-1");
    EXPECT_EQ((*verified)->claims.iss, kOurs);
    EXPECT_EQ((*verified)->issuer_index, 0u);
  }
  Payload q = payload_;
  q.extra = R"("roles":["admin"])";
  auto rs = verifier_->verify(external(q));
  ASSERT_TRUE(rs) << verifyErrorName(rs.error());
  EXPECT_EQ((*rs)->algorithm, Algorithm::kRS256);
  EXPECT_EQ((*rs)->claims.roles, std::vector<std::string>{"admin"});
  EXPECT_EQ((*rs)->issuer_index, 1u);
  q.iss = kIdp;
  auto ps =
      verifier_->verify(signRsa(header("PS256", "ps", "JWT"), q.json(), test::RsaPadding::kPss));
  ASSERT_TRUE(ps) << verifyErrorName(ps.error());
  EXPECT_EQ((*ps)->kid, "ps");
}

TEST_F(VerifierTest, StructuralRejectionsReachTheCaller) {
  EXPECT_EQ(rejected("not-a-token"), VerifyError::kMalformed);
  EXPECT_EQ(rejected(good() + "="), VerifyError::kBadBase64);
  EXPECT_EQ(rejected(signEd(header("none", "ed"), payload_.json())), VerifyError::kAlgNone);
  EXPECT_EQ(
      rejected(signEd(header("EdDSA", "ed", "at+jwt", R"(,"crit":["x"],"x":1)"), payload_.json())),
      VerifyError::kCritUnsupported);
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed", "at+jwt", R"(,"jku":"https://evil/")"),
                            payload_.json())),
            VerifyError::kForbiddenHeader);
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed", "at+jwt", R"(,"b64":false)"), payload_.json())),
            VerifyError::kUnencodedPayload);
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed", "at+jwt", R"(,"cty":"JWT")"), good())),
            VerifyError::kNestedToken);
}

TEST_F(VerifierTest, OversizedTokensAreRejectedBeforeAnyWork) {
  rebuild(1024, 256);
  const std::string token = good();
  ASSERT_GT(token.size(), 256u);
  EXPECT_EQ(rejected(token), VerifyError::kTokenTooLarge);
  EXPECT_EQ(verifier_->stats().cache_misses, 0u);
}

TEST_F(VerifierTest, PayloadMustBeStrictJson) {
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), "not json")), VerifyError::kBadJson);
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), "[1]")), VerifyError::kBadJson);
  Payload p = payload_;
  p.extra = R"("sub":"admin")";  // a second sub
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kDuplicateMember);
  p.extra = R"("ctx":{"a":1,"a":2})";
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kDuplicateMember);
}

TEST_F(VerifierTest, TypPolicyPerIssuer) {
  const std::string p = payload_.json();
  EXPECT_TRUE(verifier_->verify(signEd(header("EdDSA", "ed", "AT+JWT"), p)));
  EXPECT_TRUE(verifier_->verify(signEd(header("EdDSA", "ed", "application/at+jwt"), p)));
  EXPECT_TRUE(verifier_->verify(signEd(header("EdDSA", "ed", "Application/At+Jwt"), p)));
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed", ""), p)), VerifyError::kMissingTyp);
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed", "JWT"), p)), VerifyError::kWrongTyp);
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed", "at+jwt2"), p)), VerifyError::kWrongTyp);
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed", "application/"), p)), VerifyError::kWrongTyp);
  // The external issuer sends "JWT" (or at+jwt), but must send one.
  EXPECT_TRUE(verifier_->verify(external(payload_, "JWT")));
  EXPECT_TRUE(verifier_->verify(external(payload_, "application/jwt")));
  EXPECT_TRUE(verifier_->verify(external(payload_, "at+jwt")));
  EXPECT_EQ(rejected(external(payload_, "")), VerifyError::kMissingTyp);
  EXPECT_EQ(rejected(external(payload_, "JOSE")), VerifyError::kWrongTyp);
}

TEST_F(VerifierTest, OptionalTypPolicy) {
  VerifierConfig config;
  IssuerConfig idp;
  idp.issuer = kIdp;
  idp.audiences = {"api"};
  idp.typ = TypPolicy::kOptional;
  idp.keys = idp_;
  config.issuers = {idp};
  auto verifier = Verifier::create(config, clock_);
  EXPECT_TRUE(verifier->verify(external(payload_, "")));
  EXPECT_TRUE(verifier->verify(external(payload_, "JWT")));
  EXPECT_EQ(verifier->verify(external(payload_, "JOSE")).error(), VerifyError::kWrongTyp);
}

TEST_F(VerifierTest, KidIsRequiredAndMustBeKnown) {
  const std::string p = payload_.json();
  EXPECT_EQ(rejected(signEd(header("EdDSA", ""), p)), VerifyError::kMissingKid);
  EXPECT_EQ(rejected(signEd(header("EdDSA", "nope"), p)), VerifyError::kUnknownKid);
  EXPECT_EQ(ours_->unknown_kid_calls, 1);
  // A kid of the other issuer is unknown to this one.
  EXPECT_EQ(rejected(signEd(header("EdDSA", "rs"), p)), VerifyError::kUnknownKid);
}

TEST_F(VerifierTest, HeaderAlgMustEqualTheKeysAlgorithm) {
  const std::string p = payload_.json();
  EXPECT_EQ(rejected(signEc(header("ES256", "ed"), p)), VerifyError::kAlgMismatch);
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ec"), p)), VerifyError::kAlgMismatch);
  EXPECT_EQ(rejected(signHs(header("HS256", "ed"), p, secret_)), VerifyError::kAlgMismatch);
  Payload q = payload_;
  q.iss = kIdp;
  EXPECT_EQ(rejected(signRsa(header("PS256", "rs", "JWT"), q.json(), test::RsaPadding::kPss)),
            VerifyError::kAlgMismatch);
  EXPECT_EQ(rejected(signRsa(header("RS256", "ps", "JWT"), q.json(), test::RsaPadding::kPkcs1)),
            VerifyError::kAlgMismatch);
}

// The classic confusion attack: take the verifier's public key bytes and use them as an HMAC
// secret. Every key owns its algorithm, so an HS256 header on an asymmetric key is refused.
TEST_F(VerifierTest, AlgorithmConfusionWithPublicKeyAsHmacSecret) {
  const auto ed_raw = test::publicMaterial(ed_.get(), Algorithm::kEdDSA).x;
  const std::string p = payload_.json();
  EXPECT_EQ(rejected(signHs(header("HS256", "ed"), p, ed_raw)), VerifyError::kAlgMismatch);
  EXPECT_EQ(rejected(signHs(header("HS256", "ed"), p, test::publicKeyDer(ed_.get()))),
            VerifyError::kAlgMismatch);
  EXPECT_EQ(rejected(signHs(header("HS256", "ec"), p, test::publicKeyDer(ec_.get()))),
            VerifyError::kAlgMismatch);
  Payload q = payload_;
  q.iss = kIdp;
  EXPECT_EQ(rejected(signHs(header("HS256", "rs", "JWT"), q.json(), test::publicKeyDer(rsa_))),
            VerifyError::kAlgMismatch);
  // The JWKS text itself as the secret: the same.
  EXPECT_EQ(rejected(signHs(header("HS256", "rs", "JWT"), q.json(), idp_->keys()->jwks())),
            VerifyError::kAlgMismatch);
}

TEST_F(VerifierTest, SignaturesMustVerify) {
  std::string token = good();
  const std::size_t dot = token.find('.');
  // Same header and signature, a payload claiming another subject.
  Payload other = payload_;
  other.sub = "admin";
  const std::string forged =
      token.substr(0, dot + 1) + b64(other.json()) + token.substr(token.rfind('.'));
  EXPECT_EQ(rejected(forged), VerifyError::kBadSignature);
  // Signed by a different Ed25519 key under our kid.
  auto stranger = test::generateEd25519();
  EXPECT_EQ(rejected(test::craft(
                header("EdDSA", "ed"), payload_.json(),
                [&](std::string_view in) { return test::opensslSign(stranger.get(), in); })),
            VerifyError::kBadSignature);
  EXPECT_EQ(rejected(signHs(header("HS256", "hs"), payload_.json(), std::string(32, 'x'))),
            VerifyError::kBadSignature);
  // PS256 with a salt other than 32 bytes.
  Payload q = payload_;
  q.iss = kIdp;
  EXPECT_EQ(rejected(signRsa(header("PS256", "ps", "JWT"), q.json(), test::RsaPadding::kPss, 20)),
            VerifyError::kBadSignature);
}

TEST_F(VerifierTest, Es256ZeroAndOutOfRangeSignatures) {
  const std::string input = test::signingInput(header("ES256", "ec"), payload_.json());
  const std::string real = test::opensslSign(ec_.get(), input);
  std::string n;
  ASSERT_TRUE(crypto::base64UrlDecode("_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE", n));
  const std::string zero(32, '\0');
  for (const std::string& sig :
       {zero + zero, zero + real.substr(32), real.substr(0, 32) + zero, real.substr(0, 32) + n,
        n + real.substr(32), real.substr(0, 32) + std::string(32, '\xff'), real + "\x01"}) {
    EXPECT_EQ(rejected(input + "." + b64(sig)), VerifyError::kMalformedSignature);
  }
  EXPECT_TRUE(verifier_->verify(input + "." + b64(real)));
}

TEST_F(VerifierTest, IssuerRules) {
  Payload p = payload_;
  p.iss = "";
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kMissingIssuer);
  p.iss = "https://evil.test";
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kWrongIssuer);
  p.iss = "https://BULWARK.test";
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kWrongIssuer);
  p = payload_;
  p.extra = R"("iss":7)";
  p.iss = "";
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kBadClaim);
  // A token naming the external issuer but signed with our key: that issuer has no such kid.
  p = payload_;
  p.iss = kIdp;
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed", "JWT"), p.json())), VerifyError::kUnknownKid);
}

TEST_F(VerifierTest, RolesClaimPerIssuer) {
  // The payload is read once, before `iss` has chosen the issuer: each issuer still gets its own
  // roles claim, and only its own claim's type matters.
  VerifierConfig config;
  IssuerConfig ours;
  ours.issuer = kOurs;
  ours.audiences = {"api"};
  ours.keys = ours_;
  IssuerConfig idp;
  idp.issuer = kIdp;
  idp.audiences = {"api"};
  idp.typ = TypPolicy::kAccessTokenOrJwt;
  idp.roles_claim = "groups";
  idp.keys = idp_;
  config.issuers = {ours, idp};
  auto verifier = Verifier::create(config, clock_);

  Payload p = payload_;
  p.extra = R"("groups":["g1","g2"],"roles":7)";
  auto external_token = verifier->verify(external(p));
  ASSERT_TRUE(external_token);
  EXPECT_EQ((*external_token)->claims.roles, (std::vector<std::string>{"g1", "g2"}));
  p.extra = R"("groups":7,"roles":["r1"])";
  auto our_token = verifier->verify(signEd(header("EdDSA", "ed"), p.json()));
  ASSERT_TRUE(our_token);
  EXPECT_EQ((*our_token)->claims.roles, (std::vector<std::string>{"r1"}));
  EXPECT_EQ(verifier->verify(external(p)).error(), VerifyError::kBadClaim);
  p.extra = R"("groups":["g1",["nested"]])";
  EXPECT_EQ(verifier->verify(external(p)).error(), VerifyError::kBadClaim);
  p.extra = R"("groups":[])";
  auto no_groups = verifier->verify(external(p));
  ASSERT_TRUE(no_groups);
  EXPECT_TRUE((*no_groups)->claims.roles.empty());
}

TEST_F(VerifierTest, ClaimTypeErrorsComeAfterTheSignature) {
  // A forged token is refused for its signature whatever its claims hold.
  Payload p = payload_;
  p.sub = "";
  p.extra = R"("sub":{"x":1})";
  const std::string token = signEd(header("EdDSA", "ed"), p.json());
  EXPECT_EQ(rejected(token), VerifyError::kBadClaim);
  std::string forged = token;
  forged.back() = forged.back() == 'A' ? 'Q' : 'A';
  EXPECT_EQ(rejected(forged), VerifyError::kBadSignature);
}

TEST_F(VerifierTest, AudienceRules) {
  Payload p = payload_;
  p.aud = "";
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kMissingAudience);
  p.aud = "\"web\"";
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kWrongAudience);
  p.aud = R"(["web","api"])";
  EXPECT_TRUE(verifier_->verify(signEd(header("EdDSA", "ed"), p.json())));
  p.aud = "[]";
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kMissingAudience);
  p.aud = "[1]";
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kBadClaim);
  // The external issuer accepts either of its audiences.
  p = payload_;
  p.aud = "\"other-api\"";
  EXPECT_TRUE(verifier_->verify(external(p)));
}

TEST_F(VerifierTest, TimeRulesWithLeeway) {
  const std::int64_t now = toNumericDate(clock_.systemTime());
  Payload p = payload_;
  p.exp.reset();
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kMissingExpiry);
  p.exp = now - 31;
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kExpired);
  p.exp = now - 29;
  EXPECT_TRUE(verifier_->verify(signEd(header("EdDSA", "ed"), p.json())));
  p = payload_;
  p.nbf = now + 31;
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kNotYetValid);
  p.nbf = now + 29;
  EXPECT_TRUE(verifier_->verify(signEd(header("EdDSA", "ed"), p.json())));
  p = payload_;
  p.iat = now + 31;
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kIssuedInFuture);
  p = payload_;
  p.extra = R"("exp":"soon")";
  p.exp.reset();
  EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kBadClaim);
}

TEST_F(VerifierTest, RequiredClaimsForOurIssuer) {
  for (auto clear : {&Payload::sub, &Payload::jti, &Payload::sid}) {
    Payload p = payload_;
    p.*clear = "";
    EXPECT_EQ(rejected(signEd(header("EdDSA", "ed"), p.json())), VerifyError::kMissingClaim);
  }
  // The external issuer requires none of them.
  Payload p = payload_;
  p.sub = p.jti = p.sid = "";
  EXPECT_TRUE(verifier_->verify(external(p)));
}

TEST_F(VerifierTest, CountsDecisions) {
  ASSERT_TRUE(verifier_->verify(good()));
  EXPECT_FALSE(verifier_->verify("x.y"));
  EXPECT_FALSE(verifier_->verify("x.y"));
  const VerifierStats stats = verifier_->stats();
  EXPECT_EQ(stats.verified, 1u);
  EXPECT_EQ(stats.rejected[static_cast<int>(VerifyError::kMalformed)], 2u);
}

TEST_F(VerifierTest, CacheReturnsTheSameResult) {
  const std::string token = good();
  auto first = verifier_->verify(token);
  ASSERT_TRUE(first);
  auto second = verifier_->verify(token);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->get(), second->get());  // the very same object
  VerifierStats stats = verifier_->stats();
  EXPECT_EQ(stats.cache_hits, 1u);
  EXPECT_EQ(stats.cache_misses, 1u);
  EXPECT_EQ(stats.cache_entries, 1u);
  EXPECT_EQ(stats.verified, 2u);
  // One flipped byte is a different token: verified from scratch, and rejected.
  std::string altered = token;
  altered[token.find('.') + 5] ^= 1;
  EXPECT_FALSE(verifier_->verify(altered));
  // Failures are not cached.
  EXPECT_EQ(verifier_->stats().cache_entries, 1u);
}

TEST_F(VerifierTest, CacheEntriesEndAtExpiry) {
  const std::string token = good();  // exp = now + 600, leeway 30
  ASSERT_TRUE(verifier_->verify(token));
  clock_.advance(seconds(629));
  EXPECT_TRUE(verifier_->verify(token));
  EXPECT_EQ(verifier_->stats().cache_hits, 1u);
  clock_.advance(seconds(1));
  EXPECT_EQ(rejected(token), VerifyError::kExpired);
  EXPECT_EQ(verifier_->stats().cache_entries, 0u);
}

TEST_F(VerifierTest, CacheEntriesAreEvictedWhenTheirKeyLeaves) {
  const std::string ed_token = good();
  const std::string ec_token = signEc(header("ES256", "ec"), payload_.json());
  ASSERT_TRUE(verifier_->verify(ed_token));
  ASSERT_TRUE(verifier_->verify(ec_token));
  ASSERT_TRUE(verifier_->verify(ed_token));
  EXPECT_EQ(verifier_->stats().cache_hits, 1u);
  // The ed key is removed (e.g. compromised); ec stays.
  ours_->set(KeySet::create({entry("ec", test::publicKey(ec_.get(), Algorithm::kES256)),
                             entry("hs", test::hmacKey(secret_))})
                 .value());
  EXPECT_EQ(rejected(ed_token), VerifyError::kUnknownKid);
  EXPECT_TRUE(verifier_->verify(ec_token));
  const VerifierStats stats = verifier_->stats();
  EXPECT_EQ(stats.cache_entries, 1u);
  EXPECT_GE(stats.cache_evictions, 1u);
  // ed, ec, ed (cached), ec (cached) verified; the ed hit found after the swap is not counted.
  EXPECT_EQ(stats.verified, 4u);
}

TEST_F(VerifierTest, CacheEntriesAreEvictedWhenAKidGetsANewKey) {
  const std::string token = good();
  ASSERT_TRUE(verifier_->verify(token));
  auto replacement = test::generateEd25519();
  ours_->set(
      KeySet::create({entry("ed", test::publicKey(replacement.get(), Algorithm::kEdDSA))}).value());
  EXPECT_EQ(rejected(token), VerifyError::kBadSignature);
}

TEST_F(VerifierTest, CacheEntriesEndWhenTheKeysVerifyWindowCloses) {
  const std::string token = good();
  ASSERT_TRUE(verifier_->verify(token));
  // The same key object, now retired with a verify window (as KeyRing::rotate publishes it).
  KeyEntry retired = *ours_->keys()->find("ed");
  retired.verify_until = clock_.systemTime() + seconds(10);
  ours_->set(KeySet::create({retired}).value());
  EXPECT_TRUE(verifier_->verify(token));
  EXPECT_EQ(verifier_->stats().cache_hits, 1u);
  clock_.advance(seconds(10));
  EXPECT_EQ(rejected(token), VerifyError::kUnknownKid);
}

TEST_F(VerifierTest, CacheIsBounded) {
  rebuild(/*cache_capacity=*/4);
  for (int i = 0; i < 40; ++i) {
    Payload p = payload_;
    p.jti = "j" + std::to_string(i);
    ASSERT_TRUE(verifier_->verify(signHs(header("HS256", "hs"), p.json(), secret_)));
  }
  const VerifierStats stats = verifier_->stats();
  EXPECT_LE(stats.cache_entries, 16u);  // 4 over 16 shards: at most one per shard
  EXPECT_GE(stats.cache_evictions, 24u);
}

TEST_F(VerifierTest, CacheCanBeDisabled) {
  rebuild(/*cache_capacity=*/0);
  const std::string token = good();
  auto a = verifier_->verify(token);
  auto b = verifier_->verify(token);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->get(), b->get());
  EXPECT_EQ(verifier_->stats().cache_hits, 0u);
}

TEST_F(VerifierTest, ConcurrentVerification) {
  std::vector<std::string> tokens;
  for (int i = 0; i < 8; ++i) {
    Payload p = payload_;
    p.jti = "j" + std::to_string(i);
    tokens.push_back(signHs(header("HS256", "hs"), p.json(), secret_));
  }
  tokens.push_back(good());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string& token = tokens[(i + t) % tokens.size()];
        auto result = verifier_->verify(token);
        if (!result || (*result)->claims.sub != "user-1") {
          ++failures;
        }
        if (i == 100 && t == 0) {
          ours_->set(ours_->keys());  // a new snapshot pointer triggers a sweep
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(verifier_->stats().verified, 800u);
}

TEST_F(VerifierTest, CreateRefusesBadConfiguration) {
  VerifierConfig empty;
  EXPECT_THROW(Verifier::create(empty, clock_), std::invalid_argument);
  IssuerConfig issuer;
  issuer.issuer = "i";
  issuer.keys = ours_;
  VerifierConfig no_audience;
  no_audience.issuers = {issuer};
  EXPECT_THROW(Verifier::create(no_audience, clock_), std::invalid_argument);
  issuer.audiences = {"a"};
  issuer.required_claims = {"email"};
  VerifierConfig unknown_claim;
  unknown_claim.issuers = {issuer};
  EXPECT_THROW(Verifier::create(unknown_claim, clock_), std::invalid_argument);
  issuer.required_claims = {};
  VerifierConfig twice;
  twice.issuers = {issuer, issuer};
  EXPECT_THROW(Verifier::create(twice, clock_), std::invalid_argument);
  IssuerConfig any = issuer;
  any.accept_any_issuer = true;
  VerifierConfig any_with_others;
  any_with_others.issuers = {any, issuer};
  any_with_others.issuers[1].issuer = "j";
  EXPECT_THROW(Verifier::create(any_with_others, clock_), std::invalid_argument);
}

TEST_F(VerifierTest, AnyIssuerAndAudienceForDebugging) {
  VerifierConfig config;
  IssuerConfig any;
  any.accept_any_issuer = true;
  any.accept_any_audience = true;
  any.typ = TypPolicy::kOptional;
  any.keys = ours_;
  config.issuers = {any};
  auto verifier = Verifier::create(config, clock_);
  Payload p = payload_;
  p.iss = "whoever";
  p.aud = "\"whatever\"";
  EXPECT_TRUE(verifier->verify(signEd(header("EdDSA", "ed"), p.json())));
  p.aud = "";
  EXPECT_EQ(verifier->verify(signEd(header("EdDSA", "ed"), p.json())).error(),
            VerifyError::kMissingAudience);
}

TEST_F(VerifierTest, SignatureOnlyChecksTheJwsLayer) {
  const auto keys = ours_->keys();
  // Any payload, even an expired token of a foreign issuer with no typ.
  const std::string token = signEd(header("EdDSA", "ed", ""), "plain bytes");
  auto jws = verifySignatureOnly(token, *keys);
  ASSERT_TRUE(jws);
  EXPECT_EQ(jws->payload, "plain bytes");
  EXPECT_EQ(verifySignatureOnly(signEd(header("EdDSA", ""), "x"), *keys).error(),
            VerifyError::kMissingKid);
  EXPECT_EQ(verifySignatureOnly(signEd(header("EdDSA", "zz"), "x"), *keys).error(),
            VerifyError::kUnknownKid);
  EXPECT_EQ(verifySignatureOnly(signEd(header("ES256", "ed"), "x"), *keys).error(),
            VerifyError::kAlgMismatch);
  EXPECT_EQ(verifySignatureOnly(signEd(header("none", "ed"), "x"), *keys).error(),
            VerifyError::kAlgNone);
}

class FileJwksTest : public VerifierTest {
 protected:
  FileJwksTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("bulwark-jwks-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~FileJwksTest() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(dir_ / "jwks.json") << text; }
  static FileJwksConfig config(std::filesystem::path path) {
    FileJwksConfig config;
    config.path = std::move(path);
    return config;
  }
  std::filesystem::path dir_;
};

TEST_F(FileJwksTest, UnknownKidRereadsTheFileAtMostOncePerInterval) {
  auto one = KeySet::create({entry("rs", test::publicKey(rsa_, Algorithm::kRS256))}).value();
  write(one->jwks());
  auto source = FileJwksSource::create(config(dir_ / "jwks.json"), clock_);
  ASSERT_TRUE(source) << source.error().message;
  VerifierConfig config;
  IssuerConfig idp;
  idp.issuer = kIdp;
  idp.audiences = {"api"};
  idp.typ = TypPolicy::kAccessTokenOrJwt;
  idp.keys = *source;
  config.issuers = {idp};
  auto verifier = Verifier::create(config, clock_);
  ASSERT_TRUE(verifier->verify(external(payload_)));

  // The provider rotates: a new ES256 key appears in the file.
  auto ec = test::publicKey(ec_.get(), Algorithm::kES256);
  write(KeySet::create({entry("rs", test::publicKey(rsa_, Algorithm::kRS256)), entry("new", ec)})
            .value()
            ->jwks());
  Payload p = payload_;
  p.iss = kIdp;
  const std::string token = signEc(header("ES256", "new", "JWT"), p.json());
  // Within 30 s of the last read: not re-read.
  EXPECT_EQ(verifier->verify(token).error(), VerifyError::kUnknownKid);
  clock_.advance(seconds(30));
  EXPECT_TRUE(verifier->verify(token));
  // A made-up kid right after: no new read (rate limit), still unknown.
  write("garbage");
  EXPECT_EQ(verifier->verify(signEc(header("ES256", "made-up", "JWT"), p.json())).error(),
            VerifyError::kUnknownKid);
  // Later, the garbage file is refused and the previous keys stay.
  clock_.advance(seconds(31));
  EXPECT_EQ(verifier->verify(signEc(header("ES256", "made-up", "JWT"), p.json())).error(),
            VerifyError::kUnknownKid);
  EXPECT_TRUE(verifier->verify(token));
}

TEST_F(FileJwksTest, SharedSecretsNeedAPrivateFile) {
  write("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"s\",\"alg\":\"HS256\",\"k\":\"" +
        b64(std::string(32, 'k')) + "\"}]}");
  const auto path = dir_ / "jwks.json";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto refused = FileJwksSource::create(config(path), clock_);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("fix: chmod 600 " + path.string()), std::string::npos)
      << refused.error().message;
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(FileJwksSource::create(config(path), clock_));
  // Public keys only: any mode.
  write(KeySet::create({entry("rs", test::publicKey(rsa_, Algorithm::kRS256))}).value()->jwks());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_TRUE(FileJwksSource::create(config(path), clock_));
}

TEST_F(FileJwksTest, CreateFailsWithTheReason) {
  write("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"s\",\"k\":\"" + b64(std::string(32, 'k')) + "\"}]}");
  auto source = FileJwksSource::create(config(dir_ / "jwks.json"), clock_);
  ASSERT_FALSE(source);
  EXPECT_NE(source.error().message.find("jwks.json"), std::string::npos);
  EXPECT_NE(source.error().message.find("alg"), std::string::npos);
  auto missing = FileJwksSource::create(config(dir_ / "absent.json"), clock_);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("absent.json"), std::string::npos);
}

}  // namespace
}  // namespace bulwark::jwt

// The session service minting real JWTs through the signer, checked by the gateway's verifier,
// and the verified claims driving revocation.

#include "auth/jwt_bridge.h"

#include <gtest/gtest.h>

#include "fakes.h"
#include "jwt/verifier.h"
#include "support/recording_sink.h"

namespace bulwark::auth {
namespace {

class JwtBridgeTest : public ::testing::Test {
 protected:
  JwtBridgeTest() {
    jwt::KeyEntry entry;
    entry.kid = "k1";
    entry.key = crypto::SignatureKey::generate(crypto::Algorithm::kEdDSA, random_).value();
    keys_ = jwt::staticKeySource(jwt::KeySet::create({entry}).value());
    jwt::SignerConfig signer;
    signer.issuer = "https://bulwark.test";
    signer.audiences = {"api"};
    issuer_ = makeJwtAccessTokenIssuer(jwt::TokenSigner::create(signer, keys_, clock_, random_));
    jwt::VerifierConfig verifier;
    jwt::IssuerConfig ours;
    ours.issuer = "https://bulwark.test";
    ours.audiences = {"api"};
    ours.keys = keys_;
    ours.required_claims = {"sub", "jti", "sid", "iat"};
    verifier.issuers = {ours};
    verifier_ = jwt::Verifier::create(verifier, clock_);
    sessions_ = SessionService::create({}, {session_store_, users_, revocations_, issuer_, nullptr},
                                       clock_, random_);
    user_.id = "user-1";
    user_.username = "alice";
    user_.password_hash = "x";
    user_.roles = {"admin", "user"};
    EXPECT_TRUE(users_->create(user_));
  }

  core::SimulatedClock clock_;
  testing::SequenceRandom random_;
  jwt::KeySourcePtr keys_;
  AccessTokenIssuerPtr issuer_;
  jwt::VerifierPtr verifier_;
  store::UserStorePtr users_ = store::makeMemoryUserStore();
  store::SessionStorePtr session_store_ = store::makeMemorySessionStore();
  store::RevocationStorePtr revocations_ = store::makeMemoryRevocationStore();
  SessionServicePtr sessions_;
  store::User user_;
  const RequestContext context_{"203.0.113.7", "req-1"};
};

TEST_F(JwtBridgeTest, MintedTokensVerifyWithTheSessionsClaims) {
  auto grant = sessions_->start(user_, context_);
  ASSERT_TRUE(grant);
  auto verified = verifier_->verify(grant->access_token);
  ASSERT_TRUE(verified);
  const auto& claims = (*verified)->claims;
  EXPECT_EQ(claims.sub, "user-1");
  EXPECT_EQ(claims.sid, grant->session_id);
  EXPECT_EQ(claims.roles, (std::vector<std::string>{"admin", "user"}));
  EXPECT_FALSE(claims.jti.empty());
  ASSERT_TRUE(claims.exp && claims.iat);
  EXPECT_EQ(*claims.exp - *claims.iat, std::chrono::minutes(15));
  EXPECT_EQ(grant->expires_in, std::chrono::minutes(15));
  EXPECT_FALSE(sessions_->isRevoked(accessTokenClaims(claims)));
}

TEST_F(JwtBridgeTest, LogoutWithVerifiedClaimsRevokesTheToken) {
  auto grant = sessions_->start(user_, context_);
  const auto claims = accessTokenClaims((*verifier_->verify(grant->access_token))->claims);
  ASSERT_TRUE(sessions_->logout(claims, "", context_));
  EXPECT_TRUE(sessions_->isRevoked(claims));
  // The signature is still fine: revocation is the gateway's second check, on every request.
  EXPECT_TRUE(verifier_->verify(grant->access_token));
}

TEST_F(JwtBridgeTest, RefreshedTokensVerifyToo) {
  auto grant = sessions_->start(user_, context_);
  clock_.advance(std::chrono::minutes(20));
  EXPECT_FALSE(verifier_->verify(grant->access_token));  // expired
  auto refreshed = sessions_->refresh(grant->refresh_token, context_);
  ASSERT_TRUE(refreshed);
  auto verified = verifier_->verify(refreshed->access_token);
  ASSERT_TRUE(verified);
  EXPECT_EQ((*verified)->claims.sid, grant->session_id);
}

}  // namespace
}  // namespace bulwark::auth

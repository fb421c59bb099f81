// The gateway's Authenticator on the real signer and verifier: who the token is, why it is
// refused (the verifier's stable names), revocation on every request, fail closed when the
// revocation state is not current.

#include "auth/token_authenticator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <tuple>

#include "auth/jwt_bridge.h"
#include "fakes.h"
#include "jwt/signer.h"

namespace bulwark::auth {
namespace {

using namespace std::chrono_literals;

// The memory store, with isCurrent() under the test's control (a shared store that lost its feed).
class SwitchableRevocations final : public store::RevocationStore {
 public:
  store::Result<void> revoke(const store::Revocation& revocation) override {
    return inner_->revoke(revocation);
  }
  bool isRevoked(std::string_view jti, std::string_view sid, std::string_view user,
                 core::SystemTime issued_at) const override {
    return inner_->isRevoked(jti, sid, user, issued_at);
  }
  store::Result<std::size_t> sync(core::SystemTime now) override { return inner_->sync(now); }
  std::size_t size() const override { return inner_->size(); }
  bool isCurrent() const override { return current.load(); }
  std::atomic<bool> current{true};

 private:
  store::RevocationStorePtr inner_ = store::makeMemoryRevocationStore();
};

class TokenAuthenticatorTest : public ::testing::Test {
 protected:
  TokenAuthenticatorTest() {
    jwt::KeyEntry entry;
    entry.kid = "k1";
    entry.key = crypto::SignatureKey::generate(crypto::Algorithm::kEdDSA, random_).value();
    keys_ = jwt::staticKeySource(jwt::KeySet::create({entry}).value());
    const auto& keys = keys_;
    signer_ = jwt::TokenSigner::create(signerConfig(), keys, clock_, random_);
    auto issuer = makeJwtAccessTokenIssuer(jwt::TokenSigner::create(signerConfig(), keys, clock_,
                                                                    random_));
    jwt::IssuerConfig ours;
    ours.issuer = "bulwark";
    ours.audiences = {"bulwark"};
    ours.keys = keys;
    ours.required_claims = {"sub", "jti", "sid", "iat"};
    jwt::VerifierConfig verifier;
    verifier.issuers = {ours};
    sessions_ = SessionService::create({}, {session_store_, users_, revocations_, issuer, nullptr},
                                       clock_, random_);
    authenticator_ =
        makeTokenAuthenticator(jwt::Verifier::create(verifier, clock_), sessions_, revocations_);
    user_.id = "user-1";
    user_.username = "alice";
    user_.password_hash = "x";
    user_.roles = {"admin", "user"};
    EXPECT_TRUE(users_->create(user_));
  }

  static jwt::SignerConfig signerConfig() {
    jwt::SignerConfig signer;
    signer.issuer = "bulwark";
    signer.audiences = {"bulwark"};
    return signer;
  }

  core::SimulatedClock clock_;
  testing::SequenceRandom random_;
  jwt::KeySourcePtr keys_;
  jwt::TokenSignerPtr signer_;
  store::UserStorePtr users_ = store::makeMemoryUserStore();
  store::SessionStorePtr session_store_ = store::makeMemorySessionStore();
  std::shared_ptr<SwitchableRevocations> revocations_ = std::make_shared<SwitchableRevocations>();
  SessionServicePtr sessions_;
  AuthenticatorPtr authenticator_;
  store::User user_;
  const RequestContext context_{"203.0.113.7", "req-1"};
};

TEST_F(TokenAuthenticatorTest, AValidTokenNamesItsPrincipal) {
  auto grant = sessions_->start(user_, context_).value();
  for (int i = 0; i < 2; ++i) {  // verified, then from the cache
    auto outcome = authenticator_->authenticate(grant.access_token);
    ASSERT_EQ(outcome.status, AuthStatus::kAuthenticated) << outcome.reason;
    EXPECT_EQ(outcome.principal.subject, "user-1");
    EXPECT_EQ(outcome.principal.roles, (std::vector<std::string>{"admin", "user"}));
    EXPECT_EQ(outcome.principal.session_id, grant.session_id);
    EXPECT_FALSE(outcome.principal.token_id.empty());
    EXPECT_EQ(outcome.principal.issuer, "bulwark");
  }
}

TEST_F(TokenAuthenticatorTest, RejectionsCarryTheVerifiersReason) {
  auto grant = sessions_->start(user_, context_).value();
  EXPECT_EQ(authenticator_->authenticate("x.y.z").reason, "bad_base64");
  EXPECT_EQ(authenticator_->authenticate("nonsense").reason, "malformed");
  auto tampered = grant.access_token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(authenticator_->authenticate(tampered).status, AuthStatus::kInvalidToken);
  clock_.advance(16min);
  auto expired = authenticator_->authenticate(grant.access_token);
  EXPECT_EQ(expired.status, AuthStatus::kInvalidToken);
  EXPECT_EQ(expired.reason, "expired");
}

TEST_F(TokenAuthenticatorTest, ClaimsThatCouldForgeUpstreamHeadersAreRefused) {
  // The principal travels in X-Bulwark-* header fields; an external issuer picks these values.
  const auto outcome = [&](std::string subject, std::string sid, std::vector<std::string> roles) {
    jwt::AccessTokenRequest request;
    request.subject = std::move(subject);
    request.session_id = std::move(sid);
    request.roles = std::move(roles);
    return authenticator_->authenticate(signer_->sign(request).value().token);
  };
  EXPECT_EQ(outcome("user-1", "s-1", {"user"}).status, AuthStatus::kAuthenticated);
  for (const auto& [subject, sid, roles] :
       std::vector<std::tuple<std::string, std::string, std::vector<std::string>>>{
           {"user-1\r\nX-Bulwark-Roles: admin", "s-1", {"user"}},
           {"user-1\n", "s-1", {"user"}},
           {"user-1", "s-1\r\nX-Injected: 1", {"user"}},
           {"user-1", "s-1", {"user\r\nX-Bulwark-Roles: admin"}},
           {"user-1", "s-1", {"user,admin"}},
           {"user-1", "s-1", {""}},
           {std::string("user-1\0x", 8), "s-1", {"user"}}}) {
    const AuthOutcome refused = outcome(subject, sid, roles);
    EXPECT_EQ(refused.status, AuthStatus::kInvalidToken) << subject << " " << sid;
    EXPECT_EQ(refused.reason, "unsafe_claim");
  }
}

TEST_F(TokenAuthenticatorTest, RevocationIsCheckedOnEveryRequestCachedOrNot) {
  auto grant = sessions_->start(user_, context_).value();
  ASSERT_EQ(authenticator_->authenticate(grant.access_token).status, AuthStatus::kAuthenticated);
  ASSERT_TRUE(sessions_->logoutAll("user-1", "user-1", "logout_all", context_));
  auto revoked = authenticator_->authenticate(grant.access_token);
  EXPECT_EQ(revoked.status, AuthStatus::kInvalidToken);
  EXPECT_EQ(revoked.reason, "revoked");
}

TEST_F(TokenAuthenticatorTest, AnUnknownRevocationStateFailsClosed) {
  auto grant = sessions_->start(user_, context_).value();
  revocations_->current = false;
  auto outcome = authenticator_->authenticate(grant.access_token);
  EXPECT_EQ(outcome.status, AuthStatus::kUnavailable);
  EXPECT_EQ(outcome.reason, "revocation_state_unknown");
  // A token that fails verification is still simply invalid.
  EXPECT_EQ(authenticator_->authenticate("nonsense").status, AuthStatus::kInvalidToken);
  revocations_->current = true;
  EXPECT_EQ(authenticator_->authenticate(grant.access_token).status, AuthStatus::kAuthenticated);
}

TEST(TokenAuthenticator, RefusesMissingDependencies) {
  EXPECT_THROW(makeTokenAuthenticator(nullptr, nullptr, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace bulwark::auth

// RemoteJwksSource with a scripted fetcher and a simulated clock: the test plays the fetch
// thread (refreshIfDue) and the I/O threads (onUnknownKid, verify), so every step is
// deterministic. The same source over a real HTTPS server: tests/integration/jwks_https_test.cc.

#include "jwt/remote_jwks_source.h"

#include <gtest/gtest.h>

#include <deque>

#include "jwt/verifier.h"
#include "support/jwt_craft.h"

namespace bulwark::jwt {
namespace {

using crypto::Algorithm;
using std::chrono::seconds;

constexpr std::string_view kIdp = "https://idp.test";

KeyEntry entry(std::string kid, crypto::SignatureKeyPtr key) {
  KeyEntry e;
  e.kid = std::move(kid);
  e.key = std::move(key);
  return e;
}

class RemoteJwksTest : public ::testing::Test {
 protected:
  RemoteJwksTest() {
    RemoteJwksConfig config;
    config.url = "https://idp.test/certs";
    config.refetch_interval = seconds(30);
    config.refresh_interval = seconds(300);
    source_ = RemoteJwksSource::create(
        config,
        [this]() -> KeyResult<std::string> {
          ++fetches_;
          if (responses_.empty()) {
            return KeyError{"connection refused"};
          }
          auto next = std::move(responses_.front());
          responses_.pop_front();
          return next;
        },
        [this] { ++wakes_; }, clock_);
  }

  // The JWKS text publishing `kids` (each an ES256 key of its own, or the shared RSA key).
  std::string jwks(std::initializer_list<std::string> kids) {
    std::vector<KeyEntry> entries;
    for (const std::string& kid : kids) {
      entries.push_back(entry(kid, kid == "rs" ? test::publicKey(rsa_, Algorithm::kRS256)
                                               : test::publicKey(ecKey(kid), Algorithm::kES256)));
    }
    return KeySet::create(std::move(entries)).value()->jwks();
  }

  EVP_PKEY* ecKey(const std::string& kid) {
    auto& key = ec_keys_[kid];
    if (!key) {
      key = test::generateP256();
    }
    return key.get();
  }

  void respond(KeyResult<std::string> response) { responses_.push_back(std::move(response)); }
  void respond(std::string text) {
    responses_.emplace_back(boost::system::in_place_value, std::move(text));
  }

  std::string token(const std::string& kid) {
    const std::int64_t now = toNumericDate(clock_.systemTime());
    const std::string header = R"({"alg":"ES256","typ":"at+jwt","kid":")" + kid + "\"}";
    const std::string payload = R"({"iss":")" + std::string(kIdp) + R"(","aud":"api","sub":"u",)" +
                                "\"exp\":" + std::to_string(now + 600) + "}";
    return test::craft(header, payload,
                       [&](std::string_view in) { return test::opensslSign(ecKey(kid), in); });
  }

  VerifierPtr verifier() {
    IssuerConfig idp;
    idp.issuer = kIdp;
    idp.audiences = {"api"};
    idp.keys = source_;
    VerifierConfig config;
    config.issuers = {idp};
    return Verifier::create(config, clock_);
  }

  core::SimulatedClock clock_;
  EVP_PKEY* rsa_ = test::sharedRsa2048();
  std::map<std::string, test::Pkey> ec_keys_;
  std::deque<KeyResult<std::string>> responses_;
  int fetches_ = 0;
  int wakes_ = 0;
  RemoteJwksSourcePtr source_;
};

TEST_F(RemoteJwksTest, StartsEmptyAndPublishesWhatItFetches) {
  EXPECT_TRUE(source_->keys()->entries().empty());
  EXPECT_EQ(source_->untilDue(), core::MonotonicTime::duration::zero());
  respond(jwks({"a", "rs"}));
  ASSERT_TRUE(source_->refreshIfDue());
  EXPECT_NE(source_->keys()->find("a"), nullptr);
  EXPECT_EQ(source_->keys()->find("rs")->key->algorithm(), Algorithm::kRS256);
  const RemoteJwksStats stats = source_->stats();
  EXPECT_EQ(stats.fetches, 1u);
  EXPECT_EQ(stats.key_set_changes, 1u);
  EXPECT_EQ(stats.keys, 2u);
  EXPECT_EQ(stats.last_success, clock_.systemTime());
}

TEST_F(RemoteJwksTest, AnUnknownKidFailsAtOnceAndStartsOneFetchPerInterval) {
  respond(jwks({"a"}));
  ASSERT_TRUE(source_->refresh());
  const VerifierPtr verifier = this->verifier();
  ASSERT_TRUE(verifier->verify(token("a")));

  // The provider rotates in "b". Right after a fetch, an unknown kid may not start another.
  EXPECT_EQ(verifier->verify(token("b")).error(), VerifyError::kUnknownKid);
  EXPECT_EQ(wakes_, 0);
  clock_.advance(seconds(30));
  EXPECT_EQ(verifier->verify(token("b")).error(), VerifyError::kUnknownKid);  // never waits
  EXPECT_EQ(wakes_, 1);
  // A flood of made-up kids before the fetch thread runs: no second request.
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(source_->onUnknownKid("made-up-" + std::to_string(i)));
  }
  EXPECT_EQ(wakes_, 1);
  respond(jwks({"a", "b"}));
  EXPECT_TRUE(source_->refreshIfDue());
  EXPECT_EQ(fetches_, 2);
  EXPECT_TRUE(verifier->verify(token("b")));
  // Now rate-limited again: made-up kids cannot make the fetch thread call the provider.
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(verifier->verify(token("made-up-" + std::to_string(i % 3))).error(),
              VerifyError::kUnknownKid);
  }
  EXPECT_FALSE(source_->refreshIfDue());
  EXPECT_EQ(fetches_, 2);
  EXPECT_EQ(wakes_, 1);
  const RemoteJwksStats stats = source_->stats();
  EXPECT_EQ(stats.unknown_kid_fetches, 1u);
  EXPECT_GE(stats.unknown_kid_throttled, 1000u);
}

TEST_F(RemoteJwksTest, AFailedFetchKeepsTheLastGoodKeys) {
  respond(jwks({"a"}));
  ASSERT_TRUE(source_->refresh());
  const KeySetPtr good = source_->keys();
  const std::string oct = R"({"keys":[{"kty":"oct","kid":"s","alg":"HS256","k":")" +
                          test::b64(std::string(32, 'k')) + "\"}]}";
  for (KeyResult<std::string> bad :
       {KeyResult<std::string>(KeyError{"HTTP status 503"}),
        KeyResult<std::string>(boost::system::in_place_value, "<html>login</html>"),
        KeyResult<std::string>(boost::system::in_place_value, R"({"keys":[]})"),
        KeyResult<std::string>(boost::system::in_place_value, R"({"keys":[{"kty":"EC"}]})"),
        KeyResult<std::string>(boost::system::in_place_value, oct)}) {
    respond(std::move(bad));
    EXPECT_FALSE(source_->refresh());
    EXPECT_EQ(source_->keys(), good);
  }
  EXPECT_EQ(source_->stats().fetch_failures, 5u);
  // After a failure the next attempt is due after refetch_interval, not refresh_interval.
  EXPECT_EQ(source_->untilDue(), seconds(30));
  clock_.advance(seconds(30));
  respond(jwks({"a", "b"}));
  EXPECT_TRUE(source_->refreshIfDue());
  EXPECT_NE(source_->keys()->find("b"), nullptr);
}

TEST_F(RemoteJwksTest, SymmetricKeysAreNeverTakenFromAUrl) {
  // A secret published at a URL is no secret: anyone could sign with it.
  const std::string text = R"({"keys":[{"kty":"oct","kid":"s","alg":"HS256","k":")" +
                           test::b64(std::string(32, 'k')) + "\"}," +
                           jwks({"rs"}).substr(9);  // {"keys":[ ... ]}
  respond(text);
  ASSERT_TRUE(source_->refresh());
  EXPECT_EQ(source_->keys()->find("s"), nullptr);
  EXPECT_NE(source_->keys()->find("rs"), nullptr);
}

TEST_F(RemoteJwksTest, PeriodicRefreshKeepsUnchangedKeysAndTheVerifiersCache) {
  respond(jwks({"a"}));
  ASSERT_TRUE(source_->refresh());
  const VerifierPtr verifier = this->verifier();
  const std::string a = token("a");
  ASSERT_TRUE(verifier->verify(a));
  EXPECT_FALSE(source_->refreshIfDue());
  clock_.advance(seconds(299));
  EXPECT_FALSE(source_->refreshIfDue());
  clock_.advance(seconds(1));
  const KeySetPtr before = source_->keys();
  respond(jwks({"a"}));  // the same document
  EXPECT_TRUE(source_->refreshIfDue());
  EXPECT_EQ(source_->keys(), before);
  clock_.advance(seconds(300));
  respond(jwks({"a", "b"}));  // a key added: a new set, but "a" is the same key object
  EXPECT_TRUE(source_->refreshIfDue());
  EXPECT_NE(source_->keys(), before);
  EXPECT_EQ(source_->keys()->find("a")->key, before->find("a")->key);
  ASSERT_TRUE(verifier->verify(a));
  const VerifierStats stats = verifier->stats();
  EXPECT_EQ(stats.cache_misses, 1u);  // verified once, then served from the cache throughout
  EXPECT_EQ(stats.cache_hits, 1u);
  EXPECT_EQ(source_->stats().key_set_changes, 2u);
}

TEST_F(RemoteJwksTest, AKeyRemovedByTheProviderStopsVerifying) {
  respond(jwks({"a", "b"}));
  ASSERT_TRUE(source_->refresh());
  const VerifierPtr verifier = this->verifier();
  const std::string a = token("a");
  ASSERT_TRUE(verifier->verify(a));
  clock_.advance(seconds(300));
  respond(jwks({"b"}));
  EXPECT_TRUE(source_->refreshIfDue());
  EXPECT_EQ(verifier->verify(a).error(), VerifyError::kUnknownKid);  // cached, yet refused
}

}  // namespace
}  // namespace bulwark::jwt

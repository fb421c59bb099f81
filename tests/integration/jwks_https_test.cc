// External issuers whose JWKS is served by a real HTTPS server on 127.0.0.1 (certificates made at
// test time): auth::ExternalIssuers with its fetch thread, the verifier built from it, and the
// provider misbehaving (rotation, outage, oversized or untrusted answers). The clock is
// simulated, so the rate limit and the refresh schedule move only when the test says.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "auth/external_issuers.h"
#include "jwt/key_set.h"
#include "support/jwt_craft.h"
#include "support/test_https_server.h"
#include "support/test_pki.h"

namespace bulwark::auth {
namespace {

using bulwark::testing::TestHttpsServer;
using bulwark::testing::TestResponse;
using crypto::Algorithm;
using namespace std::chrono_literals;

constexpr std::string_view kIdp = "https://idp.test/realms/main";

const bulwark::testing::TestPki& pki() {
  static const auto pki = bulwark::testing::makeTestPki(
      (std::filesystem::temp_directory_path() / ("bulwark-jwks-pki-" + std::to_string(::getpid())))
          .string());
  return pki;
}

// Waits for `done` (checked every few milliseconds) at most `timeout`: for work another thread
// finishes after the event the test can observe.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

class JwksHttpsTest : public ::testing::Test {
 protected:
  JwksHttpsTest() : server_(pki().server_cert_file, pki().server_key_file) { publish({"a"}); }

  // The provider's JWKS now lists these kids (ES256 keys of their own).
  void publish(std::initializer_list<std::string> kids) {
    std::vector<jwt::KeyEntry> entries;
    for (const std::string& kid : kids) {
      jwt::KeyEntry e;
      e.kid = kid;
      e.key = test::publicKey(key(kid), Algorithm::kES256);
      entries.push_back(std::move(e));
    }
    server_.setResponse({200, jwt::KeySet::create(std::move(entries)).value()->jwks()});
  }

  EVP_PKEY* key(const std::string& kid) {
    auto& key = keys_[kid];
    if (!key) {
      key = test::generateP256();
    }
    return key.get();
  }

  std::string token(const std::string& kid, std::string_view aud = "api") {
    const std::int64_t now = jwt::toNumericDate(clock_.systemTime());
    const std::string header = R"({"alg":"ES256","typ":"JWT","kid":")" + kid + "\"}";
    const std::string payload = R"({"iss":")" + std::string(kIdp) + R"(","aud":")" +
                                std::string(aud) + R"(","sub":"idp-user","exp":)" +
                                std::to_string(now + 600) + "}";
    return test::craft(header, payload,
                       [&](std::string_view in) { return test::opensslSign(key(kid), in); });
  }

  void start(std::string ca_file = pki().ca_file, std::size_t max_jwks_bytes = 1 << 20) {
    core::ExternalIssuerConfig idp;
    idp.issuer = kIdp;
    idp.audiences = {"api"};
    idp.jwks = server_.url("/realms/main/protocol/openid-connect/certs");
    idp.ca_file = std::move(ca_file);
    idp.typ = core::IssuerTyp::kAccessTokenOrJwt;
    ExternalIssuersConfig config;
    config.issuers = {idp};
    config.fetch_timeout = 2s;
    config.max_jwks_bytes = max_jwks_bytes;
    issuers_ = ExternalIssuers::start(config, clock_);
    jwt::VerifierConfig verifier;
    verifier.issuers = issuers_->issuers();
    verifier_ = jwt::Verifier::create(verifier, clock_);
  }

  std::string metrics() const {
    std::string out;
    issuers_->appendMetrics(out);
    return out;
  }

  jwt::VerifyError rejected(const std::string& token) {
    auto result = verifier_->verify(token);
    EXPECT_FALSE(result);
    return result ? jwt::VerifyError::kInternal : result.error();
  }

  core::SimulatedClock clock_;
  TestHttpsServer server_;
  std::map<std::string, test::Pkey> keys_;
  std::unique_ptr<ExternalIssuers> issuers_;
  jwt::VerifierPtr verifier_;
};

TEST_F(JwksHttpsTest, FetchedAtStartOverVerifiedTls) {
  start();
  EXPECT_EQ(server_.requests(), 1);
  EXPECT_NE(server_.lastRequest().find("GET /realms/main/protocol/openid-connect/certs "),
            std::string::npos);
  auto verified = verifier_->verify(token("a"));
  ASSERT_TRUE(verified) << jwt::verifyErrorName(verified.error());
  EXPECT_EQ((*verified)->claims.sub, "idp-user");
  EXPECT_EQ(rejected(token("a", "someone-else")), jwt::VerifyError::kWrongAudience);
  const std::string text = metrics();
  EXPECT_NE(text.find("bulwark_jwks_keys{issuer=\"https://idp.test/realms/main\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("bulwark_jwks_fetches_total{issuer=\"https://idp.test/realms/main\","
                      "result=\"ok\"} 1\n"),
            std::string::npos)
      << text;
}

TEST_F(JwksHttpsTest, AnUntrustedServerGivesNoKeys) {
  start(pki().other_ca_file);
  EXPECT_EQ(server_.requests(), 0);  // the handshake failed before any request
  EXPECT_EQ(rejected(token("a")), jwt::VerifyError::kUnknownKid);
  EXPECT_NE(metrics().find("result=\"error\"} 1\n"), std::string::npos) << metrics();
}

TEST_F(JwksHttpsTest, AnOversizedJwksIsRefused) {
  std::string big = R"({"keys":[],"padding":")" + std::string(64 * 1024, 'x') + "\"}";
  server_.setResponse({200, big});
  start(pki().ca_file, 16 * 1024);
  EXPECT_EQ(rejected(token("a")), jwt::VerifyError::kUnknownKid);
  EXPECT_NE(metrics().find("result=\"error\"} 1\n"), std::string::npos) << metrics();
}

TEST_F(JwksHttpsTest, AnUnknownKidIsRefusedAtOnceAndFetchedInTheBackground) {
  start();
  publish({"a", "b"});  // the provider rotates
  // Right after the start-up fetch the rate limit holds: refused, nothing fetched.
  EXPECT_EQ(rejected(token("b")), jwt::VerifyError::kUnknownKid);
  clock_.advance(30s);
  EXPECT_EQ(rejected(token("b")), jwt::VerifyError::kUnknownKid);  // no wait for the provider
  ASSERT_TRUE(server_.waitForRequests(2, 5s));
  ASSERT_TRUE(eventually([&] { return bool(verifier_->verify(token("b"))); }));
  // A flood of made-up kids now: the provider hears nothing more.
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(rejected(token("made-up-" + std::to_string(i % 5))), jwt::VerifyError::kUnknownKid);
  }
  EXPECT_FALSE(server_.waitForRequests(3, 1500ms));
  EXPECT_EQ(server_.requests(), 2);
  EXPECT_NE(metrics().find("action=\"throttled\"} "), std::string::npos);
}

TEST_F(JwksHttpsTest, AnOutageKeepsTheLastGoodKeys) {
  start();
  server_.setResponse({503, "maintenance"});
  clock_.advance(5min);  // the periodic refresh is due
  ASSERT_TRUE(server_.waitForRequests(2, 5s));
  ASSERT_TRUE(
      eventually([&] { return metrics().find("result=\"error\"} 1\n") != std::string::npos; }));
  EXPECT_TRUE(verifier_->verify(token("a")));
  // A slow provider is cut off by the fetch timeout; the keys stay too.
  TestResponse slow{200, "{}"};
  slow.delay = 10s;
  server_.setResponse(slow);
  clock_.advance(30s);  // after a failure, retried after refetch_interval
  ASSERT_TRUE(
      eventually([&] { return metrics().find("result=\"error\"} 2\n") != std::string::npos; }));
  EXPECT_TRUE(verifier_->verify(token("a")));
}

}  // namespace
}  // namespace bulwark::auth

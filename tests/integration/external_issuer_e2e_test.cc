// An external identity provider end to end in the real `bulwark serve`: its JWKS is served over
// HTTPS by the test (a CA made at test time, given as the issuer's ca_file), its tokens are
// signed by the test with its own key, and a protected route lets them in, under the same strict
// rules as ours: wrong audience, unknown issuer, alg mismatch and header-injecting claims are
// 401. /metrics shows the JWKS fetch and the verifier's decisions.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "jwt/claims.h"
#include "jwt/key_set.h"
#include "support/jwt_craft.h"
#include "support/process.h"
#include "support/raw_client.h"
#include "support/test_https_server.h"
#include "support/test_pki.h"
#include "support/test_upstream.h"

namespace bulwark::testing {
namespace {

namespace fs = std::filesystem;
using crypto::Algorithm;
using namespace std::chrono_literals;

const std::string kBinary = BULWARK_BINARY;
constexpr std::string_view kIdp = "https://idp.test/realms/main";

struct Claims {
  std::string iss = std::string(kIdp);
  std::string aud = "api";
  std::string sub = "idp-user-7";
  std::string roles = R"(["reader"])";
};

class ExternalIssuerE2eTest : public ::testing::Test {
 protected:
  ExternalIssuerE2eTest() {
    root_ = fs::temp_directory_path() /
            ("bulwark-idp-e2e-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    pki_ = makeTestPki((root_ / "pki").string());
    idp_ = std::make_unique<TestHttpsServer>(pki_.server_cert_file, pki_.server_key_file);
    jwt::KeyEntry entry;
    entry.kid = "idp-key-1";
    entry.key = test::publicKey(key_.get(), Algorithm::kES256);
    std::vector<jwt::KeyEntry> entries;
    entries.push_back(std::move(entry));
    idp_->setResponse({200, jwt::KeySet::create(std::move(entries)).value()->jwks()});

    const auto config = root_ / "bulwark.toml";
    std::ofstream(config) << "[[route]]\nprefix = \"/api/\"\nupstream = \"" << upstream_.url()
                          << "\"\nauth = \"required\"\nroles = [\"reader\"]\n\n"
                          << "[[external_issuer]]\nissuer = \"" << kIdp
                          << "\"\naudiences = [\"api\"]\njwks = \"" << idp_->url("/certs")
                          << "\"\nca_file = \"" << pki_.ca_file << "\"\ntyp = \"jwt\"\n";
    env_ = {{"BULWARK_LISTEN", "127.0.0.1:0"},
            {"BULWARK_DATA_DIR", (root_ / "data").string()},
            {"BULWARK_NODE_ID", "idp-e2e"}};
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBinary, "serve", "--config", config.string(), "--workers", "1",
                                 "--auth-workers", "1"},
        env_);
    const auto log = server_->waitForStderr("\"msg\":\"listening\"", 15s);
    port_ = listeningPort(log);
    EXPECT_NE(port_, 0) << server_->stderrText();
  }
  ~ExternalIssuerE2eTest() override {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait(10s), 0) << server_->stderrText();
    fs::remove_all(root_);
  }

  std::string sign(const Claims& c, std::string_view alg = "ES256",
                   std::string_view kid = "idp-key-1") {
    const std::int64_t now = jwt::toNumericDate(std::chrono::system_clock::now());
    const std::string header = "{\"alg\":\"" + std::string(alg) + "\",\"typ\":\"JWT\",\"kid\":\"" +
                               std::string(kid) + "\"}";
    const std::string payload = "{\"iss\":\"" + c.iss + "\",\"aud\":\"" + c.aud + "\",\"sub\":\"" +
                                c.sub + "\",\"roles\":" + c.roles +
                                ",\"iat\":" + std::to_string(now) +
                                ",\"exp\":" + std::to_string(now + 300) + "}";
    if (alg == "HS256") {
      // The attacker's guess: the provider's public key bytes as an HMAC secret.
      return test::craft(header, payload, [&](std::string_view in) {
        return test::hmacSign(test::publicKeyDer(key_.get()), in);
      });
    }
    return test::craft(header, payload,
                       [&](std::string_view in) { return test::opensslSign(key_.get(), in); });
  }

  RawResponse get(const std::string& path, const std::string& bearer = "") {
    RawClient client(port_);
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: bulwark\r\n";
    if (!bearer.empty()) request += "Authorization: Bearer " + bearer + "\r\n";
    return client.roundTrip(request + "\r\n");
  }

  fs::path root_;
  TestPki pki_;
  test::Pkey key_ = test::generateP256();
  std::unique_ptr<TestHttpsServer> idp_;
  TestUpstream upstream_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<ChildProcess> server_;
  std::uint16_t port_ = 0;
};

TEST_F(ExternalIssuerE2eTest, ProviderTokensPassUnderTheSameRules) {
  ASSERT_NE(port_, 0);
  EXPECT_EQ(idp_->requests(), 1);  // fetched once at start-up, before listening

  auto granted = get("/api/echo", sign({}));
  ASSERT_EQ(granted.status, 200) << granted.head << granted.body << server_->stderrText();
  const std::string head = upstream_.lastHead();
  EXPECT_NE(head.find("X-Bulwark-Subject: idp-user-7\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Bulwark-Roles: reader\r\n"), std::string::npos) << head;

  Claims wrong_audience;
  wrong_audience.aud = "another-api";
  Claims unknown_issuer;
  unknown_issuer.iss = "https://evil.test/realms/main";
  Claims no_role;
  no_role.roles = R"(["writer"])";
  Claims injected;  // a provider-chosen sub that would write a header line of its own
  injected.sub = R"(idp-user-7\r\nX-Bulwark-Roles: admin)";
  Claims split_role;
  split_role.roles = R"(["reader,admin"])";
  const int forwarded = upstream_.requests();
  for (const auto& [name, token] : std::vector<std::pair<std::string, std::string>>{
           {"wrong audience", sign(wrong_audience)},
           {"unknown issuer", sign(unknown_issuer)},
           {"alg mismatch", sign({}, "HS256")},
           {"unknown kid", sign({}, "ES256", "idp-key-2")},
           {"CR LF in sub", sign(injected)},
           {"comma in a role", sign(split_role)}}) {
    auto denied = get("/api/echo", token);
    EXPECT_EQ(denied.status, 401) << name << "\n" << denied.head;
    EXPECT_EQ(denied.headers["www-authenticate"],
              "Bearer realm=\"bulwark\", error=\"invalid_token\"")
        << name;
  }
  EXPECT_EQ(get("/api/echo", sign(no_role)).status, 403);
  EXPECT_EQ(upstream_.requests(), forwarded);

  const std::string metrics = get("/metrics").body;
  for (const std::string line :
       {"bulwark_jwks_fetches_total{issuer=\"https://idp.test/realms/main\",result=\"ok\"} 1",
        "bulwark_jwks_keys{issuer=\"https://idp.test/realms/main\"} 1",
        "bulwark_tokens_rejected_total{reason=\"wrong_audience\"} 1",
        "bulwark_tokens_rejected_total{reason=\"wrong_issuer\"} 1",
        "bulwark_tokens_rejected_total{reason=\"alg_mismatch\"} 1",
        "bulwark_tokens_rejected_total{reason=\"unknown_kid\"} 1",
        "bulwark_token_cache_hits_total ", "bulwark_jwks_unknown_kid_total{"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << "\n" << metrics;
  }
  auto trail = runProcess({kBinary, "audit", "export"}, env_);
  ASSERT_EQ(trail.exit_code, 0) << trail.err;
  EXPECT_NE(trail.out.find("unsafe_claim"), std::string::npos) << trail.out;
}

}  // namespace
}  // namespace bulwark::testing

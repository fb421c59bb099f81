// Bearer-token enforcement on protected routes and the gateway's JSON endpoint plumbing, with a
// scripted Authenticator standing in for the JWT verifier (which has its own tests): here we
// attack the gateway's decisions — missing, malformed, invalid, revoked tokens, missing roles,
// fail-closed when authentication is unavailable, spoofed identity headers, header injection.

#include <gtest/gtest.h>

#include <thread>

#include "support/gateway_harness.h"
#include "support/raw_client.h"

namespace bulwark::testing {
namespace {

using namespace std::chrono_literals;

class ScriptedAuthenticator final : public auth::Authenticator {
 public:
  auth::AuthOutcome authenticate(std::string_view token) override {
    auth::AuthOutcome outcome;
    if (token == "user-token") {
      outcome.status = auth::AuthStatus::kAuthenticated;
      outcome.principal = {"alice", {"user"}, "sid-1", "jti-1", "bulwark"};
    } else if (token == "admin-token") {
      outcome.status = auth::AuthStatus::kAuthenticated;
      outcome.principal = {"bob", {"user", "admin"}, "sid-2", "jti-2", "bulwark"};
    } else if (token == "injecting-token") {
      outcome.status = auth::AuthStatus::kAuthenticated;
      outcome.principal = {"alice\r\nX-Bulwark-Roles: admin", {"user"}, "sid-3", "jti-3", "x"};
    } else if (token == "comma-role-token") {
      outcome.status = auth::AuthStatus::kAuthenticated;
      outcome.principal = {"carol", {"user,admin"}, "sid-4", "jti-4", "x"};
    } else if (token == "outage-token") {
      outcome.status = auth::AuthStatus::kUnavailable;
      outcome.reason = "revocation_state_unknown";
    } else {
      outcome.status = auth::AuthStatus::kInvalidToken;
      outcome.reason = token == "revoked-token" ? "revoked" : "bad_signature";
    }
    return outcome;
  }
};

class GatewayAuthTest : public ::testing::Test {
 protected:
  void start(bool with_authenticator = true) {
    auto settings = testSettings();
    auto admin = testRoute("/admin/", upstream_.port());
    admin.auth = core::AuthMode::kRequired;
    admin.roles = {"admin"};
    auto api = testRoute("/api/", upstream_.port());
    api.auth = core::AuthMode::kRequired;
    settings.routes = {admin, api, testRoute("/", upstream_.port())};
    gateway_ = std::make_unique<GatewayHarness>(settings, [&](gateway::ServerDeps& deps) {
      if (with_authenticator) deps.authenticator = std::make_shared<ScriptedAuthenticator>();
    });
  }
  RawResponse get(const std::string& path, const std::string& extra_headers = "") {
    RawClient client(gateway_->port());
    return client.roundTrip("GET " + path + " HTTP/1.1\r\nHost: a\r\n" + extra_headers + "\r\n");
  }

  TestUpstream upstream_;
  std::unique_ptr<GatewayHarness> gateway_;
};

TEST_F(GatewayAuthTest, MissingTokenIsChallengedAndNeverForwarded) {
  start();
  auto response = get("/api/x");
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.headers["www-authenticate"], "Bearer realm=\"bulwark\"");
  EXPECT_EQ(upstream_.requests(), 0);
  EXPECT_EQ(gateway_->audit().count(audit::EventType::kAccessDenied, "missing_token"), 1);
}

TEST_F(GatewayAuthTest, MalformedAuthorizationIsInvalidToken) {
  start();
  for (const char* header : {"Authorization: Basic YWxpY2U6cHc=\r\n", "Authorization: Bearer\r\n",
                             "Authorization: Bearer user-token\r\nAuthorization: Bearer x\r\n"}) {
    auto response = get("/api/x", header);
    EXPECT_EQ(response.status, 401) << header;
    EXPECT_EQ(response.headers["www-authenticate"],
              "Bearer realm=\"bulwark\", error=\"invalid_token\"");
  }
  EXPECT_EQ(upstream_.requests(), 0);
}

TEST_F(GatewayAuthTest, InvalidAndRevokedTokensAre401WithTheReasonAudited) {
  start();
  EXPECT_EQ(get("/api/x", "Authorization: Bearer forged\r\n").status, 401);
  auto revoked = get("/api/x", "Authorization: Bearer revoked-token\r\n");
  EXPECT_EQ(revoked.status, 401);
  EXPECT_NE(revoked.body.find("invalid_token"), std::string::npos);
  EXPECT_EQ(revoked.body.find("revoked"), std::string::npos);  // the client learns little
  EXPECT_EQ(gateway_->audit().count(audit::EventType::kAccessDenied, "revoked"), 1);
  EXPECT_EQ(gateway_->audit().count(audit::EventType::kAccessDenied, "bad_signature"), 1);
  EXPECT_EQ(upstream_.requests(), 0);
}

TEST_F(GatewayAuthTest, MissingRoleIs403) {
  start();
  auto response = get("/admin/users", "Authorization: Bearer user-token\r\n");
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.headers["www-authenticate"],
            "Bearer realm=\"bulwark\", error=\"insufficient_scope\"");
  EXPECT_EQ(upstream_.requests(), 0);
  EXPECT_EQ(get("/admin/users", "Authorization: Bearer admin-token\r\n").status, 200);
}

TEST_F(GatewayAuthTest, VerifiedIdentityReplacesSpoofedHeaders) {
  start();
  auto response = get("/api/echo", "Authorization: bearer user-token\r\n"
                                   "X-Bulwark-Subject: root\r\nX-Bulwark-Roles: admin\r\n"
                                   "X-Bulwark-Issuer: https://evil.example\r\n");
  ASSERT_EQ(response.status, 200);
  const auto head = upstream_.lastHead();
  EXPECT_NE(head.find("X-Bulwark-Subject: alice\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Bulwark-Roles: user\r\n"), std::string::npos);
  EXPECT_NE(head.find("X-Bulwark-Session: sid-1\r\n"), std::string::npos);
  EXPECT_NE(head.find("X-Bulwark-Issuer: bulwark\r\n"), std::string::npos);
  EXPECT_EQ(head.find("evil.example"), std::string::npos);
  EXPECT_EQ(head.find("root"), std::string::npos);
  EXPECT_EQ(head.find("X-Bulwark-Roles: admin"), std::string::npos);
  EXPECT_EQ(gateway_->audit().count(audit::EventType::kAccessGranted), 1);
  // Unprotected routes forward no identity, and strip spoofed copies too.
  get("/public", "X-Bulwark-Subject: root\r\n");
  EXPECT_EQ(upstream_.lastHead().find("X-Bulwark-Subject"), std::string::npos);
}

TEST_F(GatewayAuthTest, ClaimsThatWouldInjectHeadersAreRefused) {
  start();
  EXPECT_EQ(get("/api/x", "Authorization: Bearer injecting-token\r\n").status, 401);
  EXPECT_EQ(get("/api/x", "Authorization: Bearer comma-role-token\r\n").status, 401);
  EXPECT_EQ(upstream_.requests(), 0);
  EXPECT_EQ(gateway_->audit().count(audit::EventType::kAccessDenied, "unsafe_claim_value"), 2);
}

TEST_F(GatewayAuthTest, FailsClosedWhenAuthenticationIsUnavailable) {
  start();
  EXPECT_EQ(get("/api/x", "Authorization: Bearer outage-token\r\n").status, 503);
  EXPECT_EQ(upstream_.requests(), 0);
}

TEST_F(GatewayAuthTest, FailsClosedWithoutAnAuthenticator) {
  start(/*with_authenticator=*/false);
  EXPECT_EQ(get("/api/x", "Authorization: Bearer user-token\r\n").status, 503);
  EXPECT_EQ(get("/public").status, 200);
  EXPECT_EQ(upstream_.requests(), 1);
}

// Answers from another thread, as handlers that hash passwords on a worker pool do.
class ThreadedEchoHandler final : public http::ApiHandler {
 public:
  ~ThreadedEchoHandler() override {
    for (auto& thread : threads_) thread.join();
  }
  void handle(http::ApiRequest request, http::ApiCompletion done) override {
    threads_.emplace_back([request = std::move(request), done = std::move(done)] {
      std::string body = "{\"method\":\"" + request.method + "\",\"path\":\"" + request.path +
                         "\",\"query\":\"" + request.query + "\",\"bytes\":" +
                         std::to_string(request.body.size()) + "}";
      auto response = http::ApiResponse::json(201, body);
      response.headers.emplace_back("X-Handled", "yes");
      response.headers.emplace_back("X-Bad", "a\r\nInjected: 1");
      done(std::move(response));
    });
  }

 private:
  std::vector<std::thread> threads_;
};

TEST(GatewayApi, MountedHandlersGetTheWholeBodyAndAnswerFromAnyThread) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.routes.push_back(testRoute("/", upstream.port()));
  auto handler = std::make_shared<ThreadedEchoHandler>();
  GatewayHarness gateway(settings, [&](gateway::ServerDeps& deps) {
    deps.api_mounts.push_back({"/auth/", handler, 1024});
  });
  RawClient client(gateway.port());
  auto fixed = client.roundTrip(
      "POST /auth/login?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(fixed.status, 201);
  EXPECT_EQ(fixed.body, R"({"method":"POST","path":"/auth/login","query":"x=1","bytes":5})");
  EXPECT_EQ(fixed.headers["x-handled"], "yes");
  EXPECT_EQ(fixed.headers.count("injected"), 0u);
  EXPECT_EQ(fixed.headers.count("x-bad"), 0u);
  auto chunked = client.roundTrip(
      "POST /auth/refresh HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.status, 201);
  EXPECT_NE(chunked.body.find("\"bytes\":7"), std::string::npos);
  EXPECT_EQ(upstream.requests(), 0);

  RawClient big(gateway.port());
  auto too_big = big.roundTrip("POST /auth/login HTTP/1.1\r\nHost: a\r\nContent-Length: 4096\r\n\r\n");
  EXPECT_EQ(too_big.status, 413);
  RawClient big_chunked(gateway.port());
  auto too_big_chunked = big_chunked.roundTrip(
      "POST /auth/login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "800\r\n" + std::string(2048, 'x') + "\r\n0\r\n\r\n");
  EXPECT_EQ(too_big_chunked.status, 413);
}

}  // namespace
}  // namespace bulwark::testing

namespace bulwark::testing {
namespace {

TEST(GatewayBlockList, BlockedAddressesAreRefusedUntilTheBlockExpires) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.routes.push_back(testRoute("/", upstream.port()));
  core::SimulatedClock block_clock;
  auto blocked = detect::makeMemoryBlockList(block_clock);
  GatewayHarness gateway(settings,
                         [&](gateway::ServerDeps& deps) { deps.blocked_addresses = blocked; });
  RawClient client(gateway.port());
  EXPECT_EQ(client.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  blocked->block("127.0.0.1", std::chrono::seconds(60));
  auto refused = client.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("access_denied"), std::string::npos);
  EXPECT_EQ(upstream.requests(), 1);
  EXPECT_EQ(gateway.audit().count(audit::EventType::kAccessDenied, "address_blocked"), 1);
  // Liveness stays observable; the block lapses on its own.
  EXPECT_EQ(client.roundTrip("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  block_clock.advance(std::chrono::seconds(61));
  EXPECT_EQ(client.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
}

}  // namespace
}  // namespace bulwark::testing

// The gateway against a real upstream over loopback sockets: proxying, framing, keep-alive,
// headers, failures of the upstream, rate limits and the gateway's own endpoints.

#include <gtest/gtest.h>

#include <thread>

#include "support/gateway_harness.h"
#include "support/raw_client.h"

namespace bulwark::testing {
namespace {

using namespace std::chrono_literals;

class GatewayProxyTest : public ::testing::Test {
 protected:
  void start(core::Settings settings) { gateway_ = std::make_unique<GatewayHarness>(settings); }
  void start() {
    auto settings = testSettings();
    settings.routes.push_back(testRoute("/", upstream_.port()));
    start(settings);
  }
  std::uint16_t port() { return gateway_->port(); }

  TestUpstream upstream_;
  std::unique_ptr<GatewayHarness> gateway_;
};

TEST_F(GatewayProxyTest, ProxiesGetAndSetsForwardingHeaders) {
  start();
  RawClient client(port());
  auto response = client.roundTrip("GET /echo?a=1 HTTP/1.1\r\nHost: app.test\r\n\r\n");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.headers["x-upstream"], "test");
  const std::string upstream_head = upstream_.lastHead();
  EXPECT_EQ(upstream_head.rfind("GET /echo?a=1 HTTP/1.1\r\n", 0), 0u) << upstream_head;
  EXPECT_NE(upstream_head.find("Host: app.test\r\n"), std::string::npos);
  EXPECT_NE(upstream_head.find("X-Forwarded-For: 127.0.0.1\r\n"), std::string::npos);
  EXPECT_NE(upstream_head.find("X-Forwarded-Proto: http\r\n"), std::string::npos);
  ASSERT_FALSE(response.headers["x-request-id"].empty());
  EXPECT_NE(upstream_head.find("X-Request-Id: " + response.headers["x-request-id"] + "\r\n"),
            std::string::npos);
}

TEST_F(GatewayProxyTest, KeepsAValidRequestIdAndReplacesAnInvalidOne) {
  start();
  RawClient client(port());
  auto kept = client.roundTrip("GET /echo HTTP/1.1\r\nHost: a\r\nX-Request-Id: trace-42.x\r\n\r\n");
  EXPECT_EQ(kept.headers["x-request-id"], "trace-42.x");
  EXPECT_NE(upstream_.lastHead().find("X-Request-Id: trace-42.x\r\n"), std::string::npos);

  auto replaced =
      client.roundTrip("GET /echo HTTP/1.1\r\nHost: a\r\nX-Request-Id: bad id;drop\r\n\r\n");
  EXPECT_NE(replaced.headers["x-request-id"], "bad id;drop");
  EXPECT_FALSE(replaced.headers["x-request-id"].empty());
  EXPECT_EQ(upstream_.lastHead().find("bad id;drop"), std::string::npos);
}

TEST_F(GatewayProxyTest, ForwardsContentLengthBody) {
  start();
  RawClient client(port());
  auto response = client.roundTrip(
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.body.substr(response.body.size() - 11), "hello world");
  EXPECT_NE(response.body.find("Content-Length: 11\r\n"), std::string::npos);
}

TEST_F(GatewayProxyTest, ReframesChunkedRequestBody) {
  start();
  RawClient client(port());
  auto response = client.roundTrip(
      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: dropped\r\n\r\n");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.body.substr(response.body.size() - 11), "hello world");
  EXPECT_NE(response.body.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
}

TEST_F(GatewayProxyTest, StreamsLargeBodiesBothWays) {
  start();
  RawClient client(port());
  const std::string body(3 * 1024 * 1024 + 17, 'b');
  auto echo = client.roundTrip("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                                   std::to_string(body.size()) + "\r\n\r\n" + body,
                               30s);
  ASSERT_EQ(echo.status, 200);
  EXPECT_EQ(echo.body.substr(echo.body.size() - body.size()), body);

  auto big = client.roundTrip("GET /big?n=5000000 HTTP/1.1\r\nHost: a\r\n\r\n", 30s);
  ASSERT_EQ(big.status, 200);
  EXPECT_EQ(big.body.size(), 5000000u);
}

TEST_F(GatewayProxyTest, ReencodesChunkedAndUntilCloseResponses) {
  start();
  RawClient client(port());
  auto chunked = client.roundTrip("GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(chunked.status, 200);
  EXPECT_EQ(chunked.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(chunked.body, "part1-part2-part3");

  auto streamed = client.roundTrip("GET /until-close HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(streamed.status, 200);
  EXPECT_EQ(streamed.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(streamed.body, "streamed until close");
  // The client connection survives the upstream's close.
  auto after = client.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(after.status, 200);
}

TEST_F(GatewayProxyTest, SendsHttp10ClientsUnframedBodiesAndCloses) {
  start();
  RawClient client(port());
  auto response = client.roundTrip("GET /chunked HTTP/1.0\r\n\r\n");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.count("transfer-encoding"), 0u);
  EXPECT_EQ(response.body, "part1-part2-part3");
  EXPECT_TRUE(client.waitClosed(2s));
}

TEST_F(GatewayProxyTest, ReusesUpstreamConnections) {
  start();
  RawClient client(port());
  for (int i = 0; i < 20; ++i) {
    auto response = client.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(response.status, 200);
  }
  RawClient second(port());
  EXPECT_EQ(second.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_EQ(upstream_.requests(), 21);
  EXPECT_EQ(upstream_.connections(), 1);
}

TEST_F(GatewayProxyTest, AnswersPipelinedRequestsInOrder) {
  start();
  RawClient client(port());
  client.send("GET /echo/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /echo/2 HTTP/1.1\r\nHost: a\r\n\r\n");
  auto first = client.read();
  auto second = client.read();
  EXPECT_EQ(first.body.rfind("GET /echo/1 ", 0), 0u);
  EXPECT_EQ(second.body.rfind("GET /echo/2 ", 0), 0u);
}

TEST_F(GatewayProxyTest, RemovesHopByHopHeadersBothWays) {
  start();
  RawClient client(port());
  auto response = client.roundTrip(
      "GET /hop-by-hop HTTP/1.1\r\nHost: a\r\nConnection: X-Drop-Me\r\nX-Drop-Me: 1\r\n"
      "Keep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\n"
      "Proxy-Authorization: Basic c2VjcmV0\r\nX-Keep-Me: 1\r\nX-Bulwark-Subject: admin\r\n"
      "x-bulwark-roles: admin\r\n\r\n");
  ASSERT_EQ(response.status, 200);
  const std::string head = upstream_.lastHead();
  for (const char* dropped : {"X-Drop-Me", "Keep-Alive", "TE:", "Upgrade", "Proxy-Authorization",
                              "Connection", "X-Bulwark-Subject", "x-bulwark-roles"}) {
    EXPECT_EQ(head.find(dropped), std::string::npos) << dropped << " in\n" << head;
  }
  EXPECT_NE(head.find("X-Keep-Me: 1"), std::string::npos);
  EXPECT_EQ(response.headers.count("x-secret-hop"), 0u);
  EXPECT_EQ(response.headers.count("keep-alive"), 0u);
  EXPECT_EQ(response.headers["x-kept"], "yes");
}

TEST_F(GatewayProxyTest, IgnoresForwardedForFromUntrustedPeers) {
  start();
  RawClient client(port());
  client.roundTrip("GET /echo HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n");
  const std::string head = upstream_.lastHead();
  EXPECT_EQ(head.find("6.6.6.6"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Forwarded-For: 127.0.0.1\r\n"), std::string::npos);
}

TEST_F(GatewayProxyTest, AppendsToForwardedForFromTrustedProxies) {
  auto settings = testSettings();
  auto route = testRoute("/", upstream_.port());
  route.rate_limit = core::RateLimit{1, 1};
  settings.routes.push_back(route);
  core::Cidr loopback;
  ASSERT_TRUE(core::parseCidr("127.0.0.0/8", loopback));
  settings.trusted_proxies.push_back(loopback);
  start(settings);
  RawClient client(port());
  client.roundTrip("GET /echo HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n");
  EXPECT_NE(upstream_.lastHead().find("X-Forwarded-For: 203.0.113.9, 127.0.0.1\r\n"),
            std::string::npos);
  // The rate limit is keyed on the forwarded client, not on the proxy.
  auto limited =
      client.roundTrip("GET /echo HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n");
  EXPECT_EQ(limited.status, 429);
  auto other =
      client.roundTrip("GET /echo HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.10\r\n\r\n");
  EXPECT_EQ(other.status, 200);
  const auto events = gateway_->audit().events();
  ASSERT_EQ(gateway_->audit().count(audit::EventType::kApiRateLimit), 1);
  for (const auto& event : events) {
    if (event.type == audit::EventType::kApiRateLimit) {
      EXPECT_EQ(event.client_address, "203.0.113.9");
    }
  }
}

TEST_F(GatewayProxyTest, RateLimitsPerClientWithRetryAfter) {
  auto settings = testSettings();
  auto route = testRoute("/api/", upstream_.port());
  route.name = "api";
  route.rate_limit = core::RateLimit{2, 2};
  settings.routes.push_back(route);
  settings.routes.push_back(testRoute("/", upstream_.port()));
  start(settings);
  RawClient client(port());
  const std::string request = "GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(client.roundTrip(request).status, 200);
  EXPECT_EQ(client.roundTrip(request).status, 200);
  auto limited = client.roundTrip(request);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.headers["retry-after"], "1");
  EXPECT_NE(limited.body.find("\"error\":\"rate_limited\""), std::string::npos);
  // Other routes are not limited.
  EXPECT_EQ(client.roundTrip("GET /other HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_EQ(gateway_->audit().count(audit::EventType::kApiRateLimit), 1);
  // Time refills the bucket (the store runs on the injected clock: no sleeping).
  gateway_->clock().advance(1s);
  EXPECT_EQ(client.roundTrip(request).status, 200);
  EXPECT_NE(gateway_->server().metrics().render().find("bulwark_rate_limited_total{route=\"api\"} 1"),
            std::string::npos);
}

TEST_F(GatewayProxyTest, UpstreamDownIs502WithJson) {
  auto settings = testSettings();
  std::uint16_t dead_port;
  {
    TestUpstream closed;  // bind a port, then free it: nothing listens there afterwards
    dead_port = closed.port();
  }
  settings.routes.push_back(testRoute("/", dead_port));
  start(settings);
  RawClient client(port());
  auto response = client.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(response.status, 502);
  EXPECT_EQ(response.headers["content-type"], "application/json");
  EXPECT_NE(response.body.find("\"error\":\"bad_gateway\""), std::string::npos);
  auto ready = RawClient(port()).roundTrip("GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_NE(ready.body.find("unreachable"), std::string::npos);
}

TEST_F(GatewayProxyTest, SlowUpstreamIs504WithoutHanging) {
  auto settings = testSettings();
  settings.upstream_timeout = 300ms;
  settings.routes.push_back(testRoute("/", upstream_.port()));
  start(settings);
  RawClient client(port());
  auto response = client.roundTrip("GET /slow?ms=3000 HTTP/1.1\r\nHost: a\r\n\r\n", 2500ms);
  EXPECT_EQ(response.status, 504);
  EXPECT_NE(response.body.find("upstream_timeout"), std::string::npos);
}

TEST_F(GatewayProxyTest, BrokenUpstreamAnswersAre502) {
  start();
  for (const char* path : {"/no-response", "/garbage"}) {
    RawClient client(port());
    auto response =
        client.roundTrip(std::string("GET ") + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(response.status, 502) << path;
  }
}

TEST_F(GatewayProxyTest, AnswersHeadAndExpectContinue) {
  start();
  RawClient client(port());
  auto head = client.roundTrip("HEAD /big?n=1234 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], "1234");
  EXPECT_TRUE(head.body.empty());

  client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  auto interim = client.read();
  EXPECT_EQ(interim.status, 100);
  client.send("data");
  auto final_response = client.read();
  EXPECT_EQ(final_response.status, 200);
  EXPECT_EQ(final_response.body.find("Expect:"), std::string::npos);
}

TEST_F(GatewayProxyTest, RoutesByLongestPrefixAndMethod) {
  TestUpstream other;
  auto settings = testSettings();
  auto api = testRoute("/api", other.port());
  api.methods = {"GET"};
  settings.routes.push_back(api);
  start(settings);
  RawClient client(port());
  EXPECT_EQ(client.roundTrip("GET /api/v1 HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_EQ(other.requests(), 1);
  EXPECT_EQ(client.roundTrip("GET /apix HTTP/1.1\r\nHost: a\r\n\r\n").status, 404);
  auto wrong_method =
      client.roundTrip("DELETE /api/v1 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.headers["allow"], "GET");
  EXPECT_EQ(other.requests(), 1);
}

TEST_F(GatewayProxyTest, ServesHealthReadinessAndMetrics) {
  start();
  RawClient client(port());
  auto health = client.roundTrip("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  client.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  auto ready = client.roundTrip("GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(ready.status, 200);
  EXPECT_NE(ready.body.find("\"upstreams\":{\"127.0.0.1:" + std::to_string(upstream_.port()) +
                            "\":{\"status\":\"ok\"}"),
            std::string::npos)
      << ready.body;
  auto metrics = client.roundTrip("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("bulwark_requests_total{route=\"/\",status=\"200\"} 1\n"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("bulwark_request_duration_seconds_count{route=\"/\"} 1\n"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("bulwark_upstream_connects_total{upstream="), std::string::npos);
  EXPECT_NE(metrics.body.find("bulwark_connections_open 1\n"), std::string::npos);
}

TEST_F(GatewayProxyTest, ShutdownDrainsInFlightRequests) {
  start();
  RawClient busy(port());
  RawClient idle(port());
  EXPECT_EQ(idle.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  busy.send("GET /slow?ms=600 HTTP/1.1\r\nHost: a\r\n\r\n");
  // Drain only once the request is in flight at the upstream (bounded wait, no fixed sleep).
  for (int i = 0; i < 500 && upstream_.requests() < 2; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(upstream_.requests(), 2);
  std::thread stopper([&] { gateway_->shutdown(); });
  auto response = busy.read(5s);
  stopper.join();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "slow");
  EXPECT_EQ(response.headers["connection"], "close");
  EXPECT_TRUE(idle.waitClosed(1s));
}

}  // namespace
}  // namespace bulwark::testing

// Hostile input sent as raw bytes on a socket (SPEC F1.2): every limit and every request
// smuggling shape must be refused with its status, reach no upstream, close the connection and
// leave an audit event naming the reason.

#include <gtest/gtest.h>

#include <thread>

#include "support/gateway_harness.h"
#include "support/raw_client.h"

namespace bulwark::testing {
namespace {

using namespace std::chrono_literals;

struct HostileCase {
  const char* name;
  std::string request;
  int status;
};

std::vector<HostileCase> hostileCases() {
  const std::string long_target(9000, 'a');
  std::string many_headers = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 120; ++i) many_headers += "X-H" + std::to_string(i) + ": v\r\n";
  many_headers += "\r\n";
  const std::string huge_header =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(40000, 'v') + "\r\n\r\n";
  return {
      {"ContentLengthAndTransferEncoding",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
       400},
      {"TransferEncodingThenContentLength",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
       "0\r\n\r\n",
       400},
      {"DuplicateContentLengthSameValue",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
      {"DuplicateContentLengthDifferent",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
      {"ContentLengthList", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
      {"ContentLengthSigned", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400},
      {"ContentLengthHex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc", 400},
      {"ContentLengthOverflow",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
      {"TransferEncodingNotChunkedLast",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
       400},
      {"TransferEncodingDoubleChunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
       "\r\n\r\n0\r\n\r\n",
       400},
      {"TransferEncodingObfuscated",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
      {"TransferEncodingUnknownCoding",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"TransferEncodingInHttp10",
       "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"ObsoleteLineFolding", "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n", 400},
      {"BareLineFeed", "GET / HTTP/1.1\nHost: a\n\n", 400},
      {"NulInHeaderValue", std::string("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n", 35),
       400},
      {"NonAsciiMethod", "G\xC3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"SpaceInTarget", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"AbsoluteFormOtherHost", "GET http://evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"MissingHost", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400},
      {"DuplicateHost", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"UnsupportedVersion", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"BadChunkSize",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
       400},
      {"ChunkSizeOverflow",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "10000000000000000\r\nx\r\n0\r\n\r\n",
       400},
      {"ChunkMissingCrlf",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
       400},
      {"RequestLineTooLong", "GET /" + long_target + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
      {"TooManyHeaders", many_headers, 431},
      {"HeadTooLarge", huge_header, 431},
      {"BodyTooLarge", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413},
      {"ChunkedBodyTooLarge",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "200000\r\n",
       413},
  };
}

class HostileInputTest : public ::testing::TestWithParam<HostileCase> {};

TEST_P(HostileInputTest, IsRefusedWithItsStatus) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.max_body_bytes = 1024 * 1024;
  settings.routes.push_back(testRoute("/", upstream.port()));
  GatewayHarness gateway(settings);
  RawClient client(gateway.port());
  auto response = client.roundTrip(GetParam().request);
  EXPECT_EQ(response.status, GetParam().status) << response.head << response.body;
  EXPECT_EQ(response.headers["content-type"], "application/json");
  EXPECT_NE(response.body.find("\"error\":\"invalid_request\""), std::string::npos);
  EXPECT_TRUE(response.closed || client.waitClosed(2s));
  // Only chunked bodies are refused mid-stream, after the head went upstream; nothing else
  // may reach the upstream at all.
  const bool chunk_case = std::string(GetParam().name).find("Chunk") != std::string::npos;
  if (!chunk_case) {
    EXPECT_EQ(upstream.requests(), 0);
  }
  EXPECT_EQ(gateway.audit().count(audit::EventType::kRequestRejected), 1);
}

INSTANTIATE_TEST_SUITE_P(Smuggling, HostileInputTest, ::testing::ValuesIn(hostileCases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(HostileSlowClients, SlowHeadIsCutAtTheHeaderTimeout) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.header_timeout = 300ms;
  settings.routes.push_back(testRoute("/", upstream.port()));
  GatewayHarness gateway(settings);
  RawClient client(gateway.port());
  client.send("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ");
  for (int i = 0; i < 3; ++i) {  // a slowloris drip: a byte now and then, never the end
    client.send("a");
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(client.waitClosed(3s));
  EXPECT_EQ(upstream.requests(), 0);
  for (int i = 0; i < 100 && gateway.audit().count(audit::EventType::kRequestRejected) == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(gateway.audit().count(audit::EventType::kRequestRejected, "header_timeout"), 1);
}

TEST(HostileSlowClients, SlowBodyIsCutAtTheRequestTimeout) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.request_timeout = 400ms;
  settings.routes.push_back(testRoute("/", upstream.port()));
  GatewayHarness gateway(settings);
  RawClient client(gateway.port());
  client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly-ten!!");
  EXPECT_TRUE(client.waitClosed(3s));
}

TEST(HostileSlowClients, IdleKeepAliveConnectionsAreClosed) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.idle_timeout = 300ms;
  settings.routes.push_back(testRoute("/", upstream.port()));
  GatewayHarness gateway(settings);
  RawClient client(gateway.port());
  EXPECT_EQ(client.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_TRUE(client.waitClosed(3s));
}

TEST(HostileSlowClients, ConnectionsOverTheLimitAreRefused) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.max_connections = 2;
  settings.routes.push_back(testRoute("/", upstream.port()));
  GatewayHarness gateway(settings);
  RawClient first(gateway.port());
  RawClient second(gateway.port());
  EXPECT_EQ(first.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_EQ(second.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  RawClient third(gateway.port());
  auto refused = third.read(2s);
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("overloaded"), std::string::npos);
  EXPECT_TRUE(third.waitClosed(2s));
}

}  // namespace
}  // namespace bulwark::testing

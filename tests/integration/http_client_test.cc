// http::fetch against real servers on 127.0.0.1: certificate and host-name verification, plain
// http only where allowed, limits and timeouts, and a request carrying method, headers and body
// (the shape SIEM forwarders need).

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "http/client.h"
#include "support/test_https_server.h"
#include "support/test_pki.h"

namespace bulwark::http {
namespace {

using bulwark::testing::TestHttpsServer;
using bulwark::testing::TestResponse;
using namespace std::chrono_literals;

const bulwark::testing::TestPki& pki() {
  static const auto pki =
      bulwark::testing::makeTestPki((std::filesystem::temp_directory_path() /
                                     ("bulwark-client-pki-" + std::to_string(::getpid())))
                                        .string());
  return pki;
}

FetchOptions trusting(const std::string& ca_file) {
  FetchOptions options;
  options.ca_file = ca_file;
  options.timeout = 5s;
  return options;
}

FetchErrc errc(const FetchResult<FetchResponse>& result) {
  EXPECT_FALSE(result) << "status " << (result ? result->status : 0);
  return result ? FetchErrc{} : static_cast<FetchErrc>(result.error().code.value());
}

TEST(HttpFetch, GetsOverVerifiedTls) {
  TestHttpsServer server(pki().server_cert_file, pki().server_key_file);
  server.setResponse({200, R"({"keys":[]})"});
  auto options = trusting(pki().ca_file);
  options.headers = {{"Accept", "application/json"}};
  const auto response = fetch(server.url("/realms/x/certs?v=1"), options);
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->body, R"({"keys":[]})");
  EXPECT_EQ(response->header("content-type"), "application/json");
  const std::string request = server.lastRequest();
  EXPECT_EQ(request.rfind("GET /realms/x/certs?v=1 HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Host: 127.0.0.1:" + std::to_string(server.port())), std::string::npos);
  EXPECT_NE(request.find("Accept: application/json"), std::string::npos);
}

TEST(HttpFetch, PostsMethodHeadersAndBody) {
  TestHttpsServer server(pki().server_cert_file, pki().server_key_file);
  server.setResponse({201, R"({"result":"created"})"});
  auto options = trusting(pki().ca_file);
  options.method = "POST";
  options.headers = {{"Content-Type", "application/x-ndjson"}, {"Authorization", "Splunk t0k"}};
  options.body = "{\"index\":{}}\n{\"event\":1}\n";
  const auto response = fetch(server.url("/_bulk"), options);
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 201u);
  const std::string request = server.lastRequest();
  EXPECT_EQ(request.rfind("POST /_bulk HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Content-Length: " + std::to_string(options.body.size())),
            std::string::npos);
  EXPECT_NE(request.find("Authorization: Splunk t0k"), std::string::npos);
  EXPECT_EQ(request.substr(request.size() - options.body.size()), options.body);
}

TEST(HttpFetch, RefusesACertificateFromAnUntrustedCa) {
  TestHttpsServer server(pki().server_cert_file, pki().server_key_file);
  const auto response = fetch(server.url(), trusting(pki().other_ca_file));
  EXPECT_EQ(errc(response), FetchErrc::kCertificate);
  EXPECT_EQ(server.requests(), 0);
}

TEST(HttpFetch, TheSystemStoreDoesNotTrustTheTestCa) {
  TestHttpsServer server(pki().server_cert_file, pki().server_key_file);
  EXPECT_EQ(errc(fetch(server.url(), trusting(""))), FetchErrc::kCertificate);
}

TEST(HttpFetch, RefusesACertificateForAnotherHost) {
  // Signed by the trusted CA, but for other.example: the chain verifies, the name does not.
  TestHttpsServer server(pki().wrong_host_cert_file, pki().wrong_host_key_file);
  const auto response = fetch(server.url(), trusting(pki().ca_file));
  ASSERT_EQ(errc(response), FetchErrc::kCertificate);
  EXPECT_NE(response.error().detail.find("mismatch"), std::string::npos) << response.error().detail;
  EXPECT_EQ(server.requests(), 0);
}

TEST(HttpFetch, PlainHttpOnlyToLoopbackAndOnlyWhenAllowed) {
  TestHttpsServer server("", "");
  server.setResponse({200, "plain"});
  FetchOptions options;
  EXPECT_EQ(errc(fetch(server.url(), options)), FetchErrc::kInsecureUrl);
  options.allow_plain_http_loopback = true;
  const auto response = fetch(server.url(), options);
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->body, "plain");
  EXPECT_EQ(errc(fetch("http://192.0.2.1/certs", options)), FetchErrc::kInsecureUrl);
  EXPECT_EQ(errc(fetch("http://localhost/certs", options)), FetchErrc::kInsecureUrl);
  EXPECT_EQ(server.requests(), 1);
}

TEST(HttpFetch, ResponseLargerThanTheLimitIsRefused) {
  TestHttpsServer server(pki().server_cert_file, pki().server_key_file);
  auto options = trusting(pki().ca_file);
  options.max_response_bytes = 1024;
  for (const bool close_delimited : {false, true}) {
    TestResponse big{200, std::string(4096, 'x')};
    big.close_delimited = close_delimited;
    server.setResponse(big);
    EXPECT_EQ(errc(fetch(server.url(), options)), FetchErrc::kResponseTooLarge)
        << "close-delimited: " << close_delimited;
  }
  server.setResponse({200, std::string(1024, 'x')});
  const auto exact = fetch(server.url(), options);
  ASSERT_TRUE(exact) << exact.error().detail;
  EXPECT_EQ(exact->body.size(), 1024u);
}

TEST(HttpFetch, ASlowServerTimesOut) {
  TestHttpsServer server(pki().server_cert_file, pki().server_key_file);
  TestResponse slow{200, "late"};
  slow.delay = 10s;  // cut short when the server stops
  server.setResponse(slow);
  auto options = trusting(pki().ca_file);
  options.timeout = 300ms;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(errc(fetch(server.url(), options)), FetchErrc::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(HttpFetch, ConnectionRefused) {
  std::uint16_t port = 0;
  {
    TestHttpsServer closed("", "");
    port = closed.port();
  }
  EXPECT_EQ(errc(fetch("https://127.0.0.1:" + std::to_string(port) + "/", trusting(pki().ca_file))),
            FetchErrc::kConnect);
}

TEST(HttpFetch, BadUrlsAndUnsendableRequests) {
  const auto options = trusting(pki().ca_file);
  for (const char* url : {"ftp://127.0.0.1/x", "https://user:pw@127.0.0.1/", "not a url",
                          "https:///x", "/relative", "https://127.0.0.1/#fragment"}) {
    EXPECT_EQ(errc(fetch(url, options)), FetchErrc::kBadUrl) << url;
  }
  TestHttpsServer server(pki().server_cert_file, pki().server_key_file);
  auto injected = options;
  injected.headers = {{"X-Test", "a\r\nX-Injected: 1"}};
  EXPECT_EQ(errc(fetch(server.url(), injected)), FetchErrc::kBadRequest);
  auto bad_name = options;
  bad_name.headers = {{"X Test", "a"}};
  EXPECT_EQ(errc(fetch(server.url(), bad_name)), FetchErrc::kBadRequest);
  auto bad_method = options;
  bad_method.method = "GET /x HTTP/1.1\r\n";
  EXPECT_EQ(errc(fetch(server.url(), bad_method)), FetchErrc::kBadRequest);
  EXPECT_EQ(server.requests(), 0);
}

}  // namespace
}  // namespace bulwark::http

#pragma once
// A real HTTPS (or plain HTTP) server on 127.0.0.1 for tests of bulwark's outgoing requests
// (JWKS fetches, later SIEM posts), written on blocking sockets and OpenSSL's SSL_* calls,
// independently of the Beast client it tests. One thread per connection; every response closes
// the connection.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;

namespace bulwark::testing {

struct TestResponse {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  // Waits this long before answering (the wait ends early when the server stops).
  std::chrono::milliseconds delay{0};
  // Sends the body without Content-Length, then closes (framing by end of stream).
  bool close_delimited = false;
};

class TestHttpsServer {
 public:
  // TLS with this certificate chain and key; both empty: plain HTTP.
  TestHttpsServer(const std::string& cert_file, const std::string& key_file);
  ~TestHttpsServer();
  TestHttpsServer(const TestHttpsServer&) = delete;
  TestHttpsServer& operator=(const TestHttpsServer&) = delete;

  // Answers every request with `respond(request)` (request = head and body as received).
  void setHandler(std::function<TestResponse(const std::string& request)> respond);
  // Answers every request with `response`.
  void setResponse(TestResponse response);

  std::uint16_t port() const { return port_; }
  // "https://127.0.0.1:PORT" + path (http:// without TLS).
  std::string url(const std::string& path = "/") const;
  // Requests answered so far (TLS handshakes that failed are not requests).
  int requests() const { return requests_.load(); }
  std::string lastRequest() const;
  // Waits until requests() reaches `count`; false after `timeout`.
  bool waitForRequests(int count, std::chrono::milliseconds timeout) const;

 private:
  void acceptLoop();
  void serve(int fd);

  SSL_CTX* tls_ = nullptr;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  bool stopping_ = false;  // guarded by mutex_
  std::function<TestResponse(const std::string&)> respond_;
  std::string last_request_;
  std::atomic<int> requests_{0};
};

}  // namespace bulwark::testing

#pragma once
// A real HTTP/1.1 server on loopback for gateway tests, written independently of bulwark's own
// parser (so a parser bug cannot hide itself). Blocking sockets, one thread per connection.
//
// Paths:
//   /echo...        200, body = the request head as received, a blank line, then the body
//   /chunked        200, chunked body "part1-part2-part3"
//   /until-close    200, no framing, body "streamed until close", then closes
//   /slow?ms=N      waits N ms, then 200 "slow"
//   /big?n=N        200 with N bytes of 'x'
//   /no-response    reads the request, then closes without answering
//   /garbage        answers "NOT HTTP\r\n\r\n"
//   anything else   200 "ok"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bulwark::testing {

class TestUpstream {
 public:
  TestUpstream();
  ~TestUpstream();
  TestUpstream(const TestUpstream&) = delete;
  TestUpstream& operator=(const TestUpstream&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // TCP connections accepted so far.
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  // The last request head received (for header assertions).
  std::string lastHead() const;

 private:
  void acceptLoop();
  void serve(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
  mutable std::mutex head_mutex_;
  std::string last_head_;
};

}  // namespace bulwark::testing

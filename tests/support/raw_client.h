#pragma once
// A blocking loopback client that sends exact bytes and reads raw responses, for attacking the
// gateway with malformed input a well-behaved HTTP library would refuse to produce.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace bulwark::testing {

struct RawResponse {
  int status = 0;  // 0 when no parsable status line arrived
  std::string head;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names, last value wins
  bool closed = false;  // the server closed the connection after this response
};

class RawClient {
 public:
  explicit RawClient(std::uint16_t port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool send(std::string_view bytes);
  // Reads one response (Content-Length, chunked, or until close) within `timeout`.
  RawResponse read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Sends then reads.
  RawResponse roundTrip(std::string_view bytes,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when the server closed the connection within `timeout` (read returns 0 or error).
  bool waitClosed(std::chrono::milliseconds timeout);

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  int pending_heads_ = 0;  // HEAD requests sent and not yet answered: their answers have no body
  std::string buffer_;
  bool eof_ = false;
};

}  // namespace bulwark::testing

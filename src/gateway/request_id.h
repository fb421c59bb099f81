#pragma once
// Request ids (SPEC F1.5): a client's X-Request-Id is kept when it is a plausible id, otherwise a
// new one is generated, so every log line and event of one request carries the same id.

#include <cstdint>
#include <string>
#include <string_view>

namespace bulwark::gateway {

// True for 1..128 characters of [A-Za-z0-9._:-]: enough for UUIDs and trace ids, nothing that
// could inject into headers, logs or queries downstream.
bool isAcceptableRequestId(std::string_view id);

// Generates unique ids cheaply: a random 64-bit prefix per generator and a counter. Ids are not
// secrets and must not be used as such. Not thread-safe: one per I/O thread.
class RequestIdGenerator {
 public:
  RequestIdGenerator();
  // Writes the next id into `out` (replacing its contents).
  void next(std::string& out);

 private:
  char prefix_[17];
  std::uint64_t counter_ = 0;
};

}  // namespace bulwark::gateway

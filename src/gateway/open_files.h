#pragma once
// The process's open-file limit. A gateway needs a descriptor per client connection and per
// upstream connection (in use or pooled), while a shell or a service manager often starts a
// process with a soft limit of 1024: accept() and connect() would fail with EMFILE long before
// max_connections.

#include <cstdint>
#include <string>

namespace bulwark::gateway {

struct OpenFileLimit {
  std::uint64_t soft = 0;  // in effect after the call
  std::uint64_t hard = 0;
  bool raised = false;     // the call raised the soft limit
};

// Raises the soft RLIMIT_NOFILE as far as the hard limit allows (raising the hard limit needs
// privileges bulwark does not ask for).
OpenFileLimit raiseOpenFileLimit();

// Descriptors `max_connections` clients may need: each with one upstream connection, plus the
// listeners, stores and log files.
std::uint64_t descriptorsNeeded(std::uint64_t max_connections);

}  // namespace bulwark::gateway

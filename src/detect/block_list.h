#pragma once
// Client addresses blocked for a while (SPEC F3.6 automatic response "temporary block of a client
// address"): incident rules add entries, the gateway refuses their requests with 403 until the
// entry expires. In-process; a Redis-backed one would share it across nodes.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace bulwark::detect {

class BlockList {
 public:
  virtual ~BlockList() = default;
  // Blocks `address` (textual IP, as the gateway resolves it) until now + `duration`; a longer
  // existing block is kept. Thread-safe.
  virtual void block(std::string_view address, std::chrono::seconds duration) = 0;
  // True while `address` is blocked. Thread-safe; costs one relaxed atomic load while the list is
  // empty (the common case), so it can sit on every request.
  virtual bool isBlocked(std::string_view address) const = 0;
  virtual std::size_t size() const = 0;
};
using BlockListPtr = std::shared_ptr<BlockList>;

// `max_entries` bounds memory under a flood of incidents; beyond it expired entries are dropped
// first, then the entry closest to expiry.
BlockListPtr makeMemoryBlockList(const core::Clock& clock, std::size_t max_entries = 100'000);

}  // namespace bulwark::detect

#pragma once
// Token buckets keyed by an opaque string (SPEC F5.4). The gateway builds keys such as
// "<route>\x1f<client address>"; the store only counts. Embedded: in-process (this file's
// factory); production: Redis (one atomic script per decision, cluster-wide).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "core/clock.h"
#include "core/config.h"

namespace bulwark::store {

struct RateDecision {
  bool allowed = true;
  // When refused: how long until one token is available again (rounded up to whole seconds by
  // the HTTP layer for Retry-After).
  std::chrono::milliseconds retry_after{0};
  // The store could not decide (a remote store unreachable): `allowed` is false and the caller
  // refuses the request as unavailable (503, DESIGN decision 9: fail closed), not as limited.
  bool unavailable = false;
};

class RateLimitStore {
 public:
  virtual ~RateLimitStore() = default;
  // Takes one token from the bucket `key` with the given rate, refilled by the store's clock.
  // Thread-safe. Never blocks on I/O (the embedded store); a remote store answers from its own
  // connection without blocking the caller's I/O thread.
  virtual RateDecision consume(std::string_view key, const core::RateLimit& limit) = 0;
  // The same without blocking: `done` runs once with the decision, inline (this default) or on
  // the store's own thread (a remote store; the caller hops back to its executor). `key` and
  // `limit` need only live until the call returns.
  virtual void consumeAsync(std::string_view key, const core::RateLimit& limit,
                            std::function<void(RateDecision)> done) {
    done(consume(key, limit));
  }
  // True when consume() may wait on the network: I/O threads then use consumeAsync(). The
  // embedded store answers false and is called synchronously (no allocation, no thread hop).
  virtual bool isRemote() const { return false; }
  // Number of buckets held (for metrics and tests).
  virtual std::size_t size() const = 0;
};
using RateLimitStorePtr = std::shared_ptr<RateLimitStore>;

struct MemoryRateLimitConfig {
  std::size_t max_buckets = 1'000'000;  // beyond this, full (idle) buckets are evicted first
  std::size_t shards = 64;              // independent locks, to keep I/O threads apart
};

// In-process store. Buckets that have refilled completely are dropped lazily (a full bucket is
// indistinguishable from a new one), so memory follows the number of active clients.
RateLimitStorePtr makeMemoryRateLimitStore(const core::Clock& clock,
                                           MemoryRateLimitConfig config = {});

}  // namespace bulwark::store

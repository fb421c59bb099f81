#pragma once
// Failed-login counters shared by every node (SPEC F2.6 across nodes, F7.3), for auth::Lockout:
// per account and per client address, a counter that locks its key for an exponentially growing
// time from a threshold on (base, 2 x base, … up to max) and is forgotten after a quiet time.
// The rule is auth::Lockout's; this interface only keeps the state where all nodes see it.
// Production: Redis (one script per failure, timed by Redis' clock, every key with an expiry).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "store/error.h"

namespace bulwark::store {

enum class LockoutKind : std::uint8_t { kAccount, kAddress };

struct LockoutRule {
  std::uint32_t threshold = 5;                        // failures before the key locks
  std::chrono::milliseconds base_delay{30'000};       // the first lockout
  std::chrono::milliseconds max_delay{900'000};       // the longest
  std::chrono::milliseconds forget_after{3'600'000};  // quiet time (and no lock) that clears it
};

struct LockoutCount {
  std::uint32_t failures = 0;               // including this one
  std::chrono::milliseconds locked_for{0};  // the lockout this failure started; zero: none
};

class LockoutStore {
 public:
  virtual ~LockoutStore() = default;
  // Counts one failure of `key`. Blocks on I/O: call from the worker pool. kUnavailable when the
  // backend cannot answer (the caller then fails closed).
  [[nodiscard]] virtual Result<LockoutCount> recordFailure(LockoutKind kind, std::string_view key,
                                                           const LockoutRule& rule) = 0;
  // How long `key` stays locked; zero when it is not.
  [[nodiscard]] virtual Result<std::chrono::milliseconds> lockedFor(LockoutKind kind,
                                                                    std::string_view key) = 0;
  // Forgets `key`'s counter; with `unless_locked`, only when it is not locked now (a successful
  // login does not end a lockout; an administrator's unlock does).
  [[nodiscard]] virtual Result<void> clear(LockoutKind kind, std::string_view key,
                                           bool unless_locked) = 0;
};
using LockoutStorePtr = std::shared_ptr<LockoutStore>;

}  // namespace bulwark::store

#pragma once
// Brute-force lockout (SPEC F2.6): failed logins are counted per account and per client address;
// from a threshold on, each further failure locks that key for an exponentially growing time
// (base, 2 x base, 4 x base, ... up to max). While locked, logins for the key are refused before
// any password is checked (429 with Retry-After).
//
// Accounts are keyed by the normalised username whether or not the account exists, so lockout
// reveals nothing about existence. A success resets the account's counter but not the address's:
// otherwise an attacker holding one valid account could reset its address between guesses at
// others. Attempts refused while locked are not counted (they test no password), so a flood of
// them cannot stretch a victim's lockout. Counters are forgotten after `forget_after` without
// failures, and memory is bounded by max_entries.
//
// Several nodes: with a shared store::LockoutStore (Redis) the counters live there, so guesses
// spread over the nodes add up; this node keeps a local mirror of the locks it has seen, so
// check() (cheap, no I/O, for the I/O thread) refuses them without a round trip, and
// checkShared() (blocking, on the worker pool) asks the store before any password is hashed.
// The store unavailable: checkShared() reports it and the login fails closed (503).
//
// Thread-safe. Time comes from core::Clock::monotonicTime().

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/clock.h"
#include "store/lockout_store.h"

namespace bulwark::auth {

struct LockoutConfig {
  std::uint32_t account_threshold = 5;           // failures of one account before it locks
  std::uint32_t address_threshold = 20;          // failures from one client address before it locks
  std::chrono::milliseconds base_delay{30'000};  // first lockout
  std::chrono::milliseconds max_delay{900'000};  // longest lockout (15 min)
  std::chrono::milliseconds forget_after{3'600'000};  // quiet time that clears a counter
  std::size_t max_entries = 100'000;  // per kind; the stalest unlocked entries go first
};

enum class LockoutScope : std::uint8_t { kNone, kAccount, kAddress };

struct LockoutStatus {
  LockoutScope scope = LockoutScope::kNone;  // which key is locked (account first), or none
  std::chrono::seconds retry_after{0};       // rounded up, at least 1 s while locked
  bool locked() const { return scope != LockoutScope::kNone; }
};

// What one failure did. A *_locked_for above zero means this failure started a lockout.
struct FailureOutcome {
  std::uint32_t account_failures = 0;
  std::uint32_t address_failures = 0;
  std::chrono::milliseconds account_locked_for{0};
  std::chrono::milliseconds address_locked_for{0};
};

class Lockout {
 public:
  // `shared` null: in-process only.
  Lockout(LockoutConfig config, const core::Clock& clock, store::LockoutStorePtr shared = nullptr);
  ~Lockout();
  Lockout(const Lockout&) = delete;
  Lockout& operator=(const Lockout&) = delete;

  // Whether a login for `account` (normalised username; empty: none) from `address` (empty:
  // unknown) is refused now.
  // From this node's memory only (no I/O).
  LockoutStatus check(std::string_view account, std::string_view address) const;
  // check(), then the shared store when there is one (blocking: call from the worker pool).
  // kUnavailable when the store cannot answer.
  store::Result<LockoutStatus> checkShared(std::string_view account, std::string_view address);
  // Counts a failed login; may start a lockout of either key. With a shared store the counts are
  // the store's (every node's failures); if it cannot answer, this node counts alone.
  FailureOutcome recordFailure(std::string_view account, std::string_view address);
  // A successful login: clears the account's counter.
  void recordSuccess(std::string_view account);
  // Clears the account's counter and lockout (an administrator unlocking the account).
  void clearAccount(std::string_view account);
  // Keys tracked, for metrics and tests.
  std::size_t size() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};
using LockoutPtr = std::shared_ptr<Lockout>;

}  // namespace bulwark::auth

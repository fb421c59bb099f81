#include "auth/lockout.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace bulwark::auth {
namespace {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Counter {
  std::uint32_t failures = 0;
  core::MonotonicTime last_failure{};
  core::MonotonicTime locked_until{};
};

using Counters = std::unordered_map<std::string, Counter, StringHash, std::equal_to<>>;

std::chrono::seconds roundUp(std::chrono::nanoseconds remaining) {
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(remaining);
  return std::max(seconds, std::chrono::seconds{1});
}

}  // namespace

struct Lockout::State {
  LockoutConfig config;
  const core::Clock& clock;
  mutable std::mutex mutex;  // logins are rare next to proxied requests: one lock is enough
  Counters accounts;
  Counters addresses;

  State(LockoutConfig c, const core::Clock& k) : config(c), clock(k) {}

  bool forgotten(const Counter& counter, core::MonotonicTime now) const {
    return now >= counter.locked_until && now - counter.last_failure >= config.forget_after;
  }

  // The lockout that the `failures`-th failure starts, or zero below the threshold.
  std::chrono::milliseconds lockFor(std::uint32_t failures, std::uint32_t threshold) const {
    if (failures < threshold) {
      return std::chrono::milliseconds{0};
    }
    std::chrono::milliseconds delay = config.base_delay;
    for (std::uint32_t i = threshold; i < failures && delay < config.max_delay; ++i) {
      delay *= 2;
    }
    return std::min(delay, config.max_delay);
  }

  std::chrono::milliseconds fail(Counters& counters, std::string_view key, std::uint32_t threshold,
                                 core::MonotonicTime now, std::uint32_t& failures) {
    auto it = counters.find(key);
    if (it == counters.end()) {
      if (counters.size() >= config.max_entries) {
        evict(counters, now);
      }
      it = counters.emplace(std::string(key), Counter{}).first;
    } else if (forgotten(it->second, now)) {
      it->second = Counter{};
    }
    Counter& counter = it->second;
    counter.failures += counter.failures < UINT32_MAX ? 1 : 0;
    counter.last_failure = now;
    failures = counter.failures;
    const auto delay = lockFor(counter.failures, threshold);
    if (delay.count() > 0) {
      counter.locked_until = now + delay;
    }
    return delay;
  }

  // Drops forgotten counters; if none, the unlocked one with the oldest failure; if every entry
  // is locked, the one whose lockout ends first (memory stays bounded under any flood).
  void evict(Counters& counters, core::MonotonicTime now) {
    std::erase_if(counters, [&](const auto& item) { return forgotten(item.second, now); });
    if (counters.size() < config.max_entries || counters.empty()) {
      return;
    }
    auto victim =
        std::min_element(counters.begin(), counters.end(), [&](const auto& a, const auto& b) {
          const bool a_locked = now < a.second.locked_until;
          const bool b_locked = now < b.second.locked_until;
          if (a_locked != b_locked) {
            return !a_locked;
          }
          return a_locked ? a.second.locked_until < b.second.locked_until
                          : a.second.last_failure < b.second.last_failure;
        });
    counters.erase(victim);
  }
};

Lockout::Lockout(LockoutConfig config, const core::Clock& clock)
    : state_(std::make_unique<State>(config, clock)) {}

Lockout::~Lockout() = default;

LockoutStatus Lockout::check(std::string_view account, std::string_view address) const {
  const auto now = state_->clock.monotonicTime();
  std::lock_guard lock(state_->mutex);
  const auto lockedUntil = [&](const Counters& counters, std::string_view key) {
    if (key.empty()) {
      return core::MonotonicTime{};
    }
    const auto it = counters.find(key);
    return it == counters.end() ? core::MonotonicTime{} : it->second.locked_until;
  };
  if (const auto until = lockedUntil(state_->accounts, account); now < until) {
    return {LockoutScope::kAccount, roundUp(until - now)};
  }
  if (const auto until = lockedUntil(state_->addresses, address); now < until) {
    return {LockoutScope::kAddress, roundUp(until - now)};
  }
  return {};
}

FailureOutcome Lockout::recordFailure(std::string_view account, std::string_view address) {
  const auto now = state_->clock.monotonicTime();
  std::lock_guard lock(state_->mutex);
  FailureOutcome outcome;
  if (!account.empty()) {
    outcome.account_locked_for = state_->fail(
        state_->accounts, account, state_->config.account_threshold, now, outcome.account_failures);
  }
  if (!address.empty()) {
    outcome.address_locked_for =
        state_->fail(state_->addresses, address, state_->config.address_threshold, now,
                     outcome.address_failures);
  }
  return outcome;
}

void Lockout::recordSuccess(std::string_view account) {
  std::lock_guard lock(state_->mutex);
  const auto it = state_->accounts.find(account);
  if (it != state_->accounts.end() && state_->clock.monotonicTime() >= it->second.locked_until) {
    state_->accounts.erase(it);
  }
}

void Lockout::clearAccount(std::string_view account) {
  std::lock_guard lock(state_->mutex);
  const auto it = state_->accounts.find(account);
  if (it != state_->accounts.end()) {
    state_->accounts.erase(it);
  }
}

std::size_t Lockout::size() const {
  std::lock_guard lock(state_->mutex);
  return state_->accounts.size() + state_->addresses.size();
}

}  // namespace bulwark::auth

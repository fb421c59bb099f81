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
  store::LockoutStorePtr shared;
  mutable std::mutex mutex;  // logins are rare next to proxied requests: one lock is enough
  Counters accounts;
  Counters addresses;

  State(LockoutConfig c, const core::Clock& k, store::LockoutStorePtr s)
      : config(c), clock(k), shared(std::move(s)) {}

  store::LockoutRule rule(std::uint32_t threshold) const {
    return {threshold, config.base_delay, config.max_delay, config.forget_after};
  }

  Counter& entry(Counters& counters, std::string_view key, core::MonotonicTime now) {
    auto it = counters.find(key);
    if (it == counters.end()) {
      if (counters.size() >= config.max_entries) {
        evict(counters, now);
      }
      it = counters.emplace(std::string(key), Counter{}).first;
    } else if (forgotten(it->second, now)) {
      it->second = Counter{};
    }
    return it->second;
  }

  // Mirrors what the shared store decided, so check() sees it without a round trip.
  void mirror(Counters& counters, std::string_view key, core::MonotonicTime now,
              std::uint32_t failures, std::chrono::milliseconds locked_for) {
    Counter& counter = entry(counters, key, now);
    counter.failures = std::max(counter.failures, failures);
    counter.last_failure = now;
    if (locked_for.count() > 0) {
      counter.locked_until = std::max(counter.locked_until, now + locked_for);
    }
  }

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
    Counter& counter = entry(counters, key, now);
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

Lockout::Lockout(LockoutConfig config, const core::Clock& clock, store::LockoutStorePtr shared)
    : state_(std::make_unique<State>(config, clock, std::move(shared))) {}

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

store::Result<LockoutStatus> Lockout::checkShared(std::string_view account,
                                                 std::string_view address) {
  if (const auto local = check(account, address); local.locked() || !state_->shared) {
    return local;
  }
  const std::pair<store::LockoutKind, std::string_view> keys[] = {
      {store::LockoutKind::kAccount, account}, {store::LockoutKind::kAddress, address}};
  for (const auto& [kind, key] : keys) {
    if (key.empty()) continue;
    auto locked = state_->shared->lockedFor(kind, key);
    if (!locked) return locked.error();
    if (locked->count() <= 0) continue;
    const auto now = state_->clock.monotonicTime();
    std::lock_guard lock(state_->mutex);
    Counters& counters =
        kind == store::LockoutKind::kAccount ? state_->accounts : state_->addresses;
    state_->mirror(counters, key, now, 0, *locked);
    return LockoutStatus{
        kind == store::LockoutKind::kAccount ? LockoutScope::kAccount : LockoutScope::kAddress,
        roundUp(*locked)};
  }
  return LockoutStatus{};
}

FailureOutcome Lockout::recordFailure(std::string_view account, std::string_view address) {
  if (state_->shared) {
    // Every node's failures count; the store decides, this node mirrors.
    FailureOutcome outcome;
    bool counted = true;
    const auto count = [&](store::LockoutKind kind, std::string_view key, Counters& counters,
                           std::uint32_t threshold, std::uint32_t& failures,
                           std::chrono::milliseconds& locked_for) {
      if (key.empty() || !counted) return;
      auto result = state_->shared->recordFailure(kind, key, state_->rule(threshold));
      if (!result) {
        counted = false;
        return;
      }
      failures = result->failures;
      locked_for = result->locked_for;
      std::lock_guard lock(state_->mutex);
      state_->mirror(counters, key, state_->clock.monotonicTime(), failures, locked_for);
    };
    count(store::LockoutKind::kAccount, account, state_->accounts,
          state_->config.account_threshold, outcome.account_failures, outcome.account_locked_for);
    count(store::LockoutKind::kAddress, address, state_->addresses,
          state_->config.address_threshold, outcome.address_failures, outcome.address_locked_for);
    if (counted) return outcome;
    // The store cannot count: this node still does (below), so guesses here are still limited.
  }
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
  if (state_->shared && !account.empty()) {
    (void)state_->shared->clear(store::LockoutKind::kAccount, account, /*unless_locked=*/true);
  }
  std::lock_guard lock(state_->mutex);
  const auto it = state_->accounts.find(account);
  if (it != state_->accounts.end() && state_->clock.monotonicTime() >= it->second.locked_until) {
    state_->accounts.erase(it);
  }
}

void Lockout::clearAccount(std::string_view account) {
  if (state_->shared && !account.empty()) {
    (void)state_->shared->clear(store::LockoutKind::kAccount, account, /*unless_locked=*/false);
  }
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

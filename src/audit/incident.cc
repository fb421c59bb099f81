#include "audit/incident.h"

#include <atomic>
#include <deque>
#include <unordered_map>

namespace bulwark::audit {
namespace {

using core::MonotonicTime;

class NoResponder final : public IncidentResponder {
 public:
  void lockAccount(std::string_view, std::chrono::seconds, std::string_view) override {}
  void revokeSessions(std::string_view, std::string_view, std::string_view) override {}
  void blockAddress(std::string_view, std::chrono::seconds, std::string_view) override {}
};

std::string_view detail(const Event& event, std::string_view key) {
  for (const auto& [k, v] : event.details) {
    if (k == key) return v;
  }
  return {};
}

// Counts events per key in a sliding window.
class WindowCounter {
 public:
  WindowCounter(std::uint32_t threshold, std::chrono::seconds window, std::size_t max_keys)
      : threshold_(threshold), window_(window), max_keys_(max_keys) {}

  // Adds one event for `key` at `now`; returns the count when the threshold is reached (and
  // the key is not in its quiet period), else 0.
  std::uint32_t add(const std::string& key, MonotonicTime now, std::uint64_t& evicted) {
    if (threshold_ == 0 || key.empty()) return 0;
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      if (entries_.size() >= max_keys_) evicted += sweep(now);
      if (entries_.size() >= max_keys_) {
        evicted += entries_.size();
        entries_.clear();  // under a flood of distinct keys, forget rather than grow
      }
      it = entries_.emplace(key, Entry{}).first;
    }
    Entry& entry = it->second;
    while (!entry.times.empty() && now - entry.times.front() >= window_) entry.times.pop_front();
    if (now < entry.quiet_until) return 0;
    entry.times.push_back(now);
    if (entry.times.size() < threshold_) return 0;
    const auto count = static_cast<std::uint32_t>(entry.times.size());
    entry.times.clear();
    entry.quiet_until = now + window_;
    return count;
  }

 private:
  struct Entry {
    std::deque<MonotonicTime> times;
    MonotonicTime quiet_until{};
  };

  std::size_t sweep(MonotonicTime now) {
    std::size_t removed = 0;
    for (auto it = entries_.begin(); it != entries_.end();) {
      const auto& times = it->second.times;
      const bool stale =
          (times.empty() || now - times.back() >= window_) && now >= it->second.quiet_until;
      if (stale) {
        it = entries_.erase(it);
        ++removed;
      } else {
        ++it;
      }
    }
    return removed;
  }

  std::uint32_t threshold_;
  std::chrono::seconds window_;
  std::size_t max_keys_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace

std::shared_ptr<IncidentResponder> makeNoResponder() { return std::make_shared<NoResponder>(); }

struct IncidentEngine::Impl {
  Impl(IncidentConfig config_in, core::Clock& clock_in,
       std::shared_ptr<IncidentResponder> responder_in)
      : config(config_in),
        clock(clock_in),
        responder(responder_in ? std::move(responder_in) : makeNoResponder()),
        login_account(config.login_failures_per_account, config.login_window,
                      config.max_tracked_keys),
        login_address(config.login_failures_per_address, config.login_window,
                      config.max_tracked_keys),
        denied_address(config.access_denied_per_address, config.access_denied_window,
                       config.max_tracked_keys),
        attack_address(config.attacks_per_address, config.attack_window, config.max_tracked_keys) {}

  void raise(Sink& trail, const Event& trigger, std::uint64_t seq, std::string_view rule,
             const std::string& key, std::uint32_t count, std::chrono::seconds window,
             std::string_view response) {
    Event incident;
    incident.type = EventType::kSecurityIncident;
    incident.severity = Severity::kHigh;
    incident.outcome = response == "none" ? Outcome::kFailure : Outcome::kBlocked;
    incident.time = clock.systemTime();
    incident.actor = trigger.actor;
    incident.client_address = trigger.client_address;
    incident.request_id = trigger.request_id;
    incident.target = key;
    incident.details = {
        {"rule", std::string(rule)},          {"key", key},
        {"count", std::to_string(count)},     {"window_seconds", std::to_string(window.count())},
        {"trigger_seq", std::to_string(seq)}, {"response", std::string(response)}};
    trail.record(std::move(incident));
    incidents.fetch_add(1, std::memory_order_relaxed);
  }

  void onRecord(const Event& event, std::uint64_t seq, Sink& trail) {
    // Read per rule, not per record: most records (one per request) match no rule.
    const auto now = [this] { return clock.monotonicTime(); };
    switch (event.type) {
      case EventType::kLoginFailed: {
        const std::string account = !event.target.empty() ? event.target : event.actor;
        if (const auto count = login_account.add(account, now(), evicted)) {
          responder->lockAccount(account, config.lock_duration, "brute_force_account");
          locks.fetch_add(1, std::memory_order_relaxed);
          raise(trail, event, seq, "brute_force_account", account, count, config.login_window,
                "lock_account");
        }
        if (const auto count = login_address.add(event.client_address, now(), evicted)) {
          responder->blockAddress(event.client_address, config.block_duration,
                                  "brute_force_address");
          blocks.fetch_add(1, std::memory_order_relaxed);
          raise(trail, event, seq, "brute_force_address", event.client_address, count,
                config.login_window, "block_address");
        }
        break;
      }
      case EventType::kTokenRefresh:
        if (detail(event, "reuse") == "true") {
          const std::string_view session =
              !detail(event, "session").empty() ? detail(event, "session") : detail(event, "sid");
          responder->revokeSessions(event.actor, session, "refresh_token_reuse");
          revocations.fetch_add(1, std::memory_order_relaxed);
          raise(trail, event, seq, "refresh_token_reuse", event.actor, 1, std::chrono::seconds(0),
                "revoke_sessions");
        }
        break;
      case EventType::kSecurityIncident: {
        // Auth reports reuse as an incident itself (reason=refresh_token_reuse, target = the
        // session): respond unless it already revoked; never react to our own incidents.
        const bool reuse =
            detail(event, "reuse") == "true" || detail(event, "reason") == "refresh_token_reuse";
        if (reuse && detail(event, "rule").empty() &&
            detail(event, "action") != "session_revoked") {
          std::string_view session = detail(event, "session");
          if (session.empty()) session = detail(event, "sid");
          if (session.empty()) session = event.target;
          responder->revokeSessions(event.actor, session, "refresh_token_reuse");
          revocations.fetch_add(1, std::memory_order_relaxed);
        }
        break;
      }
      case EventType::kAccessDenied:
        // Only denials the client earned count; a refusal for our own outage (outcome ERROR)
        // must not get every client blocked.
        if (event.outcome != Outcome::kDenied) break;
        if (const auto count = denied_address.add(event.client_address, now(), evicted)) {
          responder->blockAddress(event.client_address, config.block_duration,
                                  "access_denied_burst");
          blocks.fetch_add(1, std::memory_order_relaxed);
          raise(trail, event, seq, "access_denied_burst", event.client_address, count,
                config.access_denied_window, "block_address");
        }
        break;
      case EventType::kAttackDetected:
        if (const auto count = attack_address.add(event.client_address, now(), evicted)) {
          responder->blockAddress(event.client_address, config.block_duration, "attack_source");
          blocks.fetch_add(1, std::memory_order_relaxed);
          raise(trail, event, seq, "attack_source", event.client_address, count,
                config.attack_window, "block_address");
        }
        break;
      default:
        break;
    }
    evicted_keys.store(evicted, std::memory_order_relaxed);
  }

  IncidentConfig config;
  core::Clock& clock;
  std::shared_ptr<IncidentResponder> responder;
  WindowCounter login_account;
  WindowCounter login_address;
  WindowCounter denied_address;
  WindowCounter attack_address;
  std::uint64_t evicted = 0;
  std::atomic<std::uint64_t> incidents{0}, locks{0}, revocations{0}, blocks{0}, evicted_keys{0};
};

IncidentEngine::IncidentEngine(IncidentConfig config, core::Clock& clock,
                               std::shared_ptr<IncidentResponder> responder)
    : impl_(std::make_unique<Impl>(config, clock, std::move(responder))) {}

IncidentEngine::~IncidentEngine() = default;

void IncidentEngine::onRecord(const Event& event, std::uint64_t seq, Sink& trail) {
  impl_->onRecord(event, seq, trail);
}

IncidentStats IncidentEngine::stats() const {
  return IncidentStats{impl_->incidents.load(), impl_->locks.load(), impl_->revocations.load(),
                       impl_->blocks.load(), impl_->evicted_keys.load()};
}

}  // namespace bulwark::audit

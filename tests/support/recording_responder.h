#pragma once
// An IncidentResponder that remembers what it was asked to do, for tests of the incident rules.

#include <mutex>
#include <string>
#include <vector>

#include "audit/incident.h"

namespace bulwark::testing {

class RecordingResponder final : public audit::IncidentResponder {
 public:
  struct Action {
    std::string kind;     // "lock", "revoke", "block"
    std::string subject;  // account or address
    std::string detail;   // duration in seconds, or the session id
    std::string rule;
  };

  void lockAccount(std::string_view account, std::chrono::seconds duration,
                   std::string_view rule) override {
    add({"lock", std::string(account), std::to_string(duration.count()), std::string(rule)});
  }
  void revokeSessions(std::string_view account, std::string_view session,
                      std::string_view rule) override {
    add({"revoke", std::string(account), std::string(session), std::string(rule)});
  }
  void blockAddress(std::string_view address, std::chrono::seconds duration,
                    std::string_view rule) override {
    add({"block", std::string(address), std::to_string(duration.count()), std::string(rule)});
  }

  std::vector<Action> actions() const {
    std::lock_guard lock(mutex_);
    return actions_;
  }

 private:
  void add(Action action) {
    std::lock_guard lock(mutex_);
    actions_.push_back(std::move(action));
  }
  mutable std::mutex mutex_;
  std::vector<Action> actions_;
};

}  // namespace bulwark::testing

#pragma once
// An audit sink that keeps events in memory so tests can assert on decisions, not log text.

#include <mutex>
#include <vector>

#include "audit/event.h"

namespace bulwark::testing {

class RecordingSink final : public audit::Sink {
 public:
  void record(audit::Event event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  void flush() override {}

  std::vector<audit::Event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  // Number of events of `type`; when `detail_value` is given, only those with a detail equal to it.
  int count(audit::EventType type, std::string_view detail_value = {}) const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& event : events_) {
      if (event.type != type) continue;
      if (detail_value.empty()) {
        ++n;
        continue;
      }
      for (const auto& [key, value] : event.details) {
        if (value == detail_value) {
          ++n;
          break;
        }
      }
    }
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<audit::Event> events_;
};

}  // namespace bulwark::testing

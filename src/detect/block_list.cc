#include "detect/block_list.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace bulwark::detect {
namespace {

class MemoryBlockList final : public BlockList {
 public:
  MemoryBlockList(const core::Clock& clock, std::size_t max_entries)
      : clock_(clock), max_entries_(std::max<std::size_t>(1, max_entries)) {}

  void block(std::string_view address, std::chrono::seconds duration) override {
    const auto until = clock_.monotonicTime() + duration;
    std::unique_lock lock(mutex_);
    auto [it, inserted] = entries_.try_emplace(std::string(address), until);
    if (!inserted) it->second = std::max(it->second, until);
    if (entries_.size() > max_entries_) evict();
    count_.store(entries_.size(), std::memory_order_relaxed);
  }

  bool isBlocked(std::string_view address) const override {
    if (count_.load(std::memory_order_relaxed) == 0) return false;
    std::shared_lock lock(mutex_);
    const auto it = entries_.find(std::string(address));
    return it != entries_.end() && clock_.monotonicTime() < it->second;
  }

  std::size_t size() const override { return count_.load(std::memory_order_relaxed); }

 private:
  void evict() {
    const auto now = clock_.monotonicTime();
    std::erase_if(entries_, [&](const auto& entry) { return entry.second <= now; });
    if (entries_.size() > max_entries_) {
      entries_.erase(std::min_element(entries_.begin(), entries_.end(),
                                      [](const auto& a, const auto& b) { return a.second < b.second; }));
    }
  }

  const core::Clock& clock_;
  const std::size_t max_entries_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, core::MonotonicTime> entries_;
  std::atomic<std::size_t> count_{0};
};

}  // namespace

BlockListPtr makeMemoryBlockList(const core::Clock& clock, std::size_t max_entries) {
  return std::make_shared<MemoryBlockList>(clock, max_entries);
}

}  // namespace bulwark::detect

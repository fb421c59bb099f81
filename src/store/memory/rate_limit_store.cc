#include <algorithm>
#include <cmath>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/rate_limit_store.h"

namespace bulwark::store {
namespace {

struct Bucket {
  double tokens = 0;
  core::MonotonicTime updated{};
  core::RateLimit limit;  // the limit last applied, so eviction refills each bucket by its own
};

class MemoryRateLimitStore final : public RateLimitStore {
 public:
  MemoryRateLimitStore(const core::Clock& clock, MemoryRateLimitConfig config)
      : clock_(clock), config_(config), shards_(std::max<std::size_t>(1, config.shards)) {}

  RateDecision consume(std::string_view key, const core::RateLimit& limit) override {
    const auto now = clock_.monotonicTime();
    Shard& shard = shards_[std::hash<std::string_view>{}(key) % shards_.size()];
    std::lock_guard lock(shard.mutex);
    auto it = shard.buckets.find(key);
    if (it == shard.buckets.end()) {
      if (shard.buckets.size() >= perShardLimit()) {
        evictFull(shard, now);
      }
      it = shard.buckets.emplace(std::string(key), Bucket{limit.burst, now, limit}).first;
    }
    Bucket& bucket = it->second;
    bucket.limit = limit;
    refill(bucket, now);
    if (bucket.tokens >= 1.0) {
      bucket.tokens -= 1.0;
      return {true, {}};
    }
    const double missing = 1.0 - bucket.tokens;
    const auto wait_ms =
        static_cast<std::int64_t>(std::ceil(missing / limit.tokens_per_second * 1000.0));
    return {false, std::chrono::milliseconds{std::max<std::int64_t>(1, wait_ms)}};
  }

  std::size_t size() const override {
    std::size_t total = 0;
    for (const auto& shard : shards_) {
      std::lock_guard lock(shard.mutex);
      total += shard.buckets.size();
    }
    return total;
  }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Bucket, StringHash, std::equal_to<>> buckets;
  };

  static void refill(Bucket& bucket, core::MonotonicTime now) {
    if (now > bucket.updated) {
      const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
      bucket.tokens = std::min(bucket.limit.burst,
                               bucket.tokens + elapsed * bucket.limit.tokens_per_second);
      bucket.updated = now;
    }
  }

  std::size_t perShardLimit() const {
    return std::max<std::size_t>(1, config_.max_buckets / shards_.size());
  }

  // Drops buckets that have refilled to their burst (forgetting them changes no decision). If
  // every bucket is active, drops the stalest one: under a flood of distinct keys that favours
  // letting an old client's bucket reset over unbounded memory.
  void evictFull(Shard& shard, core::MonotonicTime now) {
    for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
      refill(it->second, now);
      it = it->second.tokens >= it->second.limit.burst ? shard.buckets.erase(it) : std::next(it);
    }
    if (shard.buckets.size() >= perShardLimit()) {
      auto stalest = std::min_element(shard.buckets.begin(), shard.buckets.end(),
                                      [](const auto& a, const auto& b) {
                                        return a.second.updated < b.second.updated;
                                      });
      shard.buckets.erase(stalest);
    }
  }

  const core::Clock& clock_;
  MemoryRateLimitConfig config_;
  std::vector<Shard> shards_;
};

}  // namespace

RateLimitStorePtr makeMemoryRateLimitStore(const core::Clock& clock,
                                           MemoryRateLimitConfig config) {
  return std::make_shared<MemoryRateLimitStore>(clock, config);
}

}  // namespace bulwark::store

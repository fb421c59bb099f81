#include "jwt/detail/token_cache.h"

#include <bit>
#include <cstring>

namespace bulwark::jwt::detail {

TokenCache::TokenCache(std::size_t capacity, std::size_t shards)
    : shards_(std::bit_ceil(std::max<std::size_t>(shards, 1))) {
  per_shard_ = std::max<std::size_t>(1, (capacity + shards_.size() - 1) / shards_.size());
}

std::optional<CachedToken> TokenCache::find(const crypto::Digest256& hash, core::SystemTime now) {
  Shard& shard = shardFor(hash);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.index.find(hash);
  if (it == shard.index.end()) {
    ++shard.misses;
    return std::nullopt;
  }
  if (now >= it->second->value.valid_until) {
    shard.lru.erase(it->second);
    shard.index.erase(it);
    ++shard.evictions;
    ++shard.misses;
    return std::nullopt;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
  ++shard.hits;
  return it->second->value;
}

void TokenCache::insert(const crypto::Digest256& hash, CachedToken entry) {
  Shard& shard = shardFor(hash);
  std::lock_guard lock(shard.mutex);
  if (const auto it = shard.index.find(hash); it != shard.index.end()) {
    it->second->value = std::move(entry);
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
    return;
  }
  if (shard.index.size() >= per_shard_) {
    shard.index.erase(shard.lru.back().hash);
    shard.lru.pop_back();
    ++shard.evictions;
  }
  shard.lru.push_front(Node{hash, std::move(entry)});
  shard.index.emplace(hash, shard.lru.begin());
}

void TokenCache::erase(const crypto::Digest256& hash) {
  Shard& shard = shardFor(hash);
  std::lock_guard lock(shard.mutex);
  if (const auto it = shard.index.find(hash); it != shard.index.end()) {
    shard.lru.erase(it->second);
    shard.index.erase(it);
    ++shard.evictions;
  }
}

std::size_t TokenCache::eraseIf(const std::function<bool(const CachedToken&)>& drop) {
  std::size_t removed = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (auto it = shard.lru.begin(); it != shard.lru.end();) {
      if (drop(it->value)) {
        shard.index.erase(it->hash);
        it = shard.lru.erase(it);
        ++shard.evictions;
        ++removed;
      } else {
        ++it;
      }
    }
  }
  return removed;
}

TokenCacheStats TokenCache::stats() const {
  TokenCacheStats total;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total.hits += shard.hits;
    total.misses += shard.misses;
    total.evictions += shard.evictions;
    total.entries += shard.index.size();
  }
  return total;
}

}  // namespace bulwark::jwt::detail

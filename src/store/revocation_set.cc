// The set is read on every proxied request and written rarely, so each shard is guarded by a
// shared_mutex and lookups use string_view keys (transparent hashing, no allocation). An atomic
// entry count lets the common case of an empty set answer without touching a lock.

#include <atomic>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/revocation_store.h"

namespace bulwark::store {
namespace {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Entry {
  core::SystemTime not_before{};  // kUser only
  core::SystemTime expires{};
};

using Map = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;

}  // namespace

struct RevocationSet::Impl {
  struct Shard {
    mutable std::shared_mutex mutex;
    Map tokens;    // by jti
    Map sessions;  // by sid
    Map users;     // by user id
  };

  explicit Impl(std::size_t shard_count) : shards(std::max<std::size_t>(1, shard_count)) {}

  Shard& shardFor(std::string_view key) { return shards[StringHash{}(key) % shards.size()]; }
  const Shard& shardFor(std::string_view key) const {
    return shards[StringHash{}(key) % shards.size()];
  }

  static Map& mapOf(Shard& shard, RevocationKind kind) {
    switch (kind) {
      case RevocationKind::kToken:
        return shard.tokens;
      case RevocationKind::kSession:
        return shard.sessions;
      case RevocationKind::kUser:
        break;
    }
    return shard.users;
  }

  std::vector<Shard> shards;
  std::atomic<std::size_t> count{0};
};

RevocationSet::RevocationSet(std::size_t shards) : impl_(std::make_unique<Impl>(shards)) {}
RevocationSet::~RevocationSet() = default;

bool RevocationSet::isRevoked(std::string_view jti, std::string_view sid, std::string_view user,
                              core::SystemTime issued_at) const {
  if (impl_->count.load(std::memory_order_acquire) == 0) {
    return false;
  }
  if (!jti.empty()) {
    const auto& shard = impl_->shardFor(jti);
    std::shared_lock lock(shard.mutex);
    if (shard.tokens.find(jti) != shard.tokens.end()) {
      return true;
    }
  }
  if (!sid.empty()) {
    const auto& shard = impl_->shardFor(sid);
    std::shared_lock lock(shard.mutex);
    if (shard.sessions.find(sid) != shard.sessions.end()) {
      return true;
    }
  }
  if (!user.empty()) {
    const auto& shard = impl_->shardFor(user);
    std::shared_lock lock(shard.mutex);
    const auto it = shard.users.find(user);
    if (it != shard.users.end() && issued_at < it->second.not_before) {
      return true;
    }
  }
  return false;
}

void RevocationSet::add(const Revocation& revocation) {
  if (revocation.key.empty()) {
    return;
  }
  auto& shard = impl_->shardFor(revocation.key);
  std::unique_lock lock(shard.mutex);
  Map& map = Impl::mapOf(shard, revocation.kind);
  const auto [it, inserted] =
      map.try_emplace(revocation.key, Entry{revocation.not_before, revocation.expires});
  if (inserted) {
    impl_->count.fetch_add(1, std::memory_order_release);
    return;
  }
  it->second.not_before = std::max(it->second.not_before, revocation.not_before);
  it->second.expires = std::max(it->second.expires, revocation.expires);
}

std::size_t RevocationSet::purge(core::SystemTime now) {
  std::size_t removed = 0;
  for (auto& shard : impl_->shards) {
    std::unique_lock lock(shard.mutex);
    for (Map* map : {&shard.tokens, &shard.sessions, &shard.users}) {
      removed += std::erase_if(*map, [now](const auto& item) { return item.second.expires < now; });
    }
  }
  impl_->count.fetch_sub(removed, std::memory_order_release);
  return removed;
}

std::size_t RevocationSet::size() const { return impl_->count.load(std::memory_order_acquire); }

}  // namespace bulwark::store

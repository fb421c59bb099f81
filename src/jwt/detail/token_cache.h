#pragma once
// The verified-token cache (private to src/jwt; the Verifier owns one). Bounded, sharded LRU
// keyed by SHA-256 of the whole token: a token differing in any byte is a different entry, and
// only tokens that passed every check are stored. Entries expire at exp + leeway and are dropped
// when the key that verified them stops verifying (the Verifier checks the key on every hit and
// sweeps when an issuer publishes a new key set).
//
// Shared mutable state: each shard's map and list, behind that shard's mutex; the counters live
// in the shards too, so counting costs no extra atomic.

#include <cstdint>
#include <cstring>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "crypto/hmac.h"
#include "crypto/signature_key.h"
#include "jwt/verifier.h"

namespace bulwark::jwt::detail {

struct CachedToken {
  VerifiedTokenPtr token;
  crypto::SignatureKeyPtr key;   // the key that verified it: a hit is valid only while the
                                 // issuer's current set still holds this very key
  core::SystemTime valid_until;  // exp + leeway
};

struct TokenCacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;
  std::uint64_t entries = 0;
};

class TokenCache {
 public:
  // `capacity` > 0 entries over `shards` (rounded up to a power of two) shards.
  TokenCache(std::size_t capacity, std::size_t shards);

  // Returns the entry for `hash` if present and valid at `now` (counting a hit), else nullopt
  // (counting a miss; an expired entry is removed). Thread-safe.
  std::optional<CachedToken> find(const crypto::Digest256& hash, core::SystemTime now);
  // Stores `entry`, evicting the least recently used entry of its shard when full. Thread-safe.
  void insert(const crypto::Digest256& hash, CachedToken entry);
  // Removes the entry for `hash` (counted as an eviction). Thread-safe.
  void erase(const crypto::Digest256& hash);
  // Removes every entry for which `drop` returns true; returns how many. Thread-safe; takes each
  // shard's lock in turn, so it costs O(entries): for key changes, not per request.
  std::size_t eraseIf(const std::function<bool(const CachedToken&)>& drop);

  TokenCacheStats stats() const;

 private:
  struct DigestHash {
    std::size_t operator()(const crypto::Digest256& d) const noexcept {
      std::size_t h;
      std::memcpy(&h, d.data(), sizeof h);  // SHA-256 output is already uniform
      return h;
    }
  };
  struct Node {
    crypto::Digest256 hash;
    CachedToken value;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::list<Node> lru;  // most recently used first
    std::unordered_map<crypto::Digest256, std::list<Node>::iterator, DigestHash> index;
    std::uint64_t hits = 0, misses = 0, evictions = 0;
  };

  Shard& shardFor(const crypto::Digest256& hash) {
    return shards_[hash[31] & (shards_.size() - 1)];  // byte 31: independent of DigestHash's
  }

  std::size_t per_shard_;
  std::vector<Shard> shards_;
};

}  // namespace bulwark::jwt::detail

#pragma once
// Revoked access tokens (SPEC F2.5, DESIGN decision 5): by token id (jti), by session (sid) and
// by a per-user not-before (logout-all). Each node answers isRevoked() from memory on every
// request; the store behind it persists and shares revocations:
//
//   RevocationSet     the in-memory set: sharded, read-mostly locks, no I/O, no allocation on
//                     lookups. A Redis store will feed one from pub/sub plus a periodic resync.
//   RevocationStore   revoke() applies to this node's set at once (so the revoking node rejects
//                     the token on return) and persists/publishes it for the others.
//
// Entries carry their own expiry (when the tokens they revoke expire, at most
// kMaxRevocationLifetime) and are forgotten after it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "store/error.h"
#include "store/sqlite_config.h"

namespace bulwark::store {

// No entry is kept longer than this (the longest refresh-token TTL a session can have left after
// its revocation; access tokens live far shorter).
inline constexpr std::chrono::hours kMaxRevocationLifetime{7 * 24};

enum class RevocationKind : std::uint8_t {
  kToken = 1,  // one access token, by jti
  kSession,    // every access token of a session, by sid
  kUser,       // every token of a user issued before `not_before`, by user id (the JWT `sub`)
};

struct Revocation {
  RevocationKind kind = RevocationKind::kToken;
  std::string key;                // jti, sid or user id
  core::SystemTime not_before{};  // kUser only
  core::SystemTime expires{};     // when the entry may be forgotten
};

// The in-memory set one node checks on every request. Thread-safe: lookups take a shared lock on
// one of `shards` shards (and none at all while the set is empty); writers lock one shard.
class RevocationSet {
 public:
  explicit RevocationSet(std::size_t shards = 32);
  ~RevocationSet();
  RevocationSet(const RevocationSet&) = delete;
  RevocationSet& operator=(const RevocationSet&) = delete;

  // True when the token is revoked: its jti or its sid is in the set, or it was issued before
  // its user's not-before (issued_at < not_before, both as given). Empty keys are not looked up.
  // Expired entries still count until purge() removes them (their tokens have expired too).
  bool isRevoked(std::string_view jti, std::string_view sid, std::string_view user,
                 core::SystemTime issued_at) const;
  // Adds or merges an entry (idempotent). For kUser the later not-before and the later expiry
  // win; for the others the later expiry.
  void add(const Revocation& revocation);
  // Removes entries that expired before `now`; returns how many.
  std::size_t purge(core::SystemTime now);
  // Number of entries.
  std::size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class RevocationStore {
 public:
  virtual ~RevocationStore() = default;

  // Records `revocation`: this node's set has it when the call returns; the store persists or
  // publishes it for other processes and nodes. May block on I/O (call from the worker pool).
  // kInvalidArgument for an empty key. On a backend error the local set has it nonetheless.
  [[nodiscard]] virtual Result<void> revoke(const Revocation& revocation) = 0;
  // The hot path (see RevocationSet::isRevoked). Never blocks on I/O.
  virtual bool isRevoked(std::string_view jti, std::string_view sid, std::string_view user,
                         core::SystemTime issued_at) const = 0;
  // Takes in revocations recorded elsewhere since the last call (other processes, other nodes)
  // and forgets expired ones. Call it periodically (e.g. every 500 ms) from a worker thread.
  // Returns the number of entries taken in.
  [[nodiscard]] virtual Result<std::size_t> sync(core::SystemTime now) = 0;
  // Number of entries in this node's set.
  virtual std::size_t size() const = 0;
  // False while this node cannot vouch that its set is current (a shared store that lost its
  // feed and has not resynchronised yet); the gateway then refuses protected routes with 503
  // (DESIGN decision 9: fail closed). The embedded stores are always current.
  virtual bool isCurrent() const { return true; }
};
using RevocationStorePtr = std::shared_ptr<RevocationStore>;

// In-process store: the set alone. Revocations live as long as the process and are not shared.
RevocationStorePtr makeMemoryRevocationStore();

// The set, persisted in SQLite (`config.path`, shared with the other embedded stores): entries
// not yet expired at `now` are loaded on open, so revocations survive a restart, and sync()
// takes in rows other processes wrote on the same file.
[[nodiscard]] Result<RevocationStorePtr> openSqliteRevocationStore(const SqliteConfig& config,
                                                                   core::SystemTime now);

}  // namespace bulwark::store

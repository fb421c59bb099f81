#include <mutex>

#include "store/postgres.h"
#include "store/postgres/pool.h"

namespace bulwark::store {
namespace {

using postgres::Connection;
using postgres::fromMillis;
using postgres::Params;
using postgres::Retry;
using postgres::toMillis;

// Expired rows are deleted from the table at most this often (sync() is called far more often).
constexpr std::chrono::minutes kPurgeInterval{1};

class PostgresRevocationStore final : public RevocationStore {
 public:
  explicit PostgresRevocationStore(PostgresPoolPtr pool)
      : owner_(std::move(pool)), pool_(*owner_->impl().pool) {}

  // Reads rows after the last one seen into the set.
  Result<std::size_t> load(core::SystemTime now) {
    std::lock_guard lock(load_mutex_);
    auto rows = pool_.run(Retry::kSafe, [&](Connection& db) {
      return db.exec(
          "SELECT id, kind, key, not_before_ms, expires_ms FROM revocations "
          "WHERE id > $1 AND expires_ms >= $2 ORDER BY id",
          Params().int64(last_id_).int64(toMillis(now)));
    });
    if (!rows) {
      current_ = false;
      return rows.error();
    }
    std::size_t taken = 0;
    for (int row = 0; row < rows->size(); ++row) {
      const auto id = rows->integer(row, 0);
      const auto kind = rows->integer(row, 1);
      const auto not_before = rows->integer(row, 3);
      const auto expires = rows->integer(row, 4);
      if (!id || !kind || !not_before || !expires) {
        current_ = false;
        return StoreError::kCorrupt;
      }
      last_id_ = std::max(last_id_, *id);
      if (*kind < static_cast<int>(RevocationKind::kToken) ||
          *kind > static_cast<int>(RevocationKind::kUser)) {
        continue;  // written by a newer build; not ours to interpret
      }
      set_.add({static_cast<RevocationKind>(*kind), rows->text(row, 2), fromMillis(*not_before),
                fromMillis(*expires)});
      ++taken;
    }
    current_ = true;
    return taken;
  }

  Result<void> revoke(const Revocation& revocation) override {
    if (revocation.key.empty()) {
      return StoreError::kInvalidArgument;
    }
    set_.add(revocation);  // first, so this node rejects the token even if the write fails
    // sync() reads "ids after the last one seen", which is only sound if ids become visible in
    // id order. A sequence alone does not promise that (a lower id may commit later), so each
    // insert takes a transaction-scoped advisory lock before drawing its id and holds it until
    // it has committed. Revocations are rare; serialising them costs nothing that matters.
    // A repeated insert merges harmlessly into every set, so the write may be retried.
    return pool_.run(Retry::kSafe, [&](Connection& db) -> Result<void> {
      auto inserted = db.exec(
          "WITH serialized AS (SELECT pg_advisory_xact_lock(hashtext('bulwark.revocations'))) "
          "INSERT INTO revocations (id, kind, key, not_before_ms, expires_ms) "
          "SELECT nextval(pg_get_serial_sequence('revocations', 'id')), $1, $2, $3, $4 "
          "FROM serialized",
          Params()
              .int64(static_cast<std::int64_t>(revocation.kind))
              .text(revocation.key)
              .int64(toMillis(revocation.not_before))
              .int64(toMillis(revocation.expires)));
      if (!inserted) {
        return inserted.error();
      }
      return {};
    });
  }

  bool isRevoked(std::string_view jti, std::string_view sid, std::string_view user,
                 core::SystemTime issued_at) const override {
    return set_.isRevoked(jti, sid, user, issued_at);
  }

  Result<std::size_t> sync(core::SystemTime now) override {
    std::lock_guard lock(sync_mutex_);
    auto taken = load(now);
    set_.purge(now);
    if (taken && now - last_purge_ >= kPurgeInterval) {
      last_purge_ = now;
      auto purged = pool_.run(Retry::kSafe, [&](Connection& db) -> Result<void> {
        auto deleted =
            db.exec("DELETE FROM revocations WHERE expires_ms < $1", Params().int64(toMillis(now)));
        if (!deleted) {
          return deleted.error();
        }
        return {};
      });
      if (!purged) {
        return purged.error();
      }
    }
    return taken;
  }

  std::size_t size() const override { return set_.size(); }

  // False after a failed sync until the next successful one: this node may have missed
  // revocations other nodes wrote (DESIGN decision 9: the gateway then fails closed).
  bool isCurrent() const override { return current_; }

 private:
  PostgresPoolPtr owner_;  // keeps the pool alive
  postgres::Pool& pool_;
  RevocationSet set_;
  std::mutex load_mutex_;
  std::int64_t last_id_ = 0;  // guarded by load_mutex_
  std::atomic<bool> current_{false};
  std::mutex sync_mutex_;
  core::SystemTime last_purge_{};  // guarded by sync_mutex_
};

}  // namespace

Result<RevocationStorePtr> openPostgresRevocationStore(PostgresPoolPtr pool, core::SystemTime now) {
  auto store = std::make_shared<PostgresRevocationStore>(std::move(pool));
  if (auto loaded = store->load(now); !loaded) {
    return loaded.error();
  }
  return RevocationStorePtr(std::move(store));
}

}  // namespace bulwark::store

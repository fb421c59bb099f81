#include "store/revocation_store.h"

#include <mutex>

#include "store/sqlite/database.h"

namespace bulwark::store {
namespace {

using sqlite::Database;
using sqlite::fromMillis;
using sqlite::toMillis;

// Expired rows are deleted from the file at most this often (sync() is called far more often).
constexpr std::chrono::minutes kPurgeInterval{1};

class SqliteRevocationStore final : public RevocationStore {
 public:
  explicit SqliteRevocationStore(sqlite::DatabasePtr database) : db_(std::move(database)) {}

  // Reads rows after the last one seen into the set.
  Result<std::size_t> load(core::SystemTime now) {
    return db_->run(false, [&](Database& db) -> Result<std::size_t> {
      auto select = db.prepare(
          "SELECT id, kind, key, not_before_ms, expires_ms FROM revocations "
          "WHERE id > ?1 AND expires_ms >= ?2 ORDER BY id");
      if (!select) {
        return select.error();
      }
      select->bind(1, last_id_).bind(2, toMillis(now));
      std::size_t taken = 0;
      int code = SQLITE_ROW;
      while ((code = select->step()) == SQLITE_ROW) {
        last_id_ = std::max(last_id_, select->integer(0));
        const auto kind = select->integer(1);
        if (kind < static_cast<int>(RevocationKind::kToken) ||
            kind > static_cast<int>(RevocationKind::kUser)) {
          continue;  // written by a newer build; not ours to interpret
        }
        set_.add({static_cast<RevocationKind>(kind), select->text(2),
                  fromMillis(select->integer(3)), fromMillis(select->integer(4))});
        ++taken;
      }
      if (code != SQLITE_DONE) {
        return sqlite::storeErrorOf(code);
      }
      return taken;
    });
  }

  Result<void> revoke(const Revocation& revocation) override {
    if (revocation.key.empty()) {
      return StoreError::kInvalidArgument;
    }
    set_.add(revocation);  // first, so this node rejects the token even if the write fails
    return db_->run(true, [&](Database& db) -> Result<void> {
      auto insert = db.prepare(
          "INSERT INTO revocations (kind, key, not_before_ms, expires_ms) "
          "VALUES (?1, ?2, ?3, ?4)");
      if (!insert) {
        return insert.error();
      }
      insert->bind(1, static_cast<std::int64_t>(revocation.kind))
          .bind(2, revocation.key)
          .bind(3, toMillis(revocation.not_before))
          .bind(4, toMillis(revocation.expires));
      return insert->run();
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
    if (now - last_purge_ >= kPurgeInterval) {
      last_purge_ = now;
      auto purged = db_->run(true, [&](Database& db) -> Result<void> {
        auto purge = db.prepare("DELETE FROM revocations WHERE expires_ms < ?1");
        if (!purge) {
          return purge.error();
        }
        purge->bind(1, toMillis(now));
        return purge->run();
      });
      if (!purged) {
        return purged.error();
      }
    }
    return taken;
  }

  std::size_t size() const override { return set_.size(); }

 private:
  sqlite::DatabasePtr db_;
  RevocationSet set_;
  std::int64_t last_id_ = 0;  // guarded by the database's mutex (touched inside db_->run only)
  std::mutex sync_mutex_;
  core::SystemTime last_purge_{};  // guarded by sync_mutex_
};

}  // namespace

Result<RevocationStorePtr> openSqliteRevocationStore(const SqliteConfig& config,
                                                     core::SystemTime now) {
  auto database = sqlite::Database::open(config);
  if (!database) {
    return database.error();
  }
  auto store = std::make_shared<SqliteRevocationStore>(std::move(*database));
  if (auto loaded = store->load(now); !loaded) {
    return loaded.error();
  }
  return RevocationStorePtr(std::move(store));
}

}  // namespace bulwark::store

#include "store/user_store.h"

#include "store/detail/records.h"
#include "store/sqlite/database.h"

namespace bulwark::store {
namespace {

using sqlite::Database;
using sqlite::fromMillis;
using sqlite::toMillis;

class SqliteUserStore final : public UserStore {
 public:
  explicit SqliteUserStore(sqlite::DatabasePtr database) : db_(std::move(database)) {}

  Result<void> create(const User& user) override {
    auto roles = detail::checkNewUser(user);
    if (!roles) {
      return roles.error();
    }
    return db_->run(true, [&](Database& db) -> Result<void> {
      auto insert = db.prepare(
          "INSERT INTO users (id, username, password_hash, locked, created_ms, not_before_ms) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
      if (!insert) {
        return insert.error();
      }
      insert->bind(1, user.id)
          .bind(2, user.username)
          .bind(3, user.password_hash)
          .bind(4, std::int64_t{user.locked ? 1 : 0})
          .bind(5, toMillis(user.created))
          .bind(6, toMillis(user.not_before));
      if (auto inserted = insert->run(); !inserted) {
        return inserted;
      }
      return writeRoles(db, user.id, *roles);
    });
  }

  Result<User> findByName(std::string_view username) override {
    const auto normal = normalizeUsername(username);
    if (!normal) {
      return StoreError::kNotFound;
    }
    return find(
        "SELECT id, username, password_hash, locked, created_ms, not_before_ms "
        "FROM users WHERE username = ?1",
        *normal);
  }

  Result<User> findById(std::string_view id) override {
    return find(
        "SELECT id, username, password_hash, locked, created_ms, not_before_ms "
        "FROM users WHERE id = ?1",
        id);
  }

  Result<void> setLocked(std::string_view id, bool locked) override {
    return db_->run(true, [&](Database& db) -> Result<void> {
      auto update = db.prepare("UPDATE users SET locked = ?2 WHERE id = ?1");
      if (!update) {
        return update.error();
      }
      update->bind(1, id).bind(2, std::int64_t{locked ? 1 : 0});
      return changedOne(db, update->run());
    });
  }

  Result<void> setRoles(std::string_view id, const std::vector<std::string>& roles) override {
    auto canonical = detail::canonicalRoles(roles);
    if (!canonical) {
      return canonical.error();
    }
    return db_->run(true, [&](Database& db) -> Result<void> {
      if (auto exists = userExists(db, id); !exists) {
        return exists;
      }
      auto clear = db.prepare("DELETE FROM user_roles WHERE user_id = ?1");
      if (!clear) {
        return clear.error();
      }
      clear->bind(1, id);
      if (auto cleared = clear->run(); !cleared) {
        return cleared;
      }
      return writeRoles(db, id, *canonical);
    });
  }

  Result<void> setPasswordHash(std::string_view id, std::string_view password_hash) override {
    return db_->run(true, [&](Database& db) -> Result<void> {
      auto update = db.prepare("UPDATE users SET password_hash = ?2 WHERE id = ?1");
      if (!update) {
        return update.error();
      }
      update->bind(1, id).bind(2, password_hash);
      return changedOne(db, update->run());
    });
  }

  Result<void> raiseNotBefore(std::string_view id, core::SystemTime not_before) override {
    return db_->run(true, [&](Database& db) -> Result<void> {
      if (auto exists = userExists(db, id); !exists) {
        return exists;
      }
      auto update =
          db.prepare("UPDATE users SET not_before_ms = max(not_before_ms, ?2) WHERE id = ?1");
      if (!update) {
        return update.error();
      }
      update->bind(1, id).bind(2, toMillis(not_before));
      return update->run();
    });
  }

 private:
  static Result<void> changedOne(Database& db, Result<void> ran) {
    if (!ran) {
      return ran;
    }
    return db.changes() == 1 ? Result<void>{} : Result<void>{StoreError::kNotFound};
  }

  static Result<void> userExists(Database& db, std::string_view id) {
    auto select = db.prepare("SELECT 1 FROM users WHERE id = ?1");
    if (!select) {
      return select.error();
    }
    select->bind(1, id);
    const int code = select->step();
    if (code == SQLITE_ROW) {
      return {};
    }
    return code == SQLITE_DONE ? StoreError::kNotFound : sqlite::storeErrorOf(code);
  }

  static Result<void> writeRoles(Database& db, std::string_view id,
                                 const std::vector<std::string>& roles) {
    for (const auto& role : roles) {
      auto insert = db.prepare("INSERT INTO user_roles (user_id, role) VALUES (?1, ?2)");
      if (!insert) {
        return insert.error();
      }
      insert->bind(1, id).bind(2, role);
      if (auto inserted = insert->run(); !inserted) {
        return inserted;
      }
    }
    return {};
  }

  Result<User> find(std::string_view sql, std::string_view key) {
    return db_->run(false, [&](Database& db) -> Result<User> {
      // One read transaction, so the user row and its roles are one snapshot.
      if (auto begun = db.exec("BEGIN"); !begun) {
        return begun.error();
      }
      auto found = readUser(db, sql, key);
      (void)db.exec(found ? "COMMIT" : "ROLLBACK");
      return found;
    });
  }

  static Result<User> readUser(Database& db, std::string_view sql, std::string_view key) {
    User user;
    {
      auto select = db.prepare(sql);
      if (!select) {
        return select.error();
      }
      select->bind(1, key);
      const int code = select->step();
      if (code == SQLITE_DONE) {
        return StoreError::kNotFound;
      }
      if (code != SQLITE_ROW) {
        return sqlite::storeErrorOf(code);
      }
      user.id = select->text(0);
      user.username = select->text(1);
      user.password_hash = select->text(2);
      user.locked = select->integer(3) != 0;
      user.created = fromMillis(select->integer(4));
      user.not_before = fromMillis(select->integer(5));
    }
    auto roles = db.prepare("SELECT role FROM user_roles WHERE user_id = ?1 ORDER BY role");
    if (!roles) {
      return roles.error();
    }
    roles->bind(1, user.id);
    int code = SQLITE_ROW;
    while ((code = roles->step()) == SQLITE_ROW) {
      user.roles.push_back(roles->text(0));
    }
    if (code != SQLITE_DONE) {
      return sqlite::storeErrorOf(code);
    }
    return user;
  }

  sqlite::DatabasePtr db_;
};

}  // namespace

Result<UserStorePtr> openSqliteUserStore(const SqliteConfig& config) {
  auto database = sqlite::Database::open(config);
  if (!database) {
    return database.error();
  }
  return UserStorePtr(std::make_shared<SqliteUserStore>(std::move(*database)));
}

}  // namespace bulwark::store

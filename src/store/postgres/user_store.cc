#include <algorithm>

#include "store/detail/records.h"
#include "store/postgres.h"
#include "store/postgres/pool.h"

namespace bulwark::store {
namespace {

using postgres::Connection;
using postgres::fromMillis;
using postgres::Params;
using postgres::Retry;
using postgres::toMillis;

// One statement reads the user and its roles, so they are one snapshot. Roles cannot contain
// ',' (isValidRole), so a comma-joined aggregate is unambiguous.
constexpr std::string_view kSelectByName =
    "SELECT id, username, password_hash, locked, created_ms, not_before_ms, "
    "(SELECT coalesce(string_agg(role, ','), '') FROM user_roles r WHERE r.user_id = u.id) "
    "FROM users u WHERE username = $1";
constexpr std::string_view kSelectById =
    "SELECT id, username, password_hash, locked, created_ms, not_before_ms, "
    "(SELECT coalesce(string_agg(role, ','), '') FROM user_roles r WHERE r.user_id = u.id) "
    "FROM users u WHERE id = $1";

std::string joinRoles(const std::vector<std::string>& roles) {
  std::string joined;
  for (const auto& role : roles) {
    joined += joined.empty() ? role : "," + role;
  }
  return joined;
}

std::vector<std::string> splitRoles(std::string_view joined) {
  std::vector<std::string> roles;
  while (!joined.empty()) {
    const auto comma = joined.find(',');
    roles.emplace_back(joined.substr(0, comma));
    joined = comma == std::string_view::npos ? std::string_view() : joined.substr(comma + 1);
  }
  std::sort(roles.begin(), roles.end());  // byte order, as the other backends
  return roles;
}

// kNotFound when an UPDATE by id touched no row.
Result<void> changedOne(Result<postgres::Rows> ran) {
  if (!ran) {
    return ran.error();
  }
  return ran->affected() == 1 ? Result<void>{} : Result<void>{StoreError::kNotFound};
}

class PostgresUserStore final : public UserStore {
 public:
  explicit PostgresUserStore(PostgresPoolPtr pool)
      : owner_(std::move(pool)), pool_(*owner_->impl().pool) {}

  Result<void> create(const User& user) override {
    auto roles = detail::checkNewUser(user);
    if (!roles) {
      return roles.error();
    }
    // One statement: the user and its roles appear together or not at all.
    return pool_.run(Retry::kUnsafe, [&](Connection& db) -> Result<void> {
      auto inserted = db.exec(
          "WITH u AS (INSERT INTO users (id, username, password_hash, locked, created_ms, "
          "not_before_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id) "
          "INSERT INTO user_roles (user_id, role) "
          "SELECT u.id, r FROM u, unnest(string_to_array($7, ',')) AS r",
          Params()
              .text(user.id)
              .text(user.username)
              .text(user.password_hash)
              .boolean(user.locked)
              .int64(toMillis(user.created))
              .int64(toMillis(user.not_before))
              .text(joinRoles(*roles)));
      if (!inserted) {
        return inserted.error();
      }
      return {};
    });
  }

  Result<User> findByName(std::string_view username) override {
    const auto normal = normalizeUsername(username);
    if (!normal) {
      return StoreError::kNotFound;
    }
    return find(kSelectByName, *normal);
  }

  Result<User> findById(std::string_view id) override { return find(kSelectById, id); }

  Result<void> setLocked(std::string_view id, bool locked) override {
    return pool_.run(Retry::kSafe, [&](Connection& db) {
      return changedOne(
          db.exec("UPDATE users SET locked = $2 WHERE id = $1", Params().text(id).boolean(locked)));
    });
  }

  Result<void> setRoles(std::string_view id, const std::vector<std::string>& roles) override {
    auto canonical = detail::canonicalRoles(roles);
    if (!canonical) {
      return canonical.error();
    }
    return pool_.transaction([&](Connection& db) -> Result<void> {
      auto user = db.exec("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", Params().text(id));
      if (!user) {
        return user.error();
      }
      if (user->size() == 0) {
        return StoreError::kNotFound;
      }
      if (auto cleared = db.exec("DELETE FROM user_roles WHERE user_id = $1", Params().text(id));
          !cleared) {
        return cleared.error();
      }
      auto written = db.exec(
          "INSERT INTO user_roles (user_id, role) "
          "SELECT $1, r FROM unnest(string_to_array($2, ',')) AS r",
          Params().text(id).text(joinRoles(*canonical)));
      if (!written) {
        return written.error();
      }
      return {};
    });
  }

  Result<void> setPasswordHash(std::string_view id, std::string_view password_hash) override {
    return pool_.run(Retry::kSafe, [&](Connection& db) {
      return changedOne(db.exec("UPDATE users SET password_hash = $2 WHERE id = $1",
                                Params().text(id).text(password_hash)));
    });
  }

  Result<void> raiseNotBefore(std::string_view id, core::SystemTime not_before) override {
    return pool_.run(Retry::kSafe, [&](Connection& db) {
      return changedOne(
          db.exec("UPDATE users SET not_before_ms = greatest(not_before_ms, $2) WHERE id = $1",
                  Params().text(id).int64(toMillis(not_before))));
    });
  }

 private:
  Result<User> find(std::string_view sql, std::string_view key) {
    auto found = pool_.run(Retry::kSafe, [&](Connection& db) -> Result<User> {
      auto rows = db.exec(sql, Params().text(key));
      if (!rows) {
        return rows.error();
      }
      if (rows->size() == 0) {
        return StoreError::kNotFound;
      }
      User user;
      user.id = rows->text(0, 0);
      user.username = rows->text(0, 1);
      user.password_hash = rows->text(0, 2);
      const auto locked = rows->boolean(0, 3);
      const auto created = rows->integer(0, 4);
      const auto not_before = rows->integer(0, 5);
      if (!locked || !created || !not_before) {
        return StoreError::kCorrupt;
      }
      user.locked = *locked;
      user.created = fromMillis(*created);
      user.not_before = fromMillis(*not_before);
      user.roles = splitRoles(rows->text(0, 6));
      return user;
    });
    // A key the server refuses as text (a NUL byte, invalid UTF-8) names no user.
    if (!found && found.error() == StoreError::kInvalidArgument) {
      return StoreError::kNotFound;
    }
    return found;
  }

  PostgresPoolPtr owner_;  // keeps the pool alive
  postgres::Pool& pool_;
};

}  // namespace

UserStorePtr openPostgresUserStore(PostgresPoolPtr pool) {
  return std::make_shared<PostgresUserStore>(std::move(pool));
}

}  // namespace bulwark::store

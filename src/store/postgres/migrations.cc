#include "store/postgres/migrations.h"

#include "core/log.h"

namespace bulwark::store::postgres {
namespace {

// Advisory lock keys: (kMigrationLock, hashtext(schema)), so two schemas migrate independently.
constexpr std::string_view kLock =
    "SELECT pg_advisory_lock(hashtext('bulwark.migrate'), hashtext($1))";
constexpr std::string_view kUnlock =
    "SELECT pg_advisory_unlock(hashtext('bulwark.migrate'), hashtext($1))";

Result<int> applyPending(Connection& connection, const std::string& schema, std::string* reason) {
  auto explain = [&](std::string why) {
    if (reason != nullptr) {
      *reason = std::move(why);
    }
  };
  if (!schema.empty()) {
    // The name was validated (lowercase letters, digits, '_'); identifiers cannot be bound.
    const std::string create = "CREATE SCHEMA IF NOT EXISTS \"" + schema + "\"";
    if (auto created = connection.script(create.c_str()); !created) {
      explain("cannot create schema " + schema + ": " + connection.lastError());
      return created.error();
    }
  }
  if (auto created = connection.script(
          "CREATE TABLE IF NOT EXISTS bulwark_schema_migrations ("
          "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
      !created) {
    explain("cannot create bulwark_schema_migrations: " + connection.lastError());
    return created.error();
  }
  auto current = connection.exec("SELECT coalesce(max(version), 0) FROM bulwark_schema_migrations");
  if (!current || current->size() != 1 || !current->integer(0, 0)) {
    explain("cannot read the schema version: " + connection.lastError());
    return StoreError::kUnavailable;
  }
  const auto version = static_cast<int>(*current->integer(0, 0));
  const auto& list = migrations();
  const int latest = static_cast<int>(list.size());
  if (version > latest) {
    explain("the database schema is version " + std::to_string(version) +
            ", newer than this build understands (" + std::to_string(latest) +
            "): run a newer bulwark");
    return StoreError::kCorrupt;
  }
  for (int next = version; next < latest; ++next) {
    const std::string sql(list[static_cast<std::size_t>(next)]);
    auto applied = [&]() -> Result<void> {
      if (auto begun = connection.script("BEGIN"); !begun) {
        return begun;
      }
      if (auto ran = connection.script(sql.c_str()); !ran) {
        return ran;
      }
      auto recorded = connection.exec("INSERT INTO bulwark_schema_migrations (version) VALUES ($1)",
                                      Params().int64(next + 1));
      if (!recorded) {
        return recorded.error();
      }
      return connection.script("COMMIT");
    }();
    if (!applied) {
      explain("migration " + std::to_string(next + 1) + " failed: " + connection.lastError());
      (void)connection.script("ROLLBACK");
      return applied.error();
    }
    core::log(core::LogLevel::kInfo, "database migrated",
              {{"version", std::to_string(next + 1)}, {"schema", schema}});
  }
  return latest;
}

}  // namespace

const std::vector<std::string_view>& migrations() {
  // Times are milliseconds since the Unix epoch (bigint); token hashes are 32-byte SHA-256.
  static const std::vector<std::string_view> list = {
      // 1: users, sessions (refresh-token families), every token hash a family used, revocations.
      R"sql(
        CREATE TABLE users (
          id            text PRIMARY KEY,
          username      text NOT NULL UNIQUE,
          password_hash text NOT NULL,
          locked        boolean NOT NULL DEFAULT false,
          created_ms    bigint NOT NULL,
          not_before_ms bigint NOT NULL DEFAULT 0
        );
        CREATE TABLE user_roles (
          user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          role    text NOT NULL,
          PRIMARY KEY (user_id, role)
        );
        CREATE TABLE sessions (
          sid              text PRIMARY KEY,
          user_id          text NOT NULL,
          created_ms       bigint NOT NULL,
          expires_ms       bigint NOT NULL,
          token_expires_ms bigint NOT NULL,
          rotated_ms       bigint NOT NULL,
          generation       bigint NOT NULL,
          token_hash       bytea NOT NULL,
          previous_hash    bytea,
          successor_sealed bytea,
          revoked          boolean NOT NULL DEFAULT false,
          revoked_reason   text,
          revoked_ms       bigint
        );
        CREATE UNIQUE INDEX sessions_by_token ON sessions (token_hash);
        CREATE INDEX sessions_by_user ON sessions (user_id);
        CREATE INDEX sessions_by_token_end ON sessions (token_expires_ms);
        CREATE INDEX sessions_by_end ON sessions (expires_ms);
        CREATE TABLE refresh_tokens (
          hash       bytea PRIMARY KEY,
          sid        text NOT NULL REFERENCES sessions(sid) ON DELETE CASCADE,
          generation bigint NOT NULL
        );
        CREATE INDEX refresh_tokens_by_sid ON refresh_tokens (sid);
        CREATE TABLE revocations (
          id            bigserial PRIMARY KEY,
          kind          smallint NOT NULL,
          key           text NOT NULL,
          not_before_ms bigint NOT NULL,
          expires_ms    bigint NOT NULL
        );
        CREATE INDEX revocations_by_end ON revocations (expires_ms);
      )sql",
      // 2: the audit trail, one chain per node (src/audit/postgres_store.h). The exact record
      // bytes are kept (bytea): the MAC covers them.
      R"sql(
        CREATE TABLE audit_records (
          node text NOT NULL,
          seq  bigint NOT NULL,
          line bytea NOT NULL,
          PRIMARY KEY (node, seq)
        );
      )sql",
  };
  return list;
}

Result<int> migrate(Connection& connection, const std::string& schema, std::string* reason) {
  if (auto locked = connection.exec(kLock, Params().text(schema)); !locked) {
    if (reason != nullptr) {
      *reason = "cannot take the migration lock: " + connection.lastError();
    }
    return locked.error();
  }
  auto version = applyPending(connection, schema, reason);
  // Released explicitly: the connection goes on serving from the pool. (A lost connection
  // releases it on the server's side.)
  (void)connection.exec(kUnlock, Params().text(schema));
  return version;
}

}  // namespace bulwark::store::postgres

#include "store/sqlite/schema.h"

namespace bulwark::store::sqlite {

const std::vector<std::string_view>& migrations() {
  // Times are milliseconds since the Unix epoch; token hashes are 32-byte SHA-256 blobs.
  static const std::vector<std::string_view> list = {
      // 1: users, sessions (refresh-token families), every token hash a family used, revocations.
      R"sql(
        CREATE TABLE users (
          id            TEXT PRIMARY KEY,
          username      TEXT NOT NULL UNIQUE,
          password_hash TEXT NOT NULL,
          locked        INTEGER NOT NULL DEFAULT 0,
          created_ms    INTEGER NOT NULL,
          not_before_ms INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE user_roles (
          user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          role    TEXT NOT NULL,
          PRIMARY KEY (user_id, role)
        ) WITHOUT ROWID;
        CREATE TABLE sessions (
          sid              TEXT PRIMARY KEY,
          user_id          TEXT NOT NULL,
          created_ms       INTEGER NOT NULL,
          expires_ms       INTEGER NOT NULL,
          token_expires_ms INTEGER NOT NULL,
          rotated_ms       INTEGER NOT NULL,
          generation       INTEGER NOT NULL,
          token_hash       BLOB NOT NULL,
          previous_hash    BLOB,
          successor_sealed BLOB,
          revoked          INTEGER NOT NULL DEFAULT 0,
          revoked_reason   TEXT,
          revoked_ms       INTEGER
        );
        CREATE INDEX sessions_by_user ON sessions(user_id);
        CREATE INDEX sessions_by_end ON sessions(token_expires_ms);
        CREATE TABLE refresh_tokens (
          hash       BLOB PRIMARY KEY,
          sid        TEXT NOT NULL REFERENCES sessions(sid) ON DELETE CASCADE,
          generation INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX refresh_tokens_by_sid ON refresh_tokens(sid);
        CREATE TABLE revocations (
          id            INTEGER PRIMARY KEY AUTOINCREMENT,
          kind          INTEGER NOT NULL,
          key           TEXT NOT NULL,
          not_before_ms INTEGER NOT NULL,
          expires_ms    INTEGER NOT NULL
        );
        CREATE INDEX revocations_by_end ON revocations(expires_ms);
      )sql",
  };
  return list;
}

}  // namespace bulwark::store::sqlite

#include "store/session_store.h"

#include <algorithm>
#include <cstring>

#include "store/detail/records.h"
#include "store/sqlite/database.h"

namespace bulwark::store {
namespace {

using sqlite::Database;
using sqlite::fromMillis;
using sqlite::toMillis;

constexpr std::string_view kColumns =
    "sid, user_id, created_ms, expires_ms, token_expires_ms, rotated_ms, generation, token_hash, "
    "previous_hash, successor_sealed, revoked, revoked_reason, revoked_ms";

std::span<const std::uint8_t> bytesOf(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

bool toHash(const std::string& blob, TokenHash& out) {
  if (blob.size() != out.size()) {
    return false;
  }
  std::memcpy(out.data(), blob.data(), out.size());
  return true;
}

// Reads one row selected with kColumns.
Result<Session> readRow(const sqlite::Statement& row) {
  Session session;
  session.sid = row.text(0);
  session.user_id = row.text(1);
  session.created = fromMillis(row.integer(2));
  session.expires = fromMillis(row.integer(3));
  session.token_expires = fromMillis(row.integer(4));
  session.rotated = fromMillis(row.integer(5));
  session.generation = static_cast<std::uint64_t>(row.integer(6));
  if (!toHash(row.blob(7), session.token_hash)) {
    return StoreError::kCorrupt;
  }
  if (!row.isNull(8)) {
    TokenHash previous{};
    if (!toHash(row.blob(8), previous)) {
      return StoreError::kCorrupt;
    }
    session.previous_hash = previous;
  }
  session.successor_sealed = row.isNull(9) ? std::string() : row.blob(9);
  session.revoked = row.integer(10) != 0;
  session.revoked_reason = row.isNull(11) ? std::string() : row.text(11);
  session.revoked_at = row.isNull(12) ? core::SystemTime{} : fromMillis(row.integer(12));
  return session;
}

// Runs a SELECT of kColumns (with `bind` setting its parameters) and collects the rows.
template <class Bind>
Result<std::vector<Session>> selectSessions(Database& db, std::string_view where, Bind&& bind) {
  auto select =
      db.prepare("SELECT " + std::string(kColumns) + " FROM sessions " + std::string(where));
  if (!select) {
    return select.error();
  }
  bind(*select);
  std::vector<Session> out;
  int code = SQLITE_ROW;
  while ((code = select->step()) == SQLITE_ROW) {
    auto session = readRow(*select);
    if (!session) {
      return session.error();
    }
    out.push_back(std::move(*session));
  }
  if (code != SQLITE_DONE) {
    return sqlite::storeErrorOf(code);
  }
  return out;
}

Result<Session> readSession(Database& db, std::string_view sid) {
  auto rows = selectSessions(db, "WHERE sid = ?1", [&](sqlite::Statement& s) { s.bind(1, sid); });
  if (!rows) {
    return rows.error();
  }
  if (rows->empty()) {
    return StoreError::kNotFound;
  }
  return std::move(rows->front());
}

struct TokenRow {
  std::string sid;
  std::uint64_t generation = 0;
};

Result<TokenRow> readToken(Database& db, const TokenHash& hash) {
  auto select = db.prepare("SELECT sid, generation FROM refresh_tokens WHERE hash = ?1");
  if (!select) {
    return select.error();
  }
  select->bindBlob(1, hash);
  const int code = select->step();
  if (code == SQLITE_DONE) {
    return StoreError::kNotFound;
  }
  if (code != SQLITE_ROW) {
    return sqlite::storeErrorOf(code);
  }
  return TokenRow{select->text(0), static_cast<std::uint64_t>(select->integer(1))};
}

Result<void> insertToken(Database& db, const TokenHash& hash, std::string_view sid,
                         std::uint64_t generation) {
  auto insert =
      db.prepare("INSERT INTO refresh_tokens (hash, sid, generation) VALUES (?1, ?2, ?3)");
  if (!insert) {
    return insert.error();
  }
  insert->bindBlob(1, hash).bind(2, sid).bind(3, static_cast<std::int64_t>(generation));
  return insert->run();
}

// Writes the mutable part of `session` back, guarded by its generation before the change.
Result<void> writeSession(Database& db, const Session& session, std::uint64_t old_generation) {
  auto update = db.prepare(
      "UPDATE sessions SET token_expires_ms = ?3, rotated_ms = ?4, generation = ?5, "
      "token_hash = ?6, previous_hash = ?7, successor_sealed = ?8, revoked = ?9, "
      "revoked_reason = ?10, revoked_ms = ?11 WHERE sid = ?1 AND generation = ?2");
  if (!update) {
    return update.error();
  }
  update->bind(1, session.sid)
      .bind(2, static_cast<std::int64_t>(old_generation))
      .bind(3, toMillis(session.token_expires))
      .bind(4, toMillis(session.rotated))
      .bind(5, static_cast<std::int64_t>(session.generation))
      .bindBlob(6, session.token_hash);
  if (session.previous_hash) {
    update->bindBlob(7, *session.previous_hash);
  } else {
    update->bindNull(7);
  }
  if (session.successor_sealed.empty()) {
    update->bindNull(8);
  } else {
    update->bindBlob(8, bytesOf(session.successor_sealed));
  }
  update->bind(9, std::int64_t{session.revoked ? 1 : 0});
  if (session.revoked) {
    update->bind(10, session.revoked_reason).bind(11, toMillis(session.revoked_at));
  } else {
    update->bindNull(10).bindNull(11);
  }
  if (auto ran = update->run(); !ran) {
    return ran;
  }
  // Inside BEGIN IMMEDIATE nobody else can have moved the generation; if it moved anyway the
  // database is not what we read, and nothing must be committed.
  return db.changes() == 1 ? Result<void>{} : Result<void>{StoreError::kCorrupt};
}

class SqliteSessionStore final : public SessionStore {
 public:
  explicit SqliteSessionStore(sqlite::DatabasePtr database) : db_(std::move(database)) {}

  Result<void> create(const NewSession& fresh) override {
    if (auto checked = detail::checkNewSession(fresh); !checked) {
      return checked;
    }
    return db_->run(true, [&](Database& db) -> Result<void> {
      auto insert = db.prepare(
          "INSERT INTO sessions (sid, user_id, created_ms, expires_ms, token_expires_ms, "
          "rotated_ms, generation, token_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?3, 1, ?6)");
      if (!insert) {
        return insert.error();
      }
      insert->bind(1, fresh.sid)
          .bind(2, fresh.user_id)
          .bind(3, toMillis(fresh.created))
          .bind(4, toMillis(fresh.expires))
          .bind(5, toMillis(fresh.token_expires))
          .bindBlob(6, fresh.token_hash);
      if (auto inserted = insert->run(); !inserted) {
        return inserted;
      }
      return insertToken(db, fresh.token_hash, fresh.sid, 1);
    });
  }

  Result<RotateResult> rotate(const RotateRequest& request) override {
    // A token no family ever used is answered without taking the write lock, so a flood of
    // made-up tokens does not queue behind (or in front of) real rotations.
    auto known = db_->run(false, [&](Database& db) { return readToken(db, request.presented); });
    if (!known) {
      if (known.error() == StoreError::kNotFound) {
        return RotateResult{};
      }
      return known.error();
    }
    return db_->run(true, [&](Database& db) -> Result<RotateResult> {
      RotateResult result;
      auto token = readToken(db, request.presented);
      if (!token) {
        if (token.error() == StoreError::kNotFound) {
          return result;  // purged between the two reads
        }
        return token.error();
      }
      auto session = readSession(db, token->sid);
      if (!session) {
        return session.error() == StoreError::kNotFound ? StoreError::kCorrupt : session.error();
      }
      const std::uint64_t old_generation = session->generation;
      result.presented_generation = token->generation;
      result.outcome = detail::decideRotation(*session, token->generation, request);
      switch (result.outcome) {
        case RotateOutcome::kRotated: {
          detail::applyRotation(*session, request);
          if (auto inserted = insertToken(db, request.next, session->sid, session->generation);
              !inserted) {
            return inserted.error();
          }
          if (auto written = writeSession(db, *session, old_generation); !written) {
            return written.error();
          }
          break;
        }
        case RotateOutcome::kRetry:
          result.successor_sealed = session->successor_sealed;
          break;
        case RotateOutcome::kReuse:
          detail::applyRevocation(*session, "reuse", request.now);
          if (auto written = writeSession(db, *session, old_generation); !written) {
            return written.error();
          }
          break;
        case RotateOutcome::kRevoked:
        case RotateOutcome::kExpired:
        case RotateOutcome::kUnknown:
          break;
      }
      result.session = std::move(*session);
      return result;
    });
  }

  Result<Session> find(std::string_view sid) override {
    return db_->run(false, [&](Database& db) { return readSession(db, sid); });
  }

  Result<TokenLookup> findByToken(const TokenHash& hash) override {
    return db_->run(false, [&](Database& db) -> Result<TokenLookup> {
      if (auto begun = db.exec("BEGIN"); !begun) {
        return begun.error();
      }
      auto found = [&]() -> Result<TokenLookup> {
        auto token = readToken(db, hash);
        if (!token) {
          return token.error();
        }
        auto session = readSession(db, token->sid);
        if (!session) {
          return session.error();
        }
        return TokenLookup{std::move(*session), token->generation};
      }();
      (void)db.exec(found ? "COMMIT" : "ROLLBACK");
      return found;
    });
  }

  Result<std::vector<Session>> listActive(std::string_view user_id, core::SystemTime now) override {
    return db_->run(false, [&](Database& db) {
      return selectSessions(
          db,
          "WHERE user_id = ?1 AND revoked = 0 AND expires_ms > ?2 AND "
          "token_expires_ms > ?2 ORDER BY created_ms, sid",
          [&](sqlite::Statement& s) { s.bind(1, user_id).bind(2, toMillis(now)); });
    });
  }

  Result<bool> revoke(std::string_view sid, std::string_view reason,
                      core::SystemTime now) override {
    return db_->run(true, [&](Database& db) -> Result<bool> {
      auto session = readSession(db, sid);
      if (!session) {
        return Result<bool>(boost::system::in_place_error, session.error());
      }
      if (session->revoked) {
        return false;
      }
      detail::applyRevocation(*session, reason, now);
      if (auto written = writeSession(db, *session, session->generation); !written) {
        return Result<bool>(boost::system::in_place_error, written.error());
      }
      return true;
    });
  }

  Result<std::vector<Session>> revokeAllForUser(std::string_view user_id, std::string_view reason,
                                                core::SystemTime now) override {
    return db_->run(true, [&](Database& db) -> Result<std::vector<Session>> {
      auto sessions =
          selectSessions(db, "WHERE user_id = ?1 AND revoked = 0 ORDER BY created_ms, sid",
                         [&](sqlite::Statement& s) { s.bind(1, user_id); });
      if (!sessions) {
        return sessions.error();
      }
      for (auto& session : *sessions) {
        detail::applyRevocation(session, reason, now);
        if (auto written = writeSession(db, session, session.generation); !written) {
          return written.error();
        }
      }
      return sessions;
    });
  }

  Result<std::size_t> purgeExpired(core::SystemTime now) override {
    return db_->run(true, [&](Database& db) -> Result<std::size_t> {
      // refresh_tokens rows go with their session (ON DELETE CASCADE).
      auto purge =
          db.prepare("DELETE FROM sessions WHERE expires_ms <= ?1 OR token_expires_ms <= ?1");
      if (!purge) {
        return purge.error();
      }
      purge->bind(1, toMillis(now));
      if (auto ran = purge->run(); !ran) {
        return ran.error();
      }
      return static_cast<std::size_t>(db.changes());
    });
  }

 private:
  sqlite::DatabasePtr db_;
};

}  // namespace

Result<SessionStorePtr> openSqliteSessionStore(const SqliteConfig& config) {
  auto database = sqlite::Database::open(config);
  if (!database) {
    return database.error();
  }
  return SessionStorePtr(std::make_shared<SqliteSessionStore>(std::move(*database)));
}

}  // namespace bulwark::store

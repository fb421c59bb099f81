#include <algorithm>
#include <cstring>
#include <tuple>

#include "store/detail/records.h"
#include "store/postgres.h"
#include "store/postgres/pool.h"

namespace bulwark::store {
namespace {

using postgres::Connection;
using postgres::fromMillis;
using postgres::Params;
using postgres::Retry;
using postgres::Rows;
using postgres::toMillis;

#define BULWARK_SESSION_COLUMNS                                                                  \
  "sid, user_id, created_ms, expires_ms, token_expires_ms, rotated_ms, generation, token_hash, " \
  "previous_hash, successor_sealed, revoked, revoked_reason, revoked_ms"

bool toHash(const std::string& bytes, TokenHash& out) {
  if (bytes.size() != out.size()) {
    return false;
  }
  std::memcpy(out.data(), bytes.data(), out.size());
  return true;
}

// Reads the session columns of `row` starting at column `first`.
Result<Session> readSession(const Rows& rows, int row, int first = 0) {
  Session session;
  session.sid = rows.text(row, first + 0);
  session.user_id = rows.text(row, first + 1);
  const auto created = rows.integer(row, first + 2);
  const auto expires = rows.integer(row, first + 3);
  const auto token_expires = rows.integer(row, first + 4);
  const auto rotated = rows.integer(row, first + 5);
  const auto generation = rows.integer(row, first + 6);
  const auto revoked = rows.boolean(row, first + 10);
  if (!created || !expires || !token_expires || !rotated || !generation || *generation < 1 ||
      !revoked || !toHash(rows.text(row, first + 7), session.token_hash)) {
    return StoreError::kCorrupt;
  }
  session.created = fromMillis(*created);
  session.expires = fromMillis(*expires);
  session.token_expires = fromMillis(*token_expires);
  session.rotated = fromMillis(*rotated);
  session.generation = static_cast<std::uint64_t>(*generation);
  if (!rows.isNull(row, first + 8)) {
    TokenHash previous{};
    if (!toHash(rows.text(row, first + 8), previous)) {
      return StoreError::kCorrupt;
    }
    session.previous_hash = previous;
  }
  if (!rows.isNull(row, first + 9)) {
    session.successor_sealed = rows.text(row, first + 9);
  }
  session.revoked = *revoked;
  if (!rows.isNull(row, first + 11)) {
    session.revoked_reason = rows.text(row, first + 11);
  }
  if (const auto at = rows.integer(row, first + 12)) {
    session.revoked_at = fromMillis(*at);
  }
  return session;
}

Result<std::vector<Session>> readSessions(Result<Rows> rows) {
  if (!rows) {
    return rows.error();
  }
  std::vector<Session> out;
  for (int row = 0; row < rows->size(); ++row) {
    auto session = readSession(*rows, row);
    if (!session) {
      return session.error();
    }
    out.push_back(std::move(*session));
  }
  return out;
}

Params& sealedParam(Params& params, const std::string& sealed) {
  return sealed.empty() ? params.nullBytes() : params.bytes(std::string_view(sealed));
}

class PostgresSessionStore final : public SessionStore {
 public:
  explicit PostgresSessionStore(PostgresPoolPtr pool)
      : owner_(std::move(pool)), pool_(*owner_->impl().pool) {}

  Result<void> create(const NewSession& fresh) override {
    if (auto checked = detail::checkNewSession(fresh); !checked) {
      return checked;
    }
    // One statement: the family and its first token appear together or not at all.
    return pool_.run(Retry::kUnsafe, [&](Connection& db) -> Result<void> {
      auto inserted = db.exec(
          "WITH s AS (INSERT INTO sessions (sid, user_id, created_ms, expires_ms, "
          "token_expires_ms, rotated_ms, generation, token_hash) "
          "VALUES ($1, $2, $3, $4, $5, $3, 1, $6) RETURNING sid) "
          "INSERT INTO refresh_tokens (hash, sid, generation) SELECT $6, sid, 1 FROM s",
          Params()
              .text(fresh.sid)
              .text(fresh.user_id)
              .int64(toMillis(fresh.created))
              .int64(toMillis(fresh.expires))
              .int64(toMillis(fresh.token_expires))
              .bytes(fresh.token_hash));
      if (!inserted) {
        return inserted.error();
      }
      return {};
    });
  }

  Result<RotateResult> rotate(const RotateRequest& request) override {
    // The common case in ONE conditional statement: the presented token is current, the family
    // is live. Row locking makes it a compare-and-swap across connections and nodes: of callers
    // racing on one token, the first UPDATE wins; the others wait for its row lock, re-check the
    // WHERE clause against the new row (token_hash moved on) and match nothing.
    auto rotated = pool_.run(Retry::kUnsafe, [&](Connection& db) -> Result<RotateResult> {
      Params params;
      params.bytes(request.presented)
          .bytes(request.next)
          .int64(toMillis(request.now))
          .int64(toMillis(request.next_expires));
      sealedParam(params, request.next_sealed);
      auto rows = db.exec(
          "WITH rotated AS (UPDATE sessions SET previous_hash = token_hash, token_hash = $2, "
          "generation = generation + 1, rotated_ms = $3, "
          "token_expires_ms = least($4, expires_ms), successor_sealed = $5 "
          "WHERE token_hash = $1 AND NOT revoked AND $3 < expires_ms AND $3 < token_expires_ms "
          "RETURNING " BULWARK_SESSION_COLUMNS
          "), "
          "minted AS (INSERT INTO refresh_tokens (hash, sid, generation) "
          "SELECT token_hash, sid, generation FROM rotated) "
          "SELECT " BULWARK_SESSION_COLUMNS " FROM rotated",
          params);
      if (!rows) {
        return rows.error();
      }
      RotateResult result;
      if (rows->size() == 0) {
        return result;  // kUnknown: not decided here
      }
      auto session = readSession(*rows, 0);
      if (!session) {
        return session.error();
      }
      result.outcome = RotateOutcome::kRotated;
      result.presented_generation = session->generation - 1;
      result.session = std::move(*session);
      return result;
    });
    if (!rotated || rotated->outcome == RotateOutcome::kRotated) {
      return rotated;
    }
    return decide(request);
  }

  Result<Session> find(std::string_view sid) override {
    auto found = pool_.run(Retry::kSafe, [&](Connection& db) -> Result<Session> {
      auto rows = db.exec("SELECT " BULWARK_SESSION_COLUMNS " FROM sessions WHERE sid = $1",
                          Params().text(sid));
      if (!rows) {
        return rows.error();
      }
      if (rows->size() == 0) {
        return StoreError::kNotFound;
      }
      return readSession(*rows, 0);
    });
    return notFoundForInvalid(std::move(found));
  }

  Result<TokenLookup> findByToken(const TokenHash& hash) override {
    return pool_.run(Retry::kSafe, [&](Connection& db) -> Result<TokenLookup> {
      auto rows = db.exec(
          "SELECT t.generation, s.sid, s.user_id, s.created_ms, s.expires_ms, "
          "s.token_expires_ms, s.rotated_ms, s.generation, s.token_hash, s.previous_hash, "
          "s.successor_sealed, s.revoked, s.revoked_reason, s.revoked_ms "
          "FROM refresh_tokens t JOIN sessions s ON s.sid = t.sid WHERE t.hash = $1",
          Params().bytes(hash));
      if (!rows) {
        return rows.error();
      }
      if (rows->size() == 0) {
        return StoreError::kNotFound;
      }
      const auto generation = rows->integer(0, 0);
      auto session = readSession(*rows, 0, 1);
      if (!generation || !session) {
        return StoreError::kCorrupt;
      }
      return TokenLookup{std::move(*session), static_cast<std::uint64_t>(*generation)};
    });
  }

  Result<std::vector<Session>> listActive(std::string_view user_id, core::SystemTime now) override {
    return pool_.run(Retry::kSafe, [&](Connection& db) {
      return readSessions(db.exec(
          "SELECT " BULWARK_SESSION_COLUMNS
          " FROM sessions WHERE user_id = $1 AND NOT revoked "
          "AND expires_ms > $2 AND token_expires_ms > $2 ORDER BY created_ms, sid COLLATE \"C\"",
          Params().text(user_id).int64(toMillis(now))));
    });
  }

  Result<bool> revoke(std::string_view sid, std::string_view reason,
                      core::SystemTime now) override {
    // Not retried after a lost connection: a repeat would answer "already revoked" for the
    // revocation this call made. Revocation only ever goes one way, so an UPDATE that matched
    // nothing means an unknown or already revoked family.
    auto revoked = pool_.run(Retry::kUnsafe, [&](Connection& db) -> Result<bool> {
      auto updated = db.exec(
          "UPDATE sessions SET revoked = true, revoked_reason = $2, revoked_ms = $3, "
          "successor_sealed = NULL WHERE sid = $1 AND NOT revoked",
          Params().text(sid).text(reason).int64(toMillis(now)));
      if (!updated) {
        return Result<bool>(boost::system::in_place_error, updated.error());
      }
      if (updated->affected() == 1) {
        return true;
      }
      auto exists = db.exec("SELECT 1 FROM sessions WHERE sid = $1", Params().text(sid));
      if (!exists) {
        return Result<bool>(boost::system::in_place_error, exists.error());
      }
      if (exists->size() == 0) {
        return Result<bool>(boost::system::in_place_error, StoreError::kNotFound);
      }
      return false;
    });
    return notFoundForInvalid(std::move(revoked));
  }

  Result<std::vector<Session>> revokeAllForUser(std::string_view user_id, std::string_view reason,
                                                core::SystemTime now) override {
    auto revoked = pool_.run(Retry::kUnsafe, [&](Connection& db) {
      return readSessions(
          db.exec("UPDATE sessions SET revoked = true, revoked_reason = $2, revoked_ms = $3, "
                  "successor_sealed = NULL WHERE user_id = $1 AND NOT revoked "
                  "RETURNING " BULWARK_SESSION_COLUMNS,
                  Params().text(user_id).text(reason).int64(toMillis(now))));
    });
    if (revoked) {
      std::sort(revoked->begin(), revoked->end(), [](const Session& a, const Session& b) {
        return std::tie(a.created, a.sid) < std::tie(b.created, b.sid);
      });
    }
    return revoked;
  }

  Result<std::size_t> purgeExpired(core::SystemTime now) override {
    // refresh_tokens rows go with their session (ON DELETE CASCADE). Repeating it is harmless
    // except for the count, which only feeds a metric.
    return pool_.run(Retry::kSafe, [&](Connection& db) -> Result<std::size_t> {
      auto purged = db.exec("DELETE FROM sessions WHERE expires_ms <= $1 OR token_expires_ms <= $1",
                            Params().int64(toMillis(now)));
      if (!purged) {
        return purged.error();
      }
      return static_cast<std::size_t>(purged->affected());
    });
  }

 private:
  // The presented token is not current (or the family is dead): decide under the family's row
  // lock, in one transaction, so a reuse revokes the family atomically with the decision.
  Result<RotateResult> decide(const RotateRequest& request) {
    return pool_.transaction([&](Connection& db) -> Result<RotateResult> {
      RotateResult result;
      auto rows = db.exec(
          "SELECT t.generation, s.sid, s.user_id, s.created_ms, s.expires_ms, "
          "s.token_expires_ms, s.rotated_ms, s.generation, s.token_hash, s.previous_hash, "
          "s.successor_sealed, s.revoked, s.revoked_reason, s.revoked_ms "
          "FROM refresh_tokens t JOIN sessions s ON s.sid = t.sid WHERE t.hash = $1 "
          "FOR UPDATE OF s",
          Params().bytes(request.presented));
      if (!rows) {
        return rows.error();
      }
      if (rows->size() == 0) {
        return result;  // kUnknown (never used, or purged)
      }
      const auto generation = rows->integer(0, 0);
      auto session = readSession(*rows, 0, 1);
      if (!generation || !session) {
        return StoreError::kCorrupt;
      }
      result.presented_generation = static_cast<std::uint64_t>(*generation);
      result.outcome = detail::decideRotation(*session, result.presented_generation, request);
      switch (result.outcome) {
        case RotateOutcome::kRotated: {
          // Only reachable if the token became current after the fast path missed, which the
          // rules forbid; handled the same way all the same.
          const std::uint64_t old_generation = session->generation;
          detail::applyRotation(*session, request);
          if (auto written = writeRotation(db, *session, old_generation); !written) {
            return written.error();
          }
          break;
        }
        case RotateOutcome::kRetry:
          result.successor_sealed = session->successor_sealed;
          break;
        case RotateOutcome::kReuse: {
          detail::applyRevocation(*session, "reuse", request.now);
          auto revoked = db.exec(
              "UPDATE sessions SET revoked = true, revoked_reason = $2, revoked_ms = $3, "
              "successor_sealed = NULL WHERE sid = $1",
              Params()
                  .text(session->sid)
                  .text(session->revoked_reason)
                  .int64(toMillis(session->revoked_at)));
          if (!revoked) {
            return revoked.error();
          }
          break;
        }
        case RotateOutcome::kRevoked:
        case RotateOutcome::kExpired:
        case RotateOutcome::kUnknown:
          break;
      }
      result.session = std::move(*session);
      return result;
    });
  }

  static Result<void> writeRotation(Connection& db, const Session& session,
                                    std::uint64_t old_generation) {
    Params params;
    params.text(session.sid)
        .int64(static_cast<std::int64_t>(old_generation))
        .int64(toMillis(session.token_expires))
        .int64(toMillis(session.rotated))
        .bytes(session.token_hash)
        .bytes(*session.previous_hash);
    sealedParam(params, session.successor_sealed);
    auto updated = db.exec(
        "UPDATE sessions SET token_expires_ms = $3, rotated_ms = $4, generation = $2 + 1, "
        "token_hash = $5, previous_hash = $6, successor_sealed = $7 "
        "WHERE sid = $1 AND generation = $2",
        params);
    if (!updated) {
      return updated.error();
    }
    if (updated->affected() != 1) {
      return StoreError::kCorrupt;  // the row is locked: nobody else can have moved it
    }
    auto minted = db.exec("INSERT INTO refresh_tokens (hash, sid, generation) VALUES ($1, $2, $3)",
                          Params()
                              .bytes(session.token_hash)
                              .text(session.sid)
                              .int64(static_cast<std::int64_t>(session.generation)));
    if (!minted) {
      return minted.error();
    }
    return {};
  }

  // A sid the server refuses as text (a NUL byte, invalid UTF-8) names no session.
  template <class T>
  static Result<T> notFoundForInvalid(Result<T> result) {
    if (!result && result.error() == StoreError::kInvalidArgument) {
      return Result<T>(boost::system::in_place_error, StoreError::kNotFound);
    }
    return result;
  }

  PostgresPoolPtr owner_;  // keeps the pool alive
  postgres::Pool& pool_;
};

}  // namespace

SessionStorePtr openPostgresSessionStore(PostgresPoolPtr pool) {
  return std::make_shared<PostgresSessionStore>(std::move(pool));
}

}  // namespace bulwark::store

#pragma once
// Refresh-token families (SPEC F2.4): one session per login, identified by `sid`, whose refresh
// token rotates on every use. Tokens are stored ONLY as SHA-256 hashes; every hash a family has
// ever used is remembered with its generation number until the session is purged, so a token of
// any older generation is recognised as reuse.
//
// Rotation is one atomic compare-and-swap (rotate()): of N callers presenting the same current
// token at once, in one process or several sharing the database, exactly one rotates it.
//
// Backend-neutral: embedded SQLite or in-process memory (factories below), PostgreSQL later; all
// pass tests/unit/store/session_store_suite.h. Thread-safe; methods may block on I/O (call them
// from the auth worker pool). Times are kept with millisecond precision.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "crypto/hmac.h"
#include "store/error.h"
#include "store/sqlite_config.h"

namespace bulwark::store {

// SHA-256 of a refresh token (crypto::sha256(token)).
using TokenHash = crypto::Digest256;

struct Session {
  std::string sid;
  std::string user_id;
  core::SystemTime created{};
  core::SystemTime expires{};        // absolute end of the session, whatever rotations happen
  core::SystemTime token_expires{};  // end of the current token: last rotation + TTL, <= expires
  core::SystemTime rotated{};        // when the current token was minted (creation for gen 1)
  std::uint64_t generation = 1;      // the current token's generation; the first token is 1
  TokenHash token_hash{};            // the current token
  std::optional<TokenHash> previous_hash;  // generation - 1, if any
  // The current token encrypted under a key only the previous token yields (the session service
  // seals it), so a retry of the previous token within the reuse leeway gets the same successor
  // without the store ever holding a usable token. Empty when the leeway is off.
  std::string successor_sealed;
  bool revoked = false;
  std::string revoked_reason;  // e.g. "logout", "logout_all", "reuse", "revoked", "account_locked"
  core::SystemTime revoked_at{};
};

struct NewSession {
  std::string sid;  // random, unique
  std::string user_id;
  core::SystemTime created{};
  core::SystemTime expires{};        // absolute end
  core::SystemTime token_expires{};  // end of the first token (<= expires)
  TokenHash token_hash{};            // the first token (generation 1)
};

struct RotateRequest {
  TokenHash presented{};    // hash of the token the client sent
  TokenHash next{};         // hash of the successor the caller minted
  std::string next_sealed;  // the successor sealed under the presented token ("" = none)
  core::SystemTime now{};
  core::SystemTime next_expires{};  // the successor's end; the store caps it at Session::expires
  // A retry of the immediately previous token no later than this after its rotation gets the
  // already-minted successor (kRetry); zero disables it. Older generations are always reuse.
  std::chrono::milliseconds reuse_leeway{0};
};

enum class RotateOutcome : std::uint8_t {
  kRotated,  // the presented token was current: the successor is now current (generation + 1)
  kRetry,    // the presented token is the previous one, within the leeway: nothing changed;
             // RotateResult::successor_sealed is the successor minted by the winning rotation
  kReuse,    // an older generation, or the previous one outside the leeway: the store has
             // revoked the whole family (reason "reuse") in the same transaction
  kRevoked,  // the family was already revoked (nothing changed)
  kExpired,  // the session or the presented (current) token has expired (nothing changed)
  kUnknown,  // no family ever used this token (or it has been purged)
};

struct RotateResult {
  RotateOutcome outcome = RotateOutcome::kUnknown;
  Session session;                         // the family after the decision (empty for kUnknown)
  std::uint64_t presented_generation = 0;  // generation of the presented token (0 for kUnknown)
  std::string successor_sealed;            // kRetry only
};

// A session found by one of its tokens.
struct TokenLookup {
  Session session;
  std::uint64_t generation = 0;  // of the token looked up
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // Adds a family whose first token (generation 1) is `session.token_hash`. kAlreadyExists when
  // the sid or the hash is taken; kInvalidArgument for an empty sid or user id.
  [[nodiscard]] virtual Result<void> create(const NewSession& session) = 0;
  // Atomically decides what the presented token is worth and applies it (see RotateOutcome).
  // Errors are backend failures only (kUnavailable): then nothing changed. A `next` hash already
  // in use anywhere is kAlreadyExists (never with random 256-bit tokens).
  [[nodiscard]] virtual Result<RotateResult> rotate(const RotateRequest& request) = 0;
  // Returns the session `sid`; kNotFound otherwise.
  [[nodiscard]] virtual Result<Session> find(std::string_view sid) = 0;
  // Returns the session that used the token with hash `hash` (any generation); kNotFound
  // otherwise.
  [[nodiscard]] virtual Result<TokenLookup> findByToken(const TokenHash& hash) = 0;
  // Returns the user's sessions that are neither revoked nor expired at `now`, oldest first.
  [[nodiscard]] virtual Result<std::vector<Session>> listActive(std::string_view user_id,
                                                                core::SystemTime now) = 0;
  // Revokes the family `sid`. Returns true when this call revoked it, false when it was already
  // revoked (the first reason is kept); kNotFound for an unknown sid.
  [[nodiscard]] virtual Result<bool> revoke(std::string_view sid, std::string_view reason,
                                            core::SystemTime now) = 0;
  // Revokes every unrevoked family of the user (expired ones too) and returns those this call
  // revoked.
  [[nodiscard]] virtual Result<std::vector<Session>> revokeAllForUser(std::string_view user_id,
                                                                      std::string_view reason,
                                                                      core::SystemTime now) = 0;
  // Forgets families whose session or current token ended before `now` (their tokens can no
  // longer be used, so reuse of them no longer matters). Returns how many.
  [[nodiscard]] virtual Result<std::size_t> purgeExpired(core::SystemTime now) = 0;
};
using SessionStorePtr = std::shared_ptr<SessionStore>;

// In-process store; nothing survives the process.
SessionStorePtr makeMemorySessionStore();

// SQLite store in `config.path` (shared with the other embedded stores). Rotation runs in a
// BEGIN IMMEDIATE transaction, so it is atomic across threads, connections and processes.
[[nodiscard]] Result<SessionStorePtr> openSqliteSessionStore(const SqliteConfig& config);

}  // namespace bulwark::store

#pragma once
// One libpq connection and the small vocabulary the PostgreSQL stores speak through it: typed,
// binary parameters (never SQL built from values), binary result rows, and SQLSTATEs mapped to
// store errors. Private to src/store/postgres/.
//
// Not thread-safe: a Connection is used by one thread at a time (the pool lends it out).

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "store/error.h"

namespace bulwark::store::postgres {

// Milliseconds since the Unix epoch, as stored in *_ms bigint columns.
std::int64_t toMillis(core::SystemTime time);
core::SystemTime fromMillis(std::int64_t millis);

// Parameters of one statement, all sent in binary format with their type, so any byte string
// travels as it is (a NUL in a text value is refused by the server, not truncated by us).
class Params {
 public:
  Params& text(std::string_view value);
  Params& bytes(std::span<const std::uint8_t> value);
  Params& bytes(std::string_view value);
  Params& int64(std::int64_t value);
  Params& boolean(bool value);
  Params& nullBytes();  // a NULL bytea
  Params& nullText();

  int size() const { return static_cast<int>(types_.size()); }
  const Oid* types() const { return types_.data(); }
  const char* const* values() const;
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  Params& add(Oid type, std::string value, bool null);

  std::vector<Oid> types_;
  std::vector<std::string> storage_;
  std::vector<bool> null_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  mutable std::vector<const char*> pointers_;
};

// The rows of a statement, in binary format. Column accessors take the column's type on trust
// only after checking its size; a mismatch is reported as kCorrupt by the *Checked readers.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}

  int size() const { return PQntuples(result_.get()); }
  // Rows a DELETE/UPDATE/INSERT touched.
  std::uint64_t affected() const;
  bool isNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const;
  // A bigint/integer/smallint column; nullopt when NULL or not an integer's size.
  std::optional<std::int64_t> integer(int row, int column) const;
  std::optional<bool> boolean(int row, int column) const;

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// How a failed statement failed, so the pool can decide whether a retry is safe.
enum class Failure : std::uint8_t {
  kNone,
  kConnectionLost,  // the connection is dead; the statement may or may not have run
  kRetryable,       // serialization failure or deadlock: the server rolled back
  kStatement,       // the statement failed unexpectedly (timeout, …); the connection is fine
  kRefused,         // a value was refused (unique or other constraint, invalid text): business
                    // as usual, not worth a log line
};

class Connection {
 public:
  explicit Connection(PGconn* connection, core::MonotonicTime now);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` with `params` as a prepared statement (prepared on first use on this connection)
  // and returns its rows. Errors: kAlreadyExists for a unique violation, kInvalidArgument for a
  // value the server refuses (data exception, other constraint), kUnavailable otherwise; see
  // failure() for the kind.
  [[nodiscard]] Result<Rows> exec(std::string_view sql, const Params& params = {});
  // Runs SQL without parameters through the simple protocol (several statements allowed: BEGIN,
  // COMMIT, migrations).
  [[nodiscard]] Result<void> script(const char* sql);

  // How the last failed call failed.
  Failure failure() const { return failure_; }
  // The last error, as libpq wrote it (never holds the password: libpq does not echo it, and
  // the pool scrubs it anyway before publishing).
  const std::string& lastError() const { return last_error_; }
  // True when the connection can be handed to the next caller: open and outside a transaction.
  bool reusable() const;
  // True when the server closed an idle connection (terminated backend, restart): the socket is
  // readable and consuming it leaves the connection bad. One non-blocking poll; no round trip.
  bool closedWhileIdle();
  // Sends `SELECT 1`; false when the connection is dead.
  bool ping();
  int backendPid() const { return PQbackendPID(connection_); }
  // The libpq handle, for protocols this class does not wrap (COPY).
  PGconn* raw() { return connection_; }

  core::MonotonicTime created() const { return created_; }
  core::MonotonicTime lastUsed() const { return last_used_; }
  void touch(core::MonotonicTime now) { last_used_ = now; }

 private:
  Result<void> fail(const PGresult* result, const char* what);

  PGconn* connection_;
  core::MonotonicTime created_;
  core::MonotonicTime last_used_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
  Failure failure_ = Failure::kNone;
  std::string last_error_;
  bool fatal_notice_ = false;  // the server announced it is closing this connection
};
using ConnectionPtr = std::unique_ptr<Connection>;

}  // namespace bulwark::store::postgres

#pragma once
// One SQLite connection with its prepared statements, shared by the embedded stores' code (not a
// public interface: the stores' headers are). Opening applies the connection settings (WAL,
// busy timeout, foreign keys, synchronous) and the schema migrations of schema.cc.
//
// Thread-safety: a Database serialises its callers on one mutex; every call that touches the
// connection holds it. Concurrency between connections and processes is SQLite's: writes take
// BEGIN IMMEDIATE, waiting up to the busy timeout.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/clock.h"
#include "store/error.h"
#include "store/sqlite_config.h"

namespace bulwark::store::sqlite {

// Milliseconds since the Unix epoch, as stored.
std::int64_t toMillis(core::SystemTime time);
core::SystemTime fromMillis(std::int64_t millis);

// Maps a SQLite result code to a store error (constraint -> kAlreadyExists, corrupt/notadb ->
// kCorrupt, everything else -> kUnavailable).
StoreError storeErrorOf(int sqlite_code);

// A prepared statement borrowed from the connection's cache; reset and unbound when destroyed.
// Column and parameter indexes: parameters from 1, columns from 0, as in SQLite.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* statement) : statement_(statement) {}
  ~Statement();
  Statement(Statement&& other) noexcept : statement_(std::exchange(other.statement_, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::int64_t value);
  Statement& bindBlob(int index, std::span<const std::uint8_t> bytes);
  Statement& bindNull(int index);

  // Returns SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  // Steps to completion; kUnavailable/kAlreadyExists/... on error.
  [[nodiscard]] Result<void> run();

  std::string text(int column) const;
  std::int64_t integer(int column) const;
  std::string blob(int column) const;
  bool isNull(int column) const;

 private:
  sqlite3_stmt* statement_;
};

class Database {
 public:
  // Opens (creating when missing) and migrates `config.path`.
  [[nodiscard]] static Result<std::unique_ptr<Database>> open(const SqliteConfig& config);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs `work(*this)` holding the connection; inside BEGIN IMMEDIATE ... COMMIT when `write`,
  // else in autocommit (one consistent read per statement). A failed `work` or COMMIT rolls back.
  // `work` returns a Result<T>.
  template <class F>
  auto run(bool write, F&& work) -> decltype(work(std::declval<Database&>())) {
    using R = decltype(work(std::declval<Database&>()));
    std::lock_guard lock(mutex_);
    if (!write) {
      return work(*this);
    }
    if (auto begun = exec("BEGIN IMMEDIATE"); !begun) {
      return R(boost::system::in_place_error, begun.error());
    }
    auto result = work(*this);
    if (!result) {
      (void)exec("ROLLBACK");
      return result;
    }
    if (auto committed = exec("COMMIT"); !committed) {
      (void)exec("ROLLBACK");
      return R(boost::system::in_place_error, committed.error());
    }
    return result;
  }

  // Returns the cached prepared statement for `sql` (prepared on first use). Call inside run().
  [[nodiscard]] Result<Statement> prepare(std::string_view sql);
  // Executes SQL without results (may hold several statements). Call inside run() or open().
  [[nodiscard]] Result<void> exec(const char* sql);
  // Rows changed by the last statement.
  int changes() const;

 private:
  explicit Database(sqlite3* connection) : connection_(connection) {}
  Result<void> configure(const SqliteConfig& config);
  Result<void> migrate();

  sqlite3* connection_;
  std::mutex mutex_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};
using DatabasePtr = std::unique_ptr<Database>;

}  // namespace bulwark::store::sqlite

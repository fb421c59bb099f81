#pragma once
// The connection pool behind PostgresPool (private to src/store/postgres/).
//
// Connections are lent to one caller at a time through run() (autocommit) or transaction().
// A connection is checked when it is taken (no round trip: too old, idle too long, or closed by
// the server while idle -> replaced) and when it comes back (dead or still inside a transaction
// -> closed). A background thread pings the idle ones every health_interval.
//
// Retrying after a lost connection. A statement that failed because the connection died may or
// may not have run on the server. The pool retries ONCE on a fresh connection only when that
// cannot apply a change twice:
//   - run(Retry::kSafe, …): the caller declares the work safe to repeat (reads, idempotent
//     writes such as "set locked = true");
//   - transaction(…): a loss before COMMIT was sent means the server rolled the transaction
//     back, so the whole work is re-run; a loss while COMMIT is in flight is never retried (it
//     may have committed) and the caller gets kUnavailable;
//   - serialization failures and deadlocks (the server rolled back) are retried the same way.
// A connection the server closed while idle is caught before anything is sent on it, so the
// common case after a server restart (every idle connection dead) costs no retry at all.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/postgres.h"
#include "store/postgres/connection.h"

namespace bulwark::store::postgres {

enum class Retry : std::uint8_t {
  kSafe,    // the work may run twice (reads, idempotent writes)
  kUnsafe,  // a lost connection after sending is reported, never retried
};

class Pool {
 public:
  // Validates `config` and prepares the connection parameters; connects nothing yet.
  // kInvalidArgument (with `reason`) for a bad config.
  static Result<std::unique_ptr<Pool>> create(const PostgresConfig& config, core::Clock& clock,
                                              std::string* reason);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Opens one connection (connect_attempts tries with backoff) outside the pool's accounting;
  // for migrations. `reason` receives the redacted failure.
  Result<ConnectionPtr> connectOnce(std::string* reason);
  // Puts a connection opened by connectOnce() into the pool (or closes it when not reusable).
  void adopt(ConnectionPtr connection);
  // Starts the health thread (when health_interval > 0).
  void startHealthThread();

  // Runs `work(Connection&) -> Result<T>` on a lent connection in autocommit mode.
  template <class Work>
  auto run(Retry retry, Work&& work) -> decltype(work(std::declval<Connection&>()));
  // Runs `work(Connection&) -> Result<T>` between BEGIN and COMMIT; a failed work rolls back.
  // `work` may run twice (see the file comment): it must not have effects outside the database.
  template <class Work>
  auto transaction(Work&& work) -> decltype(work(std::declval<Connection&>()));

  PoolStats stats() const;
  std::size_t checkHealth();
  std::string lastError() const;
  const PostgresConfig& config() const { return config_; }
  const std::string& schema() const { return config_.schema; }
  int schemaVersion() const { return schema_version_; }
  // Returns `message` with the connection password replaced by "<redacted>".
  std::string scrub(std::string message) const;
  void setSchemaVersion(int version) { schema_version_ = version; }

 private:
  Pool(const PostgresConfig& config, core::Clock& clock) : config_(config), clock_(clock) {}

  Result<ConnectionPtr> acquire();
  // Returns a lent connection; `broken` when a statement found it dead.
  void release(ConnectionPtr connection, bool broken);
  // Connects with retries; stops early when the next attempt could not start before `deadline`.
  Result<ConnectionPtr> connect(std::chrono::steady_clock::time_point deadline,
                                std::string* reason);
  bool expired(const Connection& connection, core::MonotonicTime now) const;
  // Records a failure (scrubbed of the password) as lastError().
  void noteError(std::string message);
  void healthLoop();

  const PostgresConfig config_;
  core::Clock& clock_;
  std::vector<std::pair<std::string, std::string>> parameters_;  // libpq keyword -> value
  std::string password_;                                         // only to scrub it out of messages
  int schema_version_ = 0;

  mutable std::mutex mutex_;           // guards everything below
  std::condition_variable available_;  // a connection was released or a slot freed
  std::vector<ConnectionPtr> idle_;    // most recently used at the back
  std::size_t open_ = 0;               // idle + lent + being opened or checked
  std::size_t lent_ = 0;
  std::size_t awaiting_replacement_ = 0;  // broken ones not yet replaced (for `reconnects`)
  PoolStats counters_;                    // the cumulative fields only
  std::string last_error_;
  std::minstd_rand jitter_{std::random_device{}()};
  bool stopping_ = false;
  std::condition_variable health_wakeup_;
  std::thread health_thread_;
};

template <class Work>
auto Pool::run(Retry retry, Work&& work) -> decltype(work(std::declval<Connection&>())) {
  using R = decltype(work(std::declval<Connection&>()));
  for (int attempt = 0;; ++attempt) {
    auto connection = acquire();
    if (!connection) {
      return R(boost::system::in_place_error, connection.error());
    }
    R result = work(**connection);
    const Failure failure = (*connection)->failure();
    const bool lost = failure == Failure::kConnectionLost;
    if (failure != Failure::kNone && failure != Failure::kRefused) {
      noteError((*connection)->lastError());
    }
    release(std::move(*connection), lost);
    const bool retry_safe =
        (lost && retry == Retry::kSafe) || (!result && failure == Failure::kRetryable);
    if (!retry_safe || attempt > 0) {
      return result;
    }
    std::lock_guard lock(mutex_);
    ++counters_.retries;
  }
}

template <class Work>
auto Pool::transaction(Work&& work) -> decltype(work(std::declval<Connection&>())) {
  using R = decltype(work(std::declval<Connection&>()));
  for (int attempt = 0;; ++attempt) {
    auto lent = acquire();
    if (!lent) {
      return R(boost::system::in_place_error, lent.error());
    }
    Connection& connection = **lent;
    std::optional<R> result;
    if (auto begun = connection.script("BEGIN"); !begun) {
      result.emplace(boost::system::in_place_error, begun.error());
    } else {
      result.emplace(work(connection));
    }
    bool committed = false;
    bool commit_in_doubt = false;
    if (*result && connection.failure() == Failure::kNone) {
      auto commit = connection.script("COMMIT");
      committed = commit.has_value();
      if (!committed) {
        commit_in_doubt = connection.failure() == Failure::kConnectionLost;
        result.emplace(boost::system::in_place_error, commit.error());
      }
    } else if (*result) {
      // The work swallowed a failed statement; the transaction is aborted, nothing to commit.
      result.emplace(boost::system::in_place_error, make_error_code(StoreError::kUnavailable));
    }
    const Failure failure = connection.failure();
    if (!committed) {
      if (failure != Failure::kNone && failure != Failure::kRefused) {
        noteError(connection.lastError());
      }
      if (failure != Failure::kConnectionLost) {
        (void)connection.script("ROLLBACK");
      }
    }
    const bool lost = failure == Failure::kConnectionLost;
    release(std::move(*lent), lost);
    // Before COMMIT was sent a loss rolled everything back; during COMMIT it is in doubt.
    const bool retry_safe =
        !committed && !commit_in_doubt && (lost || failure == Failure::kRetryable);
    if (!retry_safe || attempt > 0) {
      return std::move(*result);
    }
    std::lock_guard lock(mutex_);
    ++counters_.retries;
  }
}

}  // namespace bulwark::store::postgres

namespace bulwark::store {

// The pool behind the public handle.
struct PostgresPool::Impl {
  std::unique_ptr<postgres::Pool> pool;
};

}  // namespace bulwark::store

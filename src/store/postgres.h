#pragma once
// The production database (SPEC F6.1, DESIGN decision 6): a pool of synchronous libpq connections
// over verified TLS, with retries, health checks and versioned migrations, and the PostgreSQL
// implementations of UserStore, SessionStore and RevocationStore on top of it. Several nodes may
// share one database: rotation has exactly one winner across them, migrations run once.
//
// Every call may block (a round trip, a wait for a free connection): call it from the auth worker
// pool, never from an I/O thread. Nothing here includes libpq; its types stay in postgres/.
//
// Errors are store errors: kUnavailable (cannot connect, connection lost, no free connection
// within acquire_timeout), kCorrupt (a schema newer than this build). Messages never carry the
// password of the connection string.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.h"
#include "store/error.h"
#include "store/revocation_store.h"
#include "store/session_store.h"
#include "store/user_store.h"

namespace bulwark::store {

struct PostgresConfig {
  // A URL (postgresql://user:password@host:5432/db?sslmode=verify-full&sslrootcert=…) or a
  // key=value conninfo string. Secret: never logged as such.
  std::string url;
  // Schema the tables live in (created when missing; search_path is set to it). Empty: the
  // server's default search_path. Letters, digits and '_' only, at most 63 characters.
  std::string schema;
  std::string application_name = "bulwark";  // shown in pg_stat_activity
  std::size_t max_open = 25;                 // connections open at once, in use or idle
  std::size_t max_idle = 5;                  // idle connections kept; more are closed on release
  std::chrono::milliseconds conn_max_lifetime{300'000};  // replaced when older than this
  std::chrono::milliseconds conn_max_idle_time{60'000};  // closed when idle longer than this
  // How often a background thread pings the idle connections and replaces dead ones; zero: no
  // background thread (checkHealth() still works).
  std::chrono::milliseconds health_interval{30'000};
  std::chrono::milliseconds acquire_timeout{5'000};  // waiting for a free connection
  std::chrono::milliseconds connect_timeout{5'000};  // per attempt (libpq rounds up to seconds)
  // Server-side statement_timeout, so a call never waits for the server forever. Zero: none.
  std::chrono::milliseconds statement_timeout{10'000};
  int connect_attempts = 3;  // per new connection, with exponential backoff and jitter between
  std::chrono::milliseconds backoff_base{100};   // delay after the first failed attempt
  std::chrono::milliseconds backoff_max{2'000};  // cap of the exponential growth
};

// A snapshot of the pool's counters (Prometheus gauges and counters; SPEC F6.4).
struct PoolStats {
  std::size_t open = 0;                   // connections open or being opened
  std::size_t idle = 0;                   // open and waiting in the pool
  std::size_t in_use = 0;                 // open and lent to a caller
  std::uint64_t waits = 0;                // acquisitions that had to wait for a connection
  std::chrono::nanoseconds wait_time{0};  // total time spent waiting
  std::uint64_t acquire_timeouts = 0;     // waits that ended in kUnavailable
  std::uint64_t connects = 0;             // connections established
  std::uint64_t connect_failures = 0;     // failed connection attempts
  std::uint64_t reconnects = 0;           // connections opened to replace a broken one
  std::uint64_t broken = 0;               // connections found dead (on use or at acquire)
  std::uint64_t retries = 0;              // statements retried on a fresh connection
  std::uint64_t recycled = 0;             // closed for age (max lifetime / max idle time)
  std::uint64_t health_replacements = 0;  // dead idle connections the health check replaced
};

class PostgresPool {
 public:
  struct Impl;  // postgres/pool.h
  explicit PostgresPool(std::unique_ptr<Impl> impl);
  ~PostgresPool();  // stops the health thread, closes the idle connections
  PostgresPool(const PostgresPool&) = delete;
  PostgresPool& operator=(const PostgresPool&) = delete;

  PoolStats stats() const;
  // Runs one health pass now (what the background thread does every health_interval): pings
  // every idle connection, replaces the dead ones, closes those past their age limits. Returns
  // how many dead connections it replaced.
  std::size_t checkHealth();
  // The last connection or query failure, redacted (no password); empty when none yet.
  std::string lastError() const;
  // The schema version the database had after opening (== postgresSchemaVersion()).
  int schemaVersion() const;

  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};
using PostgresPoolPtr = std::shared_ptr<PostgresPool>;

// The schema version this build creates and understands.
int postgresSchemaVersion();

// Connects (config.connect_attempts tries with backoff), creates `config.schema` when set,
// applies the pending migrations under an advisory lock (several nodes may start at once) and
// starts the health thread. kInvalidArgument for a bad config (empty url, invalid schema name,
// max_open 0), kUnavailable when the server cannot be reached or refuses us (TLS verification,
// password), kCorrupt when the database's schema is newer than this build. On failure `reason`
// (when given) receives a redacted explanation such as "certificate verify failed".
// `clock` measures connection ages; it must outlive the pool.
[[nodiscard]] Result<PostgresPoolPtr> openPostgresPool(const PostgresConfig& config,
                                                       std::string* reason = nullptr,
                                                       core::Clock& clock = core::realClock());

// Connects once (with the same retries) and applies the pending migrations; returns the schema
// version now in the database. Errors as openPostgresPool.
[[nodiscard]] Result<int> migratePostgres(const PostgresConfig& config,
                                          std::string* reason = nullptr);

// The stores, sharing `pool` (they keep it alive). Same contracts as the embedded ones.
UserStorePtr openPostgresUserStore(PostgresPoolPtr pool);
SessionStorePtr openPostgresSessionStore(PostgresPoolPtr pool);
// Loads the revocations not yet expired at `now`; sync() takes in rows other nodes wrote since.
[[nodiscard]] Result<RevocationStorePtr> openPostgresRevocationStore(PostgresPoolPtr pool,
                                                                     core::SystemTime now);

}  // namespace bulwark::store

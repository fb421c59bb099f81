#pragma once
// The stores `bulwark serve` and the account commands run on, chosen by the settings (SPEC F6,
// F7.3; DESIGN decision 6):
//
//                      embedded (default)                 production
//   users, sessions    SQLite <data_dir>/bulwark.db       PostgreSQL at database_url (pooled)
//   revocations        SQLite (this host's processes)     Redis at redis_url (pub/sub + resync),
//                                                         else PostgreSQL (polled)
//   rate limits        in-process                         Redis at redis_url (one script each)
//   lockout counters   in-process                         Redis at redis_url (one script each)
//
// Several nodes share the production stores; each keeps its own audit chain.

#include <memory>
#include <string>

#include "core/clock.h"
#include "core/config.h"
#include "store/postgres.h"
#include "store/lockout_store.h"
#include "store/rate_limit_store.h"
#include "store/redis.h"
#include "store/revocation_store.h"
#include "store/session_store.h"
#include "store/user_store.h"

namespace bulwark::app {

struct Backends {
  store::UserStorePtr users;
  store::SessionStorePtr sessions;
  store::RevocationStorePtr revocations;
  store::RateLimitStorePtr rate_limits;
  store::LockoutStorePtr lockouts;  // failed-login counters shared by the nodes; null: per node
  store::PostgresPoolPtr database;  // null when embedded
  store::RedisClientPtr redis;      // null without redis_url
  // For logs, without secrets: e.g. {"sqlite", "/var/lib/bulwark/bulwark.db"}.
  std::string accounts_store;
  std::string shared_state_store;
};

// The pool settings (db_*) and database_url as a PostgresConfig.
store::PostgresConfig postgresConfig(const core::Settings& settings);

// Opens the stores the settings choose (connecting, with retries, and migrating the database).
// Throws std::runtime_error naming the setting and the reason (redacted: never a password) when
// a backend cannot be opened. Start-up only.
Backends openBackends(const core::Settings& settings, core::Clock& clock);

}  // namespace bulwark::app

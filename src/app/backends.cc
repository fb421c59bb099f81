#include "app/backends.h"

#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>

#include "store/sqlite_config.h"

namespace bulwark::app {
namespace {

template <class T>
T opened(store::Result<T> result, std::string_view what, const std::string& where,
         const std::string& reason = "") {
  if (!result) {
    throw std::runtime_error("cannot open the " + std::string(what) + " (" + where +
                             "): " + (reason.empty() ? result.error().message() : reason));
  }
  return std::move(*result);
}

void openEmbeddedAccounts(const core::Settings& settings, core::Clock& clock,
                          Backends& backends) {
  std::error_code error;
  std::filesystem::create_directories(settings.data_dir, error);
  if (error) {
    throw std::runtime_error("cannot create " + settings.data_dir + " (BULWARK_DATA_DIR): " +
                             error.message());
  }
  ::chmod(settings.data_dir.c_str(), 0700);  // password hashes, sessions, keys
  store::SqliteConfig sqlite;
  sqlite.path = store::defaultSqlitePath(settings.data_dir);
  backends.users = opened(store::openSqliteUserStore(sqlite), "auth database", sqlite.path);
  backends.sessions =
      opened(store::openSqliteSessionStore(sqlite), "auth database", sqlite.path);
  backends.revocations = opened(store::openSqliteRevocationStore(sqlite, clock.systemTime()),
                                "auth database", sqlite.path);
  backends.accounts_store = "sqlite:" + sqlite.path;
  backends.shared_state_store = "sqlite:" + sqlite.path;
}

void openDatabase(const core::Settings& settings, core::Clock& clock, Backends& backends) {
  std::string reason;
  backends.database = opened(store::openPostgresPool(postgresConfig(settings), &reason, clock),
                             "database", "BULWARK_DATABASE_URL", reason);
  backends.users = store::openPostgresUserStore(backends.database);
  backends.sessions = store::openPostgresSessionStore(backends.database);
  backends.revocations = opened(store::openPostgresRevocationStore(backends.database,
                                                                   clock.systemTime()),
                                "revocation table", "BULWARK_DATABASE_URL");
  backends.accounts_store = "postgresql";
  backends.shared_state_store = "postgresql";
}

void openRedis(const core::Settings& settings, core::Clock& clock, Backends& backends) {
  std::string reason;
  store::RedisConfig config = store::redisConfigFrom(settings);
  config.client_name = "bulwark/" + settings.node_id;
  backends.redis =
      opened(store::connectRedis(config, &reason), "Redis", "BULWARK_REDIS_URL", reason);
  backends.revocations =
      opened(store::openRedisRevocationStore(backends.redis, clock.systemTime(),
                                             settings.revocation_resync_interval),
             "shared revocation set", "BULWARK_REDIS_URL", backends.redis->lastError());
  backends.rate_limits = store::makeRedisRateLimitStore(backends.redis);
  backends.lockouts = store::makeRedisLockoutStore(backends.redis);
  backends.shared_state_store = "redis";
}

}  // namespace

store::PostgresConfig postgresConfig(const core::Settings& settings) {
  store::PostgresConfig config;
  config.url = settings.database_url;
  config.application_name = "bulwark/" + settings.node_id;
  config.max_open = settings.db_max_open;
  config.max_idle = settings.db_max_idle;
  config.conn_max_lifetime = settings.db_conn_max_lifetime;
  config.conn_max_idle_time = settings.db_conn_max_idle_time;
  config.health_interval = settings.db_health_interval;
  config.acquire_timeout = settings.db_acquire_timeout;
  return config;
}

Backends openBackends(const core::Settings& settings, core::Clock& clock) {
  Backends backends;
  if (settings.database_url.empty()) {
    openEmbeddedAccounts(settings, clock, backends);
  } else {
    openDatabase(settings, clock, backends);
  }
  if (settings.redis_url.empty()) {
    backends.rate_limits = store::makeMemoryRateLimitStore(clock);
  } else {
    openRedis(settings, clock, backends);
  }
  return backends;
}

}  // namespace bulwark::app

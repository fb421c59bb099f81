#pragma once
// The PostgreSQL backend of the shared store suites, and helpers for tests against the real
// server of tests/support/services.sh. Each backend lives in its own schema (created by the pool,
// dropped by the backend's destructor), so tests running at once never see each other's rows.

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "store/postgres.h"
#include "support/services.h"

namespace bulwark::store::testing {

// A schema name no other test process uses at the same time.
inline std::string uniqueSchema(std::string_view prefix = "bwt") {
  static std::atomic<int> counter{0};
  return std::string(prefix) + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

// Runs one statement on its own plain libpq connection (as an operator would), returning the
// first column of the first row ("" when none) or "ERROR: …".
inline std::string adminQuery(const std::string& url, const std::string& sql) {
  PGconn* connection = PQconnectdb(url.c_str());
  PQsetNoticeProcessor(
      connection, [](void*, const char*) {}, nullptr);  // "drop cascades to…"
  std::string out;
  if (PQstatus(connection) != CONNECTION_OK) {
    out = std::string("ERROR: ") + PQerrorMessage(connection);
  } else {
    PGresult* result = PQexec(connection, sql.c_str());
    const auto status = PQresultStatus(result);
    if (status == PGRES_TUPLES_OK && PQntuples(result) > 0) {
      out = PQgetvalue(result, 0, 0);
    } else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      out = std::string("ERROR: ") + PQresultErrorMessage(result);
    }
    PQclear(result);
  }
  PQfinish(connection);
  return out;
}

// A pool configuration for the test server in schema `schema`.
inline PostgresConfig testPostgresConfig(const std::string& schema) {
  PostgresConfig config;
  if (const auto services = bulwark::testing::testServices()) {
    config.url = services->database_url;
  }
  config.schema = schema;
  config.application_name = schema;  // lets a test find its own backends in pg_stat_activity
  config.health_interval = std::chrono::milliseconds{0};
  return config;
}

// Records a skip (or, in CI, a failure) when the services are missing. Called from a fixture's
// constructor: gtest then does not run the test body.
inline bool requireServices() {
  [] { BULWARK_REQUIRE_SERVICES(); }();
  return bulwark::testing::testServices().has_value();
}

class PostgresBackend {
 public:
  static constexpr bool kPersistent = true;

  PostgresBackend() : schema_(uniqueSchema()) {
    if (requireServices()) {
      pool_ = openPool();
      if (!pool_) {
        // A fatal failure from the fixture's constructor: gtest then skips the test body, which
        // would otherwise run on null stores.
        [] { FAIL() << "cannot open the PostgreSQL pool"; }();
      }
    }
  }
  ~PostgresBackend() {
    pool_.reset();
    if (const auto services = bulwark::testing::testServices()) {
      adminQuery(services->database_url, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    }
  }
  PostgresBackend(const PostgresBackend&) = delete;
  PostgresBackend& operator=(const PostgresBackend&) = delete;

  const std::string& schema() const { return schema_; }
  PostgresPoolPtr pool() const { return pool_; }
  // Another pool on the same schema: other connections, as another node would have.
  PostgresPoolPtr openPool() const {
    std::string reason;
    auto pool = openPostgresPool(testPostgresConfig(schema_), &reason);
    EXPECT_TRUE(pool.has_value()) << reason;
    return pool.has_value() ? *pool : nullptr;
  }

  UserStorePtr users() { return pool_ ? openPostgresUserStore(pool_) : nullptr; }
  SessionStorePtr sessions() { return pool_ ? openPostgresSessionStore(pool_) : nullptr; }
  SessionStorePtr secondSessions() {
    auto other = openPool();
    return other ? openPostgresSessionStore(other) : nullptr;
  }
  RevocationStorePtr revocations(core::SystemTime now) {
    if (!pool_) {
      return nullptr;
    }
    auto opened = openPostgresRevocationStore(openPool(), now);
    EXPECT_TRUE(opened.has_value()) << opened.error().message();
    return opened.has_value() ? *opened : nullptr;
  }

 private:
  std::string schema_;
  PostgresPoolPtr pool_;
};

}  // namespace bulwark::store::testing

// bench/stores: the PostgreSQL stores against the real server of tests/support/services.sh
// (`source DIR/env` first), measured in the same run (issue 5 "Benchmark"):
//
//   raw/find_user     the statement findById runs, on ONE plain libpq connection: prepared
//                     once, PQexecPrepared with binary parameters and results (the floor)
//   pool/exec         the same statement through the pool: acquire, liveness poll, exec, release
//   pool/find_user    UserStore::findById: the pool plus decoding the row into a User
//   pool/rotate       SessionStore::rotate of the current token (one conditional UPDATE … RETURNING
//                     plus the new token's row): refresh rotations per second, one caller
//
// After Google Benchmark's own output it prints the pool's overhead over raw libpq (goal ≤ 5%).
// Each run works in a schema of its own, dropped at the end.

#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "crypto/hmac.h"
#include "store/postgres.h"
#include "store/postgres/pool.h"

namespace {

using namespace bulwark;

constexpr const char* kFindUser =
    "SELECT id, username, password_hash, locked, created_ms, not_before_ms, "
    "(SELECT coalesce(string_agg(role, ','), '') FROM user_roles r WHERE r.user_id = u.id) "
    "FROM users u WHERE id = $1";

struct Fixture {
  std::string url;
  std::string schema = "bench_stores_" + std::to_string(::getpid());
  store::PostgresPoolPtr pool;
  store::UserStorePtr users;
  store::SessionStorePtr sessions;
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// A raw libpq connection with the session the pool's connections have (search_path and the same
// statement_timeout, which costs the server a timer per statement) and kFindUser prepared as
// "find", so only the pool differs; nullptr when it cannot connect.
PGconn* connectRaw() {
  auto& f = fixture();
  PGconn* connection = PQconnectdb(f.url.c_str());
  if (PQstatus(connection) != CONNECTION_OK) {
    PQfinish(connection);
    return nullptr;
  }
  const std::string timeout =
      std::to_string(f.pool->impl().pool->config().statement_timeout.count());
  PQclear(PQexec(connection, ("SET search_path = " + f.schema).c_str()));
  PQclear(PQexec(connection, ("SET statement_timeout = " + timeout).c_str()));
  const Oid text_oid = 25;
  PQclear(PQprepare(connection, "find", kFindUser, 1, &text_oid));
  return connection;
}

// kFindUser for "u1" on a connectRaw() connection, binary parameters and results.
PGresult* rawFind(PGconn* connection) {
  const char* id = "u1";
  const int length = 2;
  const int format = 1;
  return PQexecPrepared(connection, "find", 1, &id, &length, &format, 1);
}

void rawFindUser(benchmark::State& state) {
  PGconn* connection = connectRaw();
  if (connection == nullptr) {
    state.SkipWithError("cannot connect");
    return;
  }
  for (auto _ : state) {
    PGresult* result = rawFind(connection);
    if (PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) != 1) {
      state.SkipWithError("query failed");
    }
    benchmark::DoNotOptimize(PQgetvalue(result, 0, 2));
    PQclear(result);
  }
  PQfinish(connection);
}

void poolExec(benchmark::State& state) {
  auto& pool = *fixture().pool->impl().pool;
  for (auto _ : state) {
    auto rows = pool.run(store::postgres::Retry::kSafe, [](store::postgres::Connection& db) {
      return db.exec(kFindUser, store::postgres::Params().text("u1"));
    });
    if (!rows || rows->size() != 1) {
      state.SkipWithError("query failed");
    }
    benchmark::DoNotOptimize(rows);
  }
}

void poolFindUser(benchmark::State& state) {
  auto& users = *fixture().users;
  for (auto _ : state) {
    auto user = users.findById("u1");
    if (!user) {
      state.SkipWithError("findById failed");
    }
    benchmark::DoNotOptimize(user);
  }
}

void poolRotate(benchmark::State& state) {
  auto& sessions = *fixture().sessions;
  static std::atomic<int> family{0};
  const std::string sid = "bench-" + std::to_string(family.fetch_add(1));
  const core::SystemTime now{std::chrono::milliseconds{1'800'000'000'000}};
  store::NewSession fresh;
  fresh.sid = sid;
  fresh.user_id = "u1";
  fresh.created = now;
  fresh.expires = now + std::chrono::hours(24 * 30);
  fresh.token_expires = now + std::chrono::hours(24 * 7);
  fresh.token_hash = crypto::sha256(sid + "/0");
  if (!sessions.create(fresh)) {
    state.SkipWithError("create failed");
    return;
  }
  std::uint64_t generation = 0;
  for (auto _ : state) {
    store::RotateRequest request;
    request.presented = crypto::sha256(sid + "/" + std::to_string(generation));
    request.next = crypto::sha256(sid + "/" + std::to_string(generation + 1));
    request.now = now + std::chrono::milliseconds(generation + 1);
    request.next_expires = request.now + std::chrono::hours(24 * 7);
    auto rotated = sessions.rotate(request);
    if (!rotated || rotated->outcome != store::RotateOutcome::kRotated) {
      state.SkipWithError("rotation failed");
      break;
    }
    ++generation;
  }
}

// The machines are shared and noisy: the benchmarks above run one after another, so load that
// comes and goes skews their ratio. This runs both in alternating rounds of `per_round` queries
// and returns the median of the per-round ratios pool/raw (wall time).
double interleavedRatio(int rounds, int per_round) {
  PGconn* connection = connectRaw();
  if (connection == nullptr) {
    return 0;
  }
  auto& pool = *fixture().pool->impl().pool;
  std::vector<double> ratios;
  for (int round = 0; round < rounds; ++round) {
    const auto raw_start = std::chrono::steady_clock::now();
    for (int i = 0; i < per_round; ++i) {
      PQclear(rawFind(connection));
    }
    const auto pool_start = std::chrono::steady_clock::now();
    for (int i = 0; i < per_round; ++i) {
      auto rows = pool.run(store::postgres::Retry::kSafe, [](store::postgres::Connection& db) {
        return db.exec(kFindUser, store::postgres::Params().text("u1"));
      });
      benchmark::DoNotOptimize(rows);
    }
    const auto end = std::chrono::steady_clock::now();
    ratios.push_back(std::chrono::duration<double>(end - pool_start).count() /
                     std::chrono::duration<double>(pool_start - raw_start).count());
  }
  PQfinish(connection);
  std::sort(ratios.begin(), ratios.end());
  return ratios[ratios.size() / 2];
}

BENCHMARK(rawFindUser)->Name("raw/find_user")->UseRealTime();
BENCHMARK(poolExec)->Name("pool/exec")->UseRealTime();
BENCHMARK(poolFindUser)->Name("pool/find_user")->UseRealTime();
BENCHMARK(poolRotate)->Name("pool/rotate")->UseRealTime()->Threads(1)->Threads(8);

// Keeps each benchmark's mean real time per iteration (ns) to print the ratios.
class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median") {
        const auto threads = run.run_name.threads;
        medians[run.run_name.function_name +
                (threads.empty() || threads == "threads:1" ? "" : "/" + threads)] =
            run.GetAdjustedRealTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> medians;
};

}  // namespace

int main(int argc, char** argv) {
  const char* url = std::getenv("BULWARK_TEST_DATABASE_URL");
  if (url == nullptr) {
    std::fprintf(stderr,
                 "BULWARK_TEST_DATABASE_URL is not set: source the env of "
                 "tests/support/services.sh start DIR\n");
    return 2;
  }
  auto& f = fixture();
  f.url = url;
  store::PostgresConfig config;
  config.url = url;
  config.schema = f.schema;
  if (std::getenv("BENCH_NO_STATEMENT_TIMEOUT") != nullptr) {
    config.statement_timeout = std::chrono::milliseconds{0};
  }
  std::string reason;
  auto pool = store::openPostgresPool(config, &reason);
  if (!pool) {
    std::fprintf(stderr, "cannot open the pool: %s\n", reason.c_str());
    return 1;
  }
  f.pool = *pool;
  f.users = store::openPostgresUserStore(f.pool);
  f.sessions = store::openPostgresSessionStore(f.pool);
  store::User user;
  user.id = "u1";
  user.username = "alice";
  user.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
  user.roles = {"admin", "user"};
  (void)f.users->create(user);

  benchmark::Initialize(&argc, argv);
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::Shutdown();

  const auto& m = collector.medians;
  if (m.count("raw/find_user") && m.count("pool/exec") && m.count("pool/find_user")) {
    const double raw = m.at("raw/find_user");
    std::printf("\n| what | median µs/op | vs raw libpq |\n|---|---:|---:|\n");
    for (const char* name :
         {"raw/find_user", "pool/exec", "pool/find_user", "pool/rotate", "pool/rotate/threads:8"}) {
      if (m.count(name)) {
        std::printf("| %s | %.1f | %.3fx |\n", name, m.at(name) / 1000, m.at(name) / raw);
      }
    }
    std::printf("\npool overhead (pool/exec vs raw): %+.1f%% (goal <= 5%%)\n",
                (m.at("pool/exec") / raw - 1) * 100);
    if (m.count("pool/rotate")) {
      std::printf("refresh rotations/s, one caller: %.0f\n", 1e9 / m.at("pool/rotate"));
    }
    if (m.count("pool/rotate/threads:8")) {
      // With UseRealTime and threads, the time per iteration is wall time / total iterations.
      std::printf("refresh rotations/s, 8 callers: %.0f\n", 1e9 / m.at("pool/rotate/threads:8"));
    }
  }
  const double interleaved = interleavedRatio(60, 200);
  std::printf("pool/raw, interleaved rounds (median of 60 x 200 queries): %.3fx (%+.1f%%)\n",
              interleaved, (interleaved - 1) * 100);
  f.users.reset();
  f.sessions.reset();
  f.pool.reset();
  PGconn* admin = PQconnectdb(url);
  PQsetNoticeProcessor(
      admin, [](void*, const char*) {}, nullptr);
  PQclear(PQexec(admin, ("DROP SCHEMA IF EXISTS " + f.schema + " CASCADE").c_str()));
  PQfinish(admin);
  return 0;
}

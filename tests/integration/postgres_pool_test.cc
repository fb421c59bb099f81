// The PostgreSQL pool against the real server: TLS really verified, passwords never echoed,
// retries with backoff, connection ages, health checks, acquire timeouts, and a server restart
// in the middle of use.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <future>
#include <thread>

#include "integration/postgres_backend.h"
#include "store/postgres/pool.h"
#include "unit/store/user_store_suite.h"

namespace bulwark::store::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "no " << from << " in the test URL";
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class PostgresPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BULWARK_REQUIRE_SERVICES();
    services_ = *bulwark::testing::testServices();
  }
  void TearDown() override {
    if (!services_.database_url.empty()) {
      adminQuery(services_.database_url, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    }
  }

  PostgresConfig config() const { return testPostgresConfig(schema_); }

  // Opens a pool or fails the test.
  PostgresPoolPtr open(const PostgresConfig& config, core::Clock& clock = core::realClock()) {
    std::string reason;
    auto pool = openPostgresPool(config, &reason, clock);
    EXPECT_TRUE(pool) << reason;
    return pool ? *pool : nullptr;
  }

  // The server process behind the connection the pool lends next (a round trip).
  static Result<std::int64_t> backendPid(PostgresPool& pool) {
    return pool.impl().pool->run(postgres::Retry::kSafe,
                                 [](postgres::Connection& db) -> Result<std::int64_t> {
                                   auto rows = db.exec("SELECT pg_backend_pid()");
                                   if (!rows) {
                                     return rows.error();
                                   }
                                   return rows->integer(0, 0).value_or(-1);
                                 });
  }

  // Terminates the backend `pid` and waits (up to 5 s) until it has exited.
  void terminate(std::int64_t pid) const {
    EXPECT_EQ(adminQuery(services_.database_url,
                         "SELECT pg_terminate_backend(" + std::to_string(pid) + ", 5000)"),
              "t");
  }

  bulwark::testing::TestServices services_;
  std::string schema_ = uniqueSchema("bwp");
};

TEST_F(PostgresPoolTest, ConnectsOverVerifiedTls) {
  auto pool = open(config());
  ASSERT_TRUE(pool);
  EXPECT_EQ(adminQuery(services_.database_url,
                       "SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
                       "WHERE application_name = '" +
                           schema_ + "'"),
            "t");
}

TEST_F(PostgresPoolTest, RefusesAServerSignedByAnotherCa) {
  auto config = this->config();
  config.url =
      replaced(config.url, "sslrootcert=" + services_.ca, "sslrootcert=" + services_.wrong_ca);
  std::string reason;
  auto pool = openPostgresPool(config, &reason);
  ASSERT_FALSE(pool);
  EXPECT_EQ(pool.error(), StoreError::kUnavailable);
  EXPECT_NE(reason.find("certificate verify failed"), std::string::npos) << reason;
  EXPECT_EQ(reason.find(services_.pg_password), std::string::npos);
}

TEST_F(PostgresPoolTest, PlaintextIsRefusedByTheServer) {
  auto config = this->config();
  config.url = replaced(config.url, "sslmode=verify-full", "sslmode=disable");
  std::string reason;
  auto pool = openPostgresPool(config, &reason);
  ASSERT_FALSE(pool);
  EXPECT_EQ(pool.error(), StoreError::kUnavailable);
  EXPECT_NE(reason.find("no encryption"), std::string::npos) << reason;
  EXPECT_EQ(reason.find(services_.pg_password), std::string::npos);
}

TEST_F(PostgresPoolTest, AWrongPasswordIsRefusedAndNeverEchoed) {
  const std::string wrong = "wrong-" + services_.pg_password.substr(0, 8) + "-guess";
  for (bool key_value : {false, true}) {
    auto config = this->config();
    if (key_value) {
      config.url = "host=localhost port=" + std::to_string(services_.pg_port) +
                   " dbname=bulwark user=bulwark password=" + wrong +
                   " sslmode=verify-full sslrootcert=" + services_.ca +
                   " sslcert=" + services_.client_cert + " sslkey=" + services_.client_key;
    } else {
      config.url = replaced(config.url, ":" + services_.pg_password + "@", ":" + wrong + "@");
    }
    std::string reason;
    auto pool = openPostgresPool(config, &reason);
    ASSERT_FALSE(pool);
    EXPECT_EQ(pool.error(), StoreError::kUnavailable);
    EXPECT_NE(reason.find("password authentication failed"), std::string::npos) << reason;
    EXPECT_EQ(reason.find(wrong), std::string::npos) << reason;
    EXPECT_EQ(reason.find(services_.pg_password), std::string::npos);
  }
}

// A TCP listener that accepts and at once closes every connection, counting them.
class SlammingDoor {
 public:
  SlammingDoor() {
    socket_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    EXPECT_EQ(::bind(socket_, reinterpret_cast<sockaddr*>(&address), size), 0);
    EXPECT_EQ(::listen(socket_, 16), 0);
    ::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        pollfd ready{socket_, POLLIN, 0};
        if (::poll(&ready, 1, 20) == 1) {
          const int client = ::accept(socket_, nullptr, nullptr);
          if (client >= 0) {
            accepted_.fetch_add(1);
            ::close(client);
          }
        }
      }
    });
  }
  ~SlammingDoor() {
    stop_ = true;
    thread_.join();
    ::close(socket_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  int socket_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST_F(PostgresPoolTest, RetriesThreeTimesWithBackoffThenGivesUp) {
  SlammingDoor door;
  auto config = this->config();
  config.url = "postgresql://bulwark:" + services_.pg_password +
               "@127.0.0.1:" + std::to_string(door.port()) +
               "/bulwark?sslmode=verify-full&sslrootcert=" + services_.ca;
  config.connect_attempts = 3;
  config.backoff_base = milliseconds{100};
  std::string reason;
  const auto start = Steady::now();
  auto pool = openPostgresPool(config, &reason);
  const auto elapsed = Steady::now() - start;
  ASSERT_FALSE(pool);
  EXPECT_EQ(pool.error(), StoreError::kUnavailable);
  EXPECT_EQ(door.accepted(), 3);
  // Two pauses: at least half of 100 ms, then half of 200 ms (the rest is jitter).
  EXPECT_GE(elapsed, milliseconds{150});
  EXPECT_LT(elapsed, seconds{10});
  EXPECT_EQ(reason.find(services_.pg_password), std::string::npos) << reason;
}

TEST_F(PostgresPoolTest, ReplacesConnectionsIdleOrOldPastTheirLimits) {
  core::SimulatedClock clock;
  auto config = this->config();
  config.conn_max_idle_time = seconds{60};
  config.conn_max_lifetime = seconds{300};
  auto pool = open(config, clock);
  ASSERT_TRUE(pool);
  const auto first = backendPid(*pool);
  ASSERT_TRUE(first);
  clock.advance(seconds{59});
  EXPECT_EQ(backendPid(*pool).value(), *first);  // idle 59 s: kept
  clock.advance(seconds{61});
  const auto second = backendPid(*pool);
  ASSERT_TRUE(second);
  EXPECT_NE(*second, *first);  // idle 61 s: replaced
  EXPECT_EQ(pool->stats().recycled, 1u);
  for (int step = 0; step < 5; ++step) {  // kept busy, but 5 × 59 s = 295 s old
    clock.advance(seconds{59});
    EXPECT_EQ(backendPid(*pool).value(), *second);
  }
  clock.advance(seconds{10});  // 305 s old
  EXPECT_NE(backendPid(*pool).value(), *second);
  EXPECT_EQ(pool->stats().recycled, 2u);
  EXPECT_EQ(pool->stats().broken, 0u);
}

TEST_F(PostgresPoolTest, HealthCheckReplacesAKilledIdleConnection) {
  auto pool = open(config());
  ASSERT_TRUE(pool);
  const auto pid = backendPid(*pool);
  ASSERT_TRUE(pid);
  terminate(*pid);
  EXPECT_EQ(pool->checkHealth(), 1u);
  const auto stats = pool->stats();
  EXPECT_EQ(stats.health_replacements, 1u);
  EXPECT_EQ(stats.reconnects, 1u);
  EXPECT_EQ(stats.idle, 1u);  // the replacement, ready before anyone asks
  EXPECT_EQ(stats.open, 1u);
  const auto after = backendPid(*pool);
  ASSERT_TRUE(after);
  EXPECT_NE(*after, *pid);
  EXPECT_EQ(pool->stats().connects, 2u);
}

TEST_F(PostgresPoolTest, HealthThreadRunsByItself) {
  auto config = this->config();
  config.health_interval = milliseconds{100};
  auto pool = open(config);
  ASSERT_TRUE(pool);
  const auto pid = backendPid(*pool);
  ASSERT_TRUE(pid);
  terminate(*pid);
  const auto deadline = Steady::now() + seconds{10};
  while (pool->stats().health_replacements == 0 && Steady::now() < deadline) {
    std::this_thread::sleep_for(milliseconds{20});
  }
  EXPECT_EQ(pool->stats().health_replacements, 1u);
}

TEST_F(PostgresPoolTest, AConnectionKilledWhileIdleIsReplacedBeforeUse) {
  auto pool = open(config());
  ASSERT_TRUE(pool);
  auto users = openPostgresUserStore(pool);
  const auto pid = backendPid(*pool);
  ASSERT_TRUE(pid);
  terminate(*pid);
  // A write that must not be retried blindly still succeeds: the dead connection is caught
  // before anything is sent on it.
  ASSERT_TRUE(users->create(makeUser("u1", "alice")));
  EXPECT_EQ(pool->stats().broken, 1u);
  EXPECT_EQ(pool->stats().retries, 0u);
  EXPECT_EQ(pool->stats().reconnects, 1u);
}

TEST_F(PostgresPoolTest, ALostConnectionIsRetriedOnceWhenSafe) {
  auto pool = open(config());
  ASSERT_TRUE(pool);
  auto& raw = *pool->impl().pool;
  int calls = 0;
  // The first attempt kills its own backend mid-statement; the retry runs on a fresh one.
  auto pid = raw.run(postgres::Retry::kSafe, [&](postgres::Connection& db) -> Result<std::int64_t> {
    ++calls;
    auto rows = db.exec(calls == 1 ? "SELECT pg_terminate_backend(pg_backend_pid())::int::bigint"
                                   : "SELECT pg_backend_pid()::bigint");
    if (!rows) {
      return rows.error();
    }
    return rows->integer(0, 0).value_or(-1);
  });
  ASSERT_TRUE(pid) << pid.error().message();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(pool->stats().retries, 1u);

  calls = 0;
  auto unsafe = raw.run(postgres::Retry::kUnsafe, [&](postgres::Connection& db) -> Result<void> {
    ++calls;
    auto rows = db.exec("SELECT pg_terminate_backend(pg_backend_pid())");
    if (!rows) {
      return rows.error();
    }
    return {};
  });
  ASSERT_FALSE(unsafe);
  EXPECT_EQ(unsafe.error(), StoreError::kUnavailable);
  EXPECT_EQ(calls, 1);
}

TEST_F(PostgresPoolTest, ATransactionLostBeforeCommitIsRerun) {
  auto pool = open(config());
  ASSERT_TRUE(pool);
  auto& raw = *pool->impl().pool;
  int calls = 0;
  auto done = raw.transaction([&](postgres::Connection& db) -> Result<void> {
    ++calls;
    if (!db.exec("CREATE TABLE IF NOT EXISTS t (x bigint)")) {
      return StoreError::kUnavailable;
    }
    if (!db.exec("INSERT INTO t VALUES (1)")) {
      return StoreError::kUnavailable;
    }
    if (calls == 1 && !db.exec("SELECT pg_terminate_backend(pg_backend_pid())")) {
      return StoreError::kUnavailable;  // the server rolled everything back
    }
    return {};
  });
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(adminQuery(services_.database_url, "SELECT count(*) FROM " + schema_ + ".t"), "1");
}

TEST_F(PostgresPoolTest, TimesOutWhenEveryConnectionIsBusy) {
  auto config = this->config();
  config.max_open = 1;
  config.acquire_timeout = milliseconds{200};
  auto pool = open(config);
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->stats().open, 1u);
  EXPECT_EQ(pool->stats().idle, 1u);
  std::promise<void> held;
  std::promise<void> let_go;
  std::thread holder([&] {
    auto ran = pool->impl().pool->run(postgres::Retry::kSafe, [&](postgres::Connection&) {
      held.set_value();
      let_go.get_future().wait();
      return Result<void>{};
    });
    EXPECT_TRUE(ran);
  });
  held.get_future().wait();
  EXPECT_EQ(pool->stats().in_use, 1u);
  const auto start = Steady::now();
  const auto waited = backendPid(*pool);
  const auto elapsed = Steady::now() - start;
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error(), StoreError::kUnavailable);
  EXPECT_GE(elapsed, milliseconds{200});
  EXPECT_LT(elapsed, seconds{5});
  let_go.set_value();
  holder.join();
  const auto stats = pool->stats();
  EXPECT_EQ(stats.acquire_timeouts, 1u);
  EXPECT_EQ(stats.waits, 1u);
  EXPECT_GE(stats.wait_time, milliseconds{200});
  EXPECT_EQ(stats.in_use, 0u);
  EXPECT_NE(pool->lastError().find("acquire timeout"), std::string::npos);
  EXPECT_TRUE(backendPid(*pool));  // free again
}

TEST_F(PostgresPoolTest, KeepsAtMostMaxIdleConnections) {
  auto config = this->config();
  config.max_idle = 2;
  auto pool = open(config);
  ASSERT_TRUE(pool);
  constexpr int kBusy = 6;
  std::vector<std::thread> threads;
  std::atomic<int> inside{0};
  std::promise<void> let_go;
  auto release = let_go.get_future().share();
  for (int i = 0; i < kBusy; ++i) {
    threads.emplace_back([&] {
      (void)pool->impl().pool->run(postgres::Retry::kSafe, [&](postgres::Connection&) {
        inside.fetch_add(1);
        release.wait();
        return Result<void>{};
      });
    });
  }
  while (inside.load() < kBusy) {
    std::this_thread::yield();
  }
  EXPECT_EQ(pool->stats().in_use, static_cast<std::size_t>(kBusy));
  EXPECT_EQ(pool->stats().open, static_cast<std::size_t>(kBusy));
  let_go.set_value();
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(pool->stats().idle, 2u);
  EXPECT_EQ(pool->stats().open, 2u);
}

// Restarts the server when a test stopped it and failed before starting it again.
class ServerGuard {
 public:
  explicit ServerGuard(const bulwark::testing::TestServices& services) : services_(services) {}
  ~ServerGuard() {
    if (stopped_) {
      (void)services_.control("start-postgres");
    }
  }
  bool stop() { return stopped_ = services_.control("stop-postgres"); }
  bool start() {
    const bool started = services_.control("start-postgres");
    stopped_ = !started;
    return started;
  }

 private:
  const bulwark::testing::TestServices& services_;
  bool stopped_ = false;
};

TEST_F(PostgresPoolTest, ReconnectsByItselfAfterAnOutage) {
  auto config = this->config();
  config.acquire_timeout = seconds{2};
  config.connect_timeout = seconds{2};
  auto pool = open(config);
  ASSERT_TRUE(pool);
  auto users = openPostgresUserStore(pool);
  ASSERT_TRUE(users->create(makeUser("u1", "alice")));

  ServerGuard server(services_);
  ASSERT_TRUE(server.stop());
  const auto start = Steady::now();
  const auto during = users->findById("u1");
  const auto elapsed = Steady::now() - start;
  ASSERT_FALSE(during);
  EXPECT_EQ(during.error(), StoreError::kUnavailable);
  EXPECT_LT(elapsed, seconds{10});
  EXPECT_FALSE(pool->lastError().empty());
  EXPECT_EQ(pool->lastError().find(services_.pg_password), std::string::npos);
  EXPECT_EQ(users->create(makeUser("u2", "bob")).error(), StoreError::kUnavailable);

  ASSERT_TRUE(server.start());
  const auto after = users->findById("u1");
  ASSERT_TRUE(after) << after.error().message() << ": " << pool->lastError();
  EXPECT_EQ(after->username, "alice");
  ASSERT_TRUE(users->create(makeUser("u2", "bob")));
  EXPECT_GE(pool->stats().broken, 1u);
  EXPECT_GE(pool->stats().reconnects, 1u);
}

TEST_F(PostgresPoolTest, AWriteRightAfterARestartSucceeds) {
  auto pool = open(config());
  ASSERT_TRUE(pool);
  auto users = openPostgresUserStore(pool);
  auto sessions = openPostgresSessionStore(pool);
  ASSERT_TRUE(users->create(makeUser("u1", "alice")));
  ASSERT_TRUE(services_.control("restart-postgres"));
  // Not retry-safe writes: they succeed because the pool notices the dead connection before use.
  ASSERT_TRUE(users->create(makeUser("u2", "bob")));
  NewSession session;
  session.sid = "s1";
  session.user_id = "u1";
  session.created = core::SystemTime{milliseconds{1'800'000'000'000}};
  session.expires = session.created + std::chrono::hours(1);
  session.token_expires = session.expires;
  session.token_hash = crypto::sha256("tok");
  ASSERT_TRUE(sessions->create(session));
  EXPECT_EQ(pool->stats().reconnects, 1u);
}

}  // namespace
}  // namespace bulwark::store::testing

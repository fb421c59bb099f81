// `bulwark serve` with audit_store = postgres on the real PostgreSQL of tests/support/services.sh:
// the trail is written to audit_records, `bulwark audit verify` reads it back intact, names a row
// tampered with psql (its seq and "modified"), and `audit export` prints the events.
//
// Each test gets its own PostgreSQL schema (first in the search path of database_url).

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/process.h"
#include "support/raw_client.h"
#include "support/services.h"

namespace bulwark::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kBinary = BULWARK_BINARY;
constexpr const char* kNode = "pg-audit-node";

class PostgresAuditServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BULWARK_REQUIRE_SERVICES();
    services_ = *testServices();
    const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
    schema_ = "pga_" + std::to_string(::getpid()) + "_" + std::to_string(ticks % 1000000);
    root_ = fs::temp_directory_path() / ("bulwark-pg-audit-" + schema_);
    fs::remove_all(root_);
    fs::create_directories(root_);
    ASSERT_TRUE(psql("CREATE SCHEMA " + schema_)) << "cannot create schema " << schema_;
    env_ = {
        {"BULWARK_LISTEN", "127.0.0.1:0"},
        {"BULWARK_NODE_ID", kNode},
        {"BULWARK_DATA_DIR", (root_ / "data").string()},
        {"BULWARK_KEYS_DIR", (root_ / "keys").string()},
        {"BULWARK_DATABASE_URL", services_.database_url + "&options=-csearch_path%3D" + schema_},
        {"BULWARK_AUDIT_STORE", "postgres"},
        {"BULWARK_ARGON2_MEMORY", "8MiB"},
        {"BULWARK_ARGON2_ITERATIONS", "1"},
    };
  }

  void TearDown() override {
    stop();
    if (!schema_.empty()) psql("DROP SCHEMA " + schema_ + " CASCADE");
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  bool psql(const std::string& sql) {
    auto result = runProcess(
        {"/usr/bin/psql", services_.database_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql}, {}, 30s);
    if (result.exit_code != 0) ADD_FAILURE() << result.err;
    return result.exit_code == 0;
  }

  void start() {
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBinary, "serve", "--workers", "1", "--auth-workers", "1"}, env_);
    const auto log = server_->waitForStderr("\"msg\":\"listening\"", 30s);
    port_ = listeningPort(log);
    ASSERT_NE(port_, 0) << server_->stderrText();
  }

  void stop() {
    if (!server_) return;
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait(20s), 0) << server_->stderrText();
    server_.reset();
  }

  RawResponse get(const std::string& path) {
    RawClient client(port_);
    return client.roundTrip("GET " + path + " HTTP/1.1\r\nHost: bulwark\r\n\r\n", 10s);
  }

  ProcessResult audit(const std::vector<std::string>& args) {
    std::vector<std::string> argv{kBinary, "audit"};
    argv.insert(argv.end(), args.begin(), args.end());
    return runProcess(argv, env_, 60s);
  }

  TestServices services_;
  std::string schema_;
  fs::path root_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<ChildProcess> server_;
  std::uint16_t port_ = 0;
};

TEST_F(PostgresAuditServeTest, ServeWritesTheTrailToPostgresAndVerifyNamesATamperedRow) {
  start();
  ASSERT_FALSE(HasFatalFailure());
  const auto response = get("/no-such-route");
  EXPECT_EQ(response.status, 404) << response.head;
  stop();

  // The trail is in the database, not in files.
  EXPECT_FALSE(fs::exists(root_ / "data" / "audit" / kNode / "segment-00000001.ndjson"));
  auto verified = audit({"verify"});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("audit trail intact: postgres:" + std::string(kNode)),
            std::string::npos)
      << verified.out;

  auto exported = audit({"export", "--type", "SYSTEM_START"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find("\"SYSTEM_START\""), std::string::npos) << exported.out;
  EXPECT_EQ(exported.out.find("\"SYSTEM_STOP\""), std::string::npos) << exported.out;
  auto requests = audit({"export", "--type", "REQUEST"});
  ASSERT_EQ(requests.exit_code, 0) << requests.err;
  EXPECT_NE(requests.out.find("/no-such-route"), std::string::npos) << requests.out;

  // Backdate record 2's event by a century (its MAC stays): verify names seq 2, "modified".
  ASSERT_TRUE(psql("SET search_path TO " + schema_ +
                   "; UPDATE audit_records SET line = convert_to(replace(convert_from(line, "
                   "'UTF8'), '\"time\":\"20', '\"time\":\"19'), 'UTF8') WHERE node = '" +
                   kNode + "' AND seq = 2"));
  verified = audit({"verify"});
  EXPECT_EQ(verified.exit_code, 1) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("modified at postgres:" + std::string(kNode) + " line 2, seq 2"),
            std::string::npos)
      << verified.out;
}

// Async mode: requests answered while PostgreSQL restarts have their events held by the writer
// (bounded queue) and appended once the server is back; none is missing and the chain verifies.
TEST_F(PostgresAuditServeTest, RestartOfPostgresUnderLoadLosesNoAcknowledgedEvent) {
  env_["BULWARK_AUDIT_DURABILITY"] = "async";
  start();
  ASSERT_FALSE(HasFatalFailure());
  std::atomic<bool> stop_load{false};
  std::mutex mutex;
  std::vector<std::string> answered;
  std::thread load([&] {
    for (int i = 0; i < 100000 && !stop_load.load(); ++i) {
      const std::string path = "/load-" + std::to_string(i);
      if (get(path).status == 404) {
        std::lock_guard lock(mutex);
        answered.push_back(path);
      }
    }
  });
  std::this_thread::sleep_for(300ms);
  const bool restarted = services_.control("restart-postgres");
  std::this_thread::sleep_for(300ms);
  stop_load = true;
  load.join();
  ASSERT_TRUE(restarted);
  ASSERT_FALSE(answered.empty());
  stop();

  const auto verified = audit({"verify"});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  const auto exported = audit({"export", "--type", "REQUEST"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::size_t missing = 0;
  for (const auto& path : answered) {
    if (exported.out.find("\"" + path + "\"") == std::string::npos) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << answered.size() << " answered requests";
}

TEST_F(PostgresAuditServeTest, AuditStorePostgresWithoutDatabaseUrlIsAConfigurationProblem) {
  env_.erase("BULWARK_DATABASE_URL");
  auto checked = runProcess({kBinary, "config", "check"}, env_, 30s);
  EXPECT_NE(checked.exit_code, 0);
  const std::string all = checked.out + checked.err;
  EXPECT_NE(all.find("BULWARK_AUDIT_STORE"), std::string::npos) << all;
  EXPECT_NE(all.find("BULWARK_DATABASE_URL"), std::string::npos) << all;
}

}  // namespace
}  // namespace bulwark::testing

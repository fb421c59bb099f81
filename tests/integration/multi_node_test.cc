// Two real `bulwark serve` nodes sharing one PostgreSQL and one Redis (SPEC F7.3), both over
// verified TLS with passwords, as tests/support/services.sh starts them: an access token revoked
// on node A is refused on node B within a second; a refresh race across the nodes has exactly one
// winner; a rate limit holds across the nodes; each node keeps its own audit chain, which
// verifies; failed logins count on every node; with Redis down, protected routes fail closed (503) with an incident event and
// recover by themselves; a PostgreSQL restart under load is survived without losing an audit
// event.
//
// Each test gets its own PostgreSQL schema and Redis key prefix, so tests can run side by side;
// the fault tests stop shared services, so the ctest entries of these suites hold one resource
// lock (see CMakeLists.txt).

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/process.h"
#include "support/raw_client.h"
#include "support/services.h"
#include "support/test_upstream.h"

namespace bulwark::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kBinary = BULWARK_BINARY;
const std::string kCredentials = R"({"username":"alice","password":"correct horse battery"})";

json::object parseObject(const RawResponse& response) {
  boost::system::error_code ec;
  auto value = json::parse(response.body, ec);
  if (ec || !value.is_object()) return {};
  return value.as_object();
}

std::string str(const json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
}

// One `bulwark serve` process of the cluster.
struct Node {
  std::string id;
  fs::path data_dir;
  std::unique_ptr<ChildProcess> process;
  std::uint16_t port = 0;

  RawResponse send(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& bearer = "") const {
    RawClient client(port);
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: bulwark\r\n";
    if (!bearer.empty()) request += "Authorization: Bearer " + bearer + "\r\n";
    if (!body.empty()) {
      request += "Content-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n";
    }
    return client.roundTrip(request + "\r\n" + body, 10s);
  }
  RawResponse post(const std::string& path, const std::string& body,
                   const std::string& bearer = "") const {
    return send("POST", path, body, bearer);
  }
};

class MultiNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BULWARK_REQUIRE_SERVICES();
    services_ = *testServices();
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const std::string tag = "mn_" + std::to_string(::getpid()) + "_" + std::to_string(Clock::now().time_since_epoch().count() % 1000000);
    root_ = fs::temp_directory_path() / ("bulwark-multi-node-" + tag + "-" + name);
    fs::remove_all(root_);
    fs::create_directories(root_);
    schema_ = tag;
    ASSERT_TRUE(psql("CREATE SCHEMA " + schema_)) << "cannot create schema " << schema_;
    const auto config = root_ / "bulwark.toml";
    std::ofstream(config) << "[[route]]\nprefix = \"/api/\"\nupstream = \"" << upstream_.url()
                          << "\"\nauth = \"required\"\nroles = [\"user\"]\n"
                          << "[[route]]\nprefix = \"/limited/\"\nupstream = \"" << upstream_.url()
                          << "\"\nrate_limit = \"1/m\"\n";
    config_ = config.string();
    base_env_ = {
        {"BULWARK_LISTEN", "127.0.0.1:0"},
        {"BULWARK_KEYS_DIR", (root_ / "keys").string()},
        // The test's schema first in the search path: tables are created and found there.
        {"BULWARK_DATABASE_URL",
         services_.database_url + "&options=-csearch_path%3D" + schema_},
        {"BULWARK_REDIS_URL", services_.redis_url},
        {"BULWARK_REDIS_CA_FILE", services_.ca},
        {"BULWARK_REDIS_KEY_PREFIX", "bulwark-test:" + tag + ":"},
        {"BULWARK_REVOCATION_RESYNC_INTERVAL", "2s"},
    };
  }

  void TearDown() override {
    for (auto* node : {&a_, &b_}) stop(*node);
    if (!schema_.empty()) psql("DROP SCHEMA " + schema_ + " CASCADE");
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  bool psql(const std::string& sql) {
    auto result = runProcess({"/usr/bin/psql", services_.database_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql},
                             {}, 30s);
    if (result.exit_code != 0) ADD_FAILURE() << result.err;
    return result.exit_code == 0;
  }

  void start(Node& node, const std::string& id) {
    node.id = id;
    node.data_dir = root_ / id;
    auto env = base_env_;
    env["BULWARK_NODE_ID"] = id;
    env["BULWARK_DATA_DIR"] = node.data_dir.string();
    node.process = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBinary, "serve", "--config", config_, "--workers", "1",
                                 "--auth-workers", "2", "--argon2-memory", "8MiB",
                                 "--argon2-iterations", "1"},
        env);
    const auto log = node.process->waitForStderr("\"msg\":\"listening\"", 30s);
    node.port = listeningPort(log);
    ASSERT_NE(node.port, 0) << node.process->stderrText();
  }

  // SIGTERM; the node must drain and exit 0.
  void stop(Node& node) {
    if (!node.process) return;
    node.process->signal(SIGTERM);
    EXPECT_EQ(node.process->wait(20s), 0) << node.id << ": " << node.process->stderrText();
    node.process.reset();
  }

  void startBoth() {
    start(a_, "node-a");
    if (HasFatalFailure()) return;
    start(b_, "node-b");
  }

  // Registers alice (once) on node A and logs her in on `node`: {access_token, refresh_token}.
  json::object login(const Node& node) {
    if (!registered_) {
      auto registered = a_.post("/auth/register", kCredentials);
      EXPECT_EQ(registered.status, 201) << registered.head << registered.body;
      registered_ = true;
    }
    auto response = node.post("/auth/login", kCredentials);
    EXPECT_EQ(response.status, 200) << response.head << response.body;
    return parseObject(response);
  }

  // Polls `node` until a protected request with `token` answers `status`, for at most `limit`.
  // Returns how long it took, or nullopt.
  std::optional<Clock::duration> waitForStatus(const Node& node, const std::string& token,
                                               int status, Clock::duration limit) {
    const auto start = Clock::now();
    for (int i = 0; i < 2000 && Clock::now() - start < limit; ++i) {
      if (node.send("GET", "/api/x", "", token).status == status) return Clock::now() - start;
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }

  // `bulwark audit verify` on the node's own trail (run after the node stopped).
  ProcessResult verifyTrail(const Node& node) {
    return runProcess({kBinary, "audit", "verify"},
                      {{"BULWARK_DATA_DIR", node.data_dir.string()}, {"BULWARK_NODE_ID", node.id}},
                      60s);
  }
  ProcessResult exportTrail(const Node& node, const std::string& type) {
    return runProcess({kBinary, "audit", "export", "--type", type},
                      {{"BULWARK_DATA_DIR", node.data_dir.string()}, {"BULWARK_NODE_ID", node.id}},
                      60s);
  }

  TestServices services_;
  TestUpstream upstream_;
  fs::path root_;
  std::string schema_;
  std::string config_;
  std::map<std::string, std::string> base_env_;
  Node a_;
  Node b_;
  bool registered_ = false;
};

TEST_F(MultiNodeTest, TokenRevokedOnOneNodeIsRefusedOnTheOtherWithinOneSecond) {
  startBoth();
  ASSERT_FALSE(HasFatalFailure());
  const auto tokens = login(a_);
  const std::string access = str(tokens, "access_token");
  ASSERT_FALSE(access.empty());
  // Shared users, keys and sessions: a token node A issued is good on node B.
  ASSERT_EQ(b_.send("GET", "/api/x", "", access).status, 200);

  const auto logout = a_.post("/auth/logout", "", access);
  ASSERT_EQ(logout.status, 204) << logout.head << logout.body;
  EXPECT_EQ(a_.send("GET", "/api/x", "", access).status, 401);  // at once on the revoking node
  const auto took = waitForStatus(b_, access, 401, 5s);
  ASSERT_TRUE(took.has_value()) << "node B still accepts the revoked token after 5 s";
  EXPECT_LT(*took, 1s) << "revocation reached node B only after "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(*took).count()
                       << " ms";
}

TEST_F(MultiNodeTest, RefreshRaceAcrossNodesHasExactlyOneWinner) {
  startBoth();
  ASSERT_FALSE(HasFatalFailure());
  for (int round = 0; round < 5; ++round) {
    const auto tokens = login(round % 2 == 0 ? a_ : b_);
    const std::string body = "{\"refresh_token\":\"" + str(tokens, "refresh_token") + "\"}";
    std::atomic<int> ready{0};
    int status_a = 0;
    int status_b = 0;
    auto race = [&](const Node& node, int& status) {
      ready.fetch_add(1);
      for (int spin = 0; spin < 1'000'000 && ready.load() < 2; ++spin) std::this_thread::yield();
      status = node.post("/auth/refresh", body).status;
    };
    std::thread first(race, std::cref(a_), std::ref(status_a));
    std::thread second(race, std::cref(b_), std::ref(status_b));
    first.join();
    second.join();
    EXPECT_EQ((status_a == 200) + (status_b == 200), 1)
        << "round " << round << ": node A " << status_a << ", node B " << status_b;
    EXPECT_TRUE(status_a == 401 || status_b == 401) << "the loser must be refused";
  }
}

TEST_F(MultiNodeTest, RateLimitHoldsAcrossNodes) {
  startBoth();
  ASSERT_FALSE(HasFatalFailure());
  int allowed = 0;
  int limited = 0;
  for (int i = 0; i < 10; ++i) {
    const Node& node = i % 2 == 0 ? a_ : b_;
    auto response = node.send("GET", "/limited/x", "");
    if (response.status == 200) ++allowed;
    if (response.status == 429) {
      ++limited;
      EXPECT_FALSE(response.headers["retry-after"].empty());
    }
  }
  // One per minute for this client, whichever node it reaches (each node alone would allow one).
  EXPECT_EQ(allowed, 1);
  EXPECT_EQ(limited, 9);
}

TEST_F(MultiNodeTest, LockoutCountsGuessesOnEveryNode) {
  startBoth();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(a_.post("/auth/register", kCredentials).status, 201);
  const std::string wrong = R"({"username":"alice","password":"not the password"})";
  // lockout_account_threshold is 5: the fifth failure, wherever it lands, locks the account.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ((i % 2 == 0 ? a_ : b_).post("/auth/login", wrong).status, 401) << i;
  }
  for (const Node* node : {&a_, &b_}) {
    auto refused = node->post("/auth/login", kCredentials);  // even the right password
    EXPECT_EQ(refused.status, 429) << node->id << ": " << refused.body;
    EXPECT_FALSE(refused.headers["retry-after"].empty());
  }
}

TEST_F(MultiNodeTest, EachNodeKeepsItsOwnAuditChainThatVerifies) {
  startBoth();
  ASSERT_FALSE(HasFatalFailure());
  const auto tokens = login(b_);
  EXPECT_EQ(a_.send("GET", "/api/x", "", str(tokens, "access_token")).status, 200);
  EXPECT_EQ(b_.send("GET", "/api/x", "", "not-a-token").status, 401);
  stop(a_);
  stop(b_);
  for (const Node* node : {&a_, &b_}) {
    const auto verified = verifyTrail(*node);
    EXPECT_EQ(verified.exit_code, 0) << node->id << ": " << verified.out << verified.err;
    const auto grants = exportTrail(*node, "ACCESS_GRANTED,ACCESS_DENIED");
    EXPECT_EQ(grants.exit_code, 0) << grants.err;
    // Each event is in the chain of the node that decided it, and only there.
    const std::string other = node == &a_ ? "node-b" : "node-a";
    EXPECT_EQ(grants.out.find("\"node\":\"" + other + "\""), std::string::npos);
    EXPECT_NE(grants.out.find(node == &a_ ? "ACCESS_GRANTED" : "ACCESS_DENIED"),
              std::string::npos)
        << grants.out;
  }
}

TEST_F(MultiNodeTest, RedisDownFailsClosedWithAnIncidentAndRecovers) {
  startBoth();
  ASSERT_FALSE(HasFatalFailure());
  const auto tokens = login(a_);
  const std::string access = str(tokens, "access_token");
  ASSERT_EQ(b_.send("GET", "/api/x", "", access).status, 200);

  auto ready = b_.send("GET", "/readyz", "");
  EXPECT_EQ(ready.status, 200) << ready.body;
  for (const char* component : {"\"database\":{\"status\":\"ok\"", "\"redis\":{\"status\":\"ok\"",
                                "\"revocations\":{\"status\":\"ok\"", "\"audit\":{\"status\":\"ok\""}) {
    EXPECT_NE(ready.body.find(component), std::string::npos) << component << " in " << ready.body;
  }
  const auto metrics = b_.send("GET", "/metrics", "");
  for (const char* metric : {"\nbulwark_db_pool_open ", "\nbulwark_redis_connections_up ",
                             "\nbulwark_audit_durable_seq ", "\nbulwark_audit_syncs_total ",
                             "\nbulwark_audit_sync_seconds_total "}) {
    EXPECT_NE(metrics.body.find(metric), std::string::npos) << metric;
  }

  ASSERT_TRUE(services_.control("stop-redis"));
  const auto refused = waitForStatus(b_, access, 503, 10s);
  const auto not_ready = b_.send("GET", "/readyz", "");
  const bool restarted = services_.control("start-redis");
  ASSERT_TRUE(restarted) << "could not restart Redis";
  ASSERT_TRUE(refused.has_value()) << "protected route not refused while Redis was down";
  EXPECT_EQ(not_ready.status, 503) << not_ready.body;
  EXPECT_NE(not_ready.body.find("\"revocations\":{\"status\":\"unavailable\""), std::string::npos)
      << not_ready.body;
  // Recovers by itself: the feed resubscribes and resyncs.
  ASSERT_TRUE(waitForStatus(b_, access, 200, 20s).has_value())
      << "node B did not recover after Redis came back: " << b_.process->stderrText();
  stop(b_);
  const auto incidents = exportTrail(b_, "SECURITY_INCIDENT");
  EXPECT_EQ(incidents.exit_code, 0) << incidents.err;
  EXPECT_NE(incidents.out.find("revocation"), std::string::npos) << incidents.out;
}

TEST_F(MultiNodeTest, PostgresRestartUnderLoadIsSurvivedWithoutLosingAuditEvents) {
  startBoth();
  ASSERT_FALSE(HasFatalFailure());
  const auto tokens = login(a_);
  const std::string access = str(tokens, "access_token");
  std::atomic<bool> stop_load{false};
  std::atomic<int> answered{0};
  std::atomic<int> bad{0};
  std::atomic<int> logins[2] = {1, 0};  // successful logins per node (login() above: one on A)
  std::thread load([&] {
    for (int i = 0; i < 100000 && !stop_load.load(); ++i) {
      const int status = (i % 2 == 0 ? a_ : b_).post("/auth/login", kCredentials).status;
      ++answered;
      if (status == 200) ++logins[i % 2];
      // During the restart a login may be refused with 503 (store unavailable), never crash.
      if (status != 200 && status != 503) ++bad;
    }
  });
  std::this_thread::sleep_for(300ms);
  const bool restarted = services_.control("restart-postgres");
  std::this_thread::sleep_for(300ms);
  stop_load = true;
  load.join();
  ASSERT_TRUE(restarted);
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(answered.load(), 0);
  // The pool reconnects by itself.
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {
    const bool on_a = a_.post("/auth/login", kCredentials).status == 200;
    const bool on_b = b_.post("/auth/login", kCredentials).status == 200;
    logins[0] += on_a;
    logins[1] += on_b;
    recovered = on_a && on_b;
    if (!recovered) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(recovered);
  EXPECT_EQ(b_.send("GET", "/api/x", "", access).status, 200);
  stop(a_);
  stop(b_);
  for (const Node* node : {&a_, &b_}) {
    const auto verified = verifyTrail(*node);
    EXPECT_EQ(verified.exit_code, 0) << node->id << ": " << verified.out << verified.err;
    // Every login a node answered with tokens is in its trail, outage or not.
    const auto exported = exportTrail(*node, "LOGIN");
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    const auto recorded = std::count(exported.out.begin(), exported.out.end(), '\n');
    EXPECT_EQ(recorded, logins[node == &a_ ? 0 : 1].load()) << node->id;
  }
}

}  // namespace
}  // namespace bulwark::testing

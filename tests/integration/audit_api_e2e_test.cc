// GET /admin/audit/events in the real `bulwark serve`: administrators only (401 without a token,
// 403 without the admin role), filters, NDJSON lines exactly as stored, and every read audited.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "support/process.h"
#include "support/raw_client.h"

namespace bulwark::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kBinary = BULWARK_BINARY;

std::string field(const std::string& json, const std::string& name) {
  std::smatch match;
  if (!std::regex_search(json, match, std::regex("\"" + name + "\":\"([^\"]+)\""))) return "";
  return match[1];
}

class AuditApiE2e : public ::testing::Test {
 protected:
  AuditApiE2e() : root_(fs::temp_directory_path() / ("bulwark-audit-api-" + std::to_string(getpid()))) {
    fs::remove_all(root_);
    fs::create_directories(root_);
    env_ = {{"BULWARK_LISTEN", "127.0.0.1:0"},
            {"BULWARK_DATA_DIR", (root_ / "data").string()},
            {"BULWARK_NODE_ID", "audit-api"},
            {"INPUT", "an admin password"}};
    const std::string args = " --argon2-memory 8MiB --argon2-iterations 1";
    auto added = runProcess({"/bin/sh", "-c",
                             "printf '%s' \"$INPUT\" | " + kBinary + " users add root --role admin" + args},
                            env_);
    EXPECT_EQ(added.exit_code, 0) << added.err;
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBinary, "serve", "--workers", "1", "--auth-workers", "1",
                                 "--argon2-memory", "8MiB", "--argon2-iterations", "1"},
        env_);
    const auto log = server_->waitForStderr("\"msg\":\"listening\"", 15s);
    std::smatch match;
    if (std::regex_search(log, match, std::regex("\"port\":\"([0-9]+)\""))) {
      port_ = static_cast<std::uint16_t>(std::stoi(match[1]));
    }
  }
  ~AuditApiE2e() override {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait(10s), 0);
    fs::remove_all(root_);
  }
  RawResponse request(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& bearer = "") {
    RawClient client(port_);
    std::string text = method + " " + target + " HTTP/1.1\r\nHost: b\r\n";
    if (!bearer.empty()) text += "Authorization: Bearer " + bearer + "\r\n";
    if (!body.empty()) {
      text += "Content-Type: application/json\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n";
    }
    return client.roundTrip(text + "\r\n" + body);
  }
  std::string login(const std::string& user, const std::string& password) {
    auto response = request("POST", "/auth/login",
                            "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}");
    EXPECT_EQ(response.status, 200) << response.body;
    return field(response.body, "access_token");
  }

  fs::path root_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<ChildProcess> server_;
  std::uint16_t port_ = 0;
};

TEST_F(AuditApiE2e, AdministratorsQueryTheTrailAndEveryReadIsAudited) {
  ASSERT_NE(port_, 0) << server_->stderrText();
  const auto admin = login("root", "an admin password");
  ASSERT_FALSE(admin.empty());
  ASSERT_EQ(request("POST", "/auth/register",
                    R"({"username":"mallory","password":"a user password"})")
                .status,
            201);
  const auto user = login("mallory", "a user password");

  EXPECT_EQ(request("GET", "/admin/audit/events").status, 401);
  EXPECT_EQ(request("GET", "/admin/audit/events", "", user).status, 403);
  EXPECT_EQ(request("GET", "/admin/audit/events?limit=0", "", admin).status, 400);
  EXPECT_EQ(request("GET", "/admin/audit/events?type=NOPE", "", admin).status, 400);
  EXPECT_EQ(request("GET", "/admin/audit/events?bogus=1", "", admin).status, 400);

  auto logins = request("GET", "/admin/audit/events?type=LOGIN&limit=10", "", admin);
  ASSERT_EQ(logins.status, 200) << logins.body;
  EXPECT_EQ(logins.headers["content-type"], "application/x-ndjson");
  int lines = 0;
  for (std::size_t at = 0; (at = logins.body.find('\n', at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 2) << logins.body;  // root and mallory
  EXPECT_NE(logins.body.find("\"mac\":"), std::string::npos) << "lines are returned as stored";
  EXPECT_EQ(logins.body.find("REQUEST_REJECTED"), std::string::npos);

  auto exports = request("GET", "/admin/audit/events?type=DATA_EXPORT&format=json", "", admin);
  ASSERT_EQ(exports.status, 200);
  EXPECT_EQ(exports.body.front(), '[');
  EXPECT_NE(exports.body.find("DATA_EXPORT"), std::string::npos) << exports.body;
}

}  // namespace
}  // namespace bulwark::testing

// `bulwark users add|lock|unlock` end to end: the real binary on a temporary data directory.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "store/user_store.h"
#include "support/process.h"

namespace bulwark::testing {
namespace {

const std::string kBinary = BULWARK_BINARY;

class UsersCli : public ::testing::Test {
 protected:
  UsersCli()
      : dir_(std::filesystem::temp_directory_path() /
             ("bulwark-users-cli-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    env_ = {{"BULWARK_DATA_DIR", dir_.string()},
            {"BULWARK_ARGON2_MEMORY", "8MiB"},  // fast; the defaults are tested elsewhere
            {"BULWARK_ARGON2_ITERATIONS", "1"}};
  }
  ~UsersCli() override { std::filesystem::remove_all(dir_); }

  // Runs `bulwark <args>` with `input` on stdin.
  ProcessResult run(const std::string& args, const std::string& input = "") {
    return runProcess({"/bin/sh", "-c", "printf '%s' \"$INPUT\" | " + kBinary + " " + args},
                      withInput(input));
  }
  std::map<std::string, std::string> withInput(const std::string& input) {
    auto env = env_;
    env["INPUT"] = input;
    return env;
  }
  store::User user(const std::string& name) {
    auto users = store::openSqliteUserStore({store::defaultSqlitePath(dir_.string())});
    EXPECT_TRUE(users);
    auto found = (*users)->findByName(name);
    EXPECT_TRUE(found);
    return found ? *found : store::User{};
  }

  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(UsersCli, AddsLocksAndUnlocks) {
  auto added = run("users add Alice --role admin --role ops", "a long password\n");
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_NE(added.out.find("created user alice"), std::string::npos) << added.out;
  EXPECT_EQ((added.out + added.err).find("a long password"), std::string::npos);
  auto alice = user("alice");
  EXPECT_EQ(alice.roles, (std::vector<std::string>{"admin", "ops"}));
  EXPECT_EQ(alice.password_hash.rfind("$argon2id$v=19$m=8192,t=1,p=1$", 0), 0u);
  EXPECT_FALSE(alice.locked);

  auto locked = run("users lock alice");
  ASSERT_EQ(locked.exit_code, 0) << locked.err;
  EXPECT_TRUE(user("alice").locked);
  auto unlocked = run("users unlock ALICE");
  ASSERT_EQ(unlocked.exit_code, 0) << unlocked.err;
  EXPECT_FALSE(user("alice").locked);
}

TEST_F(UsersCli, RecordsItsEventsInTheAuditTrail) {
  ASSERT_EQ(run("users add erin", "a long password\n").exit_code, 0);
  ASSERT_EQ(run("users lock erin").exit_code, 0);
  auto exported = run("audit export --type DATA_MODIFY,PERMISSION_CHANGE");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find("DATA_MODIFY"), std::string::npos) << exported.out;
  EXPECT_NE(exported.out.find("PERMISSION_CHANGE"), std::string::npos) << exported.out;
  EXPECT_EQ(exported.out.find("a long password"), std::string::npos);
  auto verified = run("audit verify");
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

TEST_F(UsersCli, WhileTheServerOwnsTheTrailItsEventsGoToTheCommandTrail) {
  env_["BULWARK_NODE_ID"] = "n1";
  auto env = env_;
  env["BULWARK_LISTEN"] = "127.0.0.1:0";
  ChildProcess server({kBinary, "serve"}, env);
  ASSERT_FALSE(server.waitForStderr("\"msg\":\"listening\"", std::chrono::seconds(15)).empty())
      << server.stderrText();
  auto added = run("users add frank", "a long password\n");
  ASSERT_EQ(added.exit_code, 0) << added.err;
  server.signal(SIGTERM);
  ASSERT_EQ(server.wait(std::chrono::seconds(15)), 0) << server.stderrText();
  // The server's chain has no trace of it; the command trail beside it has, and verifies.
  auto own = run("audit export --type DATA_MODIFY");
  EXPECT_EQ(own.out.find("frank"), std::string::npos) << own.out;
  auto command = run("audit export --type DATA_MODIFY --node-id n1-cli");
  ASSERT_EQ(command.exit_code, 0) << command.err;
  EXPECT_NE(command.out.find("\"target\":\"frank\""), std::string::npos) << command.out;
  EXPECT_EQ(run("audit verify --node-id n1-cli").exit_code, 0);
  EXPECT_EQ(run("audit verify").exit_code, 0);
}

TEST_F(UsersCli, DefaultRoleIsUser) {
  ASSERT_EQ(run("users add bob", "a long password\n").exit_code, 0);
  EXPECT_EQ(user("bob").roles, std::vector<std::string>{"user"});
}

TEST_F(UsersCli, RefusesWithReasons) {
  ASSERT_EQ(run("users add bob", "a long password\n").exit_code, 0);
  auto taken = run("users add BOB", "a long password\n");
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_NE(taken.err.find("taken"), std::string::npos) << taken.err;
  auto short_password = run("users add carol", "short\n");
  EXPECT_EQ(short_password.exit_code, 1);
  EXPECT_EQ(short_password.err.find("short\n"), std::string::npos);
  EXPECT_EQ(run("users add 'not valid'", "a long password\n").exit_code, 1);
  EXPECT_EQ(run("users add dave", "").exit_code, 1);  // no password at all
  auto unknown = run("users lock nobody");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no such user"), std::string::npos);
}

}  // namespace
}  // namespace bulwark::testing

// `bulwark audit verify|tail|export` against the trail a real `bulwark serve` wrote.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "support/process.h"

namespace bulwark::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = BULWARK_BINARY;

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void writeLines(const std::string& path, const std::vector<std::string>& text) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& line : text) out << line << "\n";
}

class AuditCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("bulwark-audit-cli-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    key_file_ = (root_ / "audit.key").string();
    std::ofstream(key_file_) << "k1:" << std::string(64, '7') << "\n";
    ::chmod(key_file_.c_str(), 0600);
    env_ = {{"BULWARK_DATA_DIR", (root_ / "data").string()},
            {"BULWARK_NODE_ID", "n1"},
            {"BULWARK_AUDIT_KEY_FILE", key_file_},
            {"BULWARK_AUDIT_CHECKPOINT_EVERY", "2"}};
    segment_ = (root_ / "data" / "audit" / "n1" / "segment-00000000000000000001.ndjson").string();
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  ProcessResult bulwark(std::vector<std::string> args) {
    args.insert(args.begin(), kBinary);
    return runProcess(args, env_);
  }

  // Runs `serve` until it listens, calls `while_running`, then stops it with SIGTERM.
  template <class F>
  void serve(F while_running) {
    auto env = env_;
    env["BULWARK_LISTEN"] = "127.0.0.1:0";
    ChildProcess server({kBinary, "serve"}, env);
    ASSERT_FALSE(server.waitForStderr("\"msg\":\"listening\"", 10s).empty()) << server.stderrText();
    while_running();
    server.signal(SIGTERM);
    ASSERT_EQ(server.wait(10s), 0) << server.stderrText();
  }

  std::filesystem::path root_;
  std::string key_file_;
  std::string segment_;
  std::map<std::string, std::string> env_;
};

TEST_F(AuditCli, ReadsWhileServingAreNotedAndTheTrailVerifies) {
  EXPECT_EQ(bulwark({"audit", "export"}).exit_code, 2);  // no trail yet
  serve([&] {
    // SYSTEM_START is queued before "listening" is logged; written a moment later.
    ProcessResult running;
    for (int i = 0; i < 100; ++i) {
      running = bulwark({"audit", "export", "--type", "SYSTEM_START"});
      if (running.out.find("SYSTEM_START") != std::string::npos) break;
      std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(running.exit_code, 0) << running.err;
    EXPECT_NE(running.out.find("\"type\":\"SYSTEM_START\""), std::string::npos) << running.out;
    EXPECT_NE(running.err.find("DATA_EXPORT record of this read was not written"),
              std::string::npos)
        << running.err;
    EXPECT_NE(running.err.find("pid"), std::string::npos) << running.err;
  });
  const auto verified = bulwark({"audit", "verify"});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("audit trail intact"), std::string::npos) << verified.out;
  EXPECT_NE(verified.out.find("keys: k1"), std::string::npos) << verified.out;

  // Now the CLI holds the lock itself: its read is on record, before what it prints.
  const auto exported = bulwark({"audit", "export", "--type", "DATA_EXPORT,SYSTEM_STOP"});
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(exported.err, "");
  EXPECT_NE(exported.out.find("\"type\":\"SYSTEM_STOP\""), std::string::npos);
  EXPECT_NE(exported.out.find("\"actor\":\"cli:"), std::string::npos) << exported.out;
  EXPECT_NE(exported.out.find("\"type\":\"DATA_EXPORT,SYSTEM_STOP\""), std::string::npos);
  const auto tail = bulwark({"audit", "tail", "-n", "1"});
  EXPECT_EQ(tail.exit_code, 0);
  EXPECT_NE(tail.out.find("\"command\":\"tail\""), std::string::npos) << tail.out;
  EXPECT_EQ(bulwark({"audit", "verify"}).exit_code, 0);
}

TEST_F(AuditCli, NamesTamperingAndACutTail) {
  serve([] {});
  auto original = lines(segment_);
  ASSERT_GE(original.size(), 3u);  // SYSTEM_START, SYSTEM_STOP, checkpoint(s)

  // A checkpoint kept elsewhere (as a SIEM would): the last line.
  const std::string kept = (root_ / "kept-checkpoint.ndjson").string();
  std::ofstream(kept) << original.back() << "\n";
  EXPECT_EQ(bulwark({"audit", "verify", "--checkpoint", kept}).exit_code, 0);

  auto cut = original;
  cut.pop_back();
  writeLines(segment_, cut);
  EXPECT_EQ(bulwark({"audit", "verify"}).exit_code, 0);  // the chain alone cannot tell
  const auto truncated = bulwark({"audit", "verify", "--checkpoint", kept});
  EXPECT_EQ(truncated.exit_code, 1) << truncated.out << truncated.err;
  EXPECT_NE(truncated.out.find("truncated"), std::string::npos) << truncated.out;

  auto edited = original;
  edited[1].replace(edited[1].find("SYSTEM_STOP"), 11, "SYSTEM_STAR");
  writeLines(segment_, edited);
  const auto modified = bulwark({"audit", "verify"});
  EXPECT_EQ(modified.exit_code, 1);
  EXPECT_NE(modified.out.find("modified at " + segment_ + " line 2, seq 2"), std::string::npos)
      << modified.out;
  writeLines(segment_, original);
  EXPECT_EQ(bulwark({"audit", "verify"}).exit_code, 0);
}

TEST_F(AuditCli, UsageAndKeyProblemsAreExitTwo) {
  serve([] {});
  EXPECT_EQ(bulwark({"audit", "verify", "--dir", (root_ / "nothing").string()}).exit_code, 2);
  EXPECT_EQ(bulwark({"audit", "verify", "--checkpoint", "{\"seq\":1}"}).exit_code, 2);
  EXPECT_EQ(bulwark({"audit", "export", "--type", "NOT_A_TYPE"}).exit_code, 2);
  EXPECT_EQ(bulwark({"audit", "export", "--since", "yesterday"}).exit_code, 2);
  // A wrong key is not "damage"-free: every record fails.
  const std::string other = (root_ / "other.key").string();
  std::ofstream(other) << "k1:" << std::string(64, '8') << "\n";
  ::chmod(other.c_str(), 0600);
  const auto wrong = bulwark({"audit", "verify", "--key-file", other});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.out.find("modified at"), std::string::npos) << wrong.out;

  ::chmod(key_file_.c_str(), 0644);
  const auto open_key = bulwark({"audit", "verify"});
  EXPECT_EQ(open_key.exit_code, 2);
  EXPECT_NE(open_key.err.find("chmod 600 " + key_file_), std::string::npos) << open_key.err;
  auto env = env_;
  env["BULWARK_LISTEN"] = "127.0.0.1:0";
  const auto refused = runProcess({kBinary, "serve"}, env);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("chmod 600 " + key_file_), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find(std::string(64, '7')), std::string::npos);
}

}  // namespace
}  // namespace bulwark::testing

// Crash safety: a child process writes in sync mode and reports each event it was told is
// durable through a pipe; the test kills it with SIGKILL at a random moment. Every
// acknowledged event must be on disk and the trail must verify, round after round (each new
// child recovers the previous one's torn tail).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "audit/verifier.h"
#include "audit_test_support.h"

namespace bulwark::audit {
namespace {

using namespace std::chrono_literals;

// `preallocate`: the file store's NUL-filled space ahead of the data (what `serve` uses in sync
// durability), so a kill leaves NULs, a torn line, or both for the next writer to cut.
[[noreturn]] void runChild(const std::string& dir, int ack_fd, bool preallocate) {
  core::RealClock clock;
  auto config = testing::testConfig();
  config.checkpoint_every = 100;
  WriterDeps deps;
  deps.store = makeFileStore({dir, 64 << 10, preallocate});  // small segments: rotation too
  deps.keys = testing::key1();
  deps.clock = &clock;
  deps.random = &crypto::systemRandom();
  auto writer = Writer::open(config, std::move(deps));
  if (!writer) _exit(3);
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        auto event = testing::makeEvent(EventType::kRequest, "producer-" + std::to_string(t));
        event.details = {{"i", std::to_string(i)}, {"pad", std::string(i % 200, 'x')}};
        const std::uint64_t seq = (*writer)->append(std::move(event));
        if (seq == kNotRecorded || !(*writer)->waitDurable(seq)) _exit(4);
        if (::write(ack_fd, &seq, sizeof seq) != sizeof seq) _exit(5);
      }
    });
  }
  for (auto& producer : producers) producer.join();
  _exit(0);
}

TEST(CrashSafety, AcknowledgedEventsSurviveSigkill) {
  testing::TempDir dir;
  const std::string trail = dir.sub("trail");
  std::mt19937 rng(std::random_device{}());
  const auto keys = testing::key1();
  std::uint64_t acknowledged_total = 0;
  for (int round = 0; round < 5; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      runChild(trail, fds[1], round % 2 == 0);
    }
    ::close(fds[1]);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    std::uint64_t max_ack = 0;
    std::uint64_t acks = 0;
    auto drain = [&] {
      std::uint64_t seq = 0;
      for (;;) {
        const ssize_t n = ::read(fds[0], &seq, sizeof seq);
        if (n != static_cast<ssize_t>(sizeof seq)) return n == 0;  // true at EOF
        max_ack = std::max(max_ack, seq);
        ++acks;
      }
    };
    // Let it run for a random while (and at least until it acknowledged something).
    const auto run_for = std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 60)(rng));
    const auto deadline = std::chrono::steady_clock::now() + run_for;
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline || acks == 0) {
      pollfd pfd{fds[0], POLLIN, 0};
      ::poll(&pfd, 1, 1);
      drain();
      ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "child acknowledged nothing";
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    while (!drain()) {
    }
    ::close(fds[0]);
    acknowledged_total += acks;

    // Before any repair: the trail verifies (a torn last line is only a note) and holds every
    // acknowledged event.
    VerifyOptions options;
    options.directory = trail;
    options.keys = &keys;
    auto report = verifyTrail(options);
    ASSERT_TRUE(report) << report.error().message;
    ASSERT_TRUE(report->intact()) << "round " << round << ": " << damageName(report->finding->kind)
                                  << " at " << report->finding->file << ":" << report->finding->line
                                  << ": " << report->finding->detail;
    EXPECT_GE(report->last_seq, max_ack) << "round " << round << ": an acknowledged event is lost";
  }
  EXPECT_GT(acknowledged_total, 0u);

  // A final writer recovers the last tail; the whole trail verifies.
  core::SimulatedClock clock;
  testing::CountingRandom random;
  auto writer =
      testing::openWriter(trail, testing::testConfig(), testing::key1(), clock, random, 64 << 10);
  ASSERT_TRUE(writer);
  writer->close();
  VerifyOptions options;
  options.directory = trail;
  options.keys = &keys;
  auto report = verifyTrail(options);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->intact());
  EXPECT_TRUE(report->notes.empty());
}

}  // namespace
}  // namespace bulwark::audit

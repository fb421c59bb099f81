#include "audit/writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "audit/query.h"
#include "audit/record.h"
#include "audit/verifier.h"
#include "audit_test_support.h"

namespace bulwark::audit {
namespace {

using namespace std::chrono_literals;
using testing::CountingRandom;
using testing::kKeyHex1;
using testing::kKeyHex2;
using testing::makeEvent;
using testing::openWriter;
using testing::readLines;
using testing::TempDir;
using testing::testConfig;

VerifyReport verify(const std::string& dir, const KeyRing& keys) {
  VerifyOptions options;
  options.directory = dir;
  options.keys = &keys;
  auto report = verifyTrail(options);
  EXPECT_TRUE(report) << (report ? "" : report.error().message);
  return report ? std::move(*report) : VerifyReport{};
}

std::vector<Record> records(const std::string& dir) {
  std::vector<Record> out;
  for (const auto& segment : testing::segments(dir)) {
    for (const auto& line : readLines(segment.path)) {
      Record record;
      EXPECT_TRUE(parseRecord(line, record)) << line;
      out.push_back(std::move(record));
    }
  }
  return out;
}

class WriterTest : public ::testing::Test {
 protected:
  // A trail of two LOGIN records, closed; returns its segment's path (for tests that then
  // damage it the way a crash would).
  std::string writeTwoLoginsAndClose() {
    auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_);
    writer->append(makeEvent(EventType::kLogin));
    writer->append(makeEvent(EventType::kLogin));
    writer->close();
    return testing::segments(dir_.path())[0].path;
  }
  // Starts a writer on the trail (which repairs what it must), records SYSTEM_START, closes.
  void restartRecordingStart() {
    auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_);
    writer->append(makeEvent(EventType::kSystemStart));
    writer->close();
  }

  TempDir dir_;
  core::SimulatedClock clock_;
  CountingRandom random_;
};

TEST_F(WriterTest, WritesAChainedTrailThatVerifies) {
  auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_);
  ASSERT_TRUE(writer);
  const std::uint64_t first = writer->append(makeEvent(EventType::kLogin));
  const std::uint64_t second = writer->append(makeEvent(EventType::kAccessDenied, "bob"));
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(second, 2u);
  EXPECT_TRUE(writer->waitDurable(second, 10s));
  writer->close();

  const auto written = records(dir_.path());
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0].seq, 1u);
  EXPECT_EQ(written[0].node, "node-1");
  EXPECT_EQ(written[0].kid, "k1");
  EXPECT_EQ(written[0].prev, std::string(64, '0'));
  EXPECT_EQ(written[1].prev, written[0].mac);
  EXPECT_EQ(written[0].event.id.size(), 32u);
  EXPECT_NE(written[0].event.id, written[1].event.id);
  EXPECT_EQ(written[1].event.actor, "bob");
  EXPECT_EQ(written[1].type_name, "ACCESS_DENIED");

  const auto report = verify(dir_.path(), testing::key1());
  EXPECT_TRUE(report.intact()) << report.finding->detail;
  EXPECT_EQ(report.records, 2u);
  EXPECT_EQ(report.last_seq, 2u);
  EXPECT_EQ(report.head_mac, written[1].mac);
  // Segment files are private.
  struct stat info {};
  ASSERT_EQ(::stat(testing::segments(dir_.path())[0].path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0077, 0u);
}

TEST_F(WriterTest, ManyProducersGetEverySequenceNumberOnce) {
  auto config = testConfig();
  config.durability = Durability::kAsync;
  auto writer = openWriter(dir_.path(), config, testing::key1(), clock_, random_, 256 << 10);
  ASSERT_TRUE(writer);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<std::uint64_t>> seqs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto event = makeEvent(EventType::kRequest, "user-" + std::to_string(t));
        event.details = {{"i", std::to_string(i)}};
        seqs[static_cast<std::size_t>(t)].push_back(writer->append(std::move(event)));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  writer->flush();
  const auto stats = writer->stats();
  writer->close();
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.appended, static_cast<std::uint64_t>(kThreads * kPerThread));

  std::set<std::uint64_t> all;
  for (const auto& list : seqs) {
    // Each producer's events keep its order.
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));
    all.insert(list.begin(), list.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), static_cast<std::uint64_t>(kThreads * kPerThread));

  const auto written = records(dir_.path());
  ASSERT_EQ(written.size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (std::size_t i = 0; i < written.size(); ++i) {
    ASSERT_EQ(written[i].seq, i + 1);  // no gap, no duplicate, in file order
  }
  EXPECT_GT(testing::segments(dir_.path()).size(), 1u);  // rotated by size
  const auto report = verify(dir_.path(), testing::key1());
  EXPECT_TRUE(report.intact()) << report.finding->detail;
  EXPECT_EQ(report.records, written.size());
}

TEST_F(WriterTest, SyncModeCallsBackWhenDurable) {
  auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_);
  ASSERT_TRUE(writer);
  EXPECT_TRUE(writer->syncDurability());
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<std::uint64_t, boost::system::error_code>> done;
  for (int i = 0; i < 50; ++i) {
    const std::uint64_t seq = writer->append(makeEvent(EventType::kRequest));
    writer->whenDurable(seq, [&, seq](boost::system::error_code ec) {
      // Durable means on disk: the record is already in the file.
      EXPECT_GE(writer->durableSeq(), seq);
      std::lock_guard lock(mutex);
      done.emplace_back(seq, ec);
      cv.notify_all();
    });
  }
  std::unique_lock lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return done.size() == 50; }));
  for (const auto& [seq, ec] : done) EXPECT_FALSE(ec) << seq;
  lock.unlock();
  // Already durable: answered at once, on this thread.
  bool inline_called = false;
  writer->whenDurable(1, [&](boost::system::error_code ec) { inline_called = !ec; });
  EXPECT_TRUE(inline_called);
  bool refused = false;
  writer->whenDurable(kNotRecorded, [&](boost::system::error_code ec) {
    refused = ec == make_error_code(Errc::kNotRecorded);
  });
  EXPECT_TRUE(refused);
  const auto stats = writer->stats();
  EXPECT_GE(stats.syncs, 1u);
  EXPECT_LE(stats.syncs, stats.batches);
}

// Sync durability under many waiting requests: batches fsynced by the writer itself and, when
// large, by the syncer while the next is serialised; every waiter is answered, and only after
// its record is durable. Preallocated segments and rotation as `serve` runs them.
TEST_F(WriterTest, SyncModeWithManyWaitersAnswersEveryoneAfterTheirFsync) {
  auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_, 256 << 10,
                           {}, /*preallocate=*/true);
  ASSERT_TRUE(writer);
  constexpr int kThreads = 64;
  constexpr int kPerThread = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::uint64_t seq = writer->append(makeEvent(EventType::kRequest));
        if (seq == kNotRecorded || !writer->waitDurable(seq, 10s) || writer->durableSeq() < seq) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  const auto stats = writer->stats();
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_LT(stats.syncs, static_cast<std::uint64_t>(kThreads * kPerThread));  // group commit
  EXPECT_GT(stats.sync_nanos, 0u);
  writer->close();
  const auto written = records(dir_.path());
  ASSERT_EQ(written.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_GT(testing::segments(dir_.path()).size(), 1u);
  EXPECT_TRUE(verify(dir_.path(), testing::key1()).intact());
}

// A store whose appends wait until the test opens the gate.
class GatedStore final : public Store {
 public:
  explicit GatedStore(StorePtr inner) : inner_(std::move(inner)) {}
  void close_gate() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open_gate() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool waitForBlockedAppend() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, 10s, [&] { return blocked_; });
  }
  Result<TailInfo> open() override { return inner_->open(); }
  Result<void> append(const Batch& batch) override {
    std::unique_lock lock(mutex_);
    blocked_ = !open_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    blocked_ = false;
    lock.unlock();
    return inner_->append(batch);
  }
  Result<void> sync() override { return inner_->sync(); }
  void close() override { inner_->close(); }
  Result<CursorPtr> read(std::uint64_t from) const override { return inner_->read(from); }
  Result<std::uint64_t> lastSeq() const override { return inner_->lastSeq(); }
  std::string describe() const override { return "gated"; }

 private:
  StorePtr inner_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = true;
  bool blocked_ = false;
};

TEST_F(WriterTest, AsyncOverflowIsCountedAndRecorded) {
  auto gated = std::make_shared<GatedStore>(makeFileStore({dir_.path()}));
  auto config = testConfig();
  config.durability = Durability::kAsync;
  config.queue_capacity = 4;
  WriterDeps deps;
  deps.store = gated;
  deps.keys = testing::key1();
  deps.clock = &clock_;
  deps.random = &random_;
  auto opened = Writer::open(config, std::move(deps));
  ASSERT_TRUE(opened) << opened.error().message;
  auto writer = *opened;

  gated->close_gate();
  ASSERT_NE(writer->append(makeEvent(EventType::kRequest)), kNotRecorded);
  ASSERT_TRUE(gated->waitForBlockedAppend());  // the writer holds one batch at the gate
  int accepted = 0;
  int dropped = 0;
  for (int i = 0; i < 10; ++i) {
    (writer->append(makeEvent(EventType::kRequest)) == kNotRecorded ? dropped : accepted)++;
  }
  EXPECT_EQ(accepted, 4);
  EXPECT_EQ(dropped, 6);
  EXPECT_EQ(writer->stats().dropped, 6u);
  gated->open_gate();
  writer->flush();
  writer->close();  // the overflow record is written by then at the latest
  const auto written = records(dir_.path());
  const auto overflow = std::find_if(written.begin(), written.end(), [](const Record& r) {
    return r.type_name == "AUDIT_OVERFLOW";
  });
  ASSERT_NE(overflow, written.end());
  EXPECT_EQ(overflow->event.severity, Severity::kHigh);
  ASSERT_FALSE(overflow->event.details.empty());
  EXPECT_EQ(overflow->event.details[0], (std::pair<std::string, std::string>{"dropped", "6"}));
  EXPECT_EQ(written.size(), 6u);  // 1 + 4 events, 1 overflow record
  EXPECT_TRUE(verify(dir_.path(), testing::key1()).intact());
}

// A store whose appends fail the first `append_failures` times and whose syncs fail from the
// `sync_failure_at`-th call on (0: never).
class FlakyStore final : public Store {
 public:
  FlakyStore(StorePtr inner, int append_failures, int sync_failure_at)
      : inner_(std::move(inner)),
        append_failures_(append_failures),
        sync_failure_at_(sync_failure_at) {}
  Result<TailInfo> open() override { return inner_->open(); }
  Result<void> append(const Batch& batch) override {
    if (append_failures_.fetch_sub(1) > 0) return systemError(ENOSPC, "append");
    return inner_->append(batch);
  }
  Result<void> sync() override {
    if (sync_failure_at_ != 0 && ++syncs_ >= sync_failure_at_) return systemError(EIO, "fsync");
    return inner_->sync();
  }
  void close() override { inner_->close(); }
  Result<CursorPtr> read(std::uint64_t from) const override { return inner_->read(from); }
  Result<std::uint64_t> lastSeq() const override { return inner_->lastSeq(); }
  std::string describe() const override { return "flaky"; }

 private:
  StorePtr inner_;
  std::atomic<int> append_failures_;
  int sync_failure_at_;
  std::atomic<int> syncs_{0};
};

TEST_F(WriterTest, FailedAppendsAreRetriedWithoutLoss) {
  auto config = testConfig();
  config.retry_interval = 1ms;
  WriterDeps deps;
  deps.store = std::make_shared<FlakyStore>(makeFileStore({dir_.path()}), 3, 0);
  deps.keys = testing::key1();
  deps.clock = &clock_;
  deps.random = &random_;
  auto writer = *Writer::open(config, std::move(deps));
  const auto seq = writer->append(makeEvent(EventType::kLogin));
  EXPECT_TRUE(writer->waitDurable(seq, 10s));
  EXPECT_EQ(writer->stats().write_errors, 3u);
  EXPECT_TRUE(writer->healthy());
  writer->close();
  EXPECT_EQ(records(dir_.path()).size(), 1u);
  EXPECT_TRUE(verify(dir_.path(), testing::key1()).intact());
}

// Both fsync paths: the writer thread's own (sync) and the syncer thread's (async).
TEST_F(WriterTest, FailedFsyncStopsTheWriterLoudly) {
  for (const Durability durability : {Durability::kSync, Durability::kAsync}) {
    SCOPED_TRACE(durability == Durability::kSync ? "sync" : "async");
    const std::string directory =
        dir_.path() + (durability == Durability::kSync ? "/sync" : "/async");
    auto config = testConfig();
    config.durability = durability;
    WriterDeps deps;
    deps.store = std::make_shared<FlakyStore>(makeFileStore({directory}), 0, 2);
    deps.keys = testing::key1();
    deps.clock = &clock_;
    deps.random = &random_;
    auto writer = *Writer::open(config, std::move(deps));
    EXPECT_TRUE(writer->waitDurable(writer->append(makeEvent(EventType::kLogin)), 10s));
    std::promise<boost::system::error_code> result;
    const auto seq = writer->append(makeEvent(EventType::kLogin));
    writer->whenDurable(seq, [&](boost::system::error_code ec) { result.set_value(ec); });
    EXPECT_FALSE(writer->waitDurable(seq, 10s));
    auto answer = result.get_future();
    ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(answer.get(), make_error_code(Errc::kWriterFailed));
    EXPECT_FALSE(writer->healthy());
    EXPECT_TRUE(writer->stats().failed);
    EXPECT_EQ(writer->append(makeEvent(EventType::kLogin)), kNotRecorded);
    writer->close();
  }
}

TEST_F(WriterTest, SyncOverflowWaitsThenGivesUp) {
  auto gated = std::make_shared<GatedStore>(makeFileStore({dir_.path()}));
  auto config = testConfig();
  config.queue_capacity = 2;
  config.enqueue_timeout = 20ms;
  WriterDeps deps;
  deps.store = gated;
  deps.keys = testing::key1();
  deps.clock = &clock_;
  deps.random = &random_;
  auto writer = *Writer::open(config, std::move(deps));
  gated->close_gate();
  ASSERT_NE(writer->append(makeEvent(EventType::kRequest)), kNotRecorded);
  ASSERT_TRUE(gated->waitForBlockedAppend());
  EXPECT_NE(writer->append(makeEvent(EventType::kRequest)), kNotRecorded);
  EXPECT_NE(writer->append(makeEvent(EventType::kRequest)), kNotRecorded);
  EXPECT_EQ(writer->append(makeEvent(EventType::kRequest)), kNotRecorded);     // after 20ms
  EXPECT_EQ(writer->tryAppend(makeEvent(EventType::kRequest)), kNotRecorded);  // at once
  EXPECT_EQ(writer->stats().dropped, 2u);
  gated->open_gate();
  writer->flush();
  writer->close();
}

TEST_F(WriterTest, CheckpointsByCountByTimeWhenIdleAndOnClose) {
  auto config = testConfig();
  config.checkpoint_every = 3;
  config.checkpoint_interval = 60s;
  config.checkpoint_on_close = true;
  auto writer = openWriter(dir_.path(), config, testing::key1(), clock_, random_);
  for (int i = 0; i < 3; ++i) writer->append(makeEvent(EventType::kRequest));
  writer->flush();
  // Idle: nothing happens until the interval passes, then a heartbeat checkpoint.
  clock_.advance(59s);
  EXPECT_TRUE(writer->waitDurable(writer->tick(), 10s));
  EXPECT_EQ(writer->stats().checkpoints, 1u);
  clock_.advance(1s);
  EXPECT_TRUE(writer->waitDurable(writer->tick(), 10s));
  EXPECT_EQ(writer->stats().checkpoints, 2u);
  clock_.advance(60s);
  EXPECT_TRUE(writer->waitDurable(writer->tick(), 10s));
  EXPECT_EQ(writer->stats().checkpoints, 3u);
  writer->close();

  const auto written = records(dir_.path());
  std::vector<std::string> types;
  for (const auto& r : written) types.push_back(r.type_name);
  EXPECT_EQ(types,
            (std::vector<std::string>{"REQUEST", "REQUEST", "REQUEST", "AUDIT_CHECKPOINT",
                                      "AUDIT_CHECKPOINT", "AUDIT_CHECKPOINT", "AUDIT_CHECKPOINT"}));
  const Record& first = written[3];
  EXPECT_EQ(first.seq, 4u);
  const auto detail = [](const Record& r, const std::string& key) {
    for (const auto& [k, v] : r.event.details) {
      if (k == key) return v;
    }
    return std::string();
  };
  EXPECT_EQ(detail(first, "checkpoint_seq"), "3");
  EXPECT_EQ(detail(first, "head_mac"), written[2].mac);  // the chain head it seals
  EXPECT_EQ(detail(first, "records"), "3");
  EXPECT_EQ(detail(first, "reason"), "count");
  EXPECT_EQ(detail(written[4], "reason"), "interval");
  EXPECT_EQ(detail(written[4], "records"), "0");  // idle: silence is provable
  EXPECT_EQ(detail(written[6], "reason"), "close");
  const auto report = verify(dir_.path(), testing::key1());
  EXPECT_TRUE(report.intact());
  EXPECT_EQ(report.checkpoints, 4u);
  EXPECT_EQ(report.last_checkpoint_seq, 7u);
}

TEST_F(WriterTest, RestartContinuesTheChain) {
  restartRecordingStart();
  {
    auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_);
    EXPECT_EQ(writer->append(makeEvent(EventType::kSystemStart)), 2u);
    writer->close();
  }
  const auto written = records(dir_.path());
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[1].prev, written[0].mac);
  EXPECT_NE(written[0].event.id, written[1].event.id);  // new instance nonce
  EXPECT_TRUE(verify(dir_.path(), testing::key1()).intact());
}

TEST_F(WriterTest, OneWriterPerTrail) {
  auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_);
  WriterDeps deps;
  deps.store = makeFileStore({dir_.path()});
  deps.keys = testing::key1();
  deps.clock = &clock_;
  deps.random = &random_;
  auto second = Writer::open(testConfig(), std::move(deps));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, make_error_code(Errc::kLocked));
  EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.error().message;
  writer->close();
  auto third = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_);
  EXPECT_TRUE(third);
}

TEST_F(WriterTest, TornLastLineIsCutKeptAndReported) {
  const std::string segment = writeTwoLoginsAndClose();
  const std::string intact = testing::readFile(segment);
  const std::string fragment = "{\"seq\":3,\"node\":\"node-1\",\"kid\":\"k1\",\"ep";
  testing::writeFile(segment, intact + fragment);  // a crash in the middle of a write
  restartRecordingStart();
  const auto written = records(dir_.path());
  ASSERT_EQ(written.size(), 4u);
  EXPECT_EQ(written[2].type_name, "AUDIT_RECOVERY");
  EXPECT_EQ(written[2].seq, 3u);  // the chain continues from the last good record
  EXPECT_EQ(written[2].prev, written[1].mac);
  std::map<std::string, std::string> details(written[2].event.details.begin(),
                                             written[2].event.details.end());
  EXPECT_EQ(details["bytes"], std::to_string(fragment.size()));
  EXPECT_EQ(details["offset"], std::to_string(intact.size()));
  EXPECT_EQ(details["last_good_seq"], "2");
  EXPECT_EQ(testing::readFile(details["kept_in"]), fragment);  // evidence kept, not discarded
  EXPECT_EQ(written[3].type_name, "SYSTEM_START");
  EXPECT_TRUE(verify(dir_.path(), testing::key1()).intact());
}

// The file store writes NULs ahead of the data (so fsyncs need no inode write); they must never
// read as records, and closed segments keep none.
TEST_F(WriterTest, PreallocatedNulsAreNeverPartOfTheTrail) {
  auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_, 64ull << 20,
                           {}, /*preallocate=*/true);
  ASSERT_TRUE(writer);
  std::uint64_t last = 0;
  for (int i = 0; i < 3; ++i) last = writer->append(makeEvent(EventType::kLogin));
  ASSERT_TRUE(writer->waitDurable(last, 10s));
  const std::string segment = testing::segments(dir_.path())[0].path;
  const std::string live = testing::readFile(segment);
  const auto data_end = live.find('\0');
  ASSERT_NE(data_end, std::string::npos) << "no preallocated space while writing";
  EXPECT_EQ(live.find_first_not_of('\0', data_end), std::string::npos);
  EXPECT_EQ(std::count(live.begin(), live.begin() + static_cast<std::ptrdiff_t>(data_end), '\n'),
            3);

  // Readers of the live trail: the cursor, lastSeq and the verifier stop at the NULs.
  const auto store = makeFileStore({dir_.path()});
  auto cursor = store->read(1);
  ASSERT_TRUE(cursor);
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    auto record = (*cursor)->next();
    ASSERT_TRUE(record && *record);
    EXPECT_EQ((*record)->seq, seq);
  }
  auto end = (*cursor)->next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);
  EXPECT_EQ(*store->lastSeq(), 3u);
  const auto live_report = verify(dir_.path(), testing::key1());
  EXPECT_TRUE(live_report.intact());
  EXPECT_EQ(live_report.records, 3u);
  EXPECT_TRUE(live_report.notes.empty()) << live_report.notes.front();

  // A record written over the NULs later is picked up where the cursor stopped (tail -f).
  ASSERT_TRUE(writer->waitDurable(writer->append(makeEvent(EventType::kLogout)), 10s));
  auto fourth = (*cursor)->next();
  ASSERT_TRUE(fourth && *fourth);
  EXPECT_EQ((*fourth)->seq, 4u);

  writer->close();
  const std::string closed = testing::readFile(segment);
  EXPECT_EQ(closed.find('\0'), std::string::npos) << "a closed segment keeps its NULs";
  EXPECT_EQ(records(dir_.path()).size(), 4u);
  EXPECT_TRUE(verify(dir_.path(), testing::key1()).intact());
}

TEST_F(WriterTest, NulsACrashLeftAreCutWithoutLoss) {
  const std::string segment = writeTwoLoginsAndClose();
  const std::string intact = testing::readFile(segment);
  testing::writeFile(segment, intact + std::string(8192, '\0'));  // killed while preallocated
  const auto before = verify(dir_.path(), testing::key1());
  EXPECT_TRUE(before.intact());
  EXPECT_TRUE(before.notes.empty());
  restartRecordingStart();
  const auto written = records(dir_.path());
  ASSERT_EQ(written.size(), 3u);  // no AUDIT_RECOVERY: NULs are not data, nothing was lost
  EXPECT_EQ(written[2].type_name, "SYSTEM_START");
  EXPECT_EQ(written[2].prev, written[1].mac);
  EXPECT_TRUE(verify(dir_.path(), testing::key1()).intact());
}

// After a power loss, writes that never became durable may have reached the disk out of order:
// a torn line, NULs, then bytes of a later write. Tampering looks the same (a NUL written over
// one byte hides every record after it), so verify names it as damage, and the writer keeps
// the bytes aside and reports an incident, not just a recovery.
TEST_F(WriterTest, BytesBeyondTheNulsAreDamageKeptAsideAndReported) {
  const std::string segment = writeTwoLoginsAndClose();
  const std::string intact = testing::readFile(segment);
  const std::string debris = std::string("{\"seq\":3,\"node\"") + std::string(1000, '\0') +
                             "{\"seq\":5,\"node\":\"node-1\"}\n";
  testing::writeFile(segment, intact + debris + std::string(3000, '\0'));
  const auto before = verify(dir_.path(), testing::key1());
  ASSERT_FALSE(before.intact()) << "bytes beyond the NULs went unreported";
  EXPECT_EQ(before.finding->kind, Damage::kBadFormat);
  EXPECT_NE(before.finding->detail.find("bytes after NUL bytes"), std::string::npos)
      << before.finding->detail;
  restartRecordingStart();
  const auto written = records(dir_.path());
  ASSERT_EQ(written.size(), 5u);
  EXPECT_EQ(written[2].type_name, "AUDIT_RECOVERY");
  std::map<std::string, std::string> details(written[2].event.details.begin(),
                                             written[2].event.details.end());
  EXPECT_EQ(details["bytes"], std::to_string(debris.size()));
  EXPECT_EQ(details["offset"], std::to_string(intact.size()));
  EXPECT_EQ(testing::readFile(details["kept_in"]), debris);
  EXPECT_EQ(written[3].type_name, "SECURITY_INCIDENT");
  std::map<std::string, std::string> incident(written[3].event.details.begin(),
                                              written[3].event.details.end());
  EXPECT_EQ(incident["rule"], "audit_trail_damaged");
  EXPECT_EQ(incident["kept_in"], details["kept_in"]);
  EXPECT_EQ(written[4].type_name, "SYSTEM_START");
  EXPECT_TRUE(verify(dir_.path(), testing::key1()).intact());
}

// The attack itself: one byte of the live segment's last-but-one record overwritten with NUL.
TEST_F(WriterTest, ANulWrittenOverARecordDoesNotHideTheRecordsAfterIt) {
  auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_, 64ull << 20,
                           {}, /*preallocate=*/true);
  std::uint64_t last = 0;
  for (int i = 0; i < 4; ++i) last = writer->append(makeEvent(EventType::kLogin));
  ASSERT_TRUE(writer->waitDurable(last, 10s));
  const std::string segment = testing::segments(dir_.path())[0].path;
  std::string bytes = testing::readFile(segment);
  const auto third = bytes.find("{\"seq\":3,");
  ASSERT_NE(third, std::string::npos);
  bytes[third + 20] = '\0';
  testing::writeFile(segment, bytes);
  const auto report = verify(dir_.path(), testing::key1());
  ASSERT_FALSE(report.intact()) << "records 3 and 4 hidden behind a NUL passed as intact";
  EXPECT_EQ(report.finding->kind, Damage::kBadFormat);
  writer->close();
}

TEST_F(WriterTest, NulsInAClosedSegmentAreDamage) {
  {
    auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_, 1024, {},
                             /*preallocate=*/true);
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(writer->waitDurable(writer->append(makeEvent(EventType::kLogin)), 10s));
    }
    writer->close();
  }
  const auto files = testing::segments(dir_.path());
  ASSERT_GE(files.size(), 2u);
  for (const auto& file : files) {
    EXPECT_EQ(testing::readFile(file.path).find('\0'), std::string::npos) << file.path;
  }
  // Wipe the last record of the first segment with NULs (an attacker hiding it).
  std::string first = testing::readFile(files[0].path);
  const auto last_line = first.rfind('\n', first.size() - 2) + 1;
  std::fill(first.begin() + static_cast<std::ptrdiff_t>(last_line), first.end(), '\0');
  testing::writeFile(files[0].path, first);
  const auto report = verify(dir_.path(), testing::key1());
  ASSERT_FALSE(report.intact());
  EXPECT_EQ(report.finding->kind, Damage::kBadFormat);
  EXPECT_EQ(report.finding->file, files[0].path);
  EXPECT_NE(report.finding->detail.find("NUL bytes in a closed segment"), std::string::npos)
      << report.finding->detail;
}

TEST_F(WriterTest, DamagedTailAtStartIsReportedNotRepaired) {
  {
    auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_);
    for (int i = 0; i < 3; ++i) writer->append(makeEvent(EventType::kLogin));
    writer->close();
  }
  const std::string segment = testing::segments(dir_.path())[0].path;
  auto lines = readLines(segment);
  lines[1].replace(lines[1].find("alice"), 5, "mallo");
  testing::writeLines(segment, lines);
  auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_);
  writer->close();
  const auto written = records(dir_.path());
  ASSERT_EQ(written.size(), 4u);
  EXPECT_EQ(written[1].event.actor, "mallo");  // left as found: it is evidence
  EXPECT_EQ(written[3].type_name, "SECURITY_INCIDENT");
  EXPECT_EQ(written[3].event.severity, Severity::kCritical);
  EXPECT_EQ(written[3].event.details[0].second, "audit_trail_damaged");
}

TEST_F(WriterTest, KeyRotationKeepsTheChainValid) {
  {
    auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_);
    writer->append(makeEvent(EventType::kLogin));
    // At run time (the future `keys rotate`): the next record is signed with the new key.
    auto next = testing::keyRing(std::string("k2:") + kKeyHex2);
    writer->rotateKey(next.active()->clone());
    writer->append(makeEvent(EventType::kLogin));
    writer->close();
  }
  // At restart with a ring whose active key is k3.
  const std::string ring_text =
      std::string("k1:") + kKeyHex1 + "\nk2:" + kKeyHex2 + "\nk3:" + std::string(64, 'c');
  {
    auto writer =
        openWriter(dir_.path(), testConfig(), testing::keyRing(ring_text), clock_, random_);
    writer->append(makeEvent(EventType::kLogin));
    writer->close();
  }
  const auto written = records(dir_.path());
  std::vector<std::string> kids;
  std::vector<std::string> types;
  for (const auto& r : written) {
    kids.push_back(r.kid);
    types.push_back(r.type_name);
  }
  EXPECT_EQ(kids, (std::vector<std::string>{"k1", "k2", "k2", "k3", "k3"}));
  EXPECT_EQ(types, (std::vector<std::string>{"LOGIN", "AUDIT_KEY_ROTATE", "LOGIN",
                                             "AUDIT_KEY_ROTATE", "LOGIN"}));
  const auto report = verify(dir_.path(), testing::keyRing(ring_text));
  EXPECT_TRUE(report.intact()) << report.finding->detail;
  EXPECT_EQ(report.keys.size(), 3u);
  // Without k2 the verifier names the key it lacks.
  const auto partial = verify(dir_.path(), testing::keyRing(std::string("k1:") + kKeyHex1 +
                                                            "\nk3:" + std::string(64, 'c')));
  ASSERT_FALSE(partial.intact());
  EXPECT_EQ(partial.finding->kind, Damage::kUnknownKey);
  EXPECT_EQ(partial.finding->seq, 2u);
  EXPECT_NE(partial.finding->detail.find("k2"), std::string::npos);
}

TEST_F(WriterTest, ForwardSecureEpochsEvolveAndOldKeysAreGone) {
  const std::string key_file = dir_.sub("audit.key");
  testing::writeFile(key_file, std::string("k1:") + kKeyHex1 + "\n");
  ::chmod(key_file.c_str(), 0600);
  const KeyRing initial = testing::key1();  // kept "offline" by the test
  auto config = testConfig();
  config.forward_secure = true;
  config.epoch_records = 2;
  config.epoch_interval = 1h;
  config.key_file = key_file;
  const std::string trail = dir_.sub("trail");
  {
    auto loaded = loadKeyFile(key_file);
    ASSERT_TRUE(loaded);
    auto writer = openWriter(trail, config, std::move(*loaded), clock_, random_);
    for (int i = 0; i < 5; ++i) writer->append(makeEvent(EventType::kLogin));
    writer->flush();
    EXPECT_EQ(writer->stats().epoch, 2u);
    // By time too.
    clock_.advance(1h);
    writer->waitDurable(writer->tick(), 10s);
    writer->append(makeEvent(EventType::kLogout));
    writer->close();
    EXPECT_EQ(writer->stats().epoch, 3u);
  }
  const auto written = records(trail);
  std::vector<std::uint64_t> epochs;
  for (const auto& r : written) epochs.push_back(r.epoch);
  EXPECT_EQ(epochs, (std::vector<std::uint64_t>{0, 0, 1, 1, 2, 3}));

  // The key file now holds only epoch 3's key: epoch 0-2 keys are gone from disk.
  auto on_disk = loadKeyFile(key_file);
  ASSERT_TRUE(on_disk);
  ASSERT_EQ(on_disk->keys().size(), 1u);
  EXPECT_EQ(on_disk->active()->epoch, 3u);
  EXPECT_EQ(testing::readFile(key_file).find(kKeyHex1), std::string::npos);
  auto epoch3 = deriveEpochKey(*initial.active(), 3);
  ASSERT_TRUE(epoch3);
  EXPECT_EQ(crypto::toHex(on_disk->active()->key.bytes()), crypto::toHex(epoch3->bytes()));

  // The verifier derives forward from the initial key.
  const auto report = verify(trail, initial);
  EXPECT_TRUE(report.intact()) << report.finding->detail;
  ASSERT_EQ(report.keys.size(), 1u);
  EXPECT_EQ(report.keys[0].last_epoch, 3u);
  // Someone holding today's key cannot vouch for (or re-sign) yesterday's records.
  const auto stolen = verify(trail, *on_disk);
  ASSERT_FALSE(stolen.intact());
  EXPECT_EQ(stolen.finding->kind, Damage::kUnknownKey);
  EXPECT_EQ(stolen.finding->seq, 1u);

  // Restart from the evolved key file: the chain and the epochs continue.
  {
    auto writer = openWriter(trail, config, std::move(*on_disk), clock_, random_);
    writer->append(makeEvent(EventType::kLogin));
    writer->close();
  }
  const auto after = records(trail);
  EXPECT_EQ(after.back().epoch, 3u);
  EXPECT_TRUE(verify(trail, initial).intact());
}

TEST_F(WriterTest, ForwardSecurityNeedsAKeyFile) {
  auto config = testConfig();
  config.forward_secure = true;
  WriterDeps deps;
  deps.store = makeFileStore({dir_.path()});
  deps.keys = testing::key1();
  deps.clock = &clock_;
  deps.random = &random_;
  auto writer = Writer::open(config, std::move(deps));
  ASSERT_FALSE(writer);
  EXPECT_EQ(writer.error().code, make_error_code(Errc::kBadConfig));
}

class CountingObserver final : public RecordObserver {
 public:
  void onRecord(const Event& event, std::uint64_t seq, Sink& trail) override {
    seqs.push_back(seq);
    if (event.type == EventType::kLoginFailed) {
      // Recording from the writer thread never blocks, even in sync mode.
      trail.record(makeEvent(EventType::kSecurityIncident));
    }
  }
  std::vector<std::uint64_t> seqs;
};

TEST_F(WriterTest, ObserversSeeRecordsInOrderAndMayRecord) {
  auto observer = std::make_shared<CountingObserver>();
  auto writer =
      openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_, 64 << 20, {observer});
  writer->append(makeEvent(EventType::kLogin));
  const auto seq = writer->append(makeEvent(EventType::kLoginFailed));
  writer->waitDurable(seq, 10s);
  writer->flush();
  writer->close();
  EXPECT_EQ(observer->seqs, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(records(dir_.path()).back().type_name, "SECURITY_INCIDENT");
}

TEST_F(WriterTest, AppendsAfterCloseAreRefusedAndCounted) {
  auto writer = openWriter(dir_.path(), testConfig(), testing::key1(), clock_, random_);
  writer->close();
  EXPECT_EQ(writer->append(makeEvent(EventType::kLogin)), kNotRecorded);
  EXPECT_EQ(writer->stats().dropped, 1u);
  boost::system::error_code result;
  writer->whenDurable(99, [&](boost::system::error_code ec) { result = ec; });
  EXPECT_EQ(result, make_error_code(Errc::kClosed));
}

TEST_F(WriterTest, RejectsBadConfiguration) {
  auto config = testConfig();
  config.node = "bad node";
  WriterDeps deps;
  deps.store = makeFileStore({dir_.path()});
  deps.keys = testing::key1();
  deps.clock = &clock_;
  deps.random = &random_;
  EXPECT_FALSE(Writer::open(config, std::move(deps)));
  WriterDeps no_keys;
  no_keys.store = makeFileStore({dir_.path()});
  no_keys.clock = &clock_;
  no_keys.random = &random_;
  EXPECT_FALSE(Writer::open(testConfig(), std::move(no_keys)));
}

}  // namespace
}  // namespace bulwark::audit

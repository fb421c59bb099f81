#include "audit/query.h"

#include <gtest/gtest.h>

#include "audit_test_support.h"

namespace bulwark::audit {
namespace {

using namespace std::chrono_literals;

class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto writer = testing::openWriter(dir_.path(), testing::testConfig(), testing::key1(), clock_,
                                      random_, 2048);
    ASSERT_TRUE(writer);
    const core::SystemTime base{std::chrono::seconds(1'800'000'000)};
    for (int i = 0; i < 40; ++i) {
      auto event =
          testing::makeEvent(i % 4 == 0 ? EventType::kLoginFailed : EventType::kRequest,
                             i % 2 == 0 ? "alice" : "bob", "10.0.0.1", "req-" + std::to_string(i));
      event.time = base + std::chrono::minutes(i);
      writer->waitDurable(writer->append(std::move(event)));
    }
    writer->close();
    store_ = makeFileStore({dir_.path()});
  }

  std::vector<Record> run(const Query& query) {
    std::vector<Record> out;
    auto stats = runQuery(*store_, query, [&](std::string_view line, const Record& record) {
      EXPECT_EQ(line.substr(0, 7), "{\"seq\":");
      out.push_back(record);
      return true;
    });
    EXPECT_TRUE(stats);
    return out;
  }

  testing::TempDir dir_;
  core::SimulatedClock clock_;
  testing::CountingRandom random_;
  StorePtr store_;
};

TEST_F(QueryTest, FiltersByTypeActorRequestIdAndTime) {
  Query by_type;
  by_type.types = {"LOGIN_FAILED"};
  const auto failed = run(by_type);
  ASSERT_EQ(failed.size(), 10u);
  for (const auto& r : failed) EXPECT_EQ(r.type_name, "LOGIN_FAILED");

  Query by_actor;
  by_actor.actor = "bob";
  EXPECT_EQ(run(by_actor).size(), 20u);

  Query both;
  both.types = {"LOGIN_FAILED", "REQUEST"};
  both.actor = "alice";
  EXPECT_EQ(run(both).size(), 20u);

  Query by_request;
  by_request.request_id = "req-7";
  const auto one = run(by_request);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].seq, 8u);

  Query by_time;
  ASSERT_TRUE(parseTimestamp("2027-01-15T08:10:00Z", by_time.since.emplace()));
  ASSERT_TRUE(parseTimestamp("2027-01-15T08:15:00Z", by_time.until.emplace()));
  const auto window = run(by_time);
  ASSERT_EQ(window.size(), 5u);  // minutes 10..14: since inclusive, until exclusive
  EXPECT_EQ(window.front().seq, 11u);

  Query limited;
  limited.limit = 3;
  limited.from_seq = 30;
  const auto few = run(limited);
  ASSERT_EQ(few.size(), 3u);
  EXPECT_EQ(few[0].seq, 30u);
}

TEST_F(QueryTest, TailReturnsTheLastMatchesOldestFirst) {
  auto last = tailQuery(*store_, Query{}, 5);
  ASSERT_TRUE(last);
  ASSERT_EQ(last->size(), 5u);
  Record first;
  ASSERT_TRUE(parseRecord(last->front(), first));
  EXPECT_EQ(first.seq, 36u);
  Query failed;
  failed.types = {"LOGIN_FAILED"};
  auto tail = tailQuery(*store_, failed, 3);
  ASSERT_TRUE(tail);
  ASSERT_EQ(tail->size(), 3u);
  Record r;
  ASSERT_TRUE(parseRecord(tail->back(), r));
  EXPECT_EQ(r.seq, 37u);  // i = 36
  auto everything = tailQuery(*store_, Query{}, 1000);
  ASSERT_TRUE(everything);
  EXPECT_EQ(everything->size(), 40u);
  auto last_seq = store_->lastSeq();
  ASSERT_TRUE(last_seq);
  EXPECT_EQ(*last_seq, 40u);
}

TEST_F(QueryTest, FollowerSeesNewRecords) {
  Follower follower(*store_, Query{}, 39);
  std::vector<std::uint64_t> seen;
  auto visit = [&](std::string_view, const Record& r) {
    seen.push_back(r.seq);
    return true;
  };
  ASSERT_TRUE(follower.poll(visit));
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{39, 40}));
  {
    auto writer = testing::openWriter(dir_.path(), testing::testConfig(), testing::key1(), clock_,
                                      random_, 2048);
    writer->append(testing::makeEvent(EventType::kDataExport));
    writer->close();
  }
  ASSERT_TRUE(follower.poll(visit));
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{39, 40, 41}));
}

TEST(QueryArguments, TimesAndDurations) {
  core::SimulatedClock clock;
  core::SystemTime out;
  ASSERT_TRUE(parseTimeArgument("15m", clock, out));
  EXPECT_EQ(clock.systemTime() - out, 15min);
  ASSERT_TRUE(parseTimeArgument("2d", clock, out));
  EXPECT_EQ(clock.systemTime() - out, 48h);
  ASSERT_TRUE(parseTimeArgument("2026-01-02", clock, out));
  std::string text;
  appendTimestamp(text, out);
  EXPECT_EQ(text, "2026-01-02T00:00:00.000000Z");
  ASSERT_TRUE(parseTimeArgument("2026-01-02T03:04:05Z", clock, out));
  for (const char* bad : {"", "m", "15", "-5m", "15x", "yesterday", "2026-13-01"}) {
    EXPECT_FALSE(parseTimeArgument(bad, clock, out)) << bad;
  }
  Query query;
  query.types = {"LOGIN", "NOPE"};
  EXPECT_EQ(unknownTypes(query), (std::vector<std::string>{"NOPE"}));
  query.actor = "alice";
  const auto details = queryDetails(query);
  ASSERT_EQ(details.size(), 2u);
  EXPECT_EQ(details[0], (std::pair<std::string, std::string>{"type", "LOGIN,NOPE"}));
}

}  // namespace
}  // namespace bulwark::audit

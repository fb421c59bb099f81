// The audit trail on PostgreSQL: the real writer signs and chains into audit_records by COPY,
// cursors read it back by seq, one writer per node (advisory lock), and the rows, dumped as a
// segment file, verify with the same verifier as the file store (the exact bytes are kept).

#include <cstdio>
#include <fstream>

#include "audit/postgres_store.h"
#include "audit/verifier.h"
#include "integration/postgres_backend.h"
#include "unit/audit/audit_test_support.h"

namespace bulwark::audit::testing {
namespace {

using store::testing::adminQuery;
using store::testing::testPostgresConfig;
using store::testing::uniqueSchema;

// The store's last seq, or a value no test expects.
std::uint64_t lastSeq(const Store& trail) {
  auto last = trail.lastSeq();
  EXPECT_TRUE(last) << (last ? "" : last.error().message);
  return last ? *last : ~std::uint64_t{0};
}

class PostgresAuditStore : public ::testing::Test {
 protected:
  void SetUp() override {
    BULWARK_REQUIRE_SERVICES();
    std::string reason;
    auto pool = store::openPostgresPool(testPostgresConfig(schema_), &reason);
    ASSERT_TRUE(pool) << reason;
    pool_ = *pool;
  }
  void TearDown() override {
    pool_.reset();
    if (const auto services = bulwark::testing::testServices()) {
      adminQuery(services->database_url, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    }
  }

  WriterPtr openPostgresWriter(const std::string& node) {
    WriterDeps deps;
    deps.store = makePostgresStore(pool_, node);
    deps.keys = key1();
    deps.clock = &clock_;
    deps.random = &random_;
    auto config = testConfig();
    config.node = node;
    auto writer = Writer::open(std::move(config), std::move(deps));
    EXPECT_TRUE(writer.has_value()) << (writer ? "" : writer.error().message);
    return writer ? *writer : nullptr;
  }

  // Every stored line of `node` from `from`, in order.
  std::vector<std::pair<std::uint64_t, std::string>> readAll(const std::string& node,
                                                             std::uint64_t from = 1) {
    std::vector<std::pair<std::uint64_t, std::string>> out;
    auto cursor = makePostgresStore(pool_, node)->read(from);
    EXPECT_TRUE(cursor);
    for (;;) {
      auto next = (*cursor)->next();
      EXPECT_TRUE(next);
      if (!next || !*next) {
        break;
      }
      out.emplace_back((*next)->seq, std::string((*next)->line));
    }
    return out;
  }

  std::string schema_ = uniqueSchema("bwa");
  store::PostgresPoolPtr pool_;
  core::SimulatedClock clock_;
  CountingRandom random_;
};

TEST_F(PostgresAuditStore, WritesAChainThatVerifiesAndContinuesAfterReopening) {
  auto writer = openPostgresWriter("node-1");
  ASSERT_TRUE(writer);
  for (int i = 0; i < 250; ++i) {
    writer->record(makeEvent(EventType::kLogin, "user" + std::to_string(i)));
  }
  writer->flush();
  writer->close();
  auto reopened = openPostgresWriter("node-1");  // the tail is read back; the chain continues
  ASSERT_TRUE(reopened);
  const auto last = reopened->append(makeEvent(EventType::kLogout));
  ASSERT_TRUE(reopened->waitDurable(last, std::chrono::seconds(10)));
  reopened->close();

  const auto rows = readAll("node-1");
  ASSERT_EQ(rows.size(), last);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].first, i + 1);
  }
  EXPECT_EQ(lastSeq(*makePostgresStore(pool_, "node-1")), last);
  EXPECT_EQ(readAll("node-1", last).size(), 1u);
  EXPECT_TRUE(readAll("node-2").empty());

  TempDir dir;
  std::ofstream segment(dir.sub("segment-00000000000000000001.ndjson"), std::ios::binary);
  for (const auto& [seq, line] : rows) {
    segment << line << '\n';
  }
  segment.close();
  const KeyRing keys = key1();
  VerifyOptions options;
  options.directory = dir.path();
  options.keys = &keys;
  auto report = verifyTrail(options);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->intact()) << report->finding->detail;
  EXPECT_EQ(report->last_seq, last);
}

TEST_F(PostgresAuditStore, OneWriterPerNode) {
  auto first = makePostgresStore(pool_, "node-1");
  ASSERT_TRUE(first->open());
  auto second = makePostgresStore(pool_, "node-1");
  auto refused = second->open();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(Errc::kLocked));
  EXPECT_TRUE(makePostgresStore(pool_, "node-2")->open());  // other nodes are independent
  first->close();
  EXPECT_TRUE(second->open());
}

TEST_F(PostgresAuditStore, AFailedBatchLeavesNothingBehind) {
  auto trail = makePostgresStore(pool_, "node-1");
  ASSERT_TRUE(trail->open());
  const std::string bytes = "{\"a\":1}\n{\"b\":2}\n";
  std::vector<BatchRecord> records{{1, std::string_view(bytes).substr(0, 7)},
                                   {2, std::string_view(bytes).substr(8, 7)}};
  ASSERT_TRUE(trail->append({bytes, records}));
  std::vector<BatchRecord> overlapping{{3, std::string_view(bytes).substr(0, 7)},
                                       {2, std::string_view(bytes).substr(8, 7)}};
  EXPECT_FALSE(trail->append({bytes, overlapping}));  // seq 2 exists: the whole COPY fails
  EXPECT_EQ(lastSeq(*trail), 2u);
  std::vector<BatchRecord> next{{3, std::string_view(bytes).substr(0, 7)}};
  EXPECT_TRUE(trail->append({bytes, next}));  // the connection is still usable
  EXPECT_EQ(lastSeq(*trail), 3u);
  EXPECT_EQ(trail->describe(), "postgres:node-1");
}

}  // namespace
}  // namespace bulwark::audit::testing

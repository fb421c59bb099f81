// The shared store suites on PostgreSQL (the real server of tests/support/services.sh), plus what
// only the database has: versioned migrations, several nodes migrating at once, hashes only.

#include <thread>

#include "integration/postgres_backend.h"
#include "unit/store/revocation_store_suite.h"
#include "unit/store/session_store_suite.h"
#include "unit/store/user_store_suite.h"

namespace bulwark::store::testing {

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, UserStoreSuite, PostgresBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, SessionStoreSuite, PostgresBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, SessionRaceSuite, PostgresBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, RevocationStoreSuite, PostgresBackend);

namespace {

class PostgresSchema : public ::testing::Test {
 protected:
  void SetUp() override { BULWARK_REQUIRE_SERVICES(); }
  void TearDown() override {
    if (const auto services = bulwark::testing::testServices()) {
      adminQuery(services->database_url, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    }
  }
  std::string url() const { return bulwark::testing::testServices()->database_url; }
  std::string query(const std::string& sql) const {
    return adminQuery(url(), "SET search_path = " + schema_ + "; " + sql);
  }

  std::string schema_ = uniqueSchema("bwm");
};

TEST_F(PostgresSchema, MigratesOnceAndRecordsTheVersion) {
  auto pool = openPostgresPool(testPostgresConfig(schema_));
  ASSERT_TRUE(pool) << pool.error().message();
  EXPECT_EQ((*pool)->schemaVersion(), postgresSchemaVersion());
  auto again = migratePostgres(testPostgresConfig(schema_));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, postgresSchemaVersion());
  EXPECT_EQ(query("SELECT count(*) FROM bulwark_schema_migrations"),
            std::to_string(postgresSchemaVersion()));
  EXPECT_EQ(query("SELECT max(version) FROM bulwark_schema_migrations"),
            std::to_string(postgresSchemaVersion()));
}

TEST_F(PostgresSchema, NodesStartingTogetherMigrateExactlyOnce) {
  constexpr int kNodes = 4;
  std::vector<std::thread> nodes;
  std::atomic<int> opened{0};
  for (int i = 0; i < kNodes; ++i) {
    nodes.emplace_back([&] {
      std::string reason;
      if (openPostgresPool(testPostgresConfig(schema_), &reason)) {
        opened.fetch_add(1);
      } else {
        ADD_FAILURE() << reason;
      }
    });
  }
  for (auto& node : nodes) {
    node.join();
  }
  EXPECT_EQ(opened.load(), kNodes);
  EXPECT_EQ(query("SELECT count(*) FROM bulwark_schema_migrations"),
            std::to_string(postgresSchemaVersion()));
}

TEST_F(PostgresSchema, RefusesASchemaNewerThanThisBuild) {
  ASSERT_TRUE(migratePostgres(testPostgresConfig(schema_)));
  ASSERT_EQ(query("INSERT INTO bulwark_schema_migrations (version) VALUES (999)"), "");
  std::string reason;
  auto pool = openPostgresPool(testPostgresConfig(schema_), &reason);
  ASSERT_FALSE(pool);
  EXPECT_EQ(pool.error(), StoreError::kCorrupt);
  EXPECT_NE(reason.find("999"), std::string::npos) << reason;
  EXPECT_NE(reason.find("newer"), std::string::npos) << reason;
}

TEST_F(PostgresSchema, RefusesABadSchemaName) {
  for (const char* schema : {"Upper", "semi;colon", "9starts", "quote\"d"}) {
    auto config = testPostgresConfig(schema);
    std::string reason;
    auto pool = openPostgresPool(config, &reason);
    ASSERT_FALSE(pool) << schema;
    EXPECT_EQ(pool.error(), StoreError::kInvalidArgument) << schema;
    EXPECT_FALSE(reason.empty());
  }
}

TEST_F(PostgresSchema, StoresTokensOnlyAsHashes) {
  auto pool = openPostgresPool(testPostgresConfig(schema_));
  ASSERT_TRUE(pool);
  auto sessions = openPostgresSessionStore(*pool);
  NewSession session;
  session.sid = "s1";
  session.user_id = "u1";
  session.created = core::SystemTime{std::chrono::milliseconds{1'800'000'000'000}};
  session.expires = session.created + std::chrono::hours(24);
  session.token_expires = session.expires;
  const std::string token = "the-plaintext-refresh-token-never-stored";
  session.token_hash = crypto::sha256(token);
  ASSERT_TRUE(sessions->create(session));
  EXPECT_EQ(query("SELECT encode(token_hash, 'hex') FROM sessions"),
            crypto::toHex(session.token_hash));
  EXPECT_EQ(query("SELECT count(*) FROM sessions WHERE position(convert_to('" + token +
                  "', 'UTF8') in token_hash) > 0"),
            "0");
}

TEST_F(PostgresSchema, ValuesTravelAsBytesNeverAsSql) {
  auto pool = openPostgresPool(testPostgresConfig(schema_));
  ASSERT_TRUE(pool);
  auto users = openPostgresUserStore(*pool);
  User user = makeUser("u1'); DROP TABLE users; --", "alice");
  user.password_hash = "$argon2id$'\"\\x00;--";
  ASSERT_TRUE(users->create(user));
  auto found = users->findById(user.id);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->password_hash, user.password_hash);
  // A NUL cannot be stored as text: it names nobody, instead of being cut short to "u1'…".
  EXPECT_EQ(users->findById(user.id + std::string(1, '\0') + "x").error(), StoreError::kNotFound);
  EXPECT_EQ(users->findById(std::string("\xff\xfe")).error(), StoreError::kNotFound);
}

TEST_F(PostgresSchema, RevocationIdsBecomeVisibleInOrder) {
  // Two nodes revoking concurrently: every revocation reaches a third node's sync exactly once,
  // however the inserts interleave.
  auto pool = openPostgresPool(testPostgresConfig(schema_));
  ASSERT_TRUE(pool);
  const core::SystemTime t0{std::chrono::milliseconds{1'800'000'000'000}};
  auto reader = openPostgresRevocationStore(*pool, t0);
  ASSERT_TRUE(reader);
  constexpr int kPerWriter = 50;
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      auto other = openPostgresPool(testPostgresConfig(schema_));
      ASSERT_TRUE(other);
      auto store = openPostgresRevocationStore(*other, t0);
      ASSERT_TRUE(store);
      for (int i = 0; i < kPerWriter; ++i) {
        ASSERT_TRUE((*store)->revoke({RevocationKind::kToken,
                                      "j" + std::to_string(w) + "_" + std::to_string(i),
                                      {},
                                      t0 + std::chrono::hours(1)}));
      }
    });
  }
  std::size_t seen = 0;
  std::atomic<bool> done{false};
  std::thread syncer([&] {
    while (!done.load()) {
      auto taken = (*reader)->sync(t0);
      ASSERT_TRUE(taken);
      seen += *taken;
    }
  });
  for (auto& writer : writers) {
    writer.join();
  }
  done = true;
  syncer.join();
  auto rest = (*reader)->sync(t0);
  ASSERT_TRUE(rest);
  seen += *rest;
  EXPECT_EQ(seen, 2u * kPerWriter);
  EXPECT_EQ((*reader)->size(), 2u * kPerWriter);
  EXPECT_TRUE((*reader)->isCurrent());
}

}  // namespace
}  // namespace bulwark::store::testing

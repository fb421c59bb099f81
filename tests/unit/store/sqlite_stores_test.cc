// The shared store suites on the embedded SQLite backend, plus what only a database file has:
// schema versions, reopening, several connections.

#include <sqlite3.h>

#include <fstream>
#include <iterator>

#include "revocation_store_suite.h"
#include "session_store_suite.h"
#include "store_backends.h"
#include "user_store_suite.h"

namespace bulwark::store::testing {

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, UserStoreSuite, SqliteBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, SessionStoreSuite, SqliteBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, SessionRaceSuite, SqliteBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, RevocationStoreSuite, SqliteBackend);

namespace {

// Runs one SQL statement on the file directly (as another program would).
std::string query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::string out;
  sqlite3_exec(
      db, sql.c_str(),
      [](void* target, int columns, char** values, char**) {
        auto* text = static_cast<std::string*>(target);
        for (int i = 0; i < columns; ++i) {
          *text += (values[i] != nullptr ? values[i] : "NULL");
          *text += i + 1 < columns ? "|" : "\n";
        }
        return 0;
      },
      &out, nullptr);
  sqlite3_close(db);
  return out;
}

TEST(SqliteStores, CreateTheSchemaOnceAndUseWal) {
  SqliteBackend backend;
  auto users = backend.users();
  auto sessions = backend.sessions();
  auto again = backend.users();  // a second open does not migrate twice
  ASSERT_TRUE(users && sessions && again);
  EXPECT_EQ(query(backend.config().path, "SELECT version FROM schema_version"), "1\n");
  EXPECT_EQ(query(backend.config().path, "PRAGMA journal_mode"), "wal\n");
}

TEST(SqliteStores, RefuseANewerSchema) {
  SqliteBackend backend;
  ASSERT_TRUE(backend.users());
  query(backend.config().path, "UPDATE schema_version SET version = 99");
  auto opened = openSqliteUserStore(backend.config());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), StoreError::kCorrupt);
}

TEST(SqliteStores, RefuseAPrivateInMemoryDatabase) {
  EXPECT_EQ(openSqliteUserStore({":memory:"}).error(), StoreError::kInvalidArgument);
  EXPECT_EQ(openSqliteUserStore({""}).error(), StoreError::kInvalidArgument);
}

TEST(SqliteStores, ReportAnUnopenableFileAsUnavailable) {
  auto opened = openSqliteSessionStore({"/nonexistent-dir/for/sure/bulwark.db"});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), StoreError::kUnavailable);
}

TEST(SqliteStores, KeepDataAcrossReopening) {
  SqliteBackend backend;
  ASSERT_TRUE(backend.users()->create(makeUser("u1", "alice")));
  EXPECT_EQ(backend.users()->findByName("alice")->id, "u1");
}

TEST(SqliteStores, StoreTokensOnlyAsHashes) {
  SqliteBackend backend;
  auto sessions = backend.sessions();
  NewSession session;
  session.sid = "s1";
  session.user_id = "u1";
  session.created = core::SystemTime{std::chrono::milliseconds{1'800'000'000'000}};
  session.expires = session.created + std::chrono::hours(24);
  session.token_expires = session.expires;
  const std::string token = "the-plaintext-refresh-token-never-stored";
  session.token_hash = crypto::sha256(token);
  ASSERT_TRUE(sessions->create(session));
  sessions.reset();
  std::ifstream file(backend.config().path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(file), {}};
  std::ifstream wal(backend.config().path + "-wal", std::ios::binary);
  const std::string wal_bytes{std::istreambuf_iterator<char>(wal), {}};
  EXPECT_EQ(bytes.find(token), std::string::npos);
  EXPECT_EQ(wal_bytes.find(token), std::string::npos);
  EXPECT_EQ(
      query(backend.config().path, "SELECT hex(token_hash) = upper('" +
                                       crypto::toHex(session.token_hash) + "') FROM sessions"),
      "1\n");
}

}  // namespace
}  // namespace bulwark::store::testing

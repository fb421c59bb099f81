// `bulwark db migrate` end to end: the real binary against the real server, in a schema of its
// own (selected through the URL's options, as an operator could).

#include <gtest/gtest.h>

#include "integration/postgres_backend.h"
#include "support/process.h"

namespace bulwark::store::testing {
namespace {

const std::string kBinary = BULWARK_BINARY;

TEST(PostgresDbCli, MigratesAndPrintsTheVersion) {
  BULWARK_REQUIRE_SERVICES();
  const auto services = *bulwark::testing::testServices();
  const std::string schema = uniqueSchema("bwc");
  ASSERT_EQ(adminQuery(services.database_url, "CREATE SCHEMA " + schema), "");
  const std::string url = services.database_url + "&options=-csearch_path%3D" + schema;
  for (int run = 0; run < 2; ++run) {  // the second run finds nothing to do
    auto migrated =
        bulwark::testing::runProcess({kBinary, "db", "migrate"}, {{"BULWARK_DATABASE_URL", url}});
    EXPECT_EQ(migrated.exit_code, 0) << migrated.err;
    EXPECT_NE(
        migrated.out.find("database schema at version " + std::to_string(postgresSchemaVersion())),
        std::string::npos)
        << migrated.out;
    EXPECT_EQ((migrated.out + migrated.err).find(services.pg_password), std::string::npos);
  }
  EXPECT_EQ(adminQuery(services.database_url,
                       "SELECT max(version) FROM " + schema + ".bulwark_schema_migrations"),
            std::to_string(postgresSchemaVersion()));
  adminQuery(services.database_url, "DROP SCHEMA " + schema + " CASCADE");
}

TEST(PostgresDbCli, NamesTheSettingAndNeverPrintsThePassword) {
  BULWARK_REQUIRE_SERVICES();
  const auto services = *bulwark::testing::testServices();
  auto missing = bulwark::testing::runProcess({kBinary, "db", "migrate"}, {});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("BULWARK_DATABASE_URL"), std::string::npos) << missing.err;

  std::string wrong = services.database_url;
  wrong.replace(wrong.find(services.pg_password), services.pg_password.size(), "not-it-x9");
  auto refused =
      bulwark::testing::runProcess({kBinary, "db", "migrate"}, {{"BULWARK_DATABASE_URL", wrong}});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("password authentication failed"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("BULWARK_DATABASE_URL"), std::string::npos);
  EXPECT_EQ((refused.out + refused.err).find("not-it-x9"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace bulwark::store::testing

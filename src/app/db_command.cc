#include "app/db_command.h"

#include <ostream>

#include "app/backends.h"
#include "store/postgres.h"

namespace bulwark::app {

int runDbMigrate(const core::SettingSources& sources, std::ostream& out, std::ostream& err) {
  const auto loaded = core::loadSettings(sources);
  if (!loaded.problems.empty()) {
    for (const auto& problem : loaded.problems) {
      err << problem.setting << ": " << problem.message << " (fix: " << problem.fix << ")\n";
    }
    return 2;
  }
  if (loaded.settings.database_url.empty()) {
    err << "BULWARK_DATABASE_URL: not set; `db migrate` needs a PostgreSQL database (fix: set "
           "database_url / BULWARK_DATABASE_URL to postgresql://user:password@host:5432/db"
           "?sslmode=verify-full&sslrootcert=CA_FILE)\n";
    return 2;
  }
  std::string reason;
  const auto version = store::migratePostgres(postgresConfig(loaded.settings), &reason);
  if (!version) {
    err << "bulwark db migrate: " << (reason.empty() ? version.error().message() : reason);
    if (version.error() == store::StoreError::kUnavailable) {
      err << " (check BULWARK_DATABASE_URL: host, password, sslrootcert/sslcert/sslkey)";
    }
    err << "\n";
    return version.error() == store::StoreError::kInvalidArgument ? 2 : 1;
  }
  out << "database schema at version " << *version << "\n";
  return 0;
}

}  // namespace bulwark::app

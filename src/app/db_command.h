#pragma once
// `bulwark db migrate` (SPEC F6.1): applies the pending PostgreSQL schema migrations and prints
// the schema version. `serve` applies them too at start-up; this runs them ahead of a rollout.

#include <iosfwd>

#include "core/config.h"

namespace bulwark::app {

// Loads the settings, connects to database_url (BULWARK_DATABASE_URL) and migrates. Writes
// "database schema at version N" to `out` and returns 0. Configuration problems (including no
// database_url): each on `err` naming the setting and the fix, returns 2. Database unreachable
// or refusing us, or a schema newer than this build: the redacted reason on `err`, returns 1.
int runDbMigrate(const core::SettingSources& sources, std::ostream& out, std::ostream& err);

}  // namespace bulwark::app

#pragma once
// How the settings choose and configure the production backends (SPEC F6.1, F6.2).

#include "core/config.h"
#include "store/postgres.h"

namespace bulwark::app {

// The pool configuration the settings describe: database_url and the db_* pool settings; the
// rest (retries, timeouts) keeps PostgresConfig's defaults.
store::PostgresConfig postgresConfig(const core::Settings& settings);

}  // namespace bulwark::app

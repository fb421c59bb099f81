#pragma once
// The PostgreSQL schema as numbered migrations, applied in order and recorded in
// bulwark_schema_migrations(version, applied_at). Migration i (from 0) brings the schema to
// version i + 1. Append; never edit a released migration.

#include <string>
#include <string_view>
#include <vector>

#include "store/error.h"
#include "store/postgres/connection.h"

namespace bulwark::store::postgres {

const std::vector<std::string_view>& migrations();

// Creates `schema` (when not empty) and applies the pending migrations on `connection`, holding
// an advisory lock so that nodes starting together migrate one after the other. Returns the
// version now in the database. kCorrupt (with `reason`) when the database is newer than this
// build; kUnavailable when a statement fails.
[[nodiscard]] Result<int> migrate(Connection& connection, const std::string& schema,
                                  std::string* reason);

}  // namespace bulwark::store::postgres

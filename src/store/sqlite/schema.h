#pragma once
// The embedded database's schema as an ordered list of migrations: migration i (from 0) brings
// the schema from version i to i + 1. Append; never edit a released migration.

#include <string_view>
#include <vector>

namespace bulwark::store::sqlite {

const std::vector<std::string_view>& migrations();

}  // namespace bulwark::store::sqlite

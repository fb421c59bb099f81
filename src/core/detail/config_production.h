#pragma once
// The checks production mode adds on top of ordinary validation (SPEC F6.3), kept in one table,
// productionRules(), so a later issue adds a refusal in one place and `config template` documents
// it automatically.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace bulwark::core::detail {

// Where a setting's effective value came from.
enum class Origin : std::uint8_t { kDefault, kFile, kEnv, kFlag };

// Names each setting the way the user wrote it ("--listen", "BULWARK_LISTEN", "listen"), so a
// problem points at the line to change. A default is named by its environment variable, the
// usual way to set it.
class SettingNames {
 public:
  void record(std::string_view key, Origin origin);
  std::string operator()(std::string_view key) const;

 private:
  std::map<std::string, Origin, std::less<>> origins_;
};

// One refusal of production mode.
struct ProductionRule {
  std::string_view summary;  // one line for the template header: what production requires
  // Appends a problem for each way `settings` breaks the rule.
  std::function<void(const Settings& settings, const SettingNames& names,
                     std::vector<Problem>& problems)>
      check;
};

// Every production refusal, in the order they are reported.
const std::vector<ProductionRule>& productionRules();

}  // namespace bulwark::core::detail

#include "app/config_command.h"

#include <CLI/CLI.hpp>
#include <ostream>

namespace bulwark::app {

int runConfigCheck(const core::SettingSources& sources, std::ostream& out, std::ostream& err) {
  const core::LoadResult result = core::loadSettings(sources);
  if (!result.problems.empty()) {
    for (const auto& problem : result.problems) {
      err << problem.setting << ": " << problem.message << " (fix: " << problem.fix << ")\n";
    }
    return 1;
  }
  out << "configuration OK\n" << core::describeRedacted(result.settings);
  return 0;
}

int runConfigTemplate(std::ostream& out) {
  out << core::renderTemplate();
  return 0;
}

void addSettingFlags(CLI::App& command, std::map<std::string, std::string>& flag_values) {
  for (const auto& info : core::settingsTable()) {
    const std::string flag(info.flag);
    if (command.get_option_no_throw(flag) != nullptr) {
      continue;  // the command defines it itself
    }
    std::string description = std::string(info.description) + " (" + std::string(info.env) + ")";
    if (info.secret) {
      // Command lines are visible to every local user in ps and /proc.
      description += "; prefer the environment for secrets";
    }
    const std::string key(info.key);
    command
        .add_option_function<std::string>(
            flag, [&flag_values, key](const std::string& value) { flag_values[key] = value; },
            description)
        ->type_name("TEXT");
  }
}

}  // namespace bulwark::app

#pragma once
// `bulwark config check|template` and the command-line flags of every setting (SPEC F6.3, F7.1).

#include <iosfwd>
#include <map>
#include <string>

#include "core/config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace bulwark::app {

// `bulwark config check`: loads and validates `sources`. On success writes "configuration OK" and
// the effective settings with secrets redacted to `out` and returns 0; otherwise writes each
// problem to `err` as "<setting>: <message> (fix: <fix>)", one per line, and returns 1.
int runConfigCheck(const core::SettingSources& sources, std::ostream& out, std::ostream& err);

// `bulwark config template`: writes the .env.security.template text to `out`; returns 0.
int runConfigTemplate(std::ostream& out);

// Adds one string option per core::settingsTable() entry to `command` (e.g. --max-body-bytes),
// skipping any flag the command already defines (such as --config). A given value is stored in
// `flag_values` under the setting's key ("max_body_bytes"); absent flags leave no entry, so they
// do not override the environment or the file. `flag_values` must outlive parsing.
void addSettingFlags(CLI::App& command, std::map<std::string, std::string>& flag_values);

}  // namespace bulwark::app

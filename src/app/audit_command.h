#pragma once
// `bulwark audit verify|tail|export` (SPEC F3.3, F3.5, F7.1).
//
//   verify [--dir D] [--key-file F] [--checkpoint FILE|JSON]
//       exit 0 intact; 1 damaged, naming the first bad record (file, line, seq) and the kind;
//       2 usage or I/O error (no trail, no key, unreadable checkpoint). Read-only.
//   tail [-n N] [-f] [filters]      the last N matching records as NDJSON, then follow
//   export [filters] [--from-seq S] [--limit N]   matching records as NDJSON
//       filters: --type T (repeatable or comma-separated), --actor A, --request-id R,
//                --since/--until (UTC time, date, or a duration back from now: 15m, 2h, 7d)
//
// D defaults to <data_dir>/audit/<node_id>; a directory holding node directories is verified
// node by node. With audit_store = postgres and no --dir, the commands read <node_id>'s rows of
// audit_records at database_url; a finding then names "postgres:<node>" and the row's seq as
// its line. Lines are printed exactly as stored, so an export still carries seq and mac.
//
// Reading is audited: tail and export first append a DATA_EXPORT record (actor "cli:<user>",
// the filters as details) to the trail they read, through a short-lived writer. A running
// `serve` holds the trail's lock; then the record cannot be written by the CLI, and the command
// says so on stderr and goes on (reads through the server's /admin/audit API are audited by
// the server itself).

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>

#include "core/config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace bulwark::app {

class AuditCommands {
 public:
  // Adds `audit` and its subcommands to `cli`; `add_common` adds --config and the setting flags
  // to each subcommand.
  AuditCommands(CLI::App& cli, const std::function<void(CLI::App*)>& add_common);
  ~AuditCommands();

  // Runs the audit subcommand the command line named; nullopt when it named none.
  std::optional<int> run(const core::SettingSources& sources, std::ostream& out, std::ostream& err);

 private:
  struct Options;
  std::unique_ptr<Options> options_;
};

}  // namespace bulwark::app

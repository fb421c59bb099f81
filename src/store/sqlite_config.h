#pragma once
// How the embedded stores open their SQLite database. Users, sessions and revocations share one
// file (DESIGN decision 6: embedded default); each store holds its own connection, so several
// stores, threads and processes may use the file at once (WAL, BEGIN IMMEDIATE, busy timeout).

#include <chrono>
#include <string>

namespace bulwark::store {

struct SqliteConfig {
  std::string path;  // database file, e.g. <data_dir>/bulwark.db; ":memory:" is refused
  // How long a writer waits for another connection's write transaction before kUnavailable.
  std::chrono::milliseconds busy_timeout{5'000};
  // synchronous=FULL: a committed rotation or revocation survives a power cut. NORMAL (false)
  // survives a process crash only, and is faster on slow disks.
  bool full_sync = true;
};

// Returns "<data_dir>/bulwark.db".
std::string defaultSqlitePath(const std::string& data_dir);

}  // namespace bulwark::store

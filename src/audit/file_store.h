#pragma once
// The embedded audit store (SPEC F3.4): append-only NDJSON segment files of one node's chain in
// one directory (by convention <data_dir>/audit/<node>/):
//
//   segment-<first seq, 20 digits>.ndjson   records, one line each; a new segment starts at the
//                                           first batch after segment_size bytes
//   LOCK                                    flock()ed by the one writing process; holds its pid
//   segment-<...>.ndjson.torn-<offset>      a torn last line cut off at open (crash evidence)
//
// `grep`, `jq` and `tail -f` work on the segments. Writing takes an exclusive flock on LOCK, so
// a second writer of the same node (another `serve`, or a CLI command appending its DATA_EXPORT
// event) gets Errc::kLocked; reading needs no lock.

#include <cstdint>
#include <string>

#include "audit/store.h"

namespace bulwark::audit {

struct FileStoreConfig {
  // The node's trail directory; created (mode 0700) if missing.
  std::string directory;
  // Size after which the next batch starts a new segment file.
  std::uint64_t segment_size = 64ull << 20;
  // Write NUL bytes ahead of the data (a MiB at a time), so that an fsync needs no inode write:
  // about half the fsync latency on ext4, which a request waits for in `sync` durability. The
  // segment being written then ends in NULs until it is closed (readers here stop at the first
  // NUL; `tail -f` on it sees nothing new, `grep` wants -a). Closed segments have none.
  bool preallocate = false;
};

// Returns the file store for `config.directory`. Nothing is touched until open() or read().
StorePtr makeFileStore(FileStoreConfig config);

}  // namespace bulwark::audit

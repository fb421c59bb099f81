#pragma once
// Where audit records are kept (DESIGN decisions 2, 3 and 6): an append-only log of record lines
// per node, written by one Writer and read by any number of cursors by sequence number (the SIEM
// forwarders' durable cursors, query/export, the verifier). The embedded implementation is
// file_store.h; a PostgreSQL one implements the same interface (table keyed by (node, seq)).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "audit/error.h"

namespace bulwark::audit {

// One record of a batch: its sequence number and its line (without '\n').
struct BatchRecord {
  std::uint64_t seq = 0;
  std::string_view line;
};

// A batch the writer appends at once. `bytes` is the records' lines, each ending in '\n', in
// sequence order, contiguous; `records` indexes them (for stores that insert rows).
struct Batch {
  std::string_view bytes;
  std::span<const BatchRecord> records;
};

// A torn last line found at open (a crash in the middle of a write), cut off the trail and kept
// aside in `quarantine` so nothing disappears silently.
struct TornTail {
  std::string file;
  std::uint64_t offset = 0;  // where the fragment started
  std::uint64_t length = 0;  // bytes cut
  std::string quarantine;    // file that now holds them
  // Bytes were found beyond NUL bytes (file_store.cc's preallocated space): writes a power loss
  // left out of order, or records hidden behind NULs — the writer reports an incident.
  bool beyond_nul = false;
};

// What a store found when opened for writing.
struct TailInfo {
  std::uint64_t last_seq = 0;    // 0: empty trail
  std::string last_line;         // the last complete record line (empty when none)
  std::uint64_t check_from = 1;  // first seq of the region the writer re-verifies at start
  std::optional<TornTail> torn;
  // Complete lines after the last parseable record that do not parse (not cut: evidence).
  std::uint64_t unparseable_tail_lines = 0;
};

// A stored record as a cursor returns it. Views stay valid until the cursor's next call.
struct StoredRecord {
  std::uint64_t seq = 0;          // 0 when the line's header does not parse
  std::string_view line;          // without '\n'
  std::string_view location;      // e.g. the segment file's path
  std::uint64_t line_number = 0;  // 1-based within `location`
};

// Reads records in order. Not thread-safe; one per consumer.
class Cursor {
 public:
  virtual ~Cursor() = default;
  // Returns the next record with seq >= the start seq (lines that do not parse are returned
  // too, with seq 0), or nullopt at the current end of the trail. Calling again after nullopt
  // continues where it stopped once more records exist (`tail -f`). Only complete lines are
  // returned; a line still being written is waited for.
  virtual Result<std::optional<StoredRecord>> next() = 0;
};
using CursorPtr = std::unique_ptr<Cursor>;

class Store {
 public:
  virtual ~Store() = default;

  // Opens the trail for appending: takes exclusive ownership (another writer gets kLocked),
  // repairs a torn last line (TailInfo::torn) and reports the tail. Call once, before append.
  virtual Result<TailInfo> open() = 0;
  // Appends `batch` after the last record. Written, not necessarily durable; a failed append
  // leaves nothing of the batch behind. One appending thread.
  virtual Result<void> append(const Batch& batch) = 0;
  // Makes durable (fsync) every append that returned before the call. May run on another
  // thread, concurrently with append() (the writer overlaps its fsyncs with the next batch).
  virtual Result<void> sync() = 0;
  // Releases ownership (after a final sync). Idempotent.
  virtual void close() = 0;

  // Returns a cursor from the first record with seq >= from_seq. Thread-safe, needs no open();
  // works while another process writes.
  virtual Result<CursorPtr> read(std::uint64_t from_seq) const = 0;
  // Returns the sequence number of the last complete record (0 when empty). Thread-safe.
  virtual Result<std::uint64_t> lastSeq() const = 0;
  // "files:/var/lib/bulwark/audit/node-1", for logs and events.
  virtual std::string describe() const = 0;
};
using StorePtr = std::shared_ptr<Store>;

}  // namespace bulwark::audit

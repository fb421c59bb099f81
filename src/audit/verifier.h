#pragma once
// Verification of a node's trail (SPEC F3.3): walks every record in order, checks the chain
// mac_i = HMAC(key(kid, epoch), mac_{i-1} ‖ seq_i ‖ bytes_i) and names the first bad record
// (file, line, seq) and the kind of damage:
//
//   modified     the record's bytes (or its MAC) changed, or it was signed with another key
//   deleted      records are missing (a gap in seq; the following record is genuine)
//   reordered    a genuine record appears before one that should precede it
//   inserted     a line that is not part of the chain sits between two records that chain
//   truncated    the trail ends before a checkpoint kept elsewhere says it should
//   unknown key  no configured key covers the record's kid (or its epoch is before the key's)
//   bad format   a line that is not a record
//
// The hot path finds seq/kid/epoch/prev/mac by position (record.h) and never parses JSON, so
// verification runs close to the speed of HMAC-SHA256 itself. An HMAC chain alone cannot show
// that its tail was cut off; a checkpoint kept outside the trail (the SIEM has them) can.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/error.h"
#include "audit/keys.h"
#include "crypto/hmac.h"

namespace bulwark::audit {

enum class Damage : std::uint8_t {
  kModified,
  kDeleted,
  kReordered,
  kInserted,
  kTruncated,
  kUnknownKey,
  kBadFormat,
};
// "modified", "deleted", "reordered", "inserted", "truncated", "unknown key", "bad format".
std::string_view damageName(Damage damage);

struct Finding {
  Damage kind = Damage::kBadFormat;
  std::string file;
  std::uint64_t line = 0;  // 1-based line in `file`
  std::uint64_t seq = 0;   // the record's seq as written (0 when the line has none)
  std::string detail;      // what exactly, e.g. "records 41..42 are missing"
};

// A (seq, mac) pair known to be part of the trail, kept outside it.
struct ExternalCheckpoint {
  std::uint64_t seq = 0;
  crypto::Digest256 mac{};
  std::string node;  // empty when not given
};

// Parses what `verify --checkpoint` takes: a record line of the trail (usually an
// AUDIT_CHECKPOINT record as the SIEM received it), or a JSON object {"seq":N,"mac":"<hex>"}
// (optionally "node"). A record line is authenticated with `keys` when given.
Result<ExternalCheckpoint> parseExternalCheckpoint(std::string_view text, const KeyRing* keys);

class Store;

struct VerifyOptions {
  std::string directory;  // one node's trail directory (segment files)
  // Reads the trail through this store's cursor instead (e.g. PostgreSQL) when not null; the
  // finding's file is then the store's describe() ("postgres:<node>") and its line the
  // record's position there (PostgreSQL: its seq column). Not owned.
  const Store* store = nullptr;
  const KeyRing* keys = nullptr;
  std::optional<ExternalCheckpoint> checkpoint;
  // Lines looked at after a bad record to tell reordered/inserted from deleted/modified.
  std::size_t lookahead = 4096;
};

struct KeyUse {
  std::string kid;
  std::uint64_t first_epoch = 0;
  std::uint64_t last_epoch = 0;
  std::uint64_t records = 0;
};

struct VerifyReport {
  std::optional<Finding> finding;  // empty: intact
  std::string node;
  std::uint64_t segments = 0;
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t last_checkpoint_seq = 0;
  std::string last_checkpoint_time;
  std::string head_mac;  // hex of the last record's MAC
  std::vector<KeyUse> keys;
  std::vector<std::string> notes;  // e.g. an incomplete last line (a write in progress)
  bool intact() const { return !finding.has_value(); }
};

// Verifies the trail in `options.store`, else in `options.directory`. An error only for I/O problems (unreadable
// directory or file) and missing keys; damage is a Finding in the report.
Result<VerifyReport> verifyTrail(const VerifyOptions& options);

}  // namespace bulwark::audit

#pragma once
// Query and export of the trail (SPEC F3.5): filter records by type, actor, time range and
// request id, and hand out the stored lines unchanged (NDJSON that still verifies and still
// carries seq/mac). Used by `bulwark audit tail|export`; the gateway's
// GET /admin/audit/events maps its query parameters onto the same Query. Reading is audited by
// the caller: it records a DATA_EXPORT event with queryDetails() through the writer.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/error.h"
#include "audit/record.h"
#include "audit/store.h"
#include "core/clock.h"

namespace bulwark::audit {

struct Query {
  std::vector<std::string> types;         // event type names (any of); empty: every type
  std::string actor;                      // exact; empty: any
  std::string request_id;                 // exact; empty: any
  std::optional<core::SystemTime> since;  // event time >= since
  std::optional<core::SystemTime> until;  // event time < until
  std::uint64_t from_seq = 1;             // records with seq >= from_seq
  std::uint64_t limit = 0;                // most records returned; 0: no limit
};

// True when `record` passes every filter of `query` (from_seq and limit aside).
bool matches(const Query& query, const Record& record);

// Checks the type names (each must be a known event type); returns the unknown ones.
std::vector<std::string> unknownTypes(const Query& query);

// Parses a --since/--until value: a UTC time "YYYY-MM-DDTHH:MM:SS[.ffffff]Z", a date
// "YYYY-MM-DD" (midnight UTC), or a duration back from now ("90s", "15m", "2h", "7d").
[[nodiscard]] bool parseTimeArgument(std::string_view text, const core::Clock& clock,
                                     core::SystemTime& out);

// The query as event details for the DATA_EXPORT record ("type", "actor", "since", ...).
std::vector<std::pair<std::string, std::string>> queryDetails(const Query& query);

// Called with each matching record: its stored line (no '\n') and the parsed record. Return
// false to stop.
using RecordVisitor = std::function<bool(std::string_view line, const Record& record)>;

struct QueryStats {
  std::uint64_t scanned = 0;
  std::uint64_t matched = 0;
  std::uint64_t unparseable = 0;  // lines skipped because they are not records
};

// Visits matching records in sequence order from query.from_seq to the current end.
Result<QueryStats> runQuery(const Store& store, const Query& query, const RecordVisitor& visit);

// Returns the lines of the last `count` matching records, oldest first (`tail -n`). Reads
// backwards in widening windows of seq, so a short tail of a long trail stays cheap.
Result<std::vector<std::string>> tailQuery(const Store& store, const Query& query,
                                           std::size_t count);

// Follows the trail from `from_seq` (`tail -f`): each call to poll() visits the matching
// records appended since the previous call.
class Follower {
 public:
  Follower(const Store& store, Query query, std::uint64_t from_seq);
  Result<QueryStats> poll(const RecordVisitor& visit);

 private:
  const Store& store_;
  Query query_;
  std::uint64_t from_seq_;
  CursorPtr cursor_;
};

}  // namespace bulwark::audit

#pragma once
// The audit record: one NDJSON line per record in the trail (SPEC "Interfaces", F3.2), and its
// MAC chain. The writer serialises a record exactly once; the MAC covers those stored bytes, so
// the verifier never re-serialises anything.
//
// A record line is exactly (fields in this order, no whitespace, one line, then '\n'):
//
//   {"seq":S,"node":"N","kid":"K","epoch":E,"prev":"P","type":"T","id":J,"time":"U",
//    "severity":"V","outcome":"O","actor":J,"client":J,"request_id":J,"target":J,
//    "details":{J:J,...},"mac":"M"}
//
//   S, E  decimal, no leading zeros; S >= 1 (sequence in this node's chain), E the key epoch
//   N, K  node id and key id: 1-64 of [A-Za-z0-9._-], written without escapes
//   P, M  64 lowercase hex digits: the previous record's MAC and this record's MAC
//   T     event type name, 1-40 of [A-Z_]      U  UTC time "YYYY-MM-DDTHH:MM:SS.ffffffZ"
//   V, O  severity and outcome names            J  JSON string (core::appendJsonString)
//
// Signed bytes: the line without its '\n' and without its last 74 bytes `,"mac":"M"}`, i.e.
//   bytes = line[0, line.size() - kMacSuffixSize).
// MAC: mac = HMAC-SHA256(key(K, E), prev ‖ seq ‖ bytes), where prev is the previous record's
//   MAC as 32 raw bytes (32 zero bytes before seq 1; P must be its hex) and seq is S as 8 bytes
//   big-endian. key(K, 0) is the configured key K; with forward security key(K, E+1) =
//   HKDF-SHA256(key(K, E), info "bulwark-audit-epoch") (keys.h).
//
// Because seq, node, kid, epoch, prev and type sit at fixed places at the start and the MAC at
// a fixed place at the end, the verifier finds them by position (parseRecordHeader) without a
// JSON parse; parseRecord is the full, strict parse for queries and exports.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "audit/event.h"
#include "core/clock.h"
#include "crypto/hmac.h"

namespace bulwark::audit {

// Size of `,"mac":"<64 hex>"}`, the end of every record line.
inline constexpr std::size_t kMacSuffixSize = 74;
inline constexpr std::size_t kMaxIdSize = 64;

// True for a valid node id or key id: 1-64 of [A-Za-z0-9._-].
bool isValidId(std::string_view id);

// The fixed-position fields of a record line. Views point into the parsed line.
struct RecordHeader {
  std::uint64_t seq = 0;
  std::string_view node;
  std::string_view kid;
  std::uint64_t epoch = 0;
  std::string_view prev_hex;      // 64 hex digits
  std::string_view type;          // e.g. "AUDIT_CHECKPOINT"
  std::string_view signed_bytes;  // what the MAC covers
  std::string_view mac_hex;       // 64 hex digits
};

// Finds the fixed-position fields of `line` (without its '\n'); no allocation. False when the
// line does not have the record layout above. Says nothing about the middle of the line, which
// only the MAC vouches for; parseRecord checks all of it.
[[nodiscard]] bool parseRecordHeader(std::string_view line, RecordHeader& out);

// Returns HMAC(key, prev ‖ be64(seq) ‖ bytes) with `mac` holding the record's key, through
// OpenSSL's EVP HMAC: the reference the tests and bench/audit's anchor use. The writer and the
// verifier compute the same value with detail::RecordMacKey (a key prepared once).
crypto::Digest256 recordMac(crypto::HmacSha256& mac, const crypto::Digest256& prev,
                            std::uint64_t seq, std::string_view bytes);

// Parses 64 hex digits (either case) into 32 bytes; false otherwise.
[[nodiscard]] bool parseDigestHex(std::string_view hex, crypto::Digest256& out);
// Appends 64 lowercase hex digits.
void appendDigestHex(std::string& out, const crypto::Digest256& digest);

// A fully parsed record.
struct Record {
  std::uint64_t seq = 0;
  std::string node;
  std::string kid;
  std::uint64_t epoch = 0;
  std::string prev;       // hex
  std::string type_name;  // as written; event.type is meaningful only when known_type
  bool known_type = false;
  Event event;      // id, time, severity, outcome, actor, client, request_id, target, details
  std::string mac;  // hex
};

// Parses `line` (without '\n') strictly by the layout above: every field present, in order, no
// whitespace, valid JSON strings holding valid UTF-8. On failure returns false and, when
// `error` is given, says what is wrong and at which byte.
[[nodiscard]] bool parseRecord(std::string_view line, Record& out, std::string* error = nullptr);

// What the writer puts in front of the event fields.
struct RecordPrefix {
  std::uint64_t seq = 0;
  std::string_view node;  // must satisfy isValidId
  std::string_view kid;   // must satisfy isValidId
  std::uint64_t epoch = 0;
  const crypto::Digest256* prev = nullptr;
};

// Appends the signed bytes of a record (everything up to the MAC suffix). `id` is written as the
// event id. Strings longer than `max_field_bytes` (0: no limit) are cut at a UTF-8 boundary and
// end in "...[truncated]", so one hostile header cannot make a megabyte record.
void appendSignedBytes(std::string& out, const RecordPrefix& prefix, const Event& event,
                       std::string_view id, std::size_t max_field_bytes = 0);
// Appends `,"mac":"<hex>"}` (no newline).
void appendMacSuffix(std::string& out, const crypto::Digest256& mac);

// Serialises a parsed record back into its line (without '\n'), with record.mac as its MAC
// and the type as record.type_name. parseRecord(serializeRecord(r)) gives r back.
std::string serializeRecord(const Record& record);

// Appends "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, microseconds; clamped to years 1970-9999).
void appendTimestamp(std::string& out, core::SystemTime time);
// Parses "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (UTC, from 1970 to what system_clock holds, 2262);
// false otherwise. Fractions below 1 µs are cut.
[[nodiscard]] bool parseTimestamp(std::string_view text, core::SystemTime& out);

}  // namespace bulwark::audit

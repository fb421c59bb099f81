// libFuzzer target for the audit record parsers (record.h) and the external checkpoint parser.
//
// Besides crashes and sanitizer reports it checks properties the verifier and the exports rely
// on:
// - the position-based header parse and the full parse agree on every field they share, and
//   the signed bytes are exactly the line without its 74-byte MAC suffix;
// - whatever the full parse accepts serialises back into a line that parses to the same
//   record, and serialising that again gives the same bytes (a fixed point);
// - header views lie inside the input.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "audit/record.h"
#include "audit/verifier.h"

namespace {

using bulwark::audit::kMacSuffixSize;
using bulwark::audit::parseRecord;
using bulwark::audit::parseRecordHeader;
using bulwark::audit::Record;
using bulwark::audit::RecordHeader;
using bulwark::audit::serializeRecord;

void check(bool condition) {
  if (!condition) std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool sameRecord(const Record& a, const Record& b) {
  return a.seq == b.seq && a.node == b.node && a.kid == b.kid && a.epoch == b.epoch &&
         a.prev == b.prev && a.type_name == b.type_name && a.mac == b.mac &&
         a.event.id == b.event.id && a.event.time == b.event.time &&
         a.event.severity == b.event.severity && a.event.outcome == b.event.outcome &&
         a.event.actor == b.event.actor && a.event.client_address == b.event.client_address &&
         a.event.request_id == b.event.request_id && a.event.target == b.event.target &&
         a.event.details == b.event.details;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);

  RecordHeader header;
  const bool has_header = parseRecordHeader(line, header);
  if (has_header) {
    check(header.seq != 0);
    check(inside(header.node, line) && inside(header.kid, line) && inside(header.type, line));
    check(inside(header.prev_hex, line) && inside(header.mac_hex, line));
    check(header.signed_bytes.data() == line.data());
    check(header.signed_bytes.size() + kMacSuffixSize == line.size());
    check(header.prev_hex.size() == 64 && header.mac_hex.size() == 64);
  }

  Record record;
  std::string error;
  if (parseRecord(line, record, &error)) {
    check(has_header);
    check(record.seq == header.seq && record.node == header.node && record.kid == header.kid);
    check(record.epoch == header.epoch && record.prev == header.prev_hex);
    check(record.mac == header.mac_hex && record.type_name == header.type);
    const std::string again = serializeRecord(record);
    Record reparsed;
    check(parseRecord(again, reparsed));
    check(sameRecord(record, reparsed));
    check(serializeRecord(reparsed) == again);
  } else {
    check(!error.empty());
  }

  // The --checkpoint argument: a record line or a JSON object.
  (void)bulwark::audit::parseExternalCheckpoint(line, nullptr);
  return 0;
}

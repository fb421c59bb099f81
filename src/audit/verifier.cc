// The verifier keeps one chain state (expected seq, MAC of the last good record) and stops at
// the first record that does not extend it. Telling the kinds of damage apart needs a look at
// what follows: a second scanner reads ahead from the bad record without disturbing the first.

#include "audit/verifier.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <memory>

#include "audit/detail/line_reader.h"
#include "audit/detail/record_mac.h"
#include "audit/record.h"
#include "audit/store.h"

namespace bulwark::audit {
namespace {

using detail::LineReader;
using detail::SegmentFile;

// One line of the trail, complete or (at the end of a segment) not.
struct Line {
  std::string_view text;
  bool complete = true;
  std::size_t segment = 0;
  std::uint64_t line_number = 0;
  // The segment's data ended at a NUL byte (the file store's preallocated space; text is empty)
  // and this many non-NUL bytes lie beyond it.
  bool nul_end = false;
  std::uint64_t bytes_after_data = 0;
};

// Where a scanner stands: segment, byte offset and line number for files; for a store, the
// seq its cursor reads from next (line_number) — rows are ordered by their seq column.
struct Position {
  std::size_t segment = 0;
  std::uint64_t offset = 0;
  std::uint64_t line_number = 0;
};

// Reads the trail's lines in order; the verifier keeps a second one to look ahead.
class Scanner {
 public:
  virtual ~Scanner() = default;
  virtual Result<void> start(const Position& position) = 0;
  // The next line, or nullopt at the end. The text stays valid until the next call.
  virtual Result<std::optional<Line>> next() = 0;
  // Where the line next() returns next starts.
  virtual Position position() const = 0;
};

// What the verifier reads: the segment files of a directory, or a store's cursor.
class Source {
 public:
  virtual ~Source() = default;
  virtual std::unique_ptr<Scanner> scanner() const = 0;
  virtual std::size_t segments() const = 0;
  virtual std::string path(std::size_t segment) const = 0;
  virtual std::string name() const = 0;  // the trail, when it has no segment
};

// Reads the lines of all segments in order. A fragment after a segment's last '\n' is returned
// once, as an incomplete line.
class SegmentScanner final : public Scanner {
 public:
  explicit SegmentScanner(const std::vector<SegmentFile>& segments) : segments_(segments) {}

  Result<void> start(const Position& position) override {
    segment_ = position.segment;
    fragment_returned_ = false;
    nul_returned_ = false;
    if (segment_ >= segments_.size()) return {};
    return reader_.open(segments_[segment_].path, position.offset, position.line_number);
  }

  Result<std::optional<Line>> next() override {
    while (segment_ < segments_.size()) {
      auto line = reader_.next();
      if (!line) return line.error();
      if (*line) {
        return std::optional<Line>(Line{**line, true, segment_, reader_.lineNumber()});
      }
      if (!reader_.fragment().empty() && !fragment_returned_) {
        fragment_returned_ = true;
        return std::optional<Line>(
            Line{reader_.fragment(), false, segment_, reader_.lineNumber() + 1});
      }
      if (reader_.endedAtNul() && !nul_returned_) {
        nul_returned_ = true;
        auto debris_end = reader_.endOfBytesAfterData();
        if (!debris_end) return debris_end.error();
        const std::uint64_t data_end = reader_.offset() + reader_.fragment().size();
        return std::optional<Line>(
            Line{{}, false, segment_, reader_.lineNumber() + 1, true, *debris_end - data_end});
      }
      ++segment_;
      fragment_returned_ = false;
      nul_returned_ = false;
      if (segment_ < segments_.size()) {
        if (auto opened = reader_.open(segments_[segment_].path); !opened) return opened.error();
      }
    }
    return std::optional<Line>();
  }

  Position position() const override {
    return Position{segment_, reader_.offset(), reader_.lineNumber()};
  }

 private:
  const std::vector<SegmentFile>& segments_;
  std::size_t segment_ = 0;
  LineReader reader_;
  bool fragment_returned_ = false;
  bool nul_returned_ = false;
};

class SegmentSource final : public Source {
 public:
  SegmentSource(std::vector<SegmentFile> segments, std::string directory)
      : segments_(std::move(segments)), directory_(std::move(directory)) {}
  std::unique_ptr<Scanner> scanner() const override {
    return std::make_unique<SegmentScanner>(segments_);
  }
  std::size_t segments() const override { return segments_.size(); }
  std::string path(std::size_t segment) const override { return segments_[segment].path; }
  std::string name() const override { return directory_; }

 private:
  std::vector<SegmentFile> segments_;
  std::string directory_;
};

// A store's records through its cursor (one "segment": the store's location). The line number
// reported is the record's position in the store (the seq column for PostgreSQL).
class CursorScanner final : public Scanner {
 public:
  explicit CursorScanner(const Store& store) : store_(store) {}

  Result<void> start(const Position& position) override {
    from_ = std::max<std::uint64_t>(position.line_number, 1);
    auto cursor = store_.read(from_);
    if (!cursor) return cursor.error();
    cursor_ = std::move(*cursor);
    return {};
  }

  Result<std::optional<Line>> next() override {
    auto record = cursor_->next();
    if (!record) return record.error();
    if (!*record) return std::optional<Line>();
    // A row whose seq cannot be told (0) keeps the cursor's position: start() from here would
    // return it again, which is what the look-ahead needs.
    if ((*record)->seq != 0) from_ = (*record)->seq + 1;
    return std::optional<Line>(Line{(*record)->line, true, 0, (*record)->line_number});
  }

  Position position() const override { return Position{0, 0, from_}; }

 private:
  const Store& store_;
  CursorPtr cursor_;
  std::uint64_t from_ = 1;
};

class StoreSource final : public Source {
 public:
  explicit StoreSource(const Store& store) : store_(store) {}
  std::unique_ptr<Scanner> scanner() const override {
    return std::make_unique<CursorScanner>(store_);
  }
  std::size_t segments() const override { return 1; }
  std::string path(std::size_t) const override { return store_.describe(); }
  std::string name() const override { return store_.describe(); }

 private:
  const Store& store_;
};

// Keys by kid, each moved forward to the epoch last asked for.
class KeyCache {
 public:
  explicit KeyCache(const KeyRing& ring) : ring_(ring) {}

  // Returns the MAC object for (kid, epoch), or nullptr with `why` set.
  const detail::RecordMacKey* get(std::string_view kid, std::uint64_t epoch, std::string& why) {
    if (last_ != nullptr && last_->kid == kid && last_->epoch == epoch) return last_->mac.get();
    Entry* entry = nullptr;
    for (auto& candidate : entries_) {
      if (candidate.kid == kid) entry = &candidate;
    }
    if (entry == nullptr) {
      const AuditKey* base = ring_.find(kid);
      if (base == nullptr) {
        why =
            "no configured key has kid '" + std::string(kid) + "' (keys: " + ring_.describe() + ")";
        return nullptr;
      }
      entries_.push_back(Entry{std::string(kid), base, base->epoch, base->key.clone(), nullptr});
      entry = &entries_.back();
      last_ = nullptr;  // the vector may have moved
    }
    if (entry->epoch != epoch || !entry->mac) {
      if (epoch > entry->epoch && epoch - entry->epoch <= kMaxStep) {
        for (std::uint64_t e = entry->epoch; e < epoch; ++e) advanceEpochKey(entry->key);
      } else {
        auto derived = deriveEpochKey(*entry->base, epoch);
        if (!derived) {
          why = derived.error().message;
          return nullptr;
        }
        entry->key = std::move(*derived);
      }
      entry->epoch = epoch;
      entry->mac = std::make_unique<detail::RecordMacKey>(entry->key.bytes());
    }
    last_ = entry;
    return entry->mac.get();
  }

 private:
  static constexpr std::uint64_t kMaxStep = 1'000'000;
  struct Entry {
    std::string kid;
    const AuditKey* base;
    std::uint64_t epoch;
    SecretBytes key;
    std::unique_ptr<detail::RecordMacKey> mac;
  };
  const KeyRing& ring_;
  std::vector<Entry> entries_;
  Entry* last_ = nullptr;
};

// True when `header`'s MAC verifies with `prev` as the previous MAC.
bool macMatches(const detail::RecordMacKey& mac, const crypto::Digest256& prev,
                const RecordHeader& header, crypto::Digest256& stored) {
  if (!parseDigestHex(header.mac_hex, stored)) return false;
  const auto actual = mac.mac(prev, header.seq, header.signed_bytes);
  return crypto::constantTimeEqual(actual, stored);
}

class Verifier {
 public:
  Verifier(const VerifyOptions& options, const Source& source)
      : options_(options), source_(source), keys_(*options.keys) {}

  Result<VerifyReport> run() {
    report_.segments = source_.segments();
    auto scanner = source_.scanner();
    if (auto started = scanner->start(Position{}); !started) return started.error();
    for (;;) {
      // Where the line about to be read starts, for the look-ahead scanner.
      const Position position = scanner->position();
      auto next = scanner->next();
      if (!next) return next.error();
      if (!*next) break;
      const Line line = **next;
      const bool last_segment = line.segment + 1 == source_.segments();
      RecordHeader header;
      const bool parsed = parseRecordHeader(line.text, header);
      if (line.nul_end) {
        // NULs after the data: the space the writer preallocates in the segment it writes.
        // Closed segments are cut to their data, so NULs there mean records were wiped.
        if (!last_segment) {
          return finish(Finding{Damage::kBadFormat, path(line), line.line_number, 0,
                                "NUL bytes in a closed segment: its records end early"});
        }
        if (line.bytes_after_data > 0) {
          // A NUL written over a byte would otherwise hide every record after it.
          return finish(Finding{
              Damage::kBadFormat, path(line), line.line_number, 0,
              std::to_string(line.bytes_after_data) +
                  " bytes after NUL bytes: records hidden behind NULs, or writes a power loss "
                  "left out of order (the writer keeps them aside and reports an incident at its "
                  "next start)"});
        }
        break;
      }
      if (!line.complete) {
        if (last_segment && parsed && extends(header)) {
          accept(line, header);
          report_.notes.push_back("the last line of " + path(line) + " has no newline");
          continue;
        }
        if (last_segment) {
          report_.notes.push_back(
              "ignored an incomplete last line (" + std::to_string(line.text.size()) +
              " bytes) at " + path(line) + ":" + std::to_string(line.line_number) +
              ": a write in progress, or a crash (the writer cuts it off at its next start)");
          continue;  // to the end of the segment, which is the end of the trail
        }
        return finish(Finding{Damage::kBadFormat, path(line), line.line_number,
                              parsed ? header.seq : 0,
                              "an incomplete line in the middle of the trail"});
      }
      if (parsed && extends(header)) {
        if (auto problem = accept(line, header)) return finish(std::move(*problem));
        continue;
      }
      auto finding = classify(line, parsed ? &header : nullptr, position);
      if (!finding) return finding.error();
      return finish(std::move(*finding));
    }
    if (options_.checkpoint && report_.last_seq < options_.checkpoint->seq) {
      Finding finding;
      finding.kind = Damage::kTruncated;
      finding.file = source_.segments() == 0 ? source_.name() : source_.path(last_segment_);
      finding.line = last_line_;
      finding.seq = report_.last_seq;
      finding.detail = "the trail ends at seq " + std::to_string(report_.last_seq) +
                       (report_.last_checkpoint_seq != 0
                            ? " after checkpoint " + std::to_string(report_.last_checkpoint_seq)
                            : std::string(" (no checkpoint in the trail)")) +
                       ", but the external checkpoint shows seq " +
                       std::to_string(options_.checkpoint->seq) +
                       " existed: " + std::to_string(options_.checkpoint->seq - report_.last_seq) +
                       " record(s) cut off";
      return finish(std::move(finding));
    }
    return finish(std::nullopt);
  }

 private:
  std::string path(const Line& line) const { return source_.path(line.segment); }

  // True when `header` is the next record of the chain and its MAC verifies.
  bool extends(const RecordHeader& header) {
    if (header.seq != expected_) return false;
    if (!report_.node.empty() && header.node != report_.node) return false;
    std::string why;
    const detail::RecordMacKey* mac = keys_.get(header.kid, header.epoch, why);
    return mac != nullptr && macMatches(*mac, chain_, header, extended_mac_);
  }

  // True when `header` verifies with its own prev field (a record someone holding the key made).
  bool genuine(const RecordHeader& header) {
    std::string why;
    const detail::RecordMacKey* mac = keys_.get(header.kid, header.epoch, why);
    crypto::Digest256 prev{};
    crypto::Digest256 stored{};
    return mac != nullptr && parseDigestHex(header.prev_hex, prev) &&
           macMatches(*mac, prev, header, stored);
  }

  std::optional<Finding> accept(const Line& line, const RecordHeader& header) {
    if (report_.records == 0) {
      report_.node.assign(header.node);
      report_.first_seq = header.seq;
    }
    ++report_.records;
    report_.bytes += line.text.size() + 1;
    report_.last_seq = header.seq;
    chain_ = extended_mac_;  // parsed by extends(), which accepted this record
    ++expected_;
    last_segment_ = line.segment;
    last_line_ = line.line_number;
    KeyUse* use = nullptr;
    for (auto& candidate : report_.keys) {
      if (candidate.kid == header.kid) use = &candidate;
    }
    if (use == nullptr) {
      report_.keys.push_back(KeyUse{std::string(header.kid), header.epoch, header.epoch, 0});
      use = &report_.keys.back();
    }
    if (header.epoch < use->last_epoch) {
      return Finding{Damage::kModified, path(line), line.line_number, header.seq,
                     "key epoch goes back from " + std::to_string(use->last_epoch) + " to " +
                         std::to_string(header.epoch) + " for kid " + std::string(header.kid)};
    }
    use->last_epoch = header.epoch;
    ++use->records;
    if (header.type == "AUDIT_CHECKPOINT") {
      ++report_.checkpoints;
      report_.last_checkpoint_seq = header.seq;
      Record record;
      if (parseRecord(line.text, record)) {
        std::string time;
        appendTimestamp(time, record.event.time);
        report_.last_checkpoint_time = std::move(time);
      }
    }
    if (options_.checkpoint && options_.checkpoint->seq == header.seq &&
        !crypto::constantTimeEqual(options_.checkpoint->mac, chain_)) {
      return Finding{Damage::kModified, path(line), line.line_number, header.seq,
                     "the record at the external checkpoint's seq " + std::to_string(header.seq) +
                         " has a different MAC: the trail up to here was rewritten (re-signed)"};
    }
    return std::nullopt;
  }

  struct Peek {
    bool present = false;
    bool parsed = false;
    RecordHeader header;
    std::string text;  // owned copy: the scanner's buffer moves on
    std::string file;
    std::uint64_t line = 0;
  };

  // Reads up to `count` lines after the bad line, calling `visit` for each until it returns true.
  template <class Visit>
  Result<bool> lookAhead(const Position& position, std::size_t count, Visit visit) {
    auto ahead = source_.scanner();
    if (auto started = ahead->start(position); !started) {
      return started.error();
    }
    // Skip the bad line itself.
    auto skipped = ahead->next();
    if (!skipped) return skipped.error();
    for (std::size_t i = 0; i < count; ++i) {
      auto next = ahead->next();
      if (!next) return next.error();
      if (!*next) break;
      Peek peek;
      peek.present = true;
      peek.text.assign((*next)->text);
      peek.parsed = (*next)->complete && parseRecordHeader(peek.text, peek.header);
      peek.file = source_.path((*next)->segment);
      peek.line = (*next)->line_number;
      if (visit(peek)) return true;
    }
    return false;
  }

  Result<Finding> classify(const Line& line, const RecordHeader* header, const Position& position) {
    Finding finding;
    finding.file = path(line);
    finding.line = line.line_number;
    finding.seq = header != nullptr ? header->seq : 0;

    // Does the line after this one carry on the chain as if this line were not there?
    bool next_extends = false;
    bool next_is_following = false;  // the next line is genuine and has seq == expected + 1
    auto looked = lookAhead(position, 1, [&](Peek& peek) {
      if (peek.parsed) {
        next_extends = extends(peek.header);
        next_is_following = peek.header.seq == expected_ + 1 && genuine(peek.header);
      }
      return true;
    });
    if (!looked) return looked.error();
    const std::string expected_text = std::to_string(expected_);

    if (header == nullptr) {
      if (next_extends) {
        finding.kind = Damage::kInserted;
        finding.detail = "a line that is not a record sits before seq " + expected_text;
      } else if (next_is_following) {
        finding.kind = Damage::kModified;
        finding.detail = "record seq " + expected_text + " no longer has the record layout";
      } else {
        finding.kind = Damage::kBadFormat;
        finding.detail = "not a record line where seq " + expected_text + " was expected";
      }
      return finding;
    }
    if (!report_.node.empty() && header->node != report_.node) {
      finding.kind = next_extends ? Damage::kInserted : Damage::kModified;
      finding.detail = "a record of node '" + std::string(header->node) + "' in the trail of '" +
                       report_.node + "'";
      return finding;
    }
    std::string why;
    if (keys_.get(header->kid, header->epoch, why) == nullptr) {
      if (next_extends) {
        finding.kind = Damage::kInserted;
        finding.detail = "a forged record (" + why + ") sits before seq " + expected_text;
      } else {
        finding.kind = Damage::kUnknownKey;
        finding.detail = why;
      }
      return finding;
    }
    const bool is_genuine = genuine(*header);
    if (header->seq == expected_) {
      if (next_extends) {
        finding.kind = Damage::kInserted;
        finding.detail =
            "a forged record claiming seq " + expected_text + " sits before the real one";
      } else {
        finding.kind = Damage::kModified;
        std::string chain_hex;
        appendDigestHex(chain_hex, chain_);
        finding.detail = header->prev_hex != chain_hex
                             ? "its prev field does not match the previous record's MAC"
                             : "MAC mismatch: the record was altered, or signed with a "
                               "different key";
      }
      return finding;
    }
    if (header->seq > expected_) {
      if (is_genuine) {
        // Missing records: do they turn up later (reordered) or not at all (deleted)?
        std::string found_at;
        auto searched = lookAhead(position, options_.lookahead, [&](Peek& peek) {
          if (peek.parsed && peek.header.seq == expected_ && genuine(peek.header)) {
            found_at = peek.file + ":" + std::to_string(peek.line);
            return true;
          }
          return false;
        });
        if (!searched) return searched.error();
        if (!found_at.empty()) {
          finding.kind = Damage::kReordered;
          finding.detail = "seq " + std::to_string(header->seq) + " comes before seq " +
                           expected_text + ", which appears later at " + found_at;
        } else {
          const std::uint64_t missing = header->seq - expected_;
          finding.kind = Damage::kDeleted;
          finding.detail =
              (missing == 1 ? "record seq " + expected_text + " is"
                            : "records " + expected_text + ".." + std::to_string(header->seq - 1) +
                                  " (" + std::to_string(missing) + ") are") +
              " missing before this record";
        }
        return finding;
      }
      finding.kind = next_extends ? Damage::kInserted : Damage::kModified;
      finding.detail = next_extends ? "a forged record sits before seq " + expected_text
                                    : "record seq " + expected_text +
                                          " was altered (its seq field and MAC no longer fit)";
      return finding;
    }
    // header->seq < expected_: an earlier record again.
    if (next_extends) {
      finding.kind = Damage::kInserted;
      finding.detail = is_genuine ? "a copy of record seq " + std::to_string(header->seq) +
                                        " was replayed before seq " + expected_text
                                  : "a forged record sits before seq " + expected_text;
    } else if (is_genuine) {
      finding.kind = Damage::kReordered;
      finding.detail = "seq " + std::to_string(header->seq) + " appears after seq " +
                       std::to_string(expected_ - 1);
    } else {
      finding.kind = Damage::kModified;
      finding.detail = "record seq " + expected_text + " was altered";
    }
    return finding;
  }

  Result<VerifyReport> finish(std::optional<Finding> finding) {
    report_.finding = std::move(finding);
    if (report_.records > 0) appendDigestHex(report_.head_mac, chain_);
    return std::move(report_);
  }

  const VerifyOptions& options_;
  const Source& source_;
  KeyCache keys_;
  VerifyReport report_;
  std::uint64_t expected_ = 1;
  crypto::Digest256 chain_{};
  crypto::Digest256 extended_mac_{};  // the MAC of the record extends() last accepted
  std::size_t last_segment_ = 0;
  std::uint64_t last_line_ = 0;
};

}  // namespace

std::string_view damageName(Damage damage) {
  switch (damage) {
    case Damage::kModified:
      return "modified";
    case Damage::kDeleted:
      return "deleted";
    case Damage::kReordered:
      return "reordered";
    case Damage::kInserted:
      return "inserted";
    case Damage::kTruncated:
      return "truncated";
    case Damage::kUnknownKey:
      return "unknown key";
    case Damage::kBadFormat:
      return "bad format";
  }
  return "unknown";
}

Result<ExternalCheckpoint> parseExternalCheckpoint(std::string_view text, const KeyRing* keys) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n')) text.remove_prefix(1);
  ExternalCheckpoint checkpoint;
  RecordHeader header;
  if (parseRecordHeader(text, header)) {
    checkpoint.seq = header.seq;
    checkpoint.node.assign(header.node);
    if (!parseDigestHex(header.mac_hex, checkpoint.mac)) {
      return auditError(Errc::kBadFormat, "the checkpoint's mac is not hex");
    }
    if (keys != nullptr) {
      KeyCache cache(*keys);
      std::string why;
      const detail::RecordMacKey* mac = cache.get(header.kid, header.epoch, why);
      crypto::Digest256 prev{};
      crypto::Digest256 stored{};
      if (mac == nullptr) {
        return auditError(Errc::kUnknownKey, "cannot authenticate the checkpoint: " + why);
      }
      if (!parseDigestHex(header.prev_hex, prev) || !macMatches(*mac, prev, header, stored)) {
        return auditError(Errc::kBadFormat,
                          "the checkpoint record's MAC does not verify with the given keys: it "
                          "is not a record of this trail");
      }
    }
    return checkpoint;
  }
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(text, ec);
  const auto* object = ec ? nullptr : value.if_object();
  if (object == nullptr) {
    return auditError(Errc::kBadFormat,
                      "a checkpoint is a record line of the trail or {\"seq\":N,\"mac\":\"<64 "
                      "hex>\"}");
  }
  const auto* seq = object->if_contains("seq");
  const auto* mac = object->if_contains("mac");
  if (seq == nullptr || mac == nullptr || !mac->is_string()) {
    return auditError(Errc::kBadFormat, "the checkpoint needs \"seq\" and \"mac\"");
  }
  if (seq->is_uint64()) {
    checkpoint.seq = seq->as_uint64();
  } else if (seq->is_int64() && seq->as_int64() > 0) {
    checkpoint.seq = static_cast<std::uint64_t>(seq->as_int64());
  } else {
    return auditError(Errc::kBadFormat, "the checkpoint's seq is not a positive integer");
  }
  if (!parseDigestHex(std::string_view(mac->as_string()), checkpoint.mac)) {
    return auditError(Errc::kBadFormat, "the checkpoint's mac is not 64 hex digits");
  }
  if (const auto* node = object->if_contains("node"); node != nullptr && node->is_string()) {
    checkpoint.node = std::string(node->as_string());
  }
  if (checkpoint.seq == 0) {
    return auditError(Errc::kBadFormat, "the checkpoint's seq is not a positive integer");
  }
  return checkpoint;
}

Result<VerifyReport> verifyTrail(const VerifyOptions& options) {
  if (options.keys == nullptr || options.keys->empty()) {
    return auditError(Errc::kBadKey, "no audit key to verify with");
  }
  std::unique_ptr<Source> source;
  if (options.store != nullptr) {
    source = std::make_unique<StoreSource>(*options.store);
  } else {
    auto segments = detail::listSegments(options.directory);
    if (!segments) return segments.error();
    if (segments->empty()) {
      std::error_code ec;
      if (!std::filesystem::is_directory(options.directory, ec)) {
        return systemError(ENOENT, "no audit trail at " + options.directory);
      }
    }
    source = std::make_unique<SegmentSource>(std::move(*segments), options.directory);
  }
  Verifier verifier(options, *source);
  auto report = verifier.run();
  if (report && options.checkpoint && !options.checkpoint->node.empty() && !report->node.empty() &&
      options.checkpoint->node != report->node) {
    return auditError(Errc::kBadFormat, "the checkpoint is of node '" + options.checkpoint->node +
                                            "', the trail of node '" + report->node + "'");
  }
  return report;
}

}  // namespace bulwark::audit

#include "audit/query.h"

#include <algorithm>
#include <charconv>
#include <deque>

namespace bulwark::audit {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ',';
    out += item;
  }
  return out;
}

std::string timeText(core::SystemTime time) {
  std::string out;
  appendTimestamp(out, time);
  return out;
}

// Feeds `visit` the matching records of `cursor` below `end_seq` (0: no bound).
Result<QueryStats> scan(Cursor& cursor, const Query& query, std::uint64_t end_seq,
                        std::uint64_t limit, const RecordVisitor& visit) {
  QueryStats stats;
  Record record;
  for (;;) {
    auto next = cursor.next();
    if (!next) return next.error();
    if (!*next) break;
    const StoredRecord& stored = **next;
    if (stored.seq == 0) {
      ++stats.unparseable;
      continue;
    }
    if (end_seq != 0 && stored.seq >= end_seq) break;
    ++stats.scanned;
    if (!parseRecord(stored.line, record)) {
      ++stats.unparseable;
      continue;
    }
    if (!matches(query, record)) continue;
    ++stats.matched;
    if (!visit(stored.line, record)) break;
    if (limit != 0 && stats.matched >= limit) break;
  }
  return stats;
}

}  // namespace

bool matches(const Query& query, const Record& record) {
  if (!query.types.empty() &&
      std::find(query.types.begin(), query.types.end(), record.type_name) == query.types.end()) {
    return false;
  }
  if (!query.actor.empty() && record.event.actor != query.actor) return false;
  if (!query.request_id.empty() && record.event.request_id != query.request_id) return false;
  if (query.since && record.event.time < *query.since) return false;
  if (query.until && record.event.time >= *query.until) return false;
  return record.seq >= query.from_seq;
}

std::vector<std::string> unknownTypes(const Query& query) {
  std::vector<std::string> unknown;
  for (const auto& type : query.types) {
    if (!parseEventType(type)) unknown.push_back(type);
  }
  return unknown;
}

bool parseTimeArgument(std::string_view text, const core::Clock& clock, core::SystemTime& out) {
  if (parseTimestamp(text, out)) return true;
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    return parseTimestamp(std::string(text) + "T00:00:00Z", out);
  }
  if (text.size() >= 2) {
    std::uint64_t amount = 0;
    const char unit = text.back();
    const auto digits = text.substr(0, text.size() - 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), amount);
    if (ec != std::errc() || end != digits.data() + digits.size()) return false;
    std::uint64_t seconds_per = 0;
    switch (unit) {
      case 's':
        seconds_per = 1;
        break;
      case 'm':
        seconds_per = 60;
        break;
      case 'h':
        seconds_per = 3600;
        break;
      case 'd':
        seconds_per = 86400;
        break;
      default:
        return false;
    }
    if (amount > 100ull * 365 * 86400 / seconds_per) return false;
    out = clock.systemTime() - std::chrono::seconds(amount * seconds_per);
    return true;
  }
  return false;
}

std::vector<std::pair<std::string, std::string>> queryDetails(const Query& query) {
  std::vector<std::pair<std::string, std::string>> details;
  if (!query.types.empty()) details.emplace_back("type", joined(query.types));
  if (!query.actor.empty()) details.emplace_back("actor", query.actor);
  if (!query.request_id.empty()) details.emplace_back("request_id", query.request_id);
  if (query.since) details.emplace_back("since", timeText(*query.since));
  if (query.until) details.emplace_back("until", timeText(*query.until));
  if (query.from_seq > 1) details.emplace_back("from_seq", std::to_string(query.from_seq));
  if (query.limit != 0) details.emplace_back("limit", std::to_string(query.limit));
  return details;
}

Result<QueryStats> runQuery(const Store& store, const Query& query, const RecordVisitor& visit) {
  auto cursor = store.read(query.from_seq);
  if (!cursor) return cursor.error();
  return scan(**cursor, query, 0, query.limit, visit);
}

Result<std::vector<std::string>> tailQuery(const Store& store, const Query& query,
                                           std::size_t count) {
  std::deque<std::string> lines;
  if (count == 0) return std::vector<std::string>();
  auto last = store.lastSeq();
  if (!last) return last.error();
  const std::uint64_t floor = std::max<std::uint64_t>(query.from_seq, 1);
  std::uint64_t high = *last + 1;  // exclusive
  std::uint64_t window = std::max<std::uint64_t>(count * 2, 1024);
  while (high > floor && lines.size() < count) {
    const std::uint64_t low = high - floor > window ? high - window : floor;
    auto cursor = store.read(low);
    if (!cursor) return cursor.error();
    std::vector<std::string> chunk;
    auto scanned = scan(**cursor, query, high, 0, [&](std::string_view line, const Record&) {
      chunk.emplace_back(line);
      return true;
    });
    if (!scanned) return scanned.error();
    for (auto it = chunk.rbegin(); it != chunk.rend() && lines.size() < count; ++it) {
      lines.push_front(std::move(*it));
    }
    high = low;
    window *= 4;
  }
  return std::vector<std::string>(std::make_move_iterator(lines.begin()),
                                  std::make_move_iterator(lines.end()));
}

Follower::Follower(const Store& store, Query query, std::uint64_t from_seq)
    : store_(store), query_(std::move(query)), from_seq_(from_seq) {}

Result<QueryStats> Follower::poll(const RecordVisitor& visit) {
  if (!cursor_) {
    auto cursor = store_.read(from_seq_);
    if (!cursor) return cursor.error();
    cursor_ = std::move(*cursor);
  }
  return scan(*cursor_, query_, 0, 0, visit);
}

}  // namespace bulwark::audit

// Record serialisation and parsing. The header parser is on the verifier's hot path: it only
// compares fixed literals and scans short runs of digits, ids and hex, never the event body.

#include "audit/record.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/json.h"

namespace bulwark::audit {
namespace {

constexpr std::string_view kSeqKey = "{\"seq\":";
constexpr std::string_view kNodeKey = ",\"node\":\"";
constexpr std::string_view kKidKey = "\",\"kid\":\"";
constexpr std::string_view kEpochKey = "\",\"epoch\":";
constexpr std::string_view kPrevKey = ",\"prev\":\"";
constexpr std::string_view kTypeKey = "\",\"type\":\"";
constexpr std::string_view kMacKey = ",\"mac\":\"";
constexpr std::size_t kMaxTypeSize = 40;
constexpr std::string_view kTruncated = "...[truncated]";

bool isIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Hex digits are checked and decoded with branch-free arithmetic the compiler vectorises: MACs
// are random, so a branch per digit would mispredict half the time on the verifier's hot path.
int hexValue(char ch) {
  const unsigned c = static_cast<unsigned char>(ch);
  const unsigned digit = c - '0';
  const unsigned letter = (c | 0x20) - 'a';
  if (digit < 10) return static_cast<int>(digit);
  if (letter < 6) return static_cast<int>(letter + 10);
  return -1;
}

#if defined(__SSE2__)
// 16 bytes: all-ones lanes where the byte is in [lo, hi] (signed compare: bytes >= 0x80 fail).
inline __m128i inRange(__m128i v, char lo, char hi) {
  return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(static_cast<char>(lo - 1))),
                       _mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(hi + 1))));
}
#endif

bool isLowerHex64(std::string_view text) {
  if (text.size() != 64) return false;
#if defined(__SSE2__)
  int all = 0xffff;
  for (std::size_t i = 0; i < 64; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    all &= _mm_movemask_epi8(_mm_or_si128(inRange(v, '0', '9'), inRange(v, 'a', 'f')));
  }
  return all == 0xffff;
#else
  unsigned bad = 0;
  for (char ch : text) {
    const unsigned c = static_cast<unsigned char>(ch);
    bad |= static_cast<unsigned>(!((c - '0' < 10u) | (c - 'a' < 6u)));
  }
  return bad == 0;
#endif
}

// Reads a canonical decimal (no sign, no leading zero unless "0") at `pos`.
bool readNumber(std::string_view s, std::size_t& pos, std::uint64_t& out) {
  const std::size_t start = pos;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  const std::size_t length = pos - start;
  if (length == 0 || length > 20 || (length > 1 && s[start] == '0')) return false;
  const auto [end, ec] = std::from_chars(s.data() + start, s.data() + pos, out);
  return ec == std::errc() && end == s.data() + pos;
}

// A literal known at compile time: memcmp of a constant size compiles to a few compares.
template <const std::string_view& kLiteral>
bool readFixed(std::string_view s, std::size_t& pos) {
  constexpr std::size_t kSize = kLiteral.size();
  if (s.size() - pos < kSize || std::memcmp(s.data() + pos, kLiteral.data(), kSize) != 0) {
    return false;
  }
  pos += kSize;
  return true;
}

bool readLiteral(std::string_view s, std::size_t& pos, std::string_view literal) {
  if (s.substr(pos, literal.size()) != literal) return false;
  pos += literal.size();
  return true;
}

// Reads an id ([A-Za-z0-9._-]{1,64}) up to the next '"'.
bool readId(std::string_view s, std::size_t& pos, std::string_view& out) {
  const std::size_t start = pos;
  while (pos < s.size() && pos - start <= kMaxIdSize && isIdChar(s[pos])) ++pos;
  const std::size_t length = pos - start;
  if (length == 0 || length > kMaxIdSize) return false;
  out = s.substr(start, length);
  return true;
}

void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

bool readHex4(std::string_view s, std::size_t pos, std::uint32_t& out) {
  if (pos + 4 > s.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const int v = hexValue(s[pos + i]);
    if (v < 0) return false;
    out = out << 4 | static_cast<std::uint32_t>(v);
  }
  return true;
}

// Reads a JSON string literal at `pos` (which must be '"') into `out` (decoded, valid UTF-8).
bool readJsonString(std::string_view s, std::size_t& pos, std::string& out) {
  if (pos >= s.size() || s[pos] != '"') return false;
  ++pos;
  out.clear();
  while (pos < s.size()) {
    const auto c = static_cast<unsigned char>(s[pos]);
    if (c == '"') {
      ++pos;
      return true;
    }
    if (c < 0x20) return false;
    if (c >= 0x80) {
      const std::size_t length = core::utf8SequenceLength(s.substr(pos));
      if (length == 0) return false;
      out.append(s.substr(pos, length));
      pos += length;
      continue;
    }
    if (c != '\\') {
      out.push_back(static_cast<char>(c));
      ++pos;
      continue;
    }
    if (pos + 1 >= s.size()) return false;
    const char escape = s[pos + 1];
    pos += 2;
    switch (escape) {
      case '"':
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '/':
        out.push_back('/');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        std::uint32_t cp = 0;
        if (!readHex4(s, pos, cp)) return false;
        pos += 4;
        if (cp >= 0xdc00 && cp <= 0xdfff) return false;  // lone low surrogate
        if (cp >= 0xd800 && cp <= 0xdbff) {
          std::uint32_t low = 0;
          if (s.substr(pos, 2) != "\\u" || !readHex4(s, pos + 2, low) || low < 0xdc00 ||
              low > 0xdfff) {
            return false;
          }
          pos += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        return false;
    }
  }
  return false;
}

// True for bytes core::appendJsonString writes as they are (printable ASCII but '"' and '\\').
constexpr std::array<bool, 256> plainTable() {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x7f; ++c) table[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return table;
}
constexpr auto kPlain = plainTable();

// core::appendJsonString, with a fast path: a string of plain bytes is copied in one piece.
void appendJson(std::string& out, std::string_view value) {
  std::size_t i = 0;
  while (i < value.size() && kPlain[static_cast<unsigned char>(value[i])]) ++i;
  if (i == value.size()) {
    out += '"';
    out.append(value);
    out += '"';
    return;
  }
  core::appendJsonString(out, value);
}

// Appends `value` as a JSON string, cut to `max` bytes (0: no limit) at a UTF-8 boundary.
void appendField(std::string& out, std::string_view value, std::size_t max) {
  if (max == 0 || value.size() <= max) {
    appendJson(out, value);
    return;
  }
  std::size_t cut = max > kTruncated.size() ? max - kTruncated.size() : 0;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xc0) == 0x80) --cut;
  std::string shortened(value.substr(0, cut));
  shortened += kTruncated;
  core::appendJsonString(out, shortened);
}

void appendNumber(std::string& out, std::uint64_t value) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

// Days since 1970-01-01 to civil date (Howard Hinnant's algorithm).
void civilFromDays(std::int64_t z, int& year, unsigned& month, unsigned& day) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<int>(y + (month <= 2));
}

std::int64_t daysFromCivil(int year, unsigned month, unsigned day) {
  year -= month <= 2;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// True when core::appendJsonString would write `value` unchanged (kPlain bytes only).
bool isPlain(std::string_view value) {
  const char* p = value.data();
  const char* const end = p + value.size();
#if defined(__SSE2__)
  // Signed compares: bytes >= 0x80 are negative, so "< 0x20" catches them with the controls.
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  for (; end - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i bad =
        _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    if (_mm_movemask_epi8(bad) != 0) return false;
  }
#endif
  for (; p != end; ++p) {
    if (!kPlain[static_cast<unsigned char>(*p)]) return false;
  }
  return true;
}

void putDigits(char* p, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// Writes "YYYY-MM-DDTHH:MM:SS.ffffffZ" (27 bytes, clamped to years 1970-9999). The date and
// time up to the second are kept per thread: a writer formats many records per second.
char* putTimestamp(char* p, core::SystemTime time) {
  using namespace std::chrono;
  constexpr std::int64_t kMaxMicros = 253402300799999999;  // 9999-12-31T23:59:59.999999Z
  struct SecondCache {
    std::int64_t seconds = -1;
    char text[20] = {};  // "YYYY-MM-DDTHH:MM:SS."
  };
  thread_local SecondCache cache;
  std::int64_t micros = duration_cast<microseconds>(time.time_since_epoch()).count();
  micros = std::clamp<std::int64_t>(micros, 0, kMaxMicros);
  const std::int64_t seconds = micros / 1'000'000;
  const auto fraction = static_cast<unsigned>(micros % 1'000'000);
  if (seconds != cache.seconds) {
    const auto second_of_day = static_cast<unsigned>(seconds % 86400);
    int year = 0;
    unsigned month = 0, day = 0;
    civilFromDays(seconds / 86400, year, month, day);
    char* t = cache.text;
    putDigits(t, static_cast<unsigned>(year), 4);
    t[4] = '-';
    putDigits(t + 5, month, 2);
    t[7] = '-';
    putDigits(t + 8, day, 2);
    t[10] = 'T';
    putDigits(t + 11, second_of_day / 3600, 2);
    t[13] = ':';
    putDigits(t + 14, second_of_day / 60 % 60, 2);
    t[16] = ':';
    putDigits(t + 17, second_of_day % 60, 2);
    t[19] = '.';
    cache.seconds = seconds;
  }
  std::memcpy(p, cache.text, sizeof cache.text);
  putDigits(p + 20, fraction, 6);
  p[26] = 'Z';
  return p + 27;
}

bool readDigits(std::string_view s, std::size_t pos, std::size_t count, unsigned& out) {
  if (pos + count > s.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  return true;
}

class Parser {
 public:
  Parser(std::string_view s, std::string* error) : s_(s), error_(error) {}

  bool literal(std::string_view text) {
    return readLiteral(s_, pos_, text) || fail("expected " + std::string(text));
  }
  bool number(std::uint64_t& out, const char* what) {
    return readNumber(s_, pos_, out) || fail(std::string("bad ") + what);
  }
  bool id(std::string& out, const char* what) {
    std::string_view view;
    if (!readId(s_, pos_, view)) return fail(std::string("bad ") + what);
    out.assign(view);
    return true;
  }
  bool hex64(std::string& out, const char* what) {
    const std::string_view view = s_.substr(pos_, 64);
    if (!isLowerHex64(view)) return fail(std::string("bad ") + what);
    out.assign(view);
    pos_ += 64;
    return true;
  }
  bool string(std::string& out, const char* what) {
    return readJsonString(s_, pos_, out) || fail(std::string("bad string in ") + what);
  }
  bool typeName(std::string& out) {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && pos_ - start <= kMaxTypeSize &&
           ((s_[pos_] >= 'A' && s_[pos_] <= 'Z') || s_[pos_] == '_')) {
      ++pos_;
    }
    if (pos_ == start || pos_ - start > kMaxTypeSize) return fail("bad type");
    out.assign(s_.substr(start, pos_ - start));
    return true;
  }
  bool peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  void skip() { ++pos_; }
  bool atEnd() const { return pos_ == s_.size(); }
  bool fail(const std::string& what) {
    if (error_ != nullptr) *error_ = what + " at byte " + std::to_string(pos_);
    return false;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
  std::string* error_;
};

}  // namespace

bool isValidId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxIdSize && std::all_of(id.begin(), id.end(), isIdChar);
}

bool parseRecordHeader(std::string_view line, RecordHeader& out) {
  if (line.size() < kMacSuffixSize + kSeqKey.size()) return false;
  std::size_t pos = 0;
  if (!readFixed<kSeqKey>(line, pos) || !readNumber(line, pos, out.seq) || out.seq == 0 ||
      !readFixed<kNodeKey>(line, pos) || !readId(line, pos, out.node) ||
      !readFixed<kKidKey>(line, pos) || !readId(line, pos, out.kid) ||
      !readFixed<kEpochKey>(line, pos) || !readNumber(line, pos, out.epoch) ||
      !readFixed<kPrevKey>(line, pos)) {
    return false;
  }
  out.prev_hex = line.substr(pos, 64);
  if (!isLowerHex64(out.prev_hex)) return false;
  pos += 64;
  if (!readFixed<kTypeKey>(line, pos)) return false;
  const std::size_t type_start = pos;
  while (pos < line.size() && pos - type_start <= kMaxTypeSize &&
         ((line[pos] >= 'A' && line[pos] <= 'Z') || line[pos] == '_')) {
    ++pos;
  }
  if (pos == type_start || pos - type_start > kMaxTypeSize || pos >= line.size() ||
      line[pos] != '"') {
    return false;
  }
  out.type = line.substr(type_start, pos - type_start);
  const std::size_t bytes_end = line.size() - kMacSuffixSize;
  if (bytes_end <= pos) return false;
  const std::string_view suffix = line.substr(bytes_end);
  std::size_t suffix_pos = 0;
  if (!readFixed<kMacKey>(suffix, suffix_pos) || suffix[kMacSuffixSize - 2] != '"' ||
      suffix[kMacSuffixSize - 1] != '}') {
    return false;
  }
  out.mac_hex = suffix.substr(kMacKey.size(), 64);
  if (!isLowerHex64(out.mac_hex)) return false;
  out.signed_bytes = line.substr(0, bytes_end);
  return true;
}

crypto::Digest256 recordMac(crypto::HmacSha256& mac, const crypto::Digest256& prev,
                            std::uint64_t seq, std::string_view bytes) {
  std::array<std::uint8_t, 8> seq_bytes;
  for (int i = 7; i >= 0; --i) {
    seq_bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(seq & 0xff);
    seq >>= 8;
  }
  mac.update(prev);
  mac.update(seq_bytes);
  mac.update(bytes);
  return mac.finish();
}

bool parseDigestHex(std::string_view hex, crypto::Digest256& out) {
  if (hex.size() != 64) return false;
#if defined(__SSE2__)
  int all = 0xffff;
  for (std::size_t i = 0; i < 64; i += 32) {
    __m128i words[2];
    for (std::size_t half = 0; half < 2; ++half) {
      const __m128i v =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(hex.data() + i + 16 * half));
      const __m128i digit = inRange(v, '0', '9');
      const __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
      const __m128i letter = inRange(lower, 'a', 'f');
      all &= _mm_movemask_epi8(_mm_or_si128(digit, letter));
      // Nibble values: digits - '0', letters - 'a' + 10.
      const __m128i nibble =
          _mm_or_si128(_mm_and_si128(digit, _mm_sub_epi8(v, _mm_set1_epi8('0'))),
                       _mm_andnot_si128(digit, _mm_sub_epi8(lower, _mm_set1_epi8('a' - 10))));
      // Each 16-bit lane holds (first digit, second digit): byte = first << 4 | second.
      const __m128i high = _mm_and_si128(_mm_slli_epi16(nibble, 4), _mm_set1_epi16(0x00f0));
      const __m128i low = _mm_and_si128(_mm_srli_epi16(nibble, 8), _mm_set1_epi16(0x000f));
      words[half] = _mm_or_si128(high, low);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out.data() + i / 2),
                     _mm_packus_epi16(words[0], words[1]));
  }
  return all == 0xffff;
#else
  std::uint8_t nibbles[64];
  unsigned bad = 0;
  for (std::size_t i = 0; i < 64; ++i) {
    const unsigned c = static_cast<unsigned char>(hex[i]);
    const unsigned digit = c - '0';
    const unsigned letter = (c | 0x20) - 'a';
    const bool is_digit = digit < 10u;
    bad |= static_cast<unsigned>(!(is_digit | (letter < 6u)));
    nibbles[i] = static_cast<std::uint8_t>(is_digit ? digit : letter + 10);
  }
  for (std::size_t i = 0; i < 32; ++i) {
    out[i] = static_cast<std::uint8_t>(nibbles[2 * i] << 4 | (nibbles[2 * i + 1] & 0x0f));
  }
  return bad == 0;
#endif
}

void appendDigestHex(std::string& out, const crypto::Digest256& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::size_t start = out.size();
  out.resize(start + 64);
  char* p = out.data() + start;
  for (std::uint8_t byte : digest) {
    *p++ = kHex[byte >> 4];
    *p++ = kHex[byte & 0xf];
  }
}

bool parseRecord(std::string_view line, Record& out, std::string* error) {
  Parser p(line, error);
  std::string severity, outcome, time;
  Event& event = out.event;
  event.details.clear();
  if (!p.literal(kSeqKey) || !p.number(out.seq, "seq") || !p.literal(kNodeKey) ||
      !p.id(out.node, "node") || !p.literal(kKidKey) || !p.id(out.kid, "kid") ||
      !p.literal(kEpochKey) || !p.number(out.epoch, "epoch") || !p.literal(kPrevKey) ||
      !p.hex64(out.prev, "prev") || !p.literal(kTypeKey) || !p.typeName(out.type_name) ||
      !p.literal("\",\"id\":") || !p.string(event.id, "id") || !p.literal(",\"time\":") ||
      !p.string(time, "time") || !p.literal(",\"severity\":") || !p.string(severity, "severity") ||
      !p.literal(",\"outcome\":") || !p.string(outcome, "outcome") || !p.literal(",\"actor\":") ||
      !p.string(event.actor, "actor") || !p.literal(",\"client\":") ||
      !p.string(event.client_address, "client") || !p.literal(",\"request_id\":") ||
      !p.string(event.request_id, "request_id") || !p.literal(",\"target\":") ||
      !p.string(event.target, "target") || !p.literal(",\"details\":{")) {
    return false;
  }
  if (out.seq == 0) return p.fail("seq 0");
  if (!parseTimestamp(time, event.time)) return p.fail("bad time");
  const auto parsed_severity = parseSeverity(severity);
  const auto parsed_outcome = parseOutcome(outcome);
  if (!parsed_severity) return p.fail("unknown severity");
  if (!parsed_outcome) return p.fail("unknown outcome");
  event.severity = *parsed_severity;
  event.outcome = *parsed_outcome;
  const auto type = parseEventType(out.type_name);
  out.known_type = type.has_value();
  event.type = type.value_or(EventType::kRequest);
  if (!p.peek('}')) {
    for (;;) {
      std::string key, value;
      if (!p.string(key, "details") || !p.literal(":") || !p.string(value, "details")) {
        return false;
      }
      event.details.emplace_back(std::move(key), std::move(value));
      if (!p.peek(',')) break;
      p.skip();
    }
  }
  if (!p.literal("}") || !p.literal(kMacKey) || !p.hex64(out.mac, "mac") || !p.literal("\"}")) {
    return false;
  }
  if (!p.atEnd()) return p.fail("trailing bytes");
  return true;
}

namespace {

// The general path: any field may need escaping or cutting.
void appendSignedBytesSlow(std::string& out, const RecordPrefix& prefix, const Event& event,
                           std::string_view id, std::size_t max_field_bytes) {
  out += kSeqKey;
  appendNumber(out, prefix.seq);
  out += kNodeKey;
  out += prefix.node;
  out += kKidKey;
  out += prefix.kid;
  out += kEpochKey;
  appendNumber(out, prefix.epoch);
  out += kPrevKey;
  appendDigestHex(out, *prefix.prev);
  out += kTypeKey;
  out += eventTypeName(event.type);
  out += "\",\"id\":";
  appendField(out, id, max_field_bytes);
  out += ",\"time\":\"";
  appendTimestamp(out, event.time);
  out += "\",\"severity\":\"";
  out += severityName(event.severity);
  out += "\",\"outcome\":\"";
  out += outcomeName(event.outcome);
  out += "\",\"actor\":";
  appendField(out, event.actor, max_field_bytes);
  out += ",\"client\":";
  appendField(out, event.client_address, max_field_bytes);
  out += ",\"request_id\":";
  appendField(out, event.request_id, max_field_bytes);
  out += ",\"target\":";
  appendField(out, event.target, max_field_bytes);
  out += ",\"details\":{";
  bool first = true;
  for (const auto& [key, value] : event.details) {
    if (!first) out += ',';
    first = false;
    appendField(out, key, max_field_bytes);
    out += ':';
    appendField(out, value, max_field_bytes);
  }
  out += '}';
}

// True when `value` is written as it is inside quotes (no escape) and needs no cut.
bool fitsPlain(std::string_view value, std::size_t max) {
  return (max == 0 || value.size() <= max) && isPlain(value);
}

char* put(char* p, std::string_view text) {
  std::memcpy(p, text.data(), text.size());
  return p + text.size();
}

char* putQuoted(char* p, std::string_view text) {
  *p++ = '"';
  p = put(p, text);
  *p++ = '"';
  return p;
}

char* putNumber(char* p, std::uint64_t value) { return std::to_chars(p, p + 20, value).ptr; }

char* putDigestHex(char* p, const crypto::Digest256& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::uint8_t byte : digest) {
    *p++ = kHex[byte >> 4];
    *p++ = kHex[byte & 0xf];
  }
  return p;
}

}  // namespace

// One pass when every string is plain (the usual case: ids, addresses, routes, numbers): the
// record is written into room reserved once, without a capacity check per piece. Anything to
// escape or cut takes the general path. Both give the same bytes (record_test checks).
void appendSignedBytes(std::string& out, const RecordPrefix& prefix, const Event& event,
                       std::string_view id, std::size_t max_field_bytes) {
  std::size_t strings = prefix.node.size() + prefix.kid.size() + id.size() + event.actor.size() +
                        event.client_address.size() + event.request_id.size() +
                        event.target.size();
  bool plain = fitsPlain(id, max_field_bytes) && fitsPlain(event.actor, max_field_bytes) &&
               fitsPlain(event.client_address, max_field_bytes) &&
               fitsPlain(event.request_id, max_field_bytes) &&
               fitsPlain(event.target, max_field_bytes);
  for (const auto& [key, value] : event.details) {
    if (!plain) break;
    plain = fitsPlain(key, max_field_bytes) && fitsPlain(value, max_field_bytes);
    strings += key.size() + value.size() + 6;  // "k":"v",
  }
  if (!plain) {
    appendSignedBytesSlow(out, prefix, event, id, max_field_bytes);
    return;
  }
  // Literals, two numbers, the prev hex, names and the timestamp take well under 512 bytes.
  constexpr std::size_t kFixedRoom = 512;
  const std::size_t start = out.size();
  out.resize(start + strings + kFixedRoom);
  char* p = out.data() + start;
  p = put(p, kSeqKey);
  p = putNumber(p, prefix.seq);
  p = put(p, kNodeKey);
  p = put(p, prefix.node);
  p = put(p, kKidKey);
  p = put(p, prefix.kid);
  p = put(p, kEpochKey);
  p = putNumber(p, prefix.epoch);
  p = put(p, kPrevKey);
  p = putDigestHex(p, *prefix.prev);
  p = put(p, kTypeKey);
  p = put(p, eventTypeName(event.type));
  p = put(p, "\",\"id\":");
  p = putQuoted(p, id);
  p = put(p, ",\"time\":\"");
  p = putTimestamp(p, event.time);
  p = put(p, "\",\"severity\":\"");
  p = put(p, severityName(event.severity));
  p = put(p, "\",\"outcome\":\"");
  p = put(p, outcomeName(event.outcome));
  p = put(p, "\",\"actor\":");
  p = putQuoted(p, event.actor);
  p = put(p, ",\"client\":");
  p = putQuoted(p, event.client_address);
  p = put(p, ",\"request_id\":");
  p = putQuoted(p, event.request_id);
  p = put(p, ",\"target\":");
  p = putQuoted(p, event.target);
  p = put(p, ",\"details\":{");
  bool first = true;
  for (const auto& [key, value] : event.details) {
    if (!first) *p++ = ',';
    first = false;
    p = putQuoted(p, key);
    *p++ = ':';
    p = putQuoted(p, value);
  }
  *p++ = '}';
  out.resize(static_cast<std::size_t>(p - out.data()));
}

void appendMacSuffix(std::string& out, const crypto::Digest256& mac) {
  static_assert(kMacKey.size() + 64 + 2 == kMacSuffixSize);
  const std::size_t start = out.size();
  out.resize(start + kMacSuffixSize);
  char* p = put(out.data() + start, kMacKey);
  p = putDigestHex(p, mac);
  put(p, "\"}");
}

std::string serializeRecord(const Record& record) {
  // Written field by field (not through appendSignedBytes) so an unknown type name, a producer
  // id and the stored hex survive unchanged.
  std::string out;
  out += kSeqKey;
  appendNumber(out, record.seq);
  out += kNodeKey;
  out += record.node;
  out += kKidKey;
  out += record.kid;
  out += kEpochKey;
  appendNumber(out, record.epoch);
  out += kPrevKey;
  out += record.prev;
  out += kTypeKey;
  out += record.type_name;
  out += "\",\"id\":";
  core::appendJsonString(out, record.event.id);
  out += ",\"time\":\"";
  appendTimestamp(out, record.event.time);
  out += "\",\"severity\":\"";
  out += severityName(record.event.severity);
  out += "\",\"outcome\":\"";
  out += outcomeName(record.event.outcome);
  out += "\",\"actor\":";
  core::appendJsonString(out, record.event.actor);
  out += ",\"client\":";
  core::appendJsonString(out, record.event.client_address);
  out += ",\"request_id\":";
  core::appendJsonString(out, record.event.request_id);
  out += ",\"target\":";
  core::appendJsonString(out, record.event.target);
  out += ",\"details\":{";
  bool first = true;
  for (const auto& [key, value] : record.event.details) {
    if (!first) out += ',';
    first = false;
    core::appendJsonString(out, key);
    out += ':';
    core::appendJsonString(out, value);
  }
  out += '}';
  out += kMacKey;
  out += record.mac;
  out += "\"}";
  return out;
}

void appendTimestamp(std::string& out, core::SystemTime time) {
  char text[27];
  out.append(text, putTimestamp(text, time));
}

bool parseTimestamp(std::string_view text, core::SystemTime& out) {
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 20 || !readDigits(text, 0, 4, year) || text[4] != '-' ||
      !readDigits(text, 5, 2, month) || text[7] != '-' || !readDigits(text, 8, 2, day) ||
      text[10] != 'T' || !readDigits(text, 11, 2, hour) || text[13] != ':' ||
      !readDigits(text, 14, 2, minute) || text[16] != ':' || !readDigits(text, 17, 2, second)) {
    return false;
  }
  static constexpr unsigned kDaysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > kDaysIn[month - 1] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 59) {
    return false;
  }
  std::size_t pos = 19;
  std::int64_t micros = 0;
  if (text[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return false;
    for (std::size_t i = digits; i < 6; ++i) micros *= 10;
  }
  if (pos + 1 != text.size() || text[pos] != 'Z') return false;
  const std::int64_t days = daysFromCivil(static_cast<int>(year), month, day);
  const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second;
  // system_clock counts nanoseconds in 64 bits: it ends in April 2262.
  const std::int64_t limit = std::chrono::duration_cast<std::chrono::microseconds>(
                                 core::SystemTime::max().time_since_epoch())
                                 .count();
  if (seconds > limit / 1'000'000 - 1) return false;
  out = core::SystemTime(std::chrono::duration_cast<core::SystemTime::duration>(
      std::chrono::microseconds(seconds * 1'000'000 + micros)));
  return true;
}

}  // namespace bulwark::audit

#include "http/message_head.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace bulwark::http {
namespace {

// Decisions this file makes where the brief or the RFCs leave room (kept strict on purpose):
// - A version shaped like HTTP/<digit>.<digit> other than 1.0/1.1 is kBadVersion (505); any other
//   version text ("HTTX/1.1", "http/1.1", "HTTP/1.10") is kBadRequestLine.
// - A CR not followed by LF is kBadRequestLine in the request line, kBadStatusLine in the status
//   line and kBadHeaderValue anywhere in a field line (name position included).
// - A field line without ':' is kBadHeaderName; whitespace before the first field line is
//   treated as obs-fold (kObsoleteLineFolding).
// - Content-Length must fit in a signed 64-bit integer; larger is kBadContentLength.
// - Transfer-Encoding elements: an empty element, a non-token element (parameters included) or
//   anything after "chunked" is kBadTransferEncoding; a token other than chunked is
//   kUnsupportedTransferEncoding. The same rules apply to responses (a non-chunked coding is
//   refused rather than read until close).
// - absolute-form: schemes http and https (case-insensitive); the authority must be a valid host
//   and must equal Host byte-for-byte ignoring case (no port normalisation). A target like
//   "http://h?q" (query without path) is kBadRequestLine because it cannot be reduced to a view.
// - Host port, when present, is 1 to 5 digits and at most 65535.
// - The status line is bounded by max_request_line too (kBadStatusLine past it); the status code
//   must be 100-599.

enum : std::uint8_t {
  kTcharBit = 1 << 0,    // RFC 9110 §5.6.2 tchar
  kValueBit = 1 << 1,    // field-value byte: HTAB, SP, VCHAR, obs-text
  kTargetBit = 1 << 2,   // request-target byte: visible ASCII
  kHexBit = 1 << 3,      // HEXDIG
  kRegNameBit = 1 << 4,  // RFC 3986 unreserved / sub-delims ('%' is handled separately)
  kQdtextBit = 1 << 5,   // RFC 9110 §5.6.4 qdtext
};

constexpr std::array<std::uint8_t, 256> kCharClass = [] {
  std::array<std::uint8_t, 256> table{};
  auto add = [&table](std::string_view chars, std::uint8_t bit) {
    for (char c : chars) {
      table[static_cast<unsigned char>(c)] |= bit;
    }
  };
  for (std::size_t c = 0; c < table.size(); ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    if (alpha || digit) {
      table[c] |= kTcharBit | kRegNameBit;
    }
    if (c == '\t' || (c >= 0x20 && c != 0x7F)) {
      table[c] |= kValueBit;
    }
    if (c >= 0x21 && c <= 0x7E) {
      table[c] |= kTargetBit;
    }
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      table[c] |= kHexBit;
    }
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
        (c >= 0x5D && c <= 0x7E) || c >= 0x80) {
      table[c] |= kQdtextBit;
    }
  }
  add("!#$%&'*+-.^_`|~", kTcharBit);
  add("-._~!$&'()*+,;=", kRegNameBit);
  return table;
}();

constexpr std::array<unsigned char, 256> kLower = [] {
  std::array<unsigned char, 256> table{};
  for (std::size_t c = 0; c < table.size(); ++c) {
    table[c] = static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  }
  return table;
}();

inline bool hasClass(char c, std::uint8_t bit) {
  return (kCharClass[static_cast<unsigned char>(c)] & bit) != 0;
}
inline bool isDigit(char c) { return c >= '0' && c <= '9'; }
inline bool isOws(char c) { return c == ' ' || c == '\t'; }

unsigned hexValue(char c) {
  if (c <= '9') {
    return static_cast<unsigned>(c - '0');
  }
  return static_cast<unsigned>((c | 0x20) - 'a' + 10);
}

// SWAR gates (8 bytes per step) in front of the table loops: they only decide whether a word can
// be skipped wholesale; the table loop always makes the exact decision. hasLess has no false
// negatives for n <= 128, which is all the skipping relies on.
constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
inline std::uint64_t hasLess(std::uint64_t x, std::uint8_t n) {
  return (x - kOnes * n) & ~x & kHighs;
}
inline std::uint64_t hasByte(std::uint64_t x, std::uint8_t b) {
  return hasLess(x ^ (kOnes * b), 1);
}
inline std::uint64_t load64(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Returns the first byte in [p, end) that is not a field-value byte (or end).
const char* scanValue(const char* p, const char* end) {
  for (;;) {
    while (end - p >= 8) {
      const std::uint64_t w = load64(p);
      if ((hasLess(w, 0x20) | hasByte(w, 0x7F)) != 0) {
        break;  // a control byte, or just an HTAB: look byte by byte
      }
      p += 8;
    }
    const char* stop = end - p >= 8 ? p + 8 : end;
    while (p < stop && hasClass(*p, kValueBit)) {
      ++p;
    }
    if (p < stop || p == end) {
      return p;
    }
  }
}

// Returns the first byte in [p, end) that is not a request-target byte (or end).
const char* scanTarget(const char* p, const char* end) {
  while (end - p >= 8) {
    const std::uint64_t w = load64(p);
    if ((hasLess(w, 0x21) | (w & kHighs) | hasByte(w, 0x7F)) != 0) {
      break;
    }
    p += 8;
  }
  while (p < end && hasClass(*p, kTargetBit)) {
    ++p;
  }
  return p;
}

const char* scanTchar(const char* p, const char* end) {
  while (p < end && hasClass(*p, kTcharBit)) {
    ++p;
  }
  return p;
}

std::string_view trimOws(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && isOws(s[b])) {
    ++b;
  }
  while (e > b && isOws(s[e - 1])) {
    --e;
  }
  return s.substr(b, e - b);
}

bool allTchar(std::string_view s) {
  return scanTchar(s.data(), s.data() + s.size()) == s.data() + s.size();
}

// Calls fn(element) for each OWS-trimmed element of a comma-separated list (empty ones too).
template <typename Fn>
void forEachListElement(std::string_view list, Fn&& fn) {
  for (;;) {
    const std::size_t comma = list.find(',');
    fn(trimOws(list.substr(0, comma)));
    if (comma == std::string_view::npos) {
      return;
    }
    list.remove_prefix(comma + 1);
  }
}

constexpr std::size_t saturatingAdd(std::size_t a, std::size_t b) {
  return a > std::numeric_limits<std::size_t>::max() - b ? std::numeric_limits<std::size_t>::max()
                                                         : a + b;
}

ParseResult fail(ParseError error) { return {ParseStatus::kError, error}; }

// What the framing and routing decisions need from the field lines, gathered in the same pass.
struct FieldFacts {
  std::size_t host_count = 0;
  std::string_view host;
  std::size_t content_length_count = 0;
  std::string_view content_length;
  bool te_seen = false;
  bool te_bad = false;      // empty / malformed element, or anything after "chunked"
  bool te_chunked = false;  // "chunked" seen (so far last)
  bool te_other = false;    // some other coding
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool expect_continue = false;
};

void noteTransferEncoding(std::string_view value, FieldFacts& facts) {
  facts.te_seen = true;
  // Multiple TE fields form one list (RFC 9110 §5.3), so the state carries across fields.
  forEachListElement(value, [&facts](std::string_view element) {
    if (element.empty() || !allTchar(element) || facts.te_chunked) {
      facts.te_bad = true;
    } else if (equalsIgnoreCase(element, "chunked")) {
      facts.te_chunked = true;
    } else {
      facts.te_other = true;
    }
  });
}

void noteField(std::string_view name, std::string_view value, FieldFacts& facts) {
  switch (name.size()) {
    case 4:
      if (equalsIgnoreCase(name, "host")) {
        ++facts.host_count;
        facts.host = value;
      }
      break;
    case 6:
      if (equalsIgnoreCase(name, "expect") && equalsIgnoreCase(value, "100-continue")) {
        facts.expect_continue = true;
      }
      break;
    case 10:
      if (equalsIgnoreCase(name, "connection")) {
        forEachListElement(value, [&facts](std::string_view element) {
          if (equalsIgnoreCase(element, "close")) {
            facts.connection_close = true;
          } else if (equalsIgnoreCase(element, "keep-alive")) {
            facts.connection_keep_alive = true;
          }
        });
      }
      break;
    case 14:
      if (equalsIgnoreCase(name, "content-length")) {
        ++facts.content_length_count;
        facts.content_length = value;
      }
      break;
    case 17:
      if (equalsIgnoreCase(name, "transfer-encoding")) {
        noteTransferEncoding(value, facts);
      }
      break;
    default:
      break;
  }
}

// Parses field lines starting at `pos` up to and including the empty line. `view` is the buffer
// cut at max_header_bytes; `truncated` says the buffer went on beyond it, so running out of bytes
// means the head is too large rather than incomplete.
ParseResult parseFields(std::string_view view, bool truncated, std::size_t pos,
                        const HeadLimits& limits, std::vector<HeaderField>& fields,
                        FieldFacts& facts, std::size_t& head_end) {
  const ParseResult more =
      truncated ? fail(ParseError::kHeadTooLarge) : ParseResult{ParseStatus::kIncomplete};
  const char* const base = view.data();
  const char* const end = base + view.size();
  const char* p = base + pos;
  for (;;) {
    if (p == end) {
      return more;
    }
    const char first = *p;
    if (first == '\r') {
      if (p + 1 == end) {
        return more;
      }
      if (p[1] != '\n') {
        return fail(ParseError::kBadHeaderValue);
      }
      head_end = static_cast<std::size_t>(p + 2 - base);
      return {ParseStatus::kComplete};
    }
    if (first == '\n') {
      return fail(ParseError::kBareLineFeed);
    }
    if (isOws(first)) {
      return fail(ParseError::kObsoleteLineFolding);
    }

    const char* const name_begin = p;
    p = scanTchar(p, end);
    if (p == end) {
      return more;
    }
    if (*p != ':' || p == name_begin) {
      if (*p == '\n') {
        return fail(ParseError::kBareLineFeed);
      }
      if (*p == '\r') {
        if (p + 1 == end) {
          return more;
        }
        // "Name\r\n" lacks its colon; a CR that does not start a CRLF is a bare CR.
        return fail(p[1] == '\n' ? ParseError::kBadHeaderName : ParseError::kBadHeaderValue);
      }
      return fail(ParseError::kBadHeaderName);
    }
    const std::string_view name(name_begin, static_cast<std::size_t>(p - name_begin));

    const char* const value_begin = ++p;
    p = scanValue(p, end);
    if (p == end) {
      return more;
    }
    if (*p == '\r') {
      if (p + 1 == end) {
        return more;
      }
      if (p[1] != '\n') {
        return fail(ParseError::kBadHeaderValue);
      }
    } else if (*p == '\n') {
      return fail(ParseError::kBareLineFeed);
    } else {
      return fail(ParseError::kBadHeaderValue);
    }
    const std::string_view value =
        trimOws(std::string_view(value_begin, static_cast<std::size_t>(p - value_begin)));
    p += 2;

    if (fields.size() >= limits.max_header_count) {
      return fail(ParseError::kTooManyHeaders);
    }
    fields.push_back(HeaderField{name, value});
    noteField(name, value, facts);
  }
}

// Checks the Content-Length / Transfer-Encoding combination shared by requests and responses and
// parses Content-Length. Does not decide framing.
ParseError checkLengthFields(const FieldFacts& facts, unsigned version_minor,
                             std::uint64_t& content_length) {
  if (facts.te_seen && facts.content_length_count > 0) {
    return ParseError::kContentLengthAndTransferEncoding;
  }
  if (facts.content_length_count > 1) {
    return ParseError::kDuplicateContentLength;
  }
  if (facts.te_seen) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
    if (version_minor == 0 || facts.te_bad) {
      return ParseError::kBadTransferEncoding;
    }
    if (facts.te_other) {
      return ParseError::kUnsupportedTransferEncoding;
    }
    return ParseError::kNone;
  }
  if (facts.content_length_count == 1) {
    const std::string_view value = facts.content_length;
    if (value.find(',') != std::string_view::npos) {
      return ParseError::kDuplicateContentLength;
    }
    if (value.empty()) {
      return ParseError::kBadContentLength;
    }
    constexpr std::uint64_t kMax = std::numeric_limits<std::int64_t>::max();
    std::uint64_t n = 0;
    for (char c : value) {
      if (!isDigit(c)) {
        return ParseError::kBadContentLength;
      }
      const auto digit = static_cast<std::uint64_t>(c - '0');
      if (n > (kMax - digit) / 10) {
        return ParseError::kBadContentLength;
      }
      n = n * 10 + digit;
    }
    content_length = n;
  }
  return ParseError::kNone;
}

// Host = uri-host [ ":" port ]; uri-host is an IP-literal ("[" IPv6 "]"), an IPv4 address or a
// reg-name (RFC 3986 §3.2.2; a dotted quad is also a valid reg-name, so it needs no own branch).
bool isValidHost(std::string_view host) {
  if (host.empty()) {
    return false;
  }
  std::size_t i = 0;
  if (host[0] == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos || close < 3 || close - 1 >= INET6_ADDRSTRLEN) {
      return false;
    }
    char text[INET6_ADDRSTRLEN];
    std::memcpy(text, host.data() + 1, close - 1);
    text[close - 1] = '\0';
    in6_addr address;
    if (inet_pton(AF_INET6, text, &address) != 1) {
      return false;
    }
    i = close + 1;
  } else {
    while (i < host.size() && host[i] != ':') {
      if (hasClass(host[i], kRegNameBit)) {
        ++i;
      } else if (host[i] == '%' && i + 2 < host.size() && hasClass(host[i + 1], kHexBit) &&
                 hasClass(host[i + 2], kHexBit)) {
        i += 3;
      } else {
        return false;
      }
    }
    if (i == 0) {
      return false;
    }
  }
  if (i == host.size()) {
    return true;
  }
  if (host[i] != ':') {
    return false;
  }
  const std::string_view port = host.substr(i + 1);
  if (port.empty() || port.size() > 5) {
    return false;
  }
  unsigned value = 0;
  for (char c : port) {
    if (!isDigit(c)) {
      return false;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

constexpr std::string_view kRootPath = "/";

// Splits an absolute-form target into authority and origin-form path?query.
bool splitAbsoluteTarget(std::string_view target, std::string_view& authority,
                         std::string_view& path) {
  std::size_t scheme_length;
  if (startsWithIgnoreCase(target, "http://")) {
    scheme_length = 7;
  } else if (startsWithIgnoreCase(target, "https://")) {
    scheme_length = 8;
  } else {
    return false;
  }
  const std::string_view rest = target.substr(scheme_length);
  const std::size_t authority_end = rest.find_first_of("/?#");
  authority = rest.substr(0, authority_end);
  if (!isValidHost(authority)) {
    return false;
  }
  if (authority_end == std::string_view::npos) {
    path = kRootPath;
    return true;
  }
  if (rest[authority_end] != '/') {
    return false;
  }
  path = rest.substr(authority_end);
  return true;
}

// Parses "HTTP/d.d"; kNone with `minor` set, or the error for the request line.
ParseError parseRequestVersion(std::string_view version, unsigned& minor) {
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !isDigit(version[5]) ||
      version[6] != '.' || !isDigit(version[7])) {
    return ParseError::kBadRequestLine;
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    return ParseError::kBadVersion;
  }
  minor = static_cast<unsigned>(version[7] - '0');
  return ParseError::kNone;
}

bool keepAlive(unsigned version_minor, const FieldFacts& facts) {
  if (facts.connection_close) {
    return false;
  }
  return version_minor >= 1 || facts.connection_keep_alive;
}

void resetHead(RequestHead& out) {
  out.method = {};
  out.target = {};
  out.host = {};
  out.version_minor = 1;
  out.keep_alive = true;
  out.expect_continue = false;
  out.framing = BodyFraming::kNone;
  out.content_length = 0;
  out.fields.clear();  // keeps the capacity for the next request on this connection
  out.head_bytes = 0;
}

void resetHead(ResponseHead& out) {
  out.status = 0;
  out.reason = {};
  out.version_minor = 1;
  out.keep_alive = true;
  out.framing = BodyFraming::kNone;
  out.content_length = 0;
  out.fields.clear();
  out.head_bytes = 0;
}

}  // namespace

ParseResult parseRequestHead(std::string_view buffer, const HeadLimits& limits, RequestHead& out) {
  resetHead(out);
  // Nothing past max_header_bytes is ever looked at; running out of `view` while the buffer goes
  // on means the head is too large.
  const bool truncated = buffer.size() > limits.max_header_bytes;
  const std::string_view view = truncated ? buffer.substr(0, limits.max_header_bytes) : buffer;
  const std::size_t line_limit = saturatingAdd(limits.max_request_line, 2);  // + CRLF
  const std::size_t window = std::min(view.size(), line_limit);
  const char* const begin = view.data();
  const auto* lf =
      static_cast<const char*>(window == 0 ? nullptr : std::memchr(begin, '\n', window));
  const char* const line_end = lf != nullptr ? lf : begin + window;

  auto incompleteLine = [&]() -> ParseResult {
    if (view.size() >= line_limit) {
      return fail(ParseError::kRequestLineTooLong);
    }
    if (truncated) {
      return fail(ParseError::kHeadTooLarge);
    }
    return {ParseStatus::kIncomplete};
  };

  // Method and target are validated left to right on whatever has arrived, so garbage (a TLS
  // hello on the plain port, a leading CRLF) is refused at once and a complete line reports the
  // same first error as any of its prefixes.
  const char* p = scanTchar(begin, line_end);
  if (p == line_end) {
    return lf != nullptr ? fail(ParseError::kBadRequestLine) : incompleteLine();
  }
  if (*p != ' ' || p == begin) {
    return fail(ParseError::kBadRequestLine);
  }
  out.method = std::string_view(begin, static_cast<std::size_t>(p - begin));
  const char* const target_begin = ++p;
  p = scanTarget(p, line_end);
  if (p == line_end) {
    return lf != nullptr ? fail(ParseError::kBadRequestLine) : incompleteLine();
  }
  if (*p != ' ' || p == target_begin) {
    return fail(ParseError::kBadRequestLine);
  }
  std::string_view target(target_begin, static_cast<std::size_t>(p - target_begin));
  ++p;
  if (lf == nullptr) {
    return incompleteLine();
  }
  if (lf[-1] != '\r') {
    return fail(ParseError::kBareLineFeed);
  }
  // p <= lf - 1 here: p - 1 is the SP, which is not the CR at lf - 1.
  if (const ParseError error = parseRequestVersion(
          std::string_view(p, static_cast<std::size_t>(lf - 1 - p)), out.version_minor);
      error != ParseError::kNone) {
    return fail(error);
  }

  // Target form (RFC 9112 §3.2), decided before reading fields so it fails fast.
  std::string_view authority;  // non-empty for absolute-form
  if (out.method == "CONNECT") {
    return fail(ParseError::kBadRequestLine);  // authority-form: the gateway does not tunnel
  }
  if (target[0] == '/') {
    // origin-form
  } else if (target == "*") {
    if (out.method != "OPTIONS") {
      return fail(ParseError::kBadRequestLine);
    }
  } else if (!splitAbsoluteTarget(target, authority, target)) {
    return fail(ParseError::kBadRequestLine);
  }
  out.target = target;

  FieldFacts facts;
  std::size_t head_end = 0;
  if (const ParseResult result =
          parseFields(view, truncated, static_cast<std::size_t>(lf + 1 - begin), limits, out.fields,
                      facts, head_end);
      result.status != ParseStatus::kComplete) {
    return result;
  }

  // Framing first: these are the smuggling vectors.
  if (const ParseError error = checkLengthFields(facts, out.version_minor, out.content_length);
      error != ParseError::kNone) {
    return fail(error);
  }
  if (facts.te_seen) {
    out.framing = BodyFraming::kChunked;
  } else if (facts.content_length_count == 1) {
    if (out.content_length > limits.max_body_bytes) {
      return fail(ParseError::kBodyTooLarge);
    }
    out.framing = BodyFraming::kContentLength;
  }

  if (facts.host_count > 1) {
    return fail(ParseError::kDuplicateHost);
  }
  if (facts.host_count == 0 && out.version_minor == 1) {
    return fail(ParseError::kMissingHost);  // RFC 9112 §3.2, even with absolute-form
  }
  if (facts.host_count == 1 && !isValidHost(facts.host)) {
    return fail(ParseError::kBadHost);
  }
  if (!authority.empty()) {
    if (facts.host_count == 1 && !equalsIgnoreCase(authority, facts.host)) {
      return fail(ParseError::kForeignAbsoluteTarget);
    }
    out.host = facts.host_count == 1 ? facts.host : authority;
  } else {
    out.host = facts.host;
  }

  out.keep_alive = keepAlive(out.version_minor, facts);
  // RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
  out.expect_continue = facts.expect_continue && out.version_minor == 1;
  out.head_bytes = head_end;
  return {ParseStatus::kComplete};
}

ParseResult parseResponseHead(std::string_view buffer, const HeadLimits& limits,
                              std::string_view request_method, ResponseHead& out) {
  resetHead(out);
  const bool truncated = buffer.size() > limits.max_header_bytes;
  const std::string_view view = truncated ? buffer.substr(0, limits.max_header_bytes) : buffer;
  const std::size_t line_limit = saturatingAdd(limits.max_request_line, 2);
  const std::size_t window = std::min(view.size(), line_limit);
  const char* const begin = view.data();
  const auto* lf =
      static_cast<const char*>(window == 0 ? nullptr : std::memchr(begin, '\n', window));
  const char* const line_end = lf != nullptr ? lf : begin + window;

  // Refuse a non-HTTP upstream answer as soon as its first bytes arrive.
  constexpr std::string_view kPrefix = "HTTP/1.";
  const std::size_t available = static_cast<std::size_t>(line_end - begin);
  if (std::string_view(begin, std::min(available, kPrefix.size())) !=
      kPrefix.substr(0, std::min(available, kPrefix.size()))) {
    return fail(ParseError::kBadStatusLine);
  }
  if (lf == nullptr) {
    if (view.size() >= line_limit) {
      return fail(ParseError::kBadStatusLine);
    }
    return truncated ? fail(ParseError::kHeadTooLarge) : ParseResult{ParseStatus::kIncomplete};
  }
  if (lf == begin || lf[-1] != '\r') {
    return fail(ParseError::kBareLineFeed);
  }
  // status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ]; "HTTP/1.1 200" without the second
  // SP is accepted too.
  const std::string_view line(begin, static_cast<std::size_t>(lf - 1 - begin));
  if (line.size() < 12 || (line[7] != '0' && line[7] != '1') || line[8] != ' ' || line[9] < '1' ||
      line[9] > '5' || !isDigit(line[10]) || !isDigit(line[11])) {
    return fail(ParseError::kBadStatusLine);
  }
  out.version_minor = static_cast<unsigned>(line[7] - '0');
  out.status =
      static_cast<unsigned>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
  if (line.size() > 12) {
    if (line[12] != ' ') {
      return fail(ParseError::kBadStatusLine);
    }
    const char* const reason_end = line.data() + line.size();
    if (scanValue(line.data() + 13, reason_end) != reason_end) {
      return fail(ParseError::kBadStatusLine);
    }
    out.reason = line.substr(13);
  }

  FieldFacts facts;
  std::size_t head_end = 0;
  if (const ParseResult result =
          parseFields(view, truncated, static_cast<std::size_t>(lf + 1 - begin), limits, out.fields,
                      facts, head_end);
      result.status != ParseStatus::kComplete) {
    return result;
  }
  // The same strictness as for requests even where no body follows: the fields are forwarded and
  // the client must not be able to read them differently. No body-size limit for responses.
  if (const ParseError error = checkLengthFields(facts, out.version_minor, out.content_length);
      error != ParseError::kNone) {
    return fail(error);
  }
  const bool no_body =
      request_method == "HEAD" || out.status < 200 || out.status == 204 || out.status == 304;
  if (no_body) {
    out.framing = BodyFraming::kNone;
  } else if (facts.te_seen) {
    out.framing = BodyFraming::kChunked;
  } else if (facts.content_length_count == 1) {
    out.framing = BodyFraming::kContentLength;
  } else {
    out.framing = BodyFraming::kUntilClose;
  }
  out.keep_alive = out.framing != BodyFraming::kUntilClose && keepAlive(out.version_minor, facts);
  out.head_bytes = head_end;
  return {ParseStatus::kComplete};
}

unsigned statusFor(ParseError error) {
  switch (error) {
    case ParseError::kNone:
      return 200;
    case ParseError::kRequestLineTooLong:
      return 414;
    case ParseError::kHeadTooLarge:
    case ParseError::kTooManyHeaders:
      return 431;
    case ParseError::kBadVersion:
      return 505;
    case ParseError::kUnsupportedTransferEncoding:
      return 501;
    case ParseError::kBodyTooLarge:
      return 413;
    case ParseError::kBadStatusLine:
      return 502;
    case ParseError::kBadRequestLine:
    case ParseError::kBadHeaderName:
    case ParseError::kBadHeaderValue:
    case ParseError::kObsoleteLineFolding:
    case ParseError::kBareLineFeed:
    case ParseError::kContentLengthAndTransferEncoding:
    case ParseError::kDuplicateContentLength:
    case ParseError::kBadContentLength:
    case ParseError::kBadTransferEncoding:
    case ParseError::kMissingHost:
    case ParseError::kDuplicateHost:
    case ParseError::kBadHost:
    case ParseError::kForeignAbsoluteTarget:
    case ParseError::kBadChunk:
      return 400;
  }
  return 400;  // a value outside the enum: refuse
}

std::string_view errorCode(ParseError error) {
  switch (error) {
    case ParseError::kNone:
      return "none";
    case ParseError::kRequestLineTooLong:
      return "request_line_too_long";
    case ParseError::kHeadTooLarge:
      return "head_too_large";
    case ParseError::kTooManyHeaders:
      return "too_many_headers";
    case ParseError::kBadRequestLine:
      return "bad_request_line";
    case ParseError::kBadVersion:
      return "bad_version";
    case ParseError::kBadHeaderName:
      return "bad_header_name";
    case ParseError::kBadHeaderValue:
      return "bad_header_value";
    case ParseError::kObsoleteLineFolding:
      return "obsolete_line_folding";
    case ParseError::kBareLineFeed:
      return "bare_line_feed";
    case ParseError::kContentLengthAndTransferEncoding:
      return "content_length_and_transfer_encoding";
    case ParseError::kDuplicateContentLength:
      return "duplicate_content_length";
    case ParseError::kBadContentLength:
      return "bad_content_length";
    case ParseError::kBadTransferEncoding:
      return "bad_transfer_encoding";
    case ParseError::kUnsupportedTransferEncoding:
      return "unsupported_transfer_encoding";
    case ParseError::kMissingHost:
      return "missing_host";
    case ParseError::kDuplicateHost:
      return "duplicate_host";
    case ParseError::kBadHost:
      return "bad_host";
    case ParseError::kForeignAbsoluteTarget:
      return "foreign_absolute_target";
    case ParseError::kBodyTooLarge:
      return "body_too_large";
    case ParseError::kBadChunk:
      return "bad_chunk";
    case ParseError::kBadStatusLine:
      return "bad_status_line";
  }
  return "unknown";
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (kLower[static_cast<unsigned char>(a[i])] != kLower[static_cast<unsigned char>(b[i])]) {
      return false;
    }
  }
  return true;
}

bool isHopByHop(std::string_view name) {
  switch (name.size()) {
    case 2:
      return equalsIgnoreCase(name, "te");
    case 7:
      return equalsIgnoreCase(name, "upgrade") || equalsIgnoreCase(name, "trailer");
    case 10:
      return equalsIgnoreCase(name, "connection") || equalsIgnoreCase(name, "keep-alive");
    case 16:
      return equalsIgnoreCase(name, "proxy-connection");
    case 17:
      return equalsIgnoreCase(name, "transfer-encoding");
    case 18:
      return equalsIgnoreCase(name, "proxy-authenticate");
    case 19:
      return equalsIgnoreCase(name, "proxy-authorization");
    default:
      return false;
  }
}

bool connectionListHas(std::string_view connection_value, std::string_view name) {
  bool found = false;
  forEachListElement(connection_value, [&](std::string_view element) {
    found = found || equalsIgnoreCase(element, name);
  });
  return found;
}

// ---------------------------------------------------------------------------------------------
// ChunkedDecoder
//
// Size and trailer lines are parsed whole: when one is split across calls its bytes are carried
// in line_ (bounded by the line / trailer limits), otherwise it is parsed in place. Data spans
// are returned as views into the input without copying.

namespace {

// Parses chunk-size [ chunk-ext ] (RFC 9112 §7.1.1) without the CRLF:
//   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-val = token / quoted-string
// BWS is accepted exactly where the grammar has it, nowhere else (not after the size alone).
bool parseChunkSizeLine(std::string_view line, std::uint64_t& size) {
  std::size_t i = 0;
  const std::size_t n = line.size();
  size = 0;
  while (i < n && hasClass(line[i], kHexBit)) {
    if (i == 16) {
      return false;  // more than 16 hex digits could overflow; leading zeros count too
    }
    size = (size << 4) | hexValue(line[i]);
    ++i;
  }
  if (i == 0) {
    return false;
  }
  auto skipBws = [&]() {
    while (i < n && isOws(line[i])) {
      ++i;
    }
  };
  auto token = [&]() {
    const std::size_t start = i;
    while (i < n && hasClass(line[i], kTcharBit)) {
      ++i;
    }
    return i > start;
  };
  while (i < n) {
    skipBws();
    if (i == n || line[i] != ';') {
      return false;
    }
    ++i;
    skipBws();
    if (!token()) {
      return false;
    }
    const std::size_t after_name = i;
    skipBws();
    if (i == n || line[i] != '=') {
      i = after_name;  // no value; the BWS just skipped must precede another ';'
      continue;
    }
    ++i;
    skipBws();
    if (i < n && line[i] == '"') {
      ++i;
      for (;;) {
        if (i == n) {
          return false;
        }
        const char c = line[i];
        if (c == '"') {
          ++i;
          break;
        }
        if (c == '\\') {
          if (i + 1 == n || !hasClass(line[i + 1], kValueBit)) {
            return false;
          }
          i += 2;
        } else if (hasClass(c, kQdtextBit)) {
          ++i;
        } else {
          return false;
        }
      }
    } else if (!token()) {
      return false;
    }
  }
  return true;
}

// Validates a trailer field line (without CRLF) like a header field line.
bool isValidTrailerLine(std::string_view line) {
  const char* const begin = line.data();
  const char* const end = begin + line.size();
  const char* p = scanTchar(begin, end);
  if (p == begin || p == end || *p != ':') {
    return false;
  }
  return scanValue(p + 1, end) == end;
}

}  // namespace

ChunkedDecoder::Step ChunkedDecoder::decode(std::string_view input) {
  Step step;
  std::size_t pos = 0;
  auto failWith = [&](ParseError error) {
    error_ = error;
    step.error = error;
    step.consumed = pos;
    return step;
  };
  if (error_ != ParseError::kNone) {
    step.error = error_;  // errors are sticky: the stream position is lost
    return step;
  }
  for (;;) {
    switch (state_) {
      case State::kDone:
        step.done = true;
        step.consumed = pos;
        return step;

      case State::kData: {
        if (pos == input.size()) {
          step.consumed = pos;
          return step;
        }
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size() - pos));
        step.data = input.substr(pos, n);
        pos += n;
        remaining_ -= n;
        total_ += n;
        if (remaining_ == 0) {
          state_ = State::kDataCrlf;
          line_bytes_ = 0;
        }
        step.consumed = pos;
        return step;
      }

      case State::kDataCrlf:
        // line_bytes_ counts how much of the CRLF after the data has been seen.
        while (line_bytes_ < 2) {
          if (pos == input.size()) {
            step.consumed = pos;
            return step;
          }
          if (input[pos] != (line_bytes_ == 0 ? '\r' : '\n')) {
            return failWith(ParseError::kBadChunk);
          }
          ++pos;
          ++line_bytes_;
        }
        line_bytes_ = 0;
        state_ = State::kSize;
        break;

      case State::kSize:
      case State::kTrailer: {
        if (pos == input.size()) {
          step.consumed = pos;
          return step;
        }
        // The limit covers the whole line including its CRLF.
        const std::size_t limit =
            state_ == State::kSize ? max_line_bytes_ : max_trailer_bytes_ - trailer_bytes_;
        const std::size_t room = limit > line_bytes_ ? limit - line_bytes_ : 0;
        const std::string_view available = input.substr(pos);
        const std::size_t window = std::min(available.size(), room);
        const auto* lf = static_cast<const char*>(
            window == 0 ? nullptr : std::memchr(available.data(), '\n', window));
        if (lf == nullptr) {
          if (available.size() >= room) {
            return failWith(ParseError::kBadChunk);  // the line cannot end within its limit
          }
          line_.insert(line_.end(), available.begin(), available.end());
          line_bytes_ += available.size();
          pos = input.size();
          step.consumed = pos;
          return step;
        }
        const std::size_t taken = static_cast<std::size_t>(lf - available.data()) + 1;
        std::string_view line = available.substr(0, taken);
        if (line_bytes_ != 0) {
          line_.insert(line_.end(), line.begin(), line.end());
          line = std::string_view(line_.data(), line_.size());
        }
        pos += taken;
        line_bytes_ = 0;
        if (line.size() < 2 || line[line.size() - 2] != '\r') {
          return failWith(ParseError::kBadChunk);  // bare LF
        }
        line.remove_suffix(2);
        if (state_ == State::kSize) {
          std::uint64_t size = 0;
          if (!parseChunkSizeLine(line, size)) {
            return failWith(ParseError::kBadChunk);
          }
          line_.clear();
          // total_ counts delivered bytes and all earlier chunks are complete here.
          if (size > max_body_bytes_ - total_) {
            return failWith(ParseError::kBodyTooLarge);
          }
          if (size == 0) {
            state_ = State::kTrailer;
            trailer_bytes_ = 0;
          } else {
            remaining_ = size;
            state_ = State::kData;
          }
        } else {
          trailer_bytes_ += line.size() + 2;
          const bool last = line.empty();
          if (!last && !isValidTrailerLine(line)) {  // obs-fold fails the name check
            return failWith(ParseError::kBadChunk);
          }
          line_.clear();
          if (last) {
            state_ = State::kDone;
          }
        }
        break;
      }
    }
  }
}

}  // namespace bulwark::http

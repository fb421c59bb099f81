#pragma once
// The subset reader behind core::readStrictJsonObject() (private to src/core and its direct
// users through strict_json.h). It reads the common shape of JWT headers and claim sets without
// the general parser: one object whose member names are printable ASCII without escapes, each
// value a string of the same kind, a non-negative integer of at most 18 digits (always an
// int64), true, false, null, or a flat array of those. Every such document is valid JSON (the
// subset's grammar is RFC 8259's, minus escapes, non-ASCII text, signs, fractions, exponents and
// nesting), and its parts are exactly what the general parser reports. Anything outside the
// subset, malformed, with a repeated name, with more than kSimpleMaxMembers members or more
// than kSimpleMaxParts parts returns false, and the general parser then gives the verdict (and
// the error): this reader never refuses a document on its own.
//
// The parts go to `Sink` (onKey/onScalar/onContainer as in StrictJsonVisitor, called directly,
// so a final visitor's methods inline) as they are read: a sink sees part of a document that
// is then given up on, and must be able to forget it.

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/strict_json.h"

namespace bulwark::core::detail {

inline constexpr std::size_t kSimpleMaxMembers = 32;
inline constexpr std::size_t kSimpleMaxParts = 64;

// The bytes a subset string may hold: printable ASCII except '"' and '\\'.
inline constexpr std::array<bool, 256> kPlainChar = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c <= 0x7e; ++c) {
    table[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  }
  return table;
}();

inline bool isDigit(char c) { return static_cast<unsigned char>(c - '0') <= 9; }

inline bool isJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Eight bytes at a time (SWAR), for strings: the flags (bit 7 of a byte) of bytes that are not
// plain string bytes (kPlainChar): below 0x20, '"', '\\', 0x7f and above. The lowest flag is
// always exact (a borrow only ever flags bytes above a byte truly flagged), which is all the
// reader uses: it marks where the plain run ends.
inline constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
inline constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
inline std::uint64_t zeroBytes(std::uint64_t x) { return (x - kOnes) & ~x & kHighs; }
inline std::uint64_t specialBytes(std::uint64_t x) {
  const std::uint64_t control = (x - kOnes * 0x20) & ~x & kHighs;     // < 0x20
  const std::uint64_t high = (((x & ~kHighs) + kOnes) | x) & kHighs;  // 0x7f or >= 0x80
  return control | high | zeroBytes(x ^ (kOnes * '"')) | zeroBytes(x ^ (kOnes * '\\'));
}

// Byte comparison inline: names are short and mostly differ early, where a memcmp call costs
// more than the comparison.
inline bool sameText(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

template <class Sink>
class SimpleObjectReader {
 public:
  SimpleObjectReader(std::string_view text, Sink& sink)
      : p_(text.data()), end_(text.data() + text.size()), sink_(sink) {}

  // Reads the document; false when it is not in the subset (see above).
  bool read() {
    skipSpace();
    if (!consume('{')) return false;
    skipSpace();
    if (consume('}')) return finish();
    for (;;) {
      std::string_view name;
      if (p_ == end_ || *p_ != '"' || !readString(name)) return false;
      // Names are compared by key first (their first 8 bytes and length), text only when the
      // keys are equal: JWT member names are short and differ within 8 bytes.
      const std::uint64_t name_key = nameKey(name);
      for (std::size_t i = 0; i < names_count_; ++i) {
        if (keys_[i] == name_key && sameText(names_[i], name)) {
          return false;  // a repeat: the general parser says
        }
      }
      if (names_count_ == kSimpleMaxMembers || !addPart()) return false;
      keys_[names_count_] = name_key;
      names_[names_count_++] = name;
      sink_.onKey(1, name);
      skipSpace();
      if (!consume(':')) return false;
      skipSpace();
      if (consume('[')) {
        if (!addPart()) return false;
        sink_.onContainer(1, true);
        skipSpace();
        if (!consume(']')) {
          for (;;) {
            if (!readScalar(2)) return false;
            skipSpace();
            if (consume(']')) break;
            if (!consume(',')) return false;
            skipSpace();
          }
        }
      } else if (!readScalar(1)) {
        return false;
      }
      skipSpace();
      if (consume('}')) return finish();
      if (!consume(',')) return false;
      skipSpace();
    }
  }

 private:
  bool finish() {
    skipSpace();
    return p_ == end_;
  }
  void skipSpace() {
    // Tokens mostly have no whitespace: one comparison (every JSON space is <= ' ') rules it out.
    if (p_ == end_ || static_cast<unsigned char>(*p_) > ' ') return;
    while (p_ != end_ && isJsonSpace(*p_)) ++p_;
  }
  bool consume(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  bool addPart() {
    if (parts_count_ == kSimpleMaxParts) return false;
    ++parts_count_;
    return true;
  }
  std::uint64_t nameKey(std::string_view name) const {
    std::uint64_t key = 0;
    const std::size_t n = std::min<std::size_t>(name.size(), 8);
    if (end_ - name.data() >= 8) {
      std::memcpy(&key, name.data(), 8);
      if constexpr (std::endian::native == std::endian::big) key = __builtin_bswap64(key);
      if (n < 8) key &= (std::uint64_t{1} << (8 * n)) - 1;
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        key |= std::uint64_t{static_cast<unsigned char>(name[i])} << (8 * i);
      }
    }
    return key ^ (std::uint64_t{name.size()} << 56);
  }
  // At the opening quote: a string of printable ASCII without escapes.
  bool readString(std::string_view& out) {
    const char* start = ++p_;
    const char* quote = start;
    for (;;) {
      if (end_ - quote < 8) {
        while (quote != end_ && kPlainChar[static_cast<unsigned char>(*quote)]) ++quote;
        break;
      }
      std::uint64_t chunk;
      std::memcpy(&chunk, quote, 8);
      if constexpr (std::endian::native == std::endian::big) chunk = __builtin_bswap64(chunk);
      const std::uint64_t special = specialBytes(chunk);
      if (special != 0) {
        quote += std::countr_zero(special) / 8;
        break;
      }
      quote += 8;
    }
    if (quote == end_ || *quote != '"') return false;
    out = std::string_view(start, static_cast<std::size_t>(quote - start));
    p_ = quote + 1;
    return true;
  }
  bool readLiteral(std::string_view literal) {
    if (static_cast<std::size_t>(end_ - p_) < literal.size() ||
        !sameText(std::string_view(p_, literal.size()), literal)) {
      return false;
    }
    p_ += literal.size();
    return true;
  }
  bool readScalar(std::size_t depth) {
    if (p_ == end_ || !addPart()) return false;
    JsonScalar value;
    const char c = *p_;
    if (c == '"') {
      value.kind = JsonScalar::Kind::kString;
      if (!readString(value.string)) return false;
    } else if (c >= '0' && c <= '9') {
      // "0" followed by a digit is not JSON: the general parser refuses it.
      if (c == '0' && p_ + 1 != end_ && isDigit(p_[1])) return false;
      // At most 18 digits (always an int64); a 19th gives up.
      const char* q = p_;
      const char* const limit = end_ - q > 18 ? q + 18 : end_;
      std::int64_t n = 0;
      while (q != limit && isDigit(*q)) {
        n = n * 10 + (*q - '0');
        ++q;
      }
      if (q != end_ && (isDigit(*q) || *q == '.' || *q == 'e' || *q == 'E')) return false;
      p_ = q;
      value.kind = JsonScalar::Kind::kInt64;
      value.int64 = n;
    } else if (c == 't' || c == 'f') {
      value.kind = JsonScalar::Kind::kBool;
      value.boolean = c == 't';
      if (!readLiteral(c == 't' ? "true" : "false")) return false;
    } else if (c == 'n') {
      value.kind = JsonScalar::Kind::kNull;
      if (!readLiteral("null")) return false;
    } else {
      return false;
    }
    sink_.onScalar(depth, value);
    return true;
  }

  const char* p_;
  const char* const end_;
  Sink& sink_;
  // Trivially constructible, so that the arrays cost nothing until used.
  struct Name {
    const char* data;
    std::size_t size;
    Name& operator=(std::string_view text) {
      data = text.data();
      size = text.size();
      return *this;
    }
    operator std::string_view() const { return {data, size}; }
  };
  // Left uninitialised: only the first names_count_ entries are ever read.
  Name names_[kSimpleMaxMembers];
  std::uint64_t keys_[kSimpleMaxMembers];  // nameKey() of each of names_
  std::size_t names_count_ = 0;
  std::size_t parts_count_ = 0;
};

}  // namespace bulwark::core::detail

namespace bulwark::core {

template <class Visitor>
bool readStrictJsonObjectDirect(std::string_view text, std::size_t max_depth, Visitor& visitor,
                                bool* duplicate_member) {
  // The subset reader needs one level of arrays inside the object (depth 2).
  if (max_depth >= 2) {
    if (detail::SimpleObjectReader<Visitor>(text, visitor).read()) {
      if (duplicate_member != nullptr) *duplicate_member = false;
      return true;
    }
    visitor.reset();
  }
  return detail::readStrictJsonObjectGeneral(text, max_depth, visitor, duplicate_member);
}

}  // namespace bulwark::core

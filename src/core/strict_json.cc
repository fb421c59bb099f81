#include "core/strict_json.h"

#include <algorithm>
#include <array>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_stack.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bulwark::core {
namespace {

namespace json = boost::json;

// The handler of boost::json::parser (it builds the value on a value_stack), plus a record of
// the member names of every open object. A small object (JWT headers and claims, API bodies)
// checks each name as it arrives against its siblings' hashes, comparing text only when a hash
// matches; a large one is checked when it closes by sorting its names, which makes a repeat
// adjacent: O(n log n) even for a hostile object with many members. With a visitor set, no value
// is built: the parts go to the visitor instead (none of a document that is not an object, which
// is refused once parsed, so that it reports a duplicate name exactly as the value parse does).
struct StrictHandler {
  // Objects with more members than this are checked by sorting when they close.
  static constexpr std::size_t kLinearCheckMembers = 32;
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::vector<std::string> names;         // names of all open objects, innermost last
  std::vector<std::size_t> hashes;        // hash of each of `names`
  std::vector<std::size_t> object_start;  // index in `names` where each open object begins
  std::string name;                       // the member name being read (it may come in parts)
  bool duplicate = false;
  StrictJsonVisitor* visitor = nullptr;  // when set, parts go here instead of to `st`
  std::size_t depth = 0;                 // open objects and arrays
  std::string text;                      // a string value being read in parts (visitor only)
  bool top_object = false;               // the document is an object (visitor only)

  void reset() {
    st.reset();
    names.clear();
    hashes.clear();
    object_start.clear();
    name.clear();
    duplicate = false;
    depth = 0;
    text.clear();
    top_object = false;
  }

  bool visit(const JsonScalar& value, json::error_code&) {
    if (top_object) {
      visitor->onScalar(depth, value);
    }
    return true;
  }
  bool visitContainer(bool is_array, json::error_code&) {
    if (depth == 0) {
      top_object = !is_array;
    } else if (top_object) {
      visitor->onContainer(depth, is_array);
    }
    return true;
  }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code& ec) {
    if (visitor != nullptr && !visitContainer(false, ec)) {
      return false;
    }
    ++depth;
    object_start.push_back(names.size());
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code& ec) {
    const auto first = names.begin() + static_cast<std::ptrdiff_t>(object_start.back());
    if (names.end() - first > static_cast<std::ptrdiff_t>(kLinearCheckMembers)) {
      std::sort(first, names.end());
      if (std::adjacent_find(first, names.end()) != names.end()) {
        return refuseDuplicate(ec);
      }
    }
    names.erase(first, names.end());
    hashes.resize(names.size());
    object_start.pop_back();
    --depth;
    if (visitor == nullptr) {
      st.push_object(n);
    }
    return true;
  }
  bool on_array_begin(json::error_code& ec) {
    if (visitor != nullptr && !visitContainer(true, ec)) {
      return false;
    }
    ++depth;
    return true;
  }
  bool on_array_end(std::size_t n, json::error_code&) {
    --depth;
    if (visitor == nullptr) {
      st.push_array(n);
    }
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    name.append(s.data(), s.size());
    if (visitor == nullptr) {
      st.push_chars(s);
    }
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    name.append(s.data(), s.size());
    const std::size_t hash = std::hash<std::string>{}(name);
    const std::size_t start = object_start.back();
    if (names.size() - start < kLinearCheckMembers) {
      for (std::size_t i = start; i < names.size(); ++i) {
        if (hashes[i] == hash && names[i] == name) {
          return refuseDuplicate(ec);
        }
      }
    }
    names.push_back(std::move(name));
    hashes.push_back(hash);
    name.clear();
    if (visitor != nullptr) {
      if (top_object) {
        visitor->onKey(depth, names.back());
      }
    } else {
      st.push_key(s);
    }
    return true;
  }
  bool refuseDuplicate(json::error_code& ec) {
    duplicate = true;
    ec = json::error::syntax;
    return false;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (visitor != nullptr) {
      text.append(s.data(), s.size());
    } else {
      st.push_chars(s);
    }
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code& ec) {
    if (visitor == nullptr) {
      st.push_string(s);
      return true;
    }
    JsonScalar value;
    value.kind = JsonScalar::Kind::kString;
    if (text.empty()) {
      value.string = std::string_view(s.data(), s.size());
      return visit(value, ec);
    }
    text.append(s.data(), s.size());
    value.string = text;
    const bool ok = visit(value, ec);
    text.clear();
    return ok;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code& ec) {
    if (visitor == nullptr) {
      st.push_int64(i);
      return true;
    }
    JsonScalar value;
    value.kind = JsonScalar::Kind::kInt64;
    value.int64 = i;
    return visit(value, ec);
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code& ec) {
    if (visitor == nullptr) {
      st.push_uint64(u);
      return true;
    }
    JsonScalar value;
    value.kind = JsonScalar::Kind::kUint64;
    value.uint64 = u;
    return visit(value, ec);
  }
  bool on_double(double d, json::string_view, json::error_code& ec) {
    if (visitor == nullptr) {
      st.push_double(d);
      return true;
    }
    JsonScalar value;
    value.kind = JsonScalar::Kind::kDouble;
    value.number = d;
    return visit(value, ec);
  }
  bool on_bool(bool b, json::error_code& ec) {
    if (visitor == nullptr) {
      st.push_bool(b);
      return true;
    }
    JsonScalar value;
    value.kind = JsonScalar::Kind::kBool;
    value.boolean = b;
    return visit(value, ec);
  }
  bool on_null(json::error_code& ec) {
    if (visitor == nullptr) {
      st.push_null();
      return true;
    }
    return visit(JsonScalar{}, ec);
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

using StrictParser = json::basic_parser<StrictHandler>;

// The common shape of JWT headers and claim sets, read without the general parser: one object
// whose member names are printable ASCII without escapes, each value a string of the same kind,
// a non-negative integer of at most 18 digits (always an int64), true, false, null, or a flat
// array of those. Every such document is valid JSON (the subset's grammar is RFC 8259's, minus
// escapes, non-ASCII text, signs, fractions, exponents and nesting), and its parts are exactly
// what StrictHandler would report. Anything outside the subset, malformed, with a repeated name
// or with more parts than kSimpleMaxParts returns false, and the general parser then gives the
// verdict (and the error): this reader never refuses a document on its own. The parts are
// collected first and reported only once the whole document has been read.
constexpr std::size_t kSimpleMaxMembers = 32;
constexpr std::size_t kSimpleMaxParts = 64;

// Trivially constructible, so that the reader's arrays cost nothing until used.
struct SimpleText {
  const char* data;
  std::size_t size;
  std::string_view view() const { return {data, size}; }
};

struct SimplePart {
  enum class Kind : std::uint8_t { kKey, kString, kInt64, kBool, kNull, kArray };
  Kind kind;
  std::uint8_t depth;
  bool boolean;
  SimpleText text;  // kKey, kString
  std::int64_t int64;
};

// The bytes a subset string may hold: printable ASCII except '"' and '\\'.
constexpr std::array<bool, 256> kPlainChar = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c <= 0x7e; ++c) {
    table[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  }
  return table;
}();

bool isJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Byte comparison inline: names are short and mostly differ early, where a memcmp call costs
// more than the comparison.
bool sameText(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

class SimpleObjectReader {
 public:
  explicit SimpleObjectReader(std::string_view text)
      : p_(text.data()), end_(text.data() + text.size()) {}

  // Reads the document; false when it is not in the subset (see above).
  bool read() {
    skipSpace();
    if (!consume('{')) return false;
    skipSpace();
    if (consume('}')) return finish();
    for (;;) {
      std::string_view name;
      if (p_ == end_ || *p_ != '"' || !readString(name)) return false;
      for (std::size_t i = 0; i < names_count_; ++i) {
        if (sameText(names_[i].view(), name)) return false;  // a repeat: the general parser says
      }
      if (names_count_ == kSimpleMaxMembers) return false;
      names_[names_count_++] = {name.data(), name.size()};
      SimplePart* key = add(SimplePart::Kind::kKey, 1);
      if (key == nullptr) return false;
      key->text = {name.data(), name.size()};
      skipSpace();
      if (!consume(':')) return false;
      skipSpace();
      if (consume('[')) {
        if (add(SimplePart::Kind::kArray, 1) == nullptr) return false;
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

  // Reports the parts read to `visitor`.
  void replay(StrictJsonVisitor& visitor) const {
    for (std::size_t i = 0; i < parts_count_; ++i) {
      const SimplePart& part = parts_[i];
      JsonScalar value;
      switch (part.kind) {
        case SimplePart::Kind::kKey:
          visitor.onKey(part.depth, part.text.view());
          continue;
        case SimplePart::Kind::kArray:
          visitor.onContainer(part.depth, true);
          continue;
        case SimplePart::Kind::kString:
          value.kind = JsonScalar::Kind::kString;
          value.string = part.text.view();
          break;
        case SimplePart::Kind::kInt64:
          value.kind = JsonScalar::Kind::kInt64;
          value.int64 = part.int64;
          break;
        case SimplePart::Kind::kBool:
          value.kind = JsonScalar::Kind::kBool;
          value.boolean = part.boolean;
          break;
        case SimplePart::Kind::kNull:
          break;
      }
      visitor.onScalar(part.depth, value);
    }
  }

 private:
  bool finish() {
    skipSpace();
    return p_ == end_;
  }
  void skipSpace() {
    while (p_ != end_ && isJsonSpace(*p_)) ++p_;
  }
  bool consume(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  SimplePart* add(SimplePart::Kind kind, std::uint8_t depth) {
    if (parts_count_ == kSimpleMaxParts) return nullptr;
    SimplePart& part = parts_[parts_count_++];
    part.kind = kind;
    part.depth = depth;
    return &part;
  }
  // At the opening quote: a string of printable ASCII without escapes.
  bool readString(std::string_view& out) {
    const char* start = ++p_;
    const char* quote = start;
    while (quote != end_ && kPlainChar[static_cast<unsigned char>(*quote)]) ++quote;
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
  bool readScalar(std::uint8_t depth) {
    if (p_ == end_) return false;
    SimplePart value{};
    const char c = *p_;
    if (c == '"') {
      value.kind = SimplePart::Kind::kString;
      std::string_view text;
      if (!readString(text)) return false;
      value.text = {text.data(), text.size()};
    } else if (c >= '0' && c <= '9') {
      // "0" followed by a digit is not JSON: the general parser refuses it.
      if (c == '0' && p_ + 1 != end_ && p_[1] >= '0' && p_[1] <= '9') return false;
      std::int64_t n = 0;
      int digits = 0;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
        if (++digits > 18) return false;
        n = n * 10 + (*p_ - '0');
        ++p_;
      }
      if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
      value.kind = SimplePart::Kind::kInt64;
      value.int64 = n;
    } else if (c == 't' || c == 'f') {
      value.kind = SimplePart::Kind::kBool;
      value.boolean = c == 't';
      if (!readLiteral(c == 't' ? "true" : "false")) return false;
    } else if (c == 'n') {
      value.kind = SimplePart::Kind::kNull;
      if (!readLiteral("null")) return false;
    } else {
      return false;
    }
    SimplePart* part = add(value.kind, depth);
    if (part == nullptr) return false;
    part->text = value.text;
    part->int64 = value.int64;
    part->boolean = value.boolean;
    return true;
  }

  const char* p_;
  const char* const end_;
  // Left uninitialised: only the first *_count_ entries are ever read.
  SimpleText names_[kSimpleMaxMembers];
  std::size_t names_count_ = 0;
  SimplePart parts_[kSimpleMaxParts];
  std::size_t parts_count_ = 0;
};

// One parser per thread and depth: its buffers are reused, so a parse allocates only the value.
StrictParser& parserFor(std::size_t max_depth) {
  thread_local std::vector<std::pair<std::size_t, std::unique_ptr<StrictParser>>> parsers;
  for (auto& [depth, parser] : parsers) {
    if (depth == max_depth) return *parser;
  }
  json::parse_options options;
  options.max_depth = max_depth;
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;
  parsers.emplace_back(max_depth, std::make_unique<StrictParser>(options));
  return *parsers.back().second;
}

}  // namespace

bool readStrictJsonObject(std::string_view text, std::size_t max_depth, StrictJsonVisitor& visitor,
                          bool* duplicate_member) {
  // The subset reader needs one level of arrays inside the object (depth 2).
  if (max_depth >= 2) {
    SimpleObjectReader simple(text);
    if (simple.read()) {
      if (duplicate_member != nullptr) *duplicate_member = false;
      simple.replay(visitor);
      return true;
    }
  }
  StrictParser& parser = parserFor(max_depth);
  parser.reset();
  StrictHandler& handler = parser.handler();
  handler.reset();
  handler.visitor = &visitor;
  if (duplicate_member != nullptr) *duplicate_member = false;
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  const bool ok = !ec && used == text.size() && parser.done() && handler.top_object;
  if (!ok && duplicate_member != nullptr) *duplicate_member = handler.duplicate;
  handler.visitor = nullptr;
  handler.reset();
  return ok;
}

std::optional<json::object> parseStrictJsonObject(std::string_view text, std::size_t max_depth,
                                                  bool* duplicate_member) {
  StrictParser& parser = parserFor(max_depth);
  parser.reset();
  parser.handler().reset();
  if (duplicate_member != nullptr) *duplicate_member = false;
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || used != text.size() || !parser.done()) {
    if (duplicate_member != nullptr) *duplicate_member = parser.handler().duplicate;
    parser.handler().reset();
    return std::nullopt;
  }
  json::value value = parser.handler().st.release();
  if (!value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

}  // namespace bulwark::core

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

#include "core/detail/simple_json_reader.h"

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

// Collects what the subset reader reports, for readStrictJsonObject(): its visitor sees the
// parts only once the whole document has been read.
class PartsCollector {
 public:
  void onKey(std::size_t depth, std::string_view name) {
    Part& part = parts_[count_++];
    part.kind = Part::Kind::kKey;
    part.depth = static_cast<std::uint8_t>(depth);
    part.text = {name.data(), name.size()};
  }
  void onContainer(std::size_t depth, bool) {
    Part& part = parts_[count_++];
    part.kind = Part::Kind::kArray;  // the subset's only container
    part.depth = static_cast<std::uint8_t>(depth);
  }
  void onScalar(std::size_t depth, const JsonScalar& value) {
    Part& part = parts_[count_++];
    part.kind = Part::Kind::kScalar;
    part.depth = static_cast<std::uint8_t>(depth);
    part.scalar_kind = value.kind;
    part.boolean = value.boolean;
    part.text = {value.string.data(), value.string.size()};
    part.int64 = value.int64;
  }

  // Reports the parts collected to `visitor`.
  void replay(StrictJsonVisitor& visitor) const {
    // One value for all parts: a visitor reads only the member its `kind` names.
    JsonScalar value;
    for (std::size_t i = 0; i < count_; ++i) {
      const Part& part = parts_[i];
      switch (part.kind) {
        case Part::Kind::kKey:
          visitor.onKey(part.depth, {part.text.data, part.text.size});
          break;
        case Part::Kind::kArray:
          visitor.onContainer(part.depth, true);
          break;
        case Part::Kind::kScalar:
          value.kind = part.scalar_kind;
          value.string = {part.text.data, part.text.size};
          value.int64 = part.int64;
          value.boolean = part.boolean;
          visitor.onScalar(part.depth, value);
          break;
      }
    }
  }

 private:
  // Trivially constructible, so that the array costs nothing until used.
  struct Part {
    enum class Kind : std::uint8_t { kKey, kArray, kScalar };
    Kind kind;
    std::uint8_t depth;
    JsonScalar::Kind scalar_kind;
    bool boolean;
    struct {
      const char* data;
      std::size_t size;
    } text;  // kKey, kString
    std::int64_t int64;
  };
  // The reader reports at most kSimpleMaxParts parts.
  Part parts_[detail::kSimpleMaxParts];
  std::size_t count_ = 0;
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
    PartsCollector parts;
    if (detail::SimpleObjectReader<PartsCollector>(text, parts).read()) {
      if (duplicate_member != nullptr) *duplicate_member = false;
      parts.replay(visitor);
      return true;
    }
  }
  return detail::readStrictJsonObjectGeneral(text, max_depth, visitor, duplicate_member);
}

namespace detail {

bool readStrictJsonObjectGeneral(std::string_view text, std::size_t max_depth,
                                 StrictJsonVisitor& visitor, bool* duplicate_member) {
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

}  // namespace detail

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

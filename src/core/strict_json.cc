#include "core/strict_json.h"

#include <algorithm>
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
// adjacent: O(n log n) even for a hostile object with many members.
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

  void reset() {
    st.reset();
    names.clear();
    hashes.clear();
    object_start.clear();
    name.clear();
    duplicate = false;
  }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
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
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    name.append(s.data(), s.size());
    st.push_chars(s);
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
    st.push_key(s);
    return true;
  }
  bool refuseDuplicate(json::error_code& ec) {
    duplicate = true;
    ec = json::error::syntax;
    return false;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

using StrictParser = json::basic_parser<StrictHandler>;

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

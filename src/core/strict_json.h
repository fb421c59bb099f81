#pragma once
// Strict JSON objects for everything parsed from the outside (JWT headers and claims, API
// bodies): RFC 8259 with UTF-8 checked, no comments, no trailing commas, bounded nesting, and no
// object at any depth repeating a member name. Boost.JSON's own parser keeps the last of repeated
// names silently, so two readers of one document could disagree on its meaning.

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace bulwark::core {

// Parses `text` as exactly one JSON object nested at most `max_depth` deep. Returns nullopt for
// anything else; `duplicate_member`, when given, says whether a repeated name was the reason.
// Thread-safe (parsers are per thread and reused).
[[nodiscard]] std::optional<boost::json::object> parseStrictJsonObject(
    std::string_view text, std::size_t max_depth, bool* duplicate_member = nullptr);

// One scalar JSON value as readStrictJsonObject() reports it; only the member named by `kind`
// is meaningful. `string` views the parser's buffer and is valid only during the callback.
struct JsonScalar {
  enum class Kind : std::uint8_t { kString, kInt64, kUint64, kDouble, kBool, kNull };
  Kind kind = Kind::kNull;
  std::string_view string;
  std::int64_t int64 = 0;
  std::uint64_t uint64 = 0;
  double number = 0;
  bool boolean = false;
};

// Receives the parts of a document as readStrictJsonObject() reads it, in document order.
// `depth` is that of the containing object or array: 1 inside the top-level object, 2 inside a
// value of one of its members, and so on.
class StrictJsonVisitor {
 public:
  virtual ~StrictJsonVisitor() = default;
  // A member name (unescaped, complete) of an object `depth` deep.
  virtual void onKey(std::size_t depth, std::string_view name) = 0;
  // A string, number, boolean or null value.
  virtual void onScalar(std::size_t depth, const JsonScalar& value) = 0;
  // An object or array value starts; its contents follow at depth + 1.
  virtual void onContainer(std::size_t depth, bool is_array) = 0;
};

// Reads `text` under exactly the rules of parseStrictJsonObject() (the same parser accepts and
// refuses the same documents) without building a value: the parts go to `visitor` as they are
// read. Returns false for a document parseStrictJsonObject() refuses; the visitor may have seen
// part of such a document and must discard what it collected. Thread-safe as above.
[[nodiscard]] bool readStrictJsonObject(std::string_view text, std::size_t max_depth,
                                        StrictJsonVisitor& visitor,
                                        bool* duplicate_member = nullptr);

// readStrictJsonObject() for a visitor whose type is known at the call (make it `final`): the
// same verdict, duplicate flag and parts, but the common subset of JWT headers and claim sets
// (detail/simple_json_reader.h) is read in one pass calling the visitor's methods directly,
// without collecting the parts first. So the visitor may see part of a document the subset
// reader then gives up on: before the general parser reports the document from its start, it
// calls `visitor.reset()`, which must forget everything seen. Thread-safe as above.
template <class Visitor>
[[nodiscard]] bool readStrictJsonObjectDirect(std::string_view text, std::size_t max_depth,
                                              Visitor& visitor, bool* duplicate_member = nullptr);

namespace detail {
// The general parser alone (readStrictJsonObject() without its subset reader).
[[nodiscard]] bool readStrictJsonObjectGeneral(std::string_view text, std::size_t max_depth,
                                               StrictJsonVisitor& visitor, bool* duplicate_member);
}  // namespace detail

}  // namespace bulwark::core

// The definition of readStrictJsonObjectDirect().
#include "core/detail/simple_json_reader.h"  // IWYU pragma: export

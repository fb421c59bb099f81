#pragma once
// Strict JSON objects for everything parsed from the outside (JWT headers and claims, API
// bodies): RFC 8259 with UTF-8 checked, no comments, no trailing commas, bounded nesting, and no
// object at any depth repeating a member name. Boost.JSON's own parser keeps the last of repeated
// names silently, so two readers of one document could disagree on its meaning.

#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>
#include <string_view>

namespace bulwark::core {

// Parses `text` as exactly one JSON object nested at most `max_depth` deep. Returns nullopt for
// anything else; `duplicate_member`, when given, says whether a repeated name was the reason.
// Thread-safe (parsers are per thread and reused).
[[nodiscard]] std::optional<boost::json::object> parseStrictJsonObject(
    std::string_view text, std::size_t max_depth, bool* duplicate_member = nullptr);

}  // namespace bulwark::core

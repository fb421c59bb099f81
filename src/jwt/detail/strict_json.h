#pragma once
// Strict JSON for JOSE headers and JWT claim sets (private to src/jwt). Boost.JSON's parser
// keeps the last of repeated member names silently; RFC 7515 §5.2 and RFC 7519 §7.2 require
// rejecting them, because two verifiers could otherwise read different values from one token.

#include <boost/json/object.hpp>
#include <string_view>

#include "jwt/errors.h"

namespace bulwark::jwt::detail {

// Parses `text` as exactly one JSON object (RFC 8259, UTF-8, no comments, no trailing commas,
// nesting depth <= 20) in which no object at any depth repeats a member name. Errors:
// kDuplicateMember for a repeated name, kBadJson for anything else. Thread-safe (the parser is
// per thread).
[[nodiscard]] VerifyResult<boost::json::object> parseStrictObject(std::string_view text);

}  // namespace bulwark::jwt::detail

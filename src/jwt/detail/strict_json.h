#pragma once
// Strict JSON for JOSE headers and JWT claim sets (private to src/jwt). Boost.JSON's parser
// keeps the last of repeated member names silently; RFC 7515 §5.2 and RFC 7519 §7.2 require
// rejecting them, because two verifiers could otherwise read different values from one token.

#include <boost/json/object.hpp>
#include <string_view>

#include "core/strict_json.h"
#include "jwt/errors.h"

namespace bulwark::jwt::detail {

// Nesting allowed in headers and claim sets.
inline constexpr std::size_t kStrictMaxDepth = 20;

// Parses `text` as exactly one JSON object (RFC 8259, UTF-8, no comments, no trailing commas,
// nesting depth <= 20) in which no object at any depth repeats a member name. Errors:
// kDuplicateMember for a repeated name, kBadJson for anything else. Thread-safe (the parser is
// per thread).
[[nodiscard]] VerifyResult<boost::json::object> parseStrictObject(std::string_view text);

// Reads `text` under the same rules and errors as parseStrictObject() without building a value:
// its parts go to `visitor` (core/strict_json.h), which must discard them on an error.
[[nodiscard]] VerifyResult<void> readStrictObject(std::string_view text,
                                                  core::StrictJsonVisitor& visitor);

// readStrictObject() through core::readStrictJsonObjectDirect(): for a final visitor with a
// reset() that forgets what it has seen (the verifier's header and claims readers).
template <class Visitor>
[[nodiscard]] VerifyResult<void> readStrictObjectDirect(std::string_view text, Visitor& visitor) {
  bool duplicate = false;
  if (!core::readStrictJsonObjectDirect(text, kStrictMaxDepth, visitor, &duplicate)) {
    return duplicate ? VerifyError::kDuplicateMember : VerifyError::kBadJson;
  }
  return {};
}

}  // namespace bulwark::jwt::detail

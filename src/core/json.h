#pragma once
// Minimal JSON text helpers for hot paths (error bodies, log lines, metrics labels) where building
// a boost::json::value would cost more than the text itself.

#include <string>
#include <string_view>

namespace bulwark::core {

// Appends `s` to `out` as a JSON string literal (with quotes), escaping quotes, backslashes and
// every control character, so client-supplied bytes can never break out of a log or event line.
void appendJsonString(std::string& out, std::string_view s);

// Returns the length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 when it is not one (or `s` is
// empty or starts with ASCII).
std::size_t utf8SequenceLength(std::string_view s);

// Returns `s` as a JSON string literal.
std::string jsonString(std::string_view s);

// Returns the OAuth-style error body {"error": code, "error_description": description}.
std::string jsonError(std::string_view code, std::string_view description);

}  // namespace bulwark::core

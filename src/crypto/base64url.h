#pragma once
// Strict base64url (RFC 4648 §5) without padding, as JOSE uses it (RFC 7515 §2). Decoding accepts
// only the canonical encoding: no '=', '+', '/', whitespace or other characters, no length that
// leaves a lone character, and the unused low bits of the last character must be zero. So every
// byte string has exactly one accepted encoding, and a token cannot be altered without changing
// its decoded bytes.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace bulwark::crypto {

// Returns the unpadded base64url encoding of `bytes`.
std::string base64UrlEncode(std::span<const std::uint8_t> bytes);
std::string base64UrlEncode(std::string_view bytes);
// Appends the unpadded base64url encoding of `bytes` to `out`.
void appendBase64Url(std::string& out, std::string_view bytes);

// Decodes canonical unpadded base64url into `out` (replacing its contents). Returns false, with
// `out` unspecified, on any character outside [A-Za-z0-9_-], a length of 1 mod 4, or non-zero
// trailing bits.
[[nodiscard]] bool base64UrlDecode(std::string_view text, std::string& out);

}  // namespace bulwark::crypto

#pragma once
// Strict base64url (RFC 4648 §5) without padding, as JOSE uses it (RFC 7515 §2). Decoding accepts
// only the canonical encoding: no '=', '+', '/', whitespace or other characters, no length that
// leaves a lone character, and the unused low bits of the last character must be zero. So every
// byte string has exactly one accepted encoding, and a token cannot be altered without changing
// its decoded bytes.

#include <cstddef>
#include <cstdint>
#include <optional>
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

// Returns how many bytes `encoded_size` characters of unpadded base64url decode to, or nullopt
// for a size no encoding has (1 mod 4).
constexpr std::optional<std::size_t> base64UrlDecodedSize(std::size_t encoded_size) {
  if (encoded_size % 4 == 1) {
    return std::nullopt;
  }
  return encoded_size / 4 * 3 + (encoded_size % 4 == 0 ? 0 : encoded_size % 4 - 1);
}

// Decodes like base64UrlDecode() into `out`, a caller's buffer (a stack array, a string already
// sized) that must be exactly base64UrlDecodedSize(text.size()) bytes: no allocation. Returns
// false, with `out` unspecified, for everything base64UrlDecode() refuses and for an `out` of
// any other size.
[[nodiscard]] bool base64UrlDecodeTo(std::string_view text, std::span<char> out);

}  // namespace bulwark::crypto

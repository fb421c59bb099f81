#include "crypto/base64url.h"

#include <array>

namespace bulwark::crypto {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// 0..63 for alphabet characters, 0xff for everything else (including '=', '+', '/', space).
constexpr std::array<std::uint8_t, 256> kDecode = [] {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table) {
    entry = 0xff;
  }
  for (std::uint8_t i = 0; i < 64; ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = i;
  }
  return table;
}();

}  // namespace

void appendBase64Url(std::string& out, std::string_view bytes) {
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  out.reserve(out.size() + (n * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8 | in[i + 2];
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (n - i == 1) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
  } else if (n - i == 2) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
  }
}

std::string base64UrlEncode(std::string_view bytes) {
  std::string out;
  appendBase64Url(out, bytes);
  return out;
}

std::string base64UrlEncode(std::span<const std::uint8_t> bytes) {
  return base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

bool base64UrlDecode(std::string_view text, std::string& out) {
  out.clear();
  const std::size_t n = text.size();
  if (n % 4 == 1) {
    return false;
  }
  out.resize(n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1));
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  char* dst = out.data();
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const std::uint32_t a = kDecode[in[i]], b = kDecode[in[i + 1]], c = kDecode[in[i + 2]],
                        d = kDecode[in[i + 3]];
    if ((a | b | c | d) & 0xc0) {
      return false;
    }
    const std::uint32_t v = a << 18 | b << 12 | c << 6 | d;
    *dst++ = static_cast<char>(v >> 16);
    *dst++ = static_cast<char>(v >> 8 & 0xff);
    *dst++ = static_cast<char>(v & 0xff);
  }
  const std::size_t rest = n - i;
  if (rest == 2) {
    const std::uint32_t a = kDecode[in[i]], b = kDecode[in[i + 1]];
    // The second character carries 2 data bits; its low 4 bits must be zero to be canonical.
    if (((a | b) & 0xc0) || (b & 0x0f) != 0) {
      return false;
    }
    *dst++ = static_cast<char>(a << 2 | b >> 4);
  } else if (rest == 3) {
    const std::uint32_t a = kDecode[in[i]], b = kDecode[in[i + 1]], c = kDecode[in[i + 2]];
    // The third character carries 4 data bits; its low 2 bits must be zero.
    if (((a | b | c) & 0xc0) || (c & 0x03) != 0) {
      return false;
    }
    const std::uint32_t v = a << 10 | b << 4 | c >> 2;
    *dst++ = static_cast<char>(v >> 8);
    *dst++ = static_cast<char>(v & 0xff);
  }
  return true;
}

}  // namespace bulwark::crypto

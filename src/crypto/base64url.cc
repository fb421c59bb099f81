#include "crypto/base64url.h"

#include <array>
#include <bit>
#include <cstring>

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

// The same table shifted into place for each position of a 4-character group, so that a group
// is the OR of four lookups. kBad (above the 24 data bits) marks every non-alphabet character.
constexpr std::uint32_t kBad = 1U << 31;
template <int kShift>
constexpr std::array<std::uint32_t, 256> shiftedTable() {
  std::array<std::uint32_t, 256> table{};
  for (std::size_t c = 0; c < 256; ++c) {
    table[c] = kDecode[c] == 0xff ? kBad : std::uint32_t{kDecode[c]} << kShift;
  }
  return table;
}
constexpr auto kDecode0 = shiftedTable<18>();
constexpr auto kDecode1 = shiftedTable<12>();
constexpr auto kDecode2 = shiftedTable<6>();
constexpr auto kDecode3 = shiftedTable<0>();

template <class T>
T toBigEndian(T value) {
  if constexpr (std::endian::native == std::endian::little) {
    if constexpr (sizeof(T) == 8) {
      return __builtin_bswap64(value);
    } else {
      return __builtin_bswap32(value);
    }
  }
  return value;
}

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
  const auto size = base64UrlDecodedSize(text.size());
  if (!size) {
    out.clear();
    return false;
  }
  out.resize(*size);
  return base64UrlDecodeTo(text, out);
}

bool base64UrlDecodeTo(std::string_view text, std::span<char> out) {
  const std::size_t n = text.size();
  if (base64UrlDecodedSize(n) != out.size()) {
    return false;
  }
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  // Every table value ORed in: kBad sets a bit no alphabet character has, so one test at the
  // end replaces a branch per group. A group is 4 characters, 24 bits, 3 bytes.
  std::uint32_t seen = 0;
  std::size_t i = 0;
  // Two groups at a time while at least 3 characters (2 bytes) follow them: the 8-byte store
  // writes 6 bytes and 2 that later groups overwrite.
  for (; i + 11 <= n; i += 8, dst += 6) {
    const std::uint32_t v0 =
        kDecode0[in[i]] | kDecode1[in[i + 1]] | kDecode2[in[i + 2]] | kDecode3[in[i + 3]];
    const std::uint32_t v1 =
        kDecode0[in[i + 4]] | kDecode1[in[i + 5]] | kDecode2[in[i + 6]] | kDecode3[in[i + 7]];
    seen |= v0 | v1;
    // v0's and v1's 24 bits in the first 6 bytes, big-endian (when a kBad bit is set the bytes
    // are garbage, and `seen` fails the decode).
    const std::uint64_t bits = std::uint64_t{v0} << 40 | std::uint64_t{v1} << 16;
    const std::uint64_t big_endian = toBigEndian(bits);
    std::memcpy(dst, &big_endian, 8);
  }
  // While characters follow the group, at least one more output byte does (n % 4 != 1), so the
  // group may store 4 bytes, the last of which the next group overwrites.
  for (; i + 4 < n; i += 4, dst += 3) {
    const std::uint32_t v =
        kDecode0[in[i]] | kDecode1[in[i + 1]] | kDecode2[in[i + 2]] | kDecode3[in[i + 3]];
    seen |= v;
    const std::uint32_t big_endian = toBigEndian(v << 8);
    std::memcpy(dst, &big_endian, 4);
  }
  const std::size_t rest = n - i;  // 0, 2, 3 or 4
  if (rest == 4) {
    const std::uint32_t v =
        kDecode0[in[i]] | kDecode1[in[i + 1]] | kDecode2[in[i + 2]] | kDecode3[in[i + 3]];
    seen |= v;
    dst[0] = static_cast<unsigned char>(v >> 16);
    dst[1] = static_cast<unsigned char>(v >> 8);
    dst[2] = static_cast<unsigned char>(v);
  } else if (rest == 3) {
    const std::uint32_t v = kDecode0[in[i]] | kDecode1[in[i + 1]] | kDecode2[in[i + 2]];
    // The third character carries 4 data bits; its low 2 bits (bits 7..6 of v) must be zero.
    seen |= v | ((v & 0xc0) != 0 ? kBad : 0);
    dst[0] = static_cast<unsigned char>(v >> 16);
    dst[1] = static_cast<unsigned char>(v >> 8);
  } else if (rest == 2) {
    const std::uint32_t v = kDecode0[in[i]] | kDecode1[in[i + 1]];
    // The second character carries 2 data bits; its low 4 bits (bits 15..12 of v) must be zero.
    seen |= v | ((v & 0xf000) != 0 ? kBad : 0);
    dst[0] = static_cast<unsigned char>(v >> 16);
  }
  return (seen & kBad) == 0;
}

}  // namespace bulwark::crypto

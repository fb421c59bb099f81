#include "crypto/base64url.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>

namespace bulwark::crypto {
namespace {

TEST(Base64Url, EncodesWithoutPadding) {
  EXPECT_EQ(base64UrlEncode(std::string_view("")), "");
  EXPECT_EQ(base64UrlEncode(std::string_view("f")), "Zg");
  EXPECT_EQ(base64UrlEncode(std::string_view("fo")), "Zm8");
  EXPECT_EQ(base64UrlEncode(std::string_view("foo")), "Zm9v");
  EXPECT_EQ(base64UrlEncode(std::string_view("\xfb\xff\xbf", 3)), "-_-_");
}

TEST(Base64Url, RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes.push_back(static_cast<char>(i * 37 + 11));
    std::string decoded;
    ASSERT_TRUE(base64UrlDecode(base64UrlEncode(bytes), decoded));
    EXPECT_EQ(decoded, bytes);
  }
}

TEST(Base64Url, RejectsPaddingAndTheStandardAlphabet) {
  std::string out;
  EXPECT_FALSE(base64UrlDecode("Zg==", out));
  EXPECT_FALSE(base64UrlDecode("Zg=", out));
  EXPECT_FALSE(base64UrlDecode("+/+/", out));
  EXPECT_FALSE(base64UrlDecode("ab+d", out));
  EXPECT_FALSE(base64UrlDecode("ab/d", out));
}

TEST(Base64Url, RejectsWhitespaceAndOtherBytes) {
  std::string out;
  for (std::string_view bad : std::initializer_list<std::string_view>{
           "Zm9 v", "Zm9v\n", " Zm9v", "Zm\t9v", "Zm9v\r\n", "Zm.v", std::string_view("Zm\0v", 4),
           "Zm\xc3\xa9v"}) {
    EXPECT_FALSE(base64UrlDecode(bad, out)) << bad;
  }
}

TEST(Base64Url, RejectsImpossibleLength) {
  std::string out;
  EXPECT_FALSE(base64UrlDecode("Z", out));
  EXPECT_FALSE(base64UrlDecode("Zm9vZ", out));
}

TEST(Base64Url, RejectsNonCanonicalTrailingBits) {
  std::string out;
  // "f" is Zg; Zh..Zv decode to the same byte with non-zero unused bits.
  EXPECT_TRUE(base64UrlDecode("Zg", out));
  EXPECT_FALSE(base64UrlDecode("Zh", out));
  EXPECT_FALSE(base64UrlDecode("Zv", out));
  // "fo" is Zm8; Zm9 differs only in the two unused bits.
  EXPECT_TRUE(base64UrlDecode("Zm8", out));
  EXPECT_FALSE(base64UrlDecode("Zm9", out));
  EXPECT_FALSE(base64UrlDecode("Zm-", out));
}

TEST(Base64Url, DecodesEmpty) {
  std::string out = "x";
  EXPECT_TRUE(base64UrlDecode("", out));
  EXPECT_TRUE(out.empty());
}

// The decoder as it was before the table-per-position rewrite, kept as the reference for the
// differential tests below: one branch per group, byte stores.
bool referenceDecode(std::string_view text, std::string& out) {
  static const std::array<std::uint8_t, 256> kTable = [] {
    std::array<std::uint8_t, 256> table{};
    table.fill(0xff);
    const std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (std::size_t i = 0; i < alphabet.size(); ++i) {
      table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
    }
    return table;
  }();
  out.clear();
  const std::size_t n = text.size();
  if (n % 4 == 1) return false;
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const std::uint32_t a = kTable[in[i]], b = kTable[in[i + 1]], c = kTable[in[i + 2]],
                        d = kTable[in[i + 3]];
    if ((a | b | c | d) & 0xc0) return false;
    const std::uint32_t v = a << 18 | b << 12 | c << 6 | d;
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>(v >> 8 & 0xff));
    out.push_back(static_cast<char>(v & 0xff));
  }
  if (n - i == 2) {
    const std::uint32_t a = kTable[in[i]], b = kTable[in[i + 1]];
    if (((a | b) & 0xc0) || (b & 0x0f) != 0) return false;
    out.push_back(static_cast<char>(a << 2 | b >> 4));
  } else if (n - i == 3) {
    const std::uint32_t a = kTable[in[i]], b = kTable[in[i + 1]], c = kTable[in[i + 2]];
    if (((a | b | c) & 0xc0) || (c & 0x03) != 0) return false;
    const std::uint32_t v = a << 10 | b << 4 | c >> 2;
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
  }
  return true;
}

// Both entry points against the reference: same verdict, same bytes when accepted.
void expectSameAsReference(std::string_view text) {
  std::string expected;
  const bool ok = referenceDecode(text, expected);
  std::string decoded;
  ASSERT_EQ(base64UrlDecode(text, decoded), ok) << testing::PrintToString(std::string(text));
  if (ok) {
    ASSERT_EQ(decoded, expected);
  }
  const auto size = base64UrlDecodedSize(text.size());
  ASSERT_EQ(size.has_value(), text.size() % 4 != 1);
  if (!size) {
    return;
  }
  // Guard bytes on both sides: base64UrlDecodeTo must write exactly its span.
  std::string buffer(*size + 16, '\x5a');
  const std::span<char> out(buffer.data() + 8, *size);
  ASSERT_EQ(base64UrlDecodeTo(text, out), ok) << testing::PrintToString(std::string(text));
  EXPECT_EQ(buffer.substr(0, 8), std::string(8, '\x5a'));
  EXPECT_EQ(buffer.substr(8 + *size), std::string(8, '\x5a'));
  if (ok) {
    EXPECT_EQ(std::string(out.data(), out.size()), expected);
  }
}

TEST(Base64Url, DecodeToNeedsTheExactSize) {
  std::array<char, 8> out{};
  EXPECT_TRUE(base64UrlDecodeTo("Zm9v", std::span<char>(out.data(), 3)));
  EXPECT_EQ(std::string_view(out.data(), 3), "foo");
  EXPECT_FALSE(base64UrlDecodeTo("Zm9v", std::span<char>(out.data(), 2)));
  EXPECT_FALSE(base64UrlDecodeTo("Zm9v", std::span<char>(out.data(), 4)));
  EXPECT_FALSE(base64UrlDecodeTo("Zm9vZ", std::span<char>(out.data(), 3)));
  EXPECT_TRUE(base64UrlDecodeTo("", std::span<char>()));
  EXPECT_EQ(base64UrlDecodedSize(0), 0U);
  EXPECT_EQ(base64UrlDecodedSize(2), 1U);
  EXPECT_EQ(base64UrlDecodedSize(3), 2U);
  EXPECT_EQ(base64UrlDecodedSize(4), 3U);
  EXPECT_EQ(base64UrlDecodedSize(5), std::nullopt);
  EXPECT_EQ(base64UrlDecodedSize(342), 256U);
}

TEST(Base64Url, DecoderMatchesTheReferenceOnEveryCharacterInEveryPosition) {
  // Every byte value at every position of inputs of 2..13 characters (all group positions and
  // tails), the rest of the input valid: covers the alphabet, padding, '+', '/', NUL, high bytes
  // and every non-canonical last character.
  for (std::size_t length = 0; length <= 13; ++length) {
    for (std::size_t position = 0; position < length; ++position) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string text(length, 'A');
        text[position] = static_cast<char>(byte);
        expectSameAsReference(text);
      }
    }
  }
}

TEST(Base64Url, DecoderMatchesTheReferenceOnRandomAndMutatedInputs) {
  std::mt19937_64 random(20261205);
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int round = 0; round < 20000; ++round) {
    const std::size_t length = random() % 400;
    std::string text;
    if (round % 2 == 0) {
      std::string bytes(length, '\0');
      for (char& c : bytes) c = static_cast<char>(random());
      text = base64UrlEncode(bytes);
    } else {
      for (std::size_t i = 0; i < length; ++i) text.push_back(alphabet[random() % 64]);
    }
    // Mutations: none, a random byte anywhere, a padding character, a dropped character.
    switch (random() % 4) {
      case 1:
        if (!text.empty()) text[random() % text.size()] = static_cast<char>(random());
        break;
      case 2:
        text += '=';
        break;
      case 3:
        if (!text.empty()) text.erase(random() % text.size(), 1);
        break;
      default:
        break;
    }
    expectSameAsReference(text);
  }
}

}  // namespace
}  // namespace bulwark::crypto

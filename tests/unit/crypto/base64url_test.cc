#include "crypto/base64url.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace bulwark::crypto

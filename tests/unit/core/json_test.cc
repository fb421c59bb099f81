#include "core/json.h"

#include <gtest/gtest.h>

namespace bulwark::core {
namespace {

TEST(Json, EscapesEverythingThatCouldBreakALine) {
  EXPECT_EQ(jsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(jsonString("line\nforged\r\t"), R"("line\nforged\r\t")");
  EXPECT_EQ(jsonString(std::string("\x01\x1f\x7f", 3)), R"("\u0001\u001f\u007f")");
}

TEST(Json, ErrorBodyHasOAuthShape) {
  EXPECT_EQ(jsonError("invalid_request", "bad \"thing\""),
            R"({"error":"invalid_request","error_description":"bad \"thing\""})");
}

}  // namespace
}  // namespace bulwark::core

namespace bulwark::core {
namespace {

TEST(Json, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(jsonString("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(jsonString("a\xFF" "b"), R"("a\ufffdb")");
  EXPECT_EQ(jsonString("\xC0\xAF"), R"("\ufffd\ufffd")");  // overlong '/'
  EXPECT_EQ(jsonString("\xED\xA0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
}

}  // namespace
}  // namespace bulwark::core

#include "jwt/detail/strict_json.h"

#include <gtest/gtest.h>

namespace bulwark::jwt::detail {
namespace {

VerifyResult<boost::json::object> parse(std::string_view text) { return parseStrictObject(text); }

TEST(StrictJson, AcceptsObjects) {
  auto parsed = parse(R"({"a":1,"b":{"c":[1,{"d":null}]},"e":"x"})");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->size(), 3u);
  EXPECT_TRUE(parse(" {}\r\n"));
}

TEST(StrictJson, RejectsDuplicateMembersAtEveryDepth) {
  EXPECT_EQ(parse(R"({"a":1,"a":2})").error(), VerifyError::kDuplicateMember);
  EXPECT_EQ(parse(R"({"a":1,"b":2,"a":1})").error(), VerifyError::kDuplicateMember);
  EXPECT_EQ(parse(R"({"x":{"a":1,"a":2}})").error(), VerifyError::kDuplicateMember);
  EXPECT_EQ(parse(R"({"x":[{"a":1},{"b":1,"b":1}]})").error(), VerifyError::kDuplicateMember);
  EXPECT_EQ(parse(R"({"x":{"y":{"z":{"q":1,"q":1}}}})").error(), VerifyError::kDuplicateMember);
}

TEST(StrictJson, DuplicatesAreComparedAfterUnescaping) {
  // "\u0061" is "a": two spellings of one name are still one name.
  EXPECT_EQ(parse(R"({"a":1,"\u0061":2})").error(), VerifyError::kDuplicateMember);
  EXPECT_EQ(parse(R"({"alg":"EdDSA","al\u0067":"none"})").error(), VerifyError::kDuplicateMember);
}

TEST(StrictJson, SameNameInSiblingObjectsIsFine) {
  EXPECT_TRUE(parse(R"({"a":{"k":1},"b":{"k":2},"k":3})"));
  EXPECT_TRUE(parse(R"({"a":[{"k":1},{"k":2}]})"));
}

TEST(StrictJson, RejectsEverythingElse) {
  for (std::string_view bad : std::initializer_list<std::string_view>{
           "", "[]", "\"s\"", "1", "null", "{", "{\"a\":1}x", "{\"a\":1}{}", "{\"a\":1,}",
           "{/*c*/\"a\":1}", "{'a':1}", "{\"a\":\"\xff\"}", "{\"a\":\"\xc0\xaf\"}",
           "\xef\xbb\xbf{}"}) {
    auto parsed = parse(bad);
    EXPECT_FALSE(parsed) << bad;
    if (!parsed) {
      EXPECT_EQ(parsed.error(), VerifyError::kBadJson) << bad;
    }
  }
}

TEST(StrictJson, LimitsDepth) {
  std::string deep = "{\"a\":";
  for (int i = 0; i < 50; ++i) deep += "[";
  for (int i = 0; i < 50; ++i) deep += "]";
  deep += "}";
  EXPECT_EQ(parse(deep).error(), VerifyError::kBadJson);
}

TEST(StrictJson, RecoversAfterAFailure) {
  EXPECT_FALSE(parse(R"({"a":{"b":1,"b":2)"));
  EXPECT_FALSE(parse(R"({"a":{"b":1,"b":2}})"));
  auto ok = parse(R"({"b":1})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 1u);
}

TEST(StrictJson, DuplicatesFoundWhicheverWayTheObjectIsChecked) {
  // Small objects are checked name by name, large ones by sorting when they close: a repeat of
  // the first or of a middle name is found on both sides of the switch, nested or not.
  for (int members = 28; members <= 38; ++members) {
    std::string object = "{";
    for (int i = 0; i < members; ++i) {
      object += (i ? ",\"" : "\"") + std::to_string(i) + "\":0";
    }
    EXPECT_TRUE(parse(object + "}")) << members;
    EXPECT_EQ(parse(object + ",\"0\":1}").error(), VerifyError::kDuplicateMember) << members;
    EXPECT_EQ(parse(object + ",\"" + std::to_string(members / 2) + "\":1}").error(),
              VerifyError::kDuplicateMember)
        << members;
    EXPECT_EQ(parse("{\"x\":" + object + ",\"0\":1},\"y\":1}").error(),
              VerifyError::kDuplicateMember)
        << members;
  }
}

TEST(StrictJson, ManyMembersStayFast) {
  std::string big = "{";
  for (int i = 0; i < 2000; ++i) {
    big += (i ? ",\"" : "\"") + std::to_string(i) + "\":0";
  }
  EXPECT_TRUE(parse(big + "}"));
  EXPECT_EQ(parse(big + ",\"1999\":1}").error(), VerifyError::kDuplicateMember);
}

}  // namespace
}  // namespace bulwark::jwt::detail

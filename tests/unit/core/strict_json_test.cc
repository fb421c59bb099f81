#include "core/strict_json.h"

#include <gtest/gtest.h>

#include <boost/json/value.hpp>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace bulwark::core {
namespace {

namespace json = boost::json;

// Records what readStrictJsonObject() reports, one line per part.
class Recorder final : public StrictJsonVisitor {
 public:
  std::vector<std::string> events;

  void onKey(std::size_t depth, std::string_view name) override {
    events.push_back(std::to_string(depth) + " key " + std::string(name));
  }
  void onScalar(std::size_t depth, const JsonScalar& value) override {
    events.push_back(std::to_string(depth) + " " + describe(value));
  }
  void onContainer(std::size_t depth, bool is_array) override {
    events.push_back(std::to_string(depth) + (is_array ? " [" : " {"));
  }

  static std::string describe(const JsonScalar& value) {
    char number[64];
    switch (value.kind) {
      case JsonScalar::Kind::kString:
        return "string " + std::string(value.string);
      case JsonScalar::Kind::kInt64:
        return "int64 " + std::to_string(value.int64);
      case JsonScalar::Kind::kUint64:
        return "uint64 " + std::to_string(value.uint64);
      case JsonScalar::Kind::kDouble:
        std::snprintf(number, sizeof number, "%.17g", value.number);
        return std::string("double ") + number;
      case JsonScalar::Kind::kBool:
        return value.boolean ? "true" : "false";
      case JsonScalar::Kind::kNull:
        break;
    }
    return "null";
  }
};

// A Recorder for readStrictJsonObjectDirect(), which needs a final visitor with reset().
class DirectRecorder final : public StrictJsonVisitor {
 public:
  Recorder inner;
  int resets = 0;
  void reset() {
    inner.events.clear();
    ++resets;
  }
  void onKey(std::size_t depth, std::string_view name) override { inner.onKey(depth, name); }
  void onScalar(std::size_t depth, const JsonScalar& value) override {
    inner.onScalar(depth, value);
  }
  void onContainer(std::size_t depth, bool is_array) override {
    inner.onContainer(depth, is_array);
  }
};

// The oracle: the same parts, read from the value parseStrictJsonObject() builds.
void walk(const json::value& v, std::size_t depth, Recorder& out);

void walkObject(const json::object& object, std::size_t depth, Recorder& out) {
  for (const auto& member : object) {
    out.onKey(depth, std::string_view(member.key().data(), member.key().size()));
    walk(member.value(), depth, out);
  }
}

void walk(const json::value& v, std::size_t depth, Recorder& out) {
  JsonScalar scalar;
  switch (v.kind()) {
    case json::kind::object:
      out.onContainer(depth, false);
      walkObject(v.get_object(), depth + 1, out);
      return;
    case json::kind::array:
      out.onContainer(depth, true);
      for (const json::value& item : v.get_array()) walk(item, depth + 1, out);
      return;
    case json::kind::string:
      scalar.kind = JsonScalar::Kind::kString;
      scalar.string = std::string_view(v.get_string().data(), v.get_string().size());
      break;
    case json::kind::int64:
      scalar.kind = JsonScalar::Kind::kInt64;
      scalar.int64 = v.get_int64();
      break;
    case json::kind::uint64:
      scalar.kind = JsonScalar::Kind::kUint64;
      scalar.uint64 = v.get_uint64();
      break;
    case json::kind::double_:
      scalar.kind = JsonScalar::Kind::kDouble;
      scalar.number = v.get_double();
      break;
    case json::kind::bool_:
      scalar.kind = JsonScalar::Kind::kBool;
      scalar.boolean = v.get_bool();
      break;
    case json::kind::null:
      break;
  }
  out.onScalar(depth, scalar);
}

// Checks that the reader and the value parser agree on `text`: the verdict, the duplicate flag
// and, for an accepted document, every part in order.
void expectSameAsValueParse(std::string_view text, std::size_t max_depth) {
  bool value_duplicate = true, read_duplicate = true;
  const auto value = parseStrictJsonObject(text, max_depth, &value_duplicate);
  Recorder read;
  const bool accepted = readStrictJsonObject(text, max_depth, read, &read_duplicate);
  ASSERT_EQ(accepted, value.has_value()) << text << " depth " << max_depth;
  EXPECT_EQ(read_duplicate, value_duplicate) << text;
  // The direct reader: same verdict, flag and parts, whatever it reported before a reset.
  bool direct_duplicate = true;
  DirectRecorder direct;
  ASSERT_EQ(readStrictJsonObjectDirect(text, max_depth, direct, &direct_duplicate), accepted)
      << text << " depth " << max_depth;
  EXPECT_EQ(direct_duplicate, value_duplicate) << text;
  if (value) {
    Recorder oracle;
    walkObject(*value, 1, oracle);
    EXPECT_EQ(read.events, oracle.events) << text;
    EXPECT_EQ(direct.inner.events, oracle.events) << text;
  }
}

const std::vector<std::string> kDocuments = {
    R"({"alg":"HS256","typ":"JWT","kid":"k1"})",
    R"({"iss":"https://bulwark.test","sub":"alice","aud":["api","web"],"exp":1800000900,)"
    R"("nbf":1800000000,"iat":1800000000,"jti":"abc","sid":"s1","roles":["admin","user"]})",
    R"( { "a" : [ ] , "b" : { } , "c" : [ 1 , true , false , null , "x" ] } )",
    "{}",
    " {}\r\n",
    "{\t\"a\"\n:\r1}",
    R"({"":""})",
    R"({"a":0})",
    R"({"a":-0})",
    R"({"a":-1})",
    R"({"a":01})",
    R"({"a":1.5})",
    R"({"a":1e3})",
    R"({"a":1E+3})",
    R"({"a":123456789012345678})",
    R"({"a":1234567890123456789})",
    R"({"a":9223372036854775807})",
    R"({"a":9223372036854775808})",
    R"({"a":18446744073709551616})",
    R"({"a":"\u0041"})",
    R"({"\u0061":1,"a":2})",
    R"({"a":"é"})",
    "{\"a\":\"\x7f\"}",
    "{\"a\":\"\x01\"}",
    R"({"a":1,"a":1})",
    R"({"a":[1,2,],"b":1})",
    R"({"a":1,})",
    R"({"a":[{"b":1,"b":2}]})",
    R"({"x":{"a":1,"a":2}})",
    R"({"a":[[1]]})",
    R"({"a":tru})",
    R"({"a":nul})",
    R"({"a":truex})",
    R"({"a":1}x)",
    R"({"a":1}{})",
    R"([{"a":1,"a":2}])",
    R"([1])",
    R"("s")",
    "1",
    "",
    "{",
    R"({"a")",
    R"({"a":)",
    R"({"a":"b)",
    R"({"a" 1})",
    R"({"a":1 "b":2})",
    R"({'a':1})",
    R"({"a":[1 2]})",
    R"({"a":[1,"b":2]})",
    "\xef\xbb\xbf{}",
    R"({"a":1}  )",
};

TEST(StrictJsonReader, AgreesWithTheValueParser) {
  for (const std::string& text : kDocuments) {
    for (std::size_t depth : {1u, 2u, 3u, 20u}) {
      expectSameAsValueParse(text, depth);
    }
  }
}

TEST(StrictJsonReader, AgreesWithTheValueParserOnMutations) {
  // Deterministic mutations of the documents above: replaced, inserted and removed characters
  // drawn from JSON's own punctuation, so most mutants sit on the border of the grammar.
  constexpr std::string_view kAlphabet = "{}[]\":, \t\n\\01-9.eE+-tfnulrsa\x7f\xc3\xa9u";
  std::mt19937 random(20261205);
  for (int round = 0; round < 20000; ++round) {
    std::string text = kDocuments[random() % kDocuments.size()];
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = text.empty() ? 0 : random() % text.size();
      const char c = kAlphabet[random() % kAlphabet.size()];
      switch (random() % 3) {
        case 0:
          if (!text.empty()) text[at] = c;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          if (!text.empty()) text.erase(at, 1);
          break;
      }
    }
    expectSameAsValueParse(text, 20);
    if (HasFatalFailure() || HasFailure()) {
      return;
    }
  }
}

TEST(StrictJsonReader, AgreesOnEveryByteInEveryPositionOfStringsAndNames) {
  // The subset reader scans strings eight bytes at a time and compares names by an 8-byte key:
  // every byte value at every position of a string value and of a member name, for lengths
  // around the 8-byte boundaries, with the string at the start, middle and end of the document
  // (where fewer than eight bytes remain).
  for (std::size_t length = 1; length <= 19; ++length) {
    for (std::size_t position = 0; position < length; ++position) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string text(length, 'x');
        text[position] = static_cast<char>(byte);
        expectSameAsValueParse(R"({"a":")" + text + R"(","b":1})", 20);
        expectSameAsValueParse(R"({"b":1,"a":")" + text + R"("})", 20);
        expectSameAsValueParse(R"({")" + text + R"(":1,"b":[")" + text + R"("]})", 20);
        expectSameAsValueParse(R"({"b":1,")" + text + R"(":2})", 20);
        if (HasFailure()) {
          return;
        }
      }
    }
  }
}

TEST(StrictJsonReader, AgreesOnNamesSharingTheirFirstEightBytes) {
  for (const std::string name : {"", "a", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghij"}) {
    for (const std::string other : {"", "a", "b", "abcdefg", "abcdefgh", "abcdefgi", "abcdefghi",
                                    "abcdefghj", "abcdefghij"}) {
      expectSameAsValueParse("{\"" + name + "\":1,\"" + other + "\":2}", 20);
      expectSameAsValueParse("{\"" + name + "\":1,\"z\":0,\"" + other + "\":2}", 20);
      expectSameAsValueParse("{\"z\":0,\"" + name + "\":1,\"zz\":0,\"" + other + "\":2,\"y\":0}",
                             20);
    }
  }
}

TEST(StrictJsonReader, DirectReaderResetsItsVisitorBeforeTheGeneralParser) {
  // In the subset: read once, no reset.
  DirectRecorder simple;
  EXPECT_TRUE(readStrictJsonObjectDirect(R"({"a":"b","c":[1,true]})", 20, simple));
  EXPECT_EQ(simple.resets, 0);
  EXPECT_EQ(simple.inner.events.size(), 6U);
  // Outside the subset after two members (an escape): the parts seen are forgotten and the
  // general parser reports the whole document once.
  DirectRecorder escaped;
  EXPECT_TRUE(readStrictJsonObjectDirect(R"({"a":"b","c":1,"d":"\u0041"})", 20, escaped));
  EXPECT_EQ(escaped.resets, 1);
  EXPECT_EQ(escaped.inner.events, (std::vector<std::string>{"1 key a", "1 string b", "1 key c",
                                                            "1 int64 1", "1 key d", "1 string A"}));
  // A repeated name: the subset reader gives up, the general parser refuses.
  DirectRecorder repeated;
  bool duplicate = false;
  EXPECT_FALSE(readStrictJsonObjectDirect(R"({"a":1,"b":2,"a":3})", 20, repeated, &duplicate));
  EXPECT_TRUE(duplicate);
  EXPECT_EQ(repeated.resets, 1);
}

TEST(StrictJsonReader, ReportsDuplicatesAtEveryDepth) {
  Recorder read;
  bool duplicate = false;
  EXPECT_FALSE(readStrictJsonObject(R"({"a":1,"a":1})", 20, read, &duplicate));
  EXPECT_TRUE(duplicate);
  EXPECT_FALSE(readStrictJsonObject(R"({"x":[{"a":1},{"b":1,"b":1}]})", 20, read, &duplicate));
  EXPECT_TRUE(duplicate);
  EXPECT_FALSE(readStrictJsonObject(R"({"alg":"EdDSA","al\u0067":"none"})", 20, read, &duplicate));
  EXPECT_TRUE(duplicate);
  EXPECT_TRUE(readStrictJsonObject(R"({"a":{"k":1},"b":{"k":2},"k":3})", 20, read, &duplicate));
  EXPECT_FALSE(duplicate);
}

}  // namespace
}  // namespace bulwark::core

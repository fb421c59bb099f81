#include "audit/record.h"

#include <gtest/gtest.h>

#include "audit/detail/record_mac.h"
#include "audit/keys.h"
#include "audit_test_support.h"

namespace bulwark::audit {
namespace {

using testing::kKeyHex1;

std::string signedLine(const Event& event, std::uint64_t seq = 7, std::uint64_t epoch = 0,
                       const crypto::Digest256& prev = {}) {
  std::string line;
  appendSignedBytes(line, RecordPrefix{seq, "node-1", "k1", epoch, &prev}, event, "id-1");
  std::string raw;
  EXPECT_TRUE(crypto::fromHex(kKeyHex1, raw));
  crypto::HmacSha256 mac(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
  const auto digest = recordMac(mac, prev, seq, line);
  appendMacSuffix(line, digest);
  return line;
}

TEST(RecordFormat, HeaderIsFoundByPosition) {
  Event event = testing::makeEvent(EventType::kLoginFailed);
  crypto::Digest256 prev{};
  prev[0] = 0xab;
  const std::string line = signedLine(event, 42, 3, prev);
  RecordHeader header;
  ASSERT_TRUE(parseRecordHeader(line, header)) << line;
  EXPECT_EQ(header.seq, 42u);
  EXPECT_EQ(header.node, "node-1");
  EXPECT_EQ(header.kid, "k1");
  EXPECT_EQ(header.epoch, 3u);
  EXPECT_EQ(header.prev_hex.substr(0, 4), "ab00");
  EXPECT_EQ(header.type, "LOGIN_FAILED");
  EXPECT_EQ(header.signed_bytes.size() + kMacSuffixSize, line.size());
  EXPECT_EQ(line.substr(header.signed_bytes.size(), 8), ",\"mac\":\"");
  EXPECT_EQ(line.rfind("{\"seq\":42,\"node\":\"node-1\",\"kid\":\"k1\",\"epoch\":3,\"prev\":\"", 0),
            0u);
}

TEST(RecordFormat, MacCoversPrevSeqAndBytes) {
  const Event event = testing::makeEvent(EventType::kLogin);
  crypto::Digest256 prev{};
  const std::string line = signedLine(event, 5, 0, prev);
  RecordHeader header;
  ASSERT_TRUE(parseRecordHeader(line, header));
  std::string raw;
  ASSERT_TRUE(crypto::fromHex(kKeyHex1, raw));
  crypto::HmacSha256 mac(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
  crypto::Digest256 stored{};
  ASSERT_TRUE(parseDigestHex(header.mac_hex, stored));
  EXPECT_EQ(recordMac(mac, prev, 5, header.signed_bytes), stored);
  EXPECT_NE(recordMac(mac, prev, 6, header.signed_bytes), stored);
  crypto::Digest256 other_prev{};
  other_prev[31] = 1;
  EXPECT_NE(recordMac(mac, other_prev, 5, header.signed_bytes), stored);
  // The MAC is HMAC(key, prev ‖ be64(seq) ‖ bytes), as documented.
  std::string input(32, '\0');
  input += std::string("\0\0\0\0\0\0\0\x05", 8);
  input += header.signed_bytes;
  const auto direct = crypto::hmacSha256(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()),
      input);
  EXPECT_EQ(direct, stored);
}

TEST(RecordFormat, FullParseRoundTripsHostileStrings) {
  Event event = testing::makeEvent(EventType::kRequestRejected);
  event.actor = "eve\"\\\n\t\x01\x7f";
  event.target = "caf\xc3\xa9 \xf0\x9f\x94\x92";  // UTF-8 kept as is
  event.details = {{"a\"b", "c,d:}{"}, {"dup", "1"}, {"dup", "2"}, {"", ""}};
  const std::string line = signedLine(event);
  Record record;
  std::string error;
  ASSERT_TRUE(parseRecord(line, record, &error)) << error << "\n" << line;
  EXPECT_EQ(record.seq, 7u);
  EXPECT_EQ(record.type_name, "REQUEST_REJECTED");
  EXPECT_TRUE(record.known_type);
  EXPECT_EQ(record.event.actor, event.actor);
  EXPECT_EQ(record.event.target, event.target);
  EXPECT_EQ(record.event.details, event.details);
  EXPECT_EQ(record.event.time, event.time);
  EXPECT_EQ(record.event.id, "id-1");
  EXPECT_EQ(serializeRecord(record), line);
}

TEST(RecordFormat, InvalidUtf8BecomesReplacementCharacter) {
  Event event = testing::makeEvent(EventType::kRequest);
  event.target = std::string("a\xff\xfe", 3);
  const std::string line = signedLine(event);
  Record record;
  ASSERT_TRUE(parseRecord(line, record));
  EXPECT_EQ(record.event.target, "a\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(RecordFormat, LongFieldsAreCutAtUtf8Boundaries) {
  Event event = testing::makeEvent(EventType::kRequest);
  event.target = std::string(100, 'x') + "\xc3\xa9\xc3\xa9\xc3\xa9" + std::string(100, 'y');
  crypto::Digest256 prev{};
  std::string line;
  appendSignedBytes(line, RecordPrefix{1, "n", "k", 0, &prev}, event, "id", 40);
  appendMacSuffix(line, prev);
  Record record;
  ASSERT_TRUE(parseRecord(line, record)) << line;
  EXPECT_LE(record.event.target.size(), 40u);
  EXPECT_NE(record.event.target.find("[truncated]"), std::string::npos);
}

TEST(RecordFormat, RejectsWhatIsNotARecord) {
  const std::string good = signedLine(testing::makeEvent(EventType::kLogin));
  RecordHeader header;
  Record record;
  ASSERT_TRUE(parseRecordHeader(good, header));
  std::vector<std::string> bad = {
      "",         "{}", good.substr(0, good.size() - 1),  // cut
      good + " ",                                         // trailing byte
      " " + good,                                         // leading byte
  };
  std::string leading_zero = good;
  leading_zero.replace(leading_zero.find(":7,"), 3, ":07,");
  bad.push_back(leading_zero);
  std::string zero_seq = good;
  zero_seq.replace(zero_seq.find(":7,"), 3, ":0,");
  bad.push_back(zero_seq);
  std::string upper_hex = good;
  upper_hex[upper_hex.size() - 3] = 'A';
  bad.push_back(upper_hex);
  std::string bad_node = good;
  bad_node.replace(bad_node.find("node-1"), 6, "node 1");
  bad.push_back(bad_node);
  for (const auto& line : bad) {
    EXPECT_FALSE(parseRecordHeader(line, header) && parseRecord(line, record)) << line;
  }
  // The full parser is stricter than the header: a broken middle is only its business.
  std::string broken_middle = good;
  broken_middle.replace(broken_middle.find("\"actor\""), 7, "\"actxr\"");
  EXPECT_TRUE(parseRecordHeader(broken_middle, header));
  std::string error;
  EXPECT_FALSE(parseRecord(broken_middle, record, &error));
  EXPECT_NE(error.find("actor"), std::string::npos) << error;
  std::string lone_surrogate = good;
  lone_surrogate.replace(lone_surrogate.find("alice"), 5, "\\ud800");
  EXPECT_FALSE(parseRecord(lone_surrogate, record));
}

TEST(RecordFormat, TimestampsRoundTripAtMicroseconds) {
  const core::SystemTime time{std::chrono::microseconds(1'700'000'000'123'456)};
  std::string text;
  appendTimestamp(text, time);
  EXPECT_EQ(text, "2023-11-14T22:13:20.123456Z");
  core::SystemTime parsed;
  ASSERT_TRUE(parseTimestamp(text, parsed));
  EXPECT_EQ(parsed, time);
  ASSERT_TRUE(parseTimestamp("2024-02-29T00:00:00Z", parsed));
  for (const char* bad : {"2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00Z",
                          "2024-01-01T24:00:00Z", "2024-01-01T00:00:00", "2024-01-01T00:00:00.Z",
                          "4054-01-15T08:00:00.000000Z", "1969-12-31T23:59:59Z"}) {
    EXPECT_FALSE(parseTimestamp(bad, parsed)) << bad;
  }
}

TEST(RecordFormat, HexDigestsDecodeAndRejectEveryNonHexByte) {
  crypto::Digest256 digest{};
  for (std::size_t i = 0; i < digest.size(); ++i)
    digest[i] = static_cast<std::uint8_t>(i * 37 + 11);
  std::string hex;
  appendDigestHex(hex, digest);
  crypto::Digest256 parsed{};
  ASSERT_TRUE(parseDigestHex(hex, parsed));
  EXPECT_EQ(parsed, digest);
  std::string upper = hex;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_TRUE(parseDigestHex(upper, parsed));
  EXPECT_EQ(parsed, digest);
  EXPECT_EQ(crypto::toHex(parsed), hex);
  for (std::size_t position = 0; position < 64; position += 7) {
    for (const char bad : {'g', 'G', '/', ':', '@', '`', ' ', '\0', '\x80', '\xff'}) {
      std::string broken = hex;
      broken[position] = bad;
      EXPECT_FALSE(parseDigestHex(broken, parsed)) << position << " " << int(bad);
    }
  }
  EXPECT_FALSE(parseDigestHex(hex.substr(1), parsed));
}

TEST(RecordFormat, IdsAreRestricted) {
  EXPECT_TRUE(isValidId("node-1.example_a"));
  EXPECT_FALSE(isValidId(""));
  EXPECT_FALSE(isValidId("a\"b"));
  EXPECT_FALSE(isValidId(std::string(65, 'a')));
  EXPECT_TRUE(isValidId(std::string(64, 'a')));
}

// Exact bytes, written out by hand from the layout in record.h, with MACs computed outside
// bulwark (Python's hmac module): the serialiser's fast path (plain strings) and its general
// path (escapes) must both keep producing them, or stored trails stop verifying.
struct GoldenRecord {
  Event event;
  std::uint64_t seq;
  std::string id;
  std::string line;  // signed bytes
  std::string mac_hex;
};

std::vector<GoldenRecord> goldenRecords() {
  std::vector<GoldenRecord> golden;
  const core::SystemTime time{std::chrono::seconds(1'800'000'000) + std::chrono::microseconds(42)};
  Event plain;
  plain.type = EventType::kRequest;
  plain.time = time;
  plain.client_address = "192.0.2.7";
  plain.request_id = "6f1c2a9e4b7d4c03a1e5f2b8c9d0e7a1";
  plain.target = "api";
  plain.details = {{"method", "GET"}, {"path", "/api/v1/things"}, {"status", "200"},
                   {"duration_us", "1234"}};
  golden.push_back(
      {plain, 12345, "0123456789abcdef0000000000003039",
       R"({"seq":12345,"node":"node-1","kid":"k1","epoch":2,"prev":"ab00000000000000000000000000000000000000000000000000000000000001","type":"REQUEST","id":"0123456789abcdef0000000000003039","time":"2027-01-15T08:00:00.000042Z","severity":"info","outcome":"success","actor":"","client":"192.0.2.7","request_id":"6f1c2a9e4b7d4c03a1e5f2b8c9d0e7a1","target":"api","details":{"method":"GET","path":"/api/v1/things","status":"200","duration_us":"1234"})",
       "a59cb8161243728812a09c69848022a5848c65724395f3a9617be5fbcad75831"});
  Event hostile;
  hostile.type = EventType::kAccessDenied;
  hostile.severity = Severity::kMedium;
  hostile.outcome = Outcome::kDenied;
  hostile.time = time;
  hostile.actor = "al\\ice\n\x01\x7f";
  hostile.client_address = "10.0.0.1";
  hostile.request_id = "r\t";
  hostile.target = "caf\xc3\xa9";
  hostile.details = {{"reason", "bad\xff"
                                "byte"}};
  golden.push_back(
      {hostile, 1, "id-\"x",
       R"({"seq":1,"node":"n","kid":"k","epoch":0,"prev":"ab00000000000000000000000000000000000000000000000000000000000001","type":"ACCESS_DENIED","id":"id-\"x","time":"2027-01-15T08:00:00.000042Z","severity":"medium","outcome":"denied","actor":"al\\ice\n\u0001\u007f","client":"10.0.0.1","request_id":"r\t","target":")"
       "caf\xc3\xa9"
       R"(","details":{"reason":"bad\ufffdbyte"})",
       "0527bd022050eb2a93715b528498899a85cd52ad0cb2d1c49290158bc66ed2e7"});
  return golden;
}

TEST(RecordFormat, SignedBytesAndMacsAreByteExact) {
  crypto::Digest256 prev{};
  prev[0] = 0xab;
  prev[31] = 0x01;
  std::string raw;
  ASSERT_TRUE(crypto::fromHex(kKeyHex1, raw));
  const std::span<const std::uint8_t> key(reinterpret_cast<const std::uint8_t*>(raw.data()),
                                          raw.size());
  crypto::HmacSha256 hmac(key);
  detail::RecordMacKey record_mac(key);
  bool first = true;
  for (const auto& golden : goldenRecords()) {
    std::string line = "left alone";  // appends after what is there
    const RecordPrefix prefix{golden.seq, first ? "node-1" : "n", first ? "k1" : "k",
                              first ? 2u : 0u, &prev};
    first = false;
    appendSignedBytes(line, prefix, golden.event, golden.id, 4096);
    EXPECT_EQ(line, "left alone" + golden.line);
    std::string mac_hex;
    appendDigestHex(mac_hex, record_mac.mac(prev, golden.seq, golden.line));
    EXPECT_EQ(mac_hex, golden.mac_hex);
    mac_hex.clear();
    appendDigestHex(mac_hex, recordMac(hmac, prev, golden.seq, golden.line));
    EXPECT_EQ(mac_hex, golden.mac_hex);
  }
}

// Whatever the strings hold, the serialiser agrees with serializeRecord, which writes every
// field through core::appendJsonString. (Invalid UTF-8, written as \ufffd, does not read back
// as the same bytes; the golden records cover it.)
TEST(RecordFormat, SerialiserAgreesWithFieldByFieldSerialisation) {
  const std::vector<std::string> values = {"",
                                           "plain",
                                           std::string(40, 'p'),
                                           "sixteen-bytes-ok",
                                           "quote\"inside-a-longer-string",
                                           "back\\slash",
                                           "tab\there",
                                           std::string("nul\0byte", 8),
                                           "del\x7f",
                                           "utf8-\xc3\xa9-and-more-than-sixteen",
                                           std::string(100, 'x') + "~"};
  crypto::Digest256 prev{};
  for (std::size_t i = 0; i < values.size(); ++i) {
    Event event = testing::makeEvent(EventType::kRequest);
    event.actor = values[i];
    event.client_address = values[(i + 1) % values.size()];
    event.request_id = values[(i + 2) % values.size()];
    event.target = values[(i + 3) % values.size()];
    event.details = {{"k", values[(i + 4) % values.size()]}, {values[i], "v"}};
    event.time += std::chrono::microseconds(i * 700'001);  // also across seconds
    for (std::size_t max : {std::size_t{0}, std::size_t{64}}) {
      std::string line;
      appendSignedBytes(line, RecordPrefix{i + 1, "node-1", "k1", 0, &prev}, event, values[i],
                        max);
      appendMacSuffix(line, prev);
      Record record;
      ASSERT_TRUE(parseRecord(line, record)) << line;
      EXPECT_EQ(serializeRecord(record), line);
      if (max == 0) {
        EXPECT_EQ(record.event.actor.empty(), values[i].empty());
        EXPECT_EQ(record.event.time, event.time);
      }
    }
  }
}

TEST(RecordFormat, TimestampsWithinAndAcrossSeconds) {
  const core::SystemTime base{std::chrono::microseconds(1'700'000'000'123'456)};
  for (const auto& [offset, text] : std::vector<std::pair<std::int64_t, std::string>>{
           {0, "2023-11-14T22:13:20.123456Z"},
           {1, "2023-11-14T22:13:20.123457Z"},
           {876'543, "2023-11-14T22:13:20.999999Z"},
           {876'544, "2023-11-14T22:13:21.000000Z"},
           {-1'000'000, "2023-11-14T22:13:19.123456Z"},
           {86'400'000'000, "2023-11-15T22:13:20.123456Z"},
           {0, "2023-11-14T22:13:20.123456Z"}}) {
    std::string out;
    appendTimestamp(out, base + std::chrono::microseconds(offset));
    EXPECT_EQ(out, text);
  }
}

// The writer's keyed SHA-256 states give HMAC-SHA256 for every key and message length.
TEST(RecordMac, KeyedStatesMatchHmacSha256) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) bytes.push_back(static_cast<char>(i * 7 + 3));
  for (std::size_t key_size : {1, 16, 31, 32, 63, 64, 65, 200}) {  // audit keys are never empty
    std::vector<std::uint8_t> key(key_size);
    for (std::size_t i = 0; i < key_size; ++i) key[i] = static_cast<std::uint8_t>(i * 13 + 5);
    crypto::HmacSha256 hmac(key);
    detail::RecordMacKey record_mac(key);
    crypto::Digest256 prev{};
    for (std::size_t length = 0; length <= bytes.size(); length += 23) {
      const std::string_view message(bytes.data(), length);
      const std::uint64_t seq = 0x0102030405060708ull + length;
      const auto expected = recordMac(hmac, prev, seq, message);
      EXPECT_EQ(record_mac.mac(prev, seq, message), expected) << key_size << " " << length;
      prev = expected;
    }
  }
}

}  // namespace
}  // namespace bulwark::audit

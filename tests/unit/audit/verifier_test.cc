// Tampering with a real trail written by the writer, and what `verify` says about it.

#include "audit/verifier.h"

#include <gtest/gtest.h>

#include "audit/record.h"
#include "audit_test_support.h"

namespace bulwark::audit {
namespace {

using testing::kKeyHex1;
using testing::kKeyHex2;
using testing::readLines;
using testing::writeLines;

class AuditVerifierTest : public ::testing::Test {
 protected:
  // 12 events with a checkpoint after every 5: seqs 1-5, checkpoint 6, 7-11, checkpoint 12,
  // 13-14, in one segment file.
  void SetUp() override {
    auto config = testing::testConfig();
    config.checkpoint_every = 5;
    auto writer = testing::openWriter(dir_.path(), config, testing::key1(), clock_, random_);
    ASSERT_TRUE(writer);
    for (int i = 0; i < 12; ++i) {
      auto event = testing::makeEvent(EventType::kLogin, "user-" + std::to_string(i));
      writer->append(std::move(event));
    }
    writer->close();
    const auto files = testing::segments(dir_.path());
    ASSERT_EQ(files.size(), 1u);
    segment_ = files[0].path;
    lines_ = readLines(segment_);
    ASSERT_EQ(lines_.size(), 14u);
  }

  VerifyReport verify(const KeyRing& keys,
                      std::optional<ExternalCheckpoint> checkpoint = std::nullopt) {
    VerifyOptions options;
    options.directory = dir_.path();
    options.keys = &keys;
    options.checkpoint = std::move(checkpoint);
    auto report = verifyTrail(options);
    EXPECT_TRUE(report) << (report ? "" : report.error().message);
    return report ? std::move(*report) : VerifyReport{};
  }
  VerifyReport verify() { return verify(testing::key1()); }

  void expectFinding(const VerifyReport& report, Damage kind, std::uint64_t line,
                     std::uint64_t seq) {
    ASSERT_FALSE(report.intact()) << "expected " << damageName(kind);
    EXPECT_EQ(report.finding->kind, kind)
        << damageName(report.finding->kind) << ": " << report.finding->detail;
    EXPECT_EQ(report.finding->file, segment_);
    EXPECT_EQ(report.finding->line, line) << report.finding->detail;
    EXPECT_EQ(report.finding->seq, seq) << report.finding->detail;
  }

  // Re-signs lines [from, end) with `key_hex`, relinking prev, optionally under another kid:
  // what an attacker holding a key would do.
  std::vector<std::string> resign(std::vector<std::string> lines, std::size_t from,
                                  const std::string& key_hex, const std::string& kid = "") {
    std::string raw;
    EXPECT_TRUE(crypto::fromHex(key_hex, raw));
    crypto::HmacSha256 mac(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
    crypto::Digest256 prev{};
    if (from > 0) {
      RecordHeader before;
      EXPECT_TRUE(parseRecordHeader(lines[from - 1], before));
      EXPECT_TRUE(parseDigestHex(before.mac_hex, prev));
    }
    for (std::size_t i = from; i < lines.size(); ++i) {
      RecordHeader header;
      EXPECT_TRUE(parseRecordHeader(lines[i], header));
      std::string bytes(header.signed_bytes);
      const auto at = bytes.find("\"prev\":\"") + 8;
      std::string prev_hex;
      appendDigestHex(prev_hex, prev);
      bytes.replace(at, 64, prev_hex);
      if (!kid.empty()) bytes.replace(bytes.find("\"kid\":\"k1\""), 10, "\"kid\":\"" + kid + "\"");
      prev = recordMac(mac, prev, header.seq, bytes);
      appendMacSuffix(bytes, prev);
      lines[i] = bytes;
    }
    return lines;
  }

  testing::TempDir dir_;
  core::SimulatedClock clock_;
  testing::CountingRandom random_;
  std::string segment_;
  std::vector<std::string> lines_;
};

TEST_F(AuditVerifierTest, AnIntactTrailVerifies) {
  const auto report = verify();
  ASSERT_TRUE(report.intact()) << report.finding->detail;
  EXPECT_EQ(report.records, 14u);
  EXPECT_EQ(report.first_seq, 1u);
  EXPECT_EQ(report.last_seq, 14u);
  EXPECT_EQ(report.checkpoints, 2u);
  EXPECT_EQ(report.last_checkpoint_seq, 12u);
  EXPECT_EQ(report.node, "node-1");
  EXPECT_TRUE(report.notes.empty());
}

TEST_F(AuditVerifierTest, EditedByteIsModified) {
  auto lines = lines_;
  lines[3].replace(lines[3].find("user-3"), 6, "user-X");
  writeLines(segment_, lines);
  const auto report = verify();
  expectFinding(report, Damage::kModified, 4, 4);
  EXPECT_NE(report.finding->detail.find("MAC mismatch"), std::string::npos);
}

TEST_F(AuditVerifierTest, EditedSeqDigitIsModified) {
  auto lines = lines_;
  lines[3].replace(0, 9, "{\"seq\":9,");
  writeLines(segment_, lines);
  expectFinding(verify(), Damage::kModified, 4, 9);
}

TEST_F(AuditVerifierTest, EditedMacIsModified) {
  auto lines = lines_;
  char& c = lines[3][lines[3].size() - 3];
  c = c == '0' ? '1' : '0';
  writeLines(segment_, lines);
  expectFinding(verify(), Damage::kModified, 4, 4);
}

TEST_F(AuditVerifierTest, DeletedLineIsDeleted) {
  auto lines = lines_;
  lines.erase(lines.begin() + 3);
  writeLines(segment_, lines);
  const auto report = verify();
  expectFinding(report, Damage::kDeleted, 4, 5);
  EXPECT_NE(report.finding->detail.find("record seq 4 is missing"), std::string::npos)
      << report.finding->detail;
}

TEST_F(AuditVerifierTest, DeletedLinesAtTheStartAreDeleted) {
  auto lines = lines_;
  lines.erase(lines.begin(), lines.begin() + 2);
  writeLines(segment_, lines);
  const auto report = verify();
  expectFinding(report, Damage::kDeleted, 1, 3);
  EXPECT_NE(report.finding->detail.find("records 1..2 (2) are missing"), std::string::npos)
      << report.finding->detail;
}

TEST_F(AuditVerifierTest, SwappedLinesAreReordered) {
  auto lines = lines_;
  std::swap(lines[3], lines[4]);
  writeLines(segment_, lines);
  const auto report = verify();
  expectFinding(report, Damage::kReordered, 4, 5);
  EXPECT_NE(report.finding->detail.find(segment_ + ":5"), std::string::npos)
      << report.finding->detail;
}

TEST_F(AuditVerifierTest, ForgedLineIsInserted) {
  // A forger copies a record, changes it and cannot produce its MAC.
  auto lines = lines_;
  std::string forged = lines[3];
  forged.replace(forged.find("user-3"), 6, "user-Z");
  lines.insert(lines.begin() + 3, forged);
  writeLines(segment_, lines);
  const auto report = verify();
  expectFinding(report, Damage::kInserted, 4, 4);
}

TEST_F(AuditVerifierTest, ForeignLineIsInserted) {
  auto lines = lines_;
  lines.insert(lines.begin() + 6, "{\"hello\":\"world\"}");
  writeLines(segment_, lines);
  expectFinding(verify(), Damage::kInserted, 7, 0);
}

TEST_F(AuditVerifierTest, ReplayedRecordIsInserted) {
  auto lines = lines_;
  lines.insert(lines.begin() + 5, lines[1]);  // seq 2 again, after seq 5
  writeLines(segment_, lines);
  const auto report = verify();
  expectFinding(report, Damage::kInserted, 6, 2);
  EXPECT_NE(report.finding->detail.find("replayed"), std::string::npos);
}

TEST_F(AuditVerifierTest, GarbageLineIsBadFormat) {
  auto lines = lines_;
  lines.push_back("garbage");
  writeLines(segment_, lines);
  expectFinding(verify(), Damage::kBadFormat, 15, 0);
}

TEST_F(AuditVerifierTest, CutTailIsTruncatedOnlyWithAnExternalCheckpoint) {
  // The SIEM kept checkpoint record seq 12 as it received it.
  const std::string kept = lines_[11];
  auto checkpoint = parseExternalCheckpoint(kept, nullptr);
  ASSERT_TRUE(checkpoint) << checkpoint.error().message;
  EXPECT_EQ(checkpoint->seq, 12u);
  // Cut everything after checkpoint 6.
  writeLines(segment_, std::vector<std::string>(lines_.begin(), lines_.begin() + 6));
  // An HMAC chain alone cannot see it.
  EXPECT_TRUE(verify().intact());
  const auto report = verify(testing::key1(), *checkpoint);
  expectFinding(report, Damage::kTruncated, 6, 6);
  EXPECT_NE(report.finding->detail.find("after checkpoint 6"), std::string::npos)
      << report.finding->detail;
  EXPECT_NE(report.finding->detail.find("seq 12"), std::string::npos);
  // The same from the minimal JSON form.
  RecordHeader header;
  ASSERT_TRUE(parseRecordHeader(kept, header));
  auto minimal = parseExternalCheckpoint(
      "{\"seq\": 12, \"mac\": \"" + std::string(header.mac_hex) + "\"}", nullptr);
  ASSERT_TRUE(minimal) << minimal.error().message;
  EXPECT_EQ(verify(testing::key1(), *minimal).finding->kind, Damage::kTruncated);
}

TEST_F(AuditVerifierTest, ExternalCheckpointIsAuthenticated) {
  std::string forged = lines_[11];
  forged.replace(forged.find("\"reason\""), 8, "\"rEason\"");
  const auto keys = testing::key1();
  EXPECT_FALSE(parseExternalCheckpoint(forged, &keys));
  EXPECT_TRUE(parseExternalCheckpoint(lines_[11], &keys));
  EXPECT_FALSE(parseExternalCheckpoint("{\"seq\":1}", nullptr));
  EXPECT_FALSE(parseExternalCheckpoint("not json", nullptr));
  EXPECT_FALSE(
      parseExternalCheckpoint("{\"seq\":0,\"mac\":\"" + std::string(64, 'a') + "\"}", nullptr));
}

TEST_F(AuditVerifierTest, ResignedWithWrongKeyIsModified) {
  auto lines = lines_;
  lines[3].replace(lines[3].find("user-3"), 6, "user-W");
  writeLines(segment_, resign(lines, 3, kKeyHex2));
  const auto report = verify();
  expectFinding(report, Damage::kModified, 4, 4);
  EXPECT_NE(report.finding->detail.find("different key"), std::string::npos);
}

TEST_F(AuditVerifierTest, ResignedUnderAnUnknownKidIsUnknownKey) {
  auto lines = lines_;
  lines[3].replace(lines[3].find("user-3"), 6, "user-W");
  writeLines(segment_, resign(lines, 3, kKeyHex2, "k9"));
  const auto report = verify();
  expectFinding(report, Damage::kUnknownKey, 4, 4);
  EXPECT_NE(report.finding->detail.find("k9"), std::string::npos);
}

TEST_F(AuditVerifierTest, RewriteWithAStolenKeyShowsAgainstAnExternalCheckpoint) {
  auto checkpoint = parseExternalCheckpoint(lines_[5], nullptr);  // checkpoint 6, kept by a SIEM
  ASSERT_TRUE(checkpoint);
  auto lines = lines_;
  lines[2].replace(lines[2].find("user-2"), 6, "user-R");
  writeLines(segment_, resign(lines, 2, kKeyHex1));
  EXPECT_TRUE(verify().intact());  // the chain itself is consistent again
  const auto report = verify(testing::key1(), *checkpoint);
  expectFinding(report, Damage::kModified, 6, 6);
  EXPECT_NE(report.finding->detail.find("rewritten"), std::string::npos);
}

TEST_F(AuditVerifierTest, IncompleteLastLineIsANoteNotDamage) {
  testing::writeFile(segment_, testing::readFile(segment_) + "{\"seq\":15,\"node\":\"no");
  const auto report = verify();
  EXPECT_TRUE(report.intact());
  ASSERT_EQ(report.notes.size(), 1u);
  EXPECT_NE(report.notes[0].find("incomplete last line"), std::string::npos);
}

TEST_F(AuditVerifierTest, DeletedSegmentIsDeleted) {
  // A second trail with small segments; delete a middle one.
  testing::TempDir dir;
  auto writer = testing::openWriter(dir.path(), testing::testConfig(), testing::key1(), clock_,
                                    random_, 1024);
  for (int i = 0; i < 30; ++i) {
    writer->waitDurable(writer->append(testing::makeEvent(EventType::kRequest)));
  }
  writer->close();
  auto files = testing::segments(dir.path());
  ASSERT_GE(files.size(), 3u);
  std::filesystem::remove(files[1].path);
  const auto keys = testing::key1();
  VerifyOptions options;
  options.directory = dir.path();
  options.keys = &keys;
  auto report = verifyTrail(options);
  ASSERT_TRUE(report);
  ASSERT_FALSE(report->intact());
  EXPECT_EQ(report->finding->kind, Damage::kDeleted);
  EXPECT_EQ(report->finding->file, files[2].path);
  EXPECT_EQ(report->finding->line, 1u);
  EXPECT_EQ(report->finding->seq, files[2].first_seq);
}

TEST_F(AuditVerifierTest, MissingTrailIsAnError) {
  const auto keys = testing::key1();
  VerifyOptions options;
  options.directory = dir_.sub("nothing-here");
  options.keys = &keys;
  EXPECT_FALSE(verifyTrail(options));
  options.directory = dir_.path();
  options.keys = nullptr;
  EXPECT_FALSE(verifyTrail(options));
}

}  // namespace
}  // namespace bulwark::audit

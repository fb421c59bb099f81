#pragma once
// Shared helpers of the audit tests: a temporary trail directory, fixed keys, a writer over a
// real file store, and line-level editing of segment files for tampering.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "audit/detail/line_reader.h"
#include "audit/file_store.h"
#include "audit/keys.h"
#include "audit/writer.h"
#include "core/clock.h"
#include "crypto/hmac.h"
#include "crypto/random.h"

namespace bulwark::audit::testing {

// 32-byte keys as hex, fixed so failures reproduce.
inline constexpr const char* kKeyHex1 =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
inline constexpr const char* kKeyHex2 =
    "f0e0d0c0b0a090807060504030201000f1e1d1c1b1a191817161514131211101";

inline KeyRing keyRing(const std::string& text) {
  auto ring = parseKeyRing(text, "test");
  EXPECT_TRUE(ring.has_value()) << (ring ? "" : ring.error().message);
  return ring ? std::move(*ring) : KeyRing();
}

inline KeyRing key1() { return keyRing(std::string("k1:") + kKeyHex1); }

// Random bytes from a counter: repeatable ids.
class CountingRandom final : public crypto::Random {
 public:
  void fill(std::span<std::uint8_t> out) override {
    for (auto& byte : out) byte = static_cast<std::uint8_t>(next_++);
  }

 private:
  std::uint8_t next_ = 1;
};

// A fresh directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "bulwark_audit_XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline WriterConfig testConfig() {
  WriterConfig config;
  config.node = "node-1";
  config.durability = Durability::kSync;
  config.checkpoint_every = 0;
  config.checkpoint_interval = std::chrono::milliseconds(0);
  config.checkpoint_on_close = false;
  return config;
}

inline Event makeEvent(EventType type, std::string actor = "alice", std::string client = "10.0.0.1",
                       std::string request_id = "req-1") {
  Event event;
  event.type = type;
  event.actor = std::move(actor);
  event.client_address = std::move(client);
  event.request_id = std::move(request_id);
  event.target = "/api/things";
  event.time = core::SystemTime(std::chrono::seconds(1'800'000'000));
  event.details = {{"method", "GET"}, {"status", "200"}};
  return event;
}

// Opens a writer on a file store in `dir` (asserting success).
inline WriterPtr openWriter(const std::string& dir, WriterConfig config, KeyRing keys,
                            core::Clock& clock, crypto::Random& random,
                            std::uint64_t segment_size = 64ull << 20,
                            std::vector<std::shared_ptr<RecordObserver>> observers = {},
                            bool preallocate = false) {
  WriterDeps deps;
  deps.store = makeFileStore({dir, segment_size, preallocate});
  deps.keys = std::move(keys);
  deps.clock = &clock;
  deps.random = &random;
  deps.observers = std::move(observers);
  auto writer = Writer::open(std::move(config), std::move(deps));
  EXPECT_TRUE(writer.has_value()) << (writer ? "" : writer.error().message);
  return writer ? *writer : nullptr;
}

inline std::vector<detail::SegmentFile> segments(const std::string& dir) {
  auto listed = detail::listSegments(dir);
  EXPECT_TRUE(listed.has_value());
  return listed ? *listed : std::vector<detail::SegmentFile>();
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The lines of a file (without '\n'); a last fragment without '\n' is included.
inline std::vector<std::string> readLines(const std::string& path) {
  std::vector<std::string> lines;
  const std::string text = readFile(path);
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

inline void writeLines(const std::string& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  writeFile(path, text);
}

}  // namespace bulwark::audit::testing

// libFuzzer target for a segment file holding arbitrary bytes — torn lines, NUL tails (the file
// store's preallocated space), bytes beyond NULs, garbage — read by the verifier and repaired by
// the file store's open().
//
// Besides crashes and sanitizer reports it checks that the repair never loses data: open() only
// cuts the segment's end; what stays is a prefix of the input ending in '\n' with no NUL byte;
// every cut byte is either a NUL or in the quarantine file, in order; and a segment left with
// no complete line is removed only when all its bytes were kept or NUL. The verifier must give a
// report (or an I/O error), never crash, on the damaged file and on the repaired one.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "audit/file_store.h"
#include "audit/keys.h"
#include "audit/verifier.h"
#include "core/log.h"

namespace {

namespace fs = std::filesystem;
using namespace bulwark::audit;

void check(bool condition) {
  if (!condition) std::abort();
}

// A directory for the whole run: tmpfs when there is one (open() fsyncs).
const std::string& workDirectory() {
  static const std::string dir = [] {
    std::string base = "/dev/shm";
    if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') base = tmp;
    if (!fs::is_directory(base)) base = "/tmp";
    std::string pattern = base + "/bulwark-fuzz-trail-XXXXXX";
    check(::mkdtemp(pattern.data()) != nullptr);
    bulwark::core::setLogLevel(bulwark::core::LogLevel::kOff);  // repairs log; we check instead
    return pattern;
  }();
  static const bool cleanup_registered = [] {
    return std::atexit([] { fs::remove_all(workDirectory()); }) == 0;
  }();
  (void)cleanup_registered;
  return dir;
}

const KeyRing& keys() {
  static const KeyRing ring = [] {
    auto parsed = parseKeyRing("k1:" + std::string(64, 'a'), "fuzz");
    check(parsed.has_value());
    return std::move(*parsed);
  }();
  return ring;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool allNul(std::string_view bytes) { return bytes.find_first_not_of('\0') == bytes.npos; }

void verifyOnce(const std::string& dir) {
  VerifyOptions options;
  options.directory = dir;
  options.keys = &keys();
  (void)verifyTrail(options);  // a report or an I/O error; never a crash
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string dir = workDirectory() + "/trail";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string segment = dir + "/segment-00000000000000000001.ndjson";
  {
    std::ofstream out(segment, std::ios::binary);
    out.write(input.data(), static_cast<std::streamsize>(input.size()));
  }

  verifyOnce(dir);

  const StorePtr store = makeFileStore({.directory = dir, .preallocate = true});
  auto opened = store->open();
  if (!opened) {
    store->close();
    return 0;
  }
  std::string_view cut = input;  // what open() took off the end
  if (fs::exists(segment)) {
    const std::string kept = readFile(segment);
    check(input.substr(0, kept.size()) == kept);
    check(kept.find('\0') == std::string::npos);
    check(!kept.empty() && kept.back() == '\n');
    cut.remove_prefix(kept.size());
  }
  if (opened->torn) {
    const TornTail& torn = *opened->torn;
    check(torn.offset == input.size() - cut.size());
    check(torn.length <= cut.size());
    check(readFile(torn.quarantine) == cut.substr(0, torn.length));
    cut.remove_prefix(torn.length);
  }
  check(allNul(cut));  // nothing else may have been dropped
  store->close();

  verifyOnce(dir);
  return 0;
}

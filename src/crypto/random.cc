#include "crypto/random.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <vector>

#include "core/log.h"

namespace bulwark::crypto {
namespace {

class SystemRandom final : public Random {
 public:
  void fill(std::span<std::uint8_t> out) override {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
      core::log(core::LogLevel::kError, "system CSPRNG failed; aborting");
      core::flushLogs();
      std::abort();
    }
  }
};

}  // namespace

Random& systemRandom() {
  static SystemRandom random;
  return random;
}

std::string randomToken(Random& random, std::size_t bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::vector<std::uint8_t> raw(bytes);
  random.fill(raw);
  std::string out;
  out.reserve((bytes * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes; i += 3) {
    const std::uint32_t v = raw[i] << 16 | raw[i + 1] << 8 | raw[i + 2];
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (bytes - i == 1) {
    const std::uint32_t v = raw[i] << 16;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
  } else if (bytes - i == 2) {
    const std::uint32_t v = raw[i] << 16 | raw[i + 1] << 8;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
  }
  return out;
}

}  // namespace bulwark::crypto

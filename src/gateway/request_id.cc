#include "gateway/request_id.h"

#include <random>

namespace bulwark::gateway {

bool isAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {
constexpr char kHex[] = "0123456789abcdef";
}

RequestIdGenerator::RequestIdGenerator() {
  std::random_device device;
  std::uint64_t prefix = (static_cast<std::uint64_t>(device()) << 32) | device();
  for (int i = 15; i >= 0; --i) {
    prefix_[i] = kHex[prefix & 0xf];
    prefix >>= 4;
  }
  prefix_[16] = '\0';
}

void RequestIdGenerator::next(std::string& out) {
  out.assign(prefix_, 16);
  out.push_back('-');
  char digits[16];
  std::uint64_t n = ++counter_;
  int len = 0;
  do {
    digits[len++] = kHex[n & 0xf];
    n >>= 4;
  } while (n != 0);
  while (len > 0) out.push_back(digits[--len]);
}

}  // namespace bulwark::gateway

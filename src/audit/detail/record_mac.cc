// OpenSSL 3 deprecates the low-level SHA256_* calls in favour of EVP, whose per-call dispatch,
// context copies and allocations are what this class exists to avoid; the functions remain part
// of OpenSSL 3's API and run the same block code as EVP (SHA-NI / AVX2).
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "audit/detail/record_mac.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>

namespace bulwark::audit::detail {

struct RecordMacKey::State {
  SHA256_CTX inner;  // after key ⊕ ipad
  SHA256_CTX outer;  // after key ⊕ opad
};

RecordMacKey::RecordMacKey(std::span<const std::uint8_t> key) : state_(std::make_unique<State>()) {
  constexpr std::size_t kBlock = 64;
  std::array<std::uint8_t, kBlock> block{};
  if (key.size() > kBlock) {
    SHA256(key.data(), key.size(), block.data());  // RFC 2104: long keys are hashed first
  } else if (!key.empty()) {
    std::copy(key.begin(), key.end(), block.begin());
  }
  std::array<std::uint8_t, kBlock> pad;
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x36;
  SHA256_Init(&state_->inner);
  SHA256_Update(&state_->inner, pad.data(), pad.size());
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x5c;
  SHA256_Init(&state_->outer);
  SHA256_Update(&state_->outer, pad.data(), pad.size());
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(pad.data(), pad.size());
}

RecordMacKey::~RecordMacKey() { OPENSSL_cleanse(state_.get(), sizeof(State)); }

crypto::Digest256 RecordMacKey::mac(const crypto::Digest256& prev, std::uint64_t seq,
                                    std::string_view bytes) const {
  std::array<std::uint8_t, 40> head;  // prev ‖ be64(seq): one update instead of two
  std::copy(prev.begin(), prev.end(), head.begin());
  for (int i = 7; i >= 0; --i) {
    head[32 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(seq & 0xff);
    seq >>= 8;
  }
  SHA256_CTX ctx = state_->inner;
  SHA256_Update(&ctx, head.data(), head.size());
  SHA256_Update(&ctx, bytes.data(), bytes.size());
  crypto::Digest256 inner;
  SHA256_Final(inner.data(), &ctx);
  ctx = state_->outer;
  SHA256_Update(&ctx, inner.data(), inner.size());
  crypto::Digest256 out;
  SHA256_Final(out.data(), &ctx);  // ctx now holds the MAC's own state, nothing of the key's
  return out;
}

}  // namespace bulwark::audit::detail

// HmacSha256Key uses OpenSSL 3's deprecated low-level SHA256_* calls (audit's record MACs run on
// it too): EVP's per-MAC context copies (EVP_MAC_CTX_dup: some 17 allocations) are what a prepared
// key exists to avoid; the functions remain part of OpenSSL 3's API and run the same block code
// as EVP (SHA-NI / AVX2).
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "crypto/hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace bulwark::crypto {
namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The HMAC implementation is fetched once; fetching per MAC costs a lock and a lookup.
EVP_MAC* hmacAlgorithm() {
  static EVP_MAC* mac = [] {
    EVP_MAC* fetched = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (fetched == nullptr) throw std::runtime_error("OpenSSL has no HMAC");
    return fetched;
  }();
  return mac;
}

}  // namespace

Digest256 sha256(std::span<const std::uint8_t> data) {
  Digest256 out;
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &length, EVP_sha256(), nullptr);
  return out;
}

Digest256 sha256(std::string_view data) { return sha256(bytes(data)); }

Digest256 hmacSha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  HmacSha256 mac(key);
  mac.update(data);
  return mac.finish();
}

Digest256 hmacSha256(std::span<const std::uint8_t> key, std::string_view data) {
  return hmacSha256(key, bytes(data));
}

struct HmacSha256::State {
  EVP_MAC_CTX* ctx = nullptr;
};

HmacSha256::HmacSha256(std::span<const std::uint8_t> key) : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MAC_CTX_new(hmacAlgorithm());
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (state_->ctx == nullptr || EVP_MAC_init(state_->ctx, key.data(), key.size(), params) != 1) {
    throw std::runtime_error("HMAC-SHA256 init failed");
  }
}

HmacSha256::~HmacSha256() { EVP_MAC_CTX_free(state_->ctx); }

void HmacSha256::update(std::span<const std::uint8_t> data) {
  EVP_MAC_update(state_->ctx, data.data(), data.size());
}

void HmacSha256::update(std::string_view data) { update(bytes(data)); }

Digest256 HmacSha256::finish() {
  Digest256 out;
  std::size_t length = 0;
  EVP_MAC_final(state_->ctx, out.data(), &length, out.size());
  // Re-initialise with the same key (NULL key keeps the previous one).
  EVP_MAC_init(state_->ctx, nullptr, 0, nullptr);
  return out;
}

// RFC 2104 with the key's two padded blocks hashed once: a MAC copies these states and hashes
// only the message and the inner digest. Both states are as secret as the key.
struct HmacSha256Key::State {
  SHA256_CTX inner;  // after (key ⊕ ipad)
  SHA256_CTX outer;  // after (key ⊕ opad)
};

HmacSha256Key::HmacSha256Key(std::span<const std::uint8_t> key)
    : state_(std::make_unique<State>()) {
  constexpr std::size_t kBlock = SHA256_CBLOCK;
  std::array<std::uint8_t, kBlock> block{};
  if (key.size() > kBlock) {
    SHA256(key.data(), key.size(), block.data());  // long keys are hashed first
  } else if (!key.empty()) {
    std::copy(key.begin(), key.end(), block.begin());
  }
  std::array<std::uint8_t, kBlock> pad;
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x36;
  const bool ok = SHA256_Init(&state_->inner) == 1 &&
                  SHA256_Update(&state_->inner, pad.data(), pad.size()) == 1;
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x5c;
  const bool ok_outer = SHA256_Init(&state_->outer) == 1 &&
                        SHA256_Update(&state_->outer, pad.data(), pad.size()) == 1;
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(pad.data(), pad.size());
  if (!ok || !ok_outer) {
    OPENSSL_cleanse(state_.get(), sizeof(State));
    throw std::runtime_error("HMAC-SHA256 init failed");
  }
}

HmacSha256Key::~HmacSha256Key() { OPENSSL_cleanse(state_.get(), sizeof(State)); }

Digest256 HmacSha256Key::mac(std::string_view data) const { return mac({data}); }

Digest256 HmacSha256Key::mac(std::initializer_list<std::string_view> parts) const {
  // Copies of the states on this stack: concurrent calls only read the key's.
  SHA256_CTX ctx = state_->inner;
  for (const std::string_view part : parts) SHA256_Update(&ctx, part.data(), part.size());
  Digest256 inner;
  SHA256_Final(inner.data(), &ctx);
  ctx = state_->outer;
  SHA256_Update(&ctx, inner.data(), inner.size());
  Digest256 out;
  SHA256_Final(out.data(), &ctx);  // ctx now holds the MAC's own state, nothing of the key's
  return out;
}

bool constantTimeEqual(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  return constantTimeEqual(bytes(a), bytes(b));
}

std::string toHex(std::span<const std::uint8_t> data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (auto byte : data) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
  }
  return out;
}

bool fromHex(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out.clear();
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = nibble(hex[i]);
    const int low = nibble(hex[i + 1]);
    if (high < 0 || low < 0) return false;
    out.push_back(static_cast<char>(high << 4 | low));
  }
  return true;
}

}  // namespace bulwark::crypto

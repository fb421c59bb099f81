#include "auth/detail/successor_seal.h"

#include <sodium.h>

#include <array>
#include <cstdint>

#include "auth/detail/sodium.h"
#include "crypto/hmac.h"

namespace bulwark::auth::detail {
namespace {

static_assert(crypto_secretbox_KEYBYTES == 32);

constexpr std::string_view kLabel = "bulwark refresh-token successor v1";

crypto::Digest256 keyFor(std::string_view previous_token) {
  return crypto::hmacSha256(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(previous_token.data()),
                                    previous_token.size()),
      kLabel);
}

}  // namespace

std::string sealSuccessor(std::string_view previous_token, std::string_view successor,
                          crypto::Random& random) {
  ensureSodium();
  auto key = keyFor(previous_token);
  std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + successor.size(), '\0');
  auto* bytes = reinterpret_cast<std::uint8_t*>(out.data());
  random.fill(std::span<std::uint8_t>(bytes, crypto_secretbox_NONCEBYTES));
  crypto_secretbox_easy(bytes + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const std::uint8_t*>(successor.data()), successor.size(),
                        bytes, key.data());
  sodium_memzero(key.data(), key.size());
  return out;
}

std::optional<std::string> openSuccessor(std::string_view previous_token, std::string_view sealed) {
  ensureSodium();
  if (sealed.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return std::nullopt;
  }
  auto key = keyFor(previous_token);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(sealed.data());
  std::string out(sealed.size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  const int opened = crypto_secretbox_open_easy(
      reinterpret_cast<std::uint8_t*>(out.data()), bytes + crypto_secretbox_NONCEBYTES,
      sealed.size() - crypto_secretbox_NONCEBYTES, bytes, key.data());
  sodium_memzero(key.data(), key.size());
  if (opened != 0) {
    return std::nullopt;
  }
  return out;
}

}  // namespace bulwark::auth::detail

#pragma once
// HMAC-SHA256 and SHA-256 (OpenSSL 3 EVP underneath), plus constant-time comparison.
// Keys are never logged; callers keep them in core::SecretBytes-like buffers they wipe.

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace bulwark::crypto {

using Digest256 = std::array<std::uint8_t, 32>;

// Returns SHA-256(data).
Digest256 sha256(std::span<const std::uint8_t> data);
Digest256 sha256(std::string_view data);

// Returns HMAC-SHA256(key, data).
Digest256 hmacSha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);
Digest256 hmacSha256(std::span<const std::uint8_t> key, std::string_view data);

// Incremental HMAC-SHA256 for MACs over several pieces (e.g. prev_mac ‖ seq ‖ record) without
// concatenating them. Reusable: reset() starts a new MAC with the same key. Not thread-safe.
class HmacSha256 {
 public:
  explicit HmacSha256(std::span<const std::uint8_t> key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  void update(std::span<const std::uint8_t> data);
  void update(std::string_view data);
  // Returns the MAC of everything since construction or the last reset(), then resets.
  Digest256 finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// An HMAC-SHA256 key prepared once: the key schedule and OpenSSL's algorithm lookups happen at
// construction, and mac() copies the prepared state instead of re-keying, which for short inputs
// (JWS signing inputs) costs a fraction of hmacSha256(). Immutable; mac() is thread-safe.
class HmacSha256Key {
 public:
  // Throws std::runtime_error when OpenSSL cannot set up HMAC-SHA256.
  explicit HmacSha256Key(std::span<const std::uint8_t> key);
  ~HmacSha256Key();
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;

  // Returns HMAC-SHA256(key, data).
  Digest256 mac(std::string_view data) const;
  // Returns HMAC-SHA256(key, parts[0] ‖ parts[1] ‖ …), without joining them first.
  Digest256 mac(std::initializer_list<std::string_view> parts) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// True when a and b have equal length and content; time depends only on the length.
bool constantTimeEqual(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);
bool constantTimeEqual(std::string_view a, std::string_view b);

// Lowercase hex.
std::string toHex(std::span<const std::uint8_t> bytes);
// Parses lowercase or uppercase hex; false on odd length or a non-hex character.
bool fromHex(std::string_view hex, std::string& out);

}  // namespace bulwark::crypto

#pragma once
// The writer's record MAC: recordMac() (record.h) without OpenSSL's per-call EVP machinery.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "crypto/hmac.h"

namespace bulwark::audit::detail {

// HMAC-SHA256 of records, HMAC(key, prev ‖ be64(seq) ‖ bytes): exactly recordMac()'s value. The
// key's padded inner and outer SHA-256 states are computed once, so a MAC costs the
// compression of its own bytes and nothing more: no EVP dispatch, context duplication or
// allocation per record (crypto::HmacSha256 spends about a fifth of a 540-byte record's MAC on
// those). The states are as secret as the key: wiped on destruction. Not thread-safe.
class RecordMacKey {
 public:
  explicit RecordMacKey(std::span<const std::uint8_t> key);
  ~RecordMacKey();
  RecordMacKey(const RecordMacKey&) = delete;
  RecordMacKey& operator=(const RecordMacKey&) = delete;

  // Returns HMAC(key, prev ‖ be64(seq) ‖ bytes).
  crypto::Digest256 mac(const crypto::Digest256& prev, std::uint64_t seq,
                        std::string_view bytes) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bulwark::audit::detail

#pragma once
// The writer's record MAC: recordMac() (record.h) on a key prepared once.

#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/hmac.h"

namespace bulwark::audit::detail {

// HMAC-SHA256 of records, HMAC(key, prev ‖ be64(seq) ‖ bytes): exactly recordMac()'s value, on
// a crypto::HmacSha256Key (the key's inner and outer SHA-256 states computed once), so a MAC
// costs the compression of its own bytes and nothing more: no EVP dispatch, context
// duplication or allocation per record. Not thread-safe.
class RecordMacKey {
 public:
  explicit RecordMacKey(std::span<const std::uint8_t> key) : key_(key) {}

  // Returns HMAC(key, prev ‖ be64(seq) ‖ bytes).
  crypto::Digest256 mac(const crypto::Digest256& prev, std::uint64_t seq,
                        std::string_view bytes) const;

 private:
  crypto::HmacSha256Key key_;
};

}  // namespace bulwark::audit::detail

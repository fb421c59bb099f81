#pragma once
// Password hashing (SPEC F2.1): argon2id through libsodium, parameters from the OWASP Password
// Storage Cheat Sheet (m = 19 MiB, t = 2, p = 1) unless configured otherwise. The encoded string
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>") carries its own parameters, so raising them
// later still verifies old hashes, and needsRehash() says which to upgrade at the next login.
//
// Hashing and verification cost tens of milliseconds of CPU and m of memory each: call them on
// the auth WorkerPool, never on an I/O thread. An interface so tests can count verifications.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/error.h"

namespace bulwark::auth {

struct PasswordHashConfig {
  std::uint64_t memory_bytes = 19 * 1024 * 1024;  // argon2 m (OWASP: 19 MiB)
  std::uint32_t iterations = 2;                   // argon2 t (OWASP: 2)
  // argon2 p. libsodium computes with one lane only, so 1 is the only value accepted.
  std::uint32_t parallelism = 1;
};

// Returns why `config` cannot be used (libsodium's limits: memory 8 KiB..4 TiB, iterations >= 1,
// parallelism 1), or nullopt.
std::optional<std::string> validatePasswordHashConfig(const PasswordHashConfig& config);

class PasswordHasher {
 public:
  virtual ~PasswordHasher() = default;
  // Returns the encoded argon2id hash of `password` with a fresh random salt. kUnavailable when
  // the memory cannot be allocated. Thread-safe.
  [[nodiscard]] virtual AuthResult<std::string> hash(std::string_view password) const = 0;
  // True when `password` matches `encoded`. False for a mismatch and for a malformed encoding.
  // Takes the same time for a right and a wrong password (libsodium compares in constant time).
  virtual bool verify(std::string_view encoded, std::string_view password) const = 0;
  // True when `encoded` was made with other parameters (or another algorithm) than the
  // configured ones, so the next successful login should store a new hash.
  virtual bool needsRehash(std::string_view encoded) const = 0;
};
using PasswordHasherPtr = std::shared_ptr<const PasswordHasher>;

// The libsodium argon2id hasher. Throws std::invalid_argument for a config that
// validatePasswordHashConfig() refuses (configuration is checked at start-up).
PasswordHasherPtr makeArgon2idHasher(const PasswordHashConfig& config);

}  // namespace bulwark::auth

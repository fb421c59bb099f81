#pragma once
// The CSPRNG behind refresh tokens, ids and keys, injected (STYLE habit 2) so tests can make
// randomness repeatable. The real one is OpenSSL's RAND_bytes (DRBG seeded by the kernel).

#include <cstdint>
#include <span>
#include <string>

namespace bulwark::crypto {

class Random {
 public:
  virtual ~Random() = default;
  // Fills `out` with random bytes. Thread-safe. Aborts the process if the system CSPRNG fails:
  // continuing with predictable tokens would be worse than stopping.
  virtual void fill(std::span<std::uint8_t> out) = 0;
};

// Returns the process-wide system CSPRNG.
Random& systemRandom();

// Returns `bytes` random bytes encoded as unpadded base64url (for opaque tokens).
std::string randomToken(Random& random, std::size_t bytes);

}  // namespace bulwark::crypto

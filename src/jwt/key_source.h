#pragma once
// Where a verifier gets an issuer's keys. A KeySource publishes immutable KeySet snapshots; the
// verifier loads the current one per token without locks. Implementations:
//   - KeyRing (key_ring.h): our own keys, changed by rotation;
//   - staticKeySource(): a fixed set (tests, `bulwark token verify`);
//   - FileJwksSource: an external issuer's JWKS from a file, re-read (rate-limited) when a
//     token names an unknown kid — the way a provider's key rotation reaches us;
//   - RemoteJwksSource (remote_jwks_source.h): an external issuer's JWKS from a URL (F2.7):
//     onUnknownKid() asks a fetch thread for a refetch (rate-limited, at most one pending) and
//     returns false at once; the current request fails with unknown_kid and later ones see the
//     new snapshot. It never blocks the I/O thread that calls it.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "jwt/key_set.h"

namespace bulwark::jwt {

class KeySource {
 public:
  virtual ~KeySource() = default;
  // Returns the current snapshot, never null. Thread-safe and non-blocking.
  virtual KeySetPtr keys() const = 0;
  // Tells the source that a token named `kid`, which the current snapshot lacks. Returns true
  // when a new snapshot is available now (the caller looks again once), false otherwise.
  // Thread-safe; must not block on the network.
  virtual bool onUnknownKid(std::string_view kid) = 0;
};
using KeySourcePtr = std::shared_ptr<KeySource>;

// Returns a source that always serves `keys`.
KeySourcePtr staticKeySource(KeySetPtr keys);

struct FileJwksConfig {
  std::filesystem::path path;
  // Least time between two re-reads triggered by unknown kids, so a stream of tokens with made-up
  // kids cannot turn into a stream of file reads.
  std::chrono::seconds min_refresh_interval{30};
  JwksOptions jwks;
};

// An external issuer's JWKS read from a file. create() reads it (failing with the reason);
// onUnknownKid() re-reads it synchronously — a small local file — when min_refresh_interval has
// passed since the last read; a file that has become unreadable or invalid keeps the previous
// snapshot (and is logged).
class FileJwksSource : public KeySource {
 public:
  [[nodiscard]] static KeyResult<std::shared_ptr<FileJwksSource>> create(FileJwksConfig config,
                                                                         core::Clock& clock);
  // Re-reads the file now. On failure the previous snapshot stays. Thread-safe.
  [[nodiscard]] virtual KeyResult<void> reload() = 0;
};

// Reads and parses a JWK Set file. A set with an HS256 (shared secret) key is refused when the
// file is accessible to group or others, with the chmod fix, as for our own key files.
[[nodiscard]] KeyResult<KeySetPtr> loadJwksFile(const std::filesystem::path& path,
                                                const JwksOptions& options = {},
                                                std::vector<std::string>* skipped = nullptr);

// Reads a whole (small) file; the error names the path and the errno text.
[[nodiscard]] KeyResult<std::string> readSmallFile(const std::filesystem::path& path,
                                                   std::size_t max_bytes = 1 << 20);

}  // namespace bulwark::jwt

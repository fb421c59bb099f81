#pragma once
// Our own signing keys (SPEC F2.3): a directory of private keys, one file per key (a private JWK,
// mode 0600), plus a manifest `keyring.json` with each key's kid, algorithm, status and times.
// Exactly one key is active and signs; rotation makes a new active key and retires the old one,
// which stays published (JWKS) and verifying until every token it signed has expired
// (retirement + max_token_ttl + leeway); prune() then removes it and its file.
//
// The ring publishes immutable KeySet snapshots (KeySource), so verification and signing read
// keys without locks. Changes are serialised by a mutex within the process and by flock() on
// `<directory>/.lock` across processes (`bulwark keys rotate` beside a running server); every
// change re-reads the manifest under the lock first, so concurrent writers do not lose each
// other's changes. A running process sees another process's rotation after reload().

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "crypto/random.h"
#include "crypto/signature_key.h"
#include "jwt/key_source.h"

namespace bulwark::jwt {

struct KeyRingConfig {
  // Holds keyring.json and the key files. Created with mode 0700 when missing; refused when it
  // is writable by group or others.
  std::filesystem::path directory;
  // Algorithm of keys made by rotate() without an argument: EdDSA, ES256 or HS256.
  crypto::Algorithm algorithm = crypto::Algorithm::kEdDSA;
  // The longest lifetime of a token we sign, and the verifier's clock-skew leeway: a retired key
  // verifies for max_token_ttl + leeway after retirement.
  std::chrono::seconds max_token_ttl{15 * 60};
  std::chrono::seconds leeway{30};
  // When the ring has no active key, open() creates one.
  bool create_if_empty = true;
};

class KeyRing : public KeySource {
 public:
  // Opens (creating when allowed) the ring in config.directory and loads every key. Errors name
  // the file and the fix, e.g. a key file readable by group or others: "…/abc.jwk has mode 0644;
  // a private key file must be accessible to its owner only (fix: chmod 600 …/abc.jwk)".
  [[nodiscard]] static KeyResult<std::shared_ptr<KeyRing>> open(KeyRingConfig config,
                                                                core::Clock& clock,
                                                                crypto::Random& random);

  // Our keys change only through this interface: an unknown kid is simply unknown.
  bool onUnknownKid(std::string_view) override { return false; }

  // Generates a key (default: config.algorithm), writes it, makes it the active key and retires
  // the previous active key; also prunes. Returns the new kid. The key file is durable before
  // the manifest names it, and the manifest before the new snapshot is published.
  [[nodiscard]] virtual KeyResult<std::string> rotate(
      std::optional<crypto::Algorithm> algorithm = std::nullopt) = 0;
  // Removes retired keys whose verify_until has passed, deleting their files. Returns how many.
  [[nodiscard]] virtual KeyResult<std::size_t> prune() = 0;
  // Removes a retired key at once (a compromised key): tokens it signed stop verifying. The
  // active key cannot be removed; rotate first.
  [[nodiscard]] virtual KeyResult<void> remove(std::string_view kid) = 0;
  // Re-reads the directory (after another process changed it) and publishes the result.
  [[nodiscard]] virtual KeyResult<void> reload() = 0;
};
using KeyRingPtr = std::shared_ptr<KeyRing>;

}  // namespace bulwark::jwt

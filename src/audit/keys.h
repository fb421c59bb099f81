#pragma once
// Audit MAC keys (SPEC F3.2): a key ring of (kid, epoch, key) entries from a key file (mode 0600
// or stricter) or an environment variable, and the forward-secure epoch evolution
// k_{e+1} = HKDF-SHA256(k_e, info "bulwark-audit-epoch"). Key bytes live only in SecretBytes,
// which wipes them (OPENSSL_cleanse); no function here puts key material into a message.
//
// Key text (file or BULWARK_AUDIT_KEY): entries separated by newlines or commas, '#' starts a
// comment, blanks are ignored. Each entry is
//     [KID[@EPOCH]:][hex:|base64:]MATERIAL
// MATERIAL is hex (even length, all hex digits) or base64 (standard or URL alphabet, padding
// optional) and decodes to at least 32 bytes. Without KID the kid is "k" + 8 hex digits of
// SHA-256("bulwark-audit-kid" ‖ key). EPOCH (default 0) says which epoch of KID this key is:
// a file bulwark rewrote under forward security holds KID@EPOCH of the current epoch only.
// The last entry is the active (signing) key; earlier ones verify older records (rotation).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "audit/error.h"
#include "crypto/random.h"

namespace bulwark::audit {

// Owned key bytes, wiped on destruction and on reassignment. Move-only.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::span<const std::uint8_t> bytes);
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  std::span<const std::uint8_t> bytes() const { return bytes_; }
  std::span<std::uint8_t> mutableBytes() { return bytes_; }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  SecretBytes clone() const { return SecretBytes(bytes_); }
  // Wipes and empties.
  void clear();

 private:
  std::vector<std::uint8_t> bytes_;
};

inline constexpr std::size_t kMinKeyBytes = 32;

struct AuditKey {
  std::string kid;
  std::uint64_t epoch = 0;  // the epoch `key` belongs to
  SecretBytes key;

  AuditKey clone() const { return AuditKey{kid, epoch, key.clone()}; }
};

// An ordered set of keys; the last is the active one. Not thread-safe to mutate; share as
// std::shared_ptr<const KeyRing>.
class KeyRing {
 public:
  KeyRing() = default;
  KeyRing(KeyRing&&) = default;
  KeyRing& operator=(KeyRing&&) = default;

  // Adds `key`; a later entry with the same kid replaces the earlier one (and becomes active).
  void add(AuditKey key);
  bool empty() const { return keys_.empty(); }
  const AuditKey* active() const { return keys_.empty() ? nullptr : &keys_.back(); }
  const AuditKey* find(std::string_view kid) const;
  const std::vector<AuditKey>& keys() const { return keys_; }
  KeyRing clone() const;
  // "k1, k2@5": kids and epochs, for messages (no key material).
  std::string describe() const;

 private:
  std::vector<AuditKey> keys_;
};

// Parses key text (format above). `source` names it in errors ("BULWARK_AUDIT_KEY", a path);
// errors say which entry (by number) is wrong and never echo it.
Result<KeyRing> parseKeyRing(std::string_view text, std::string_view source);

// Loads a key file. Refuses (kKeyFilePermissions) a file that group or others may read or
// write, naming the file and the `chmod 600` fix; refuses a non-regular file.
Result<KeyRing> loadKeyFile(const std::string& path);

// Writes `ring` to `path` atomically (temporary file with mode 0600, fsync, rename, fsync of the
// directory), one "KID@EPOCH:hex" line per key. Used by key generation and forward security.
Result<void> writeKeyFile(const std::string& path, const KeyRing& ring);

// Creates a new key file at `path` (mode 0600, failing if it exists) holding one fresh 32-byte
// key from `random`; returns the ring.
Result<KeyRing> generateKeyFile(const std::string& path, crypto::Random& random);

// Replaces `key` (epoch e) with HKDF-SHA256(key, info "bulwark-audit-epoch") (epoch e+1) in
// place: the same storage, so the old key is gone from memory, not merely unreferenced.
void advanceEpochKey(SecretBytes& key);

// Returns key(kid, target_epoch) derived forward from `base`; kUnknownKey when target_epoch is
// before base.epoch (keys cannot be derived backwards) or more than `max_steps` after it (an
// epoch field of a forged record must not make us derive for hours).
Result<SecretBytes> deriveEpochKey(const AuditKey& base, std::uint64_t target_epoch,
                                   std::uint64_t max_steps = 10'000'000);

// Decodes standard or URL-safe base64, padding optional; false on any other character.
bool decodeBase64(std::string_view text, std::vector<std::uint8_t>& out);

}  // namespace bulwark::audit

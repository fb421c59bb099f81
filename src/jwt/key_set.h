#pragma once
// Immutable sets of verification (and signing) keys, each selected by `kid` and bound to one
// algorithm, and their RFC 7517 JWK Set form. A KeySet is a snapshot: it is never modified after
// create(), so any number of threads read it without locks, and a new set replaces an old one
// as a whole (STYLE habit 6).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "crypto/signature_key.h"

namespace bulwark::jwt {

using crypto::KeyError;
using crypto::KeyResult;

// Where a key is in its life (SPEC F2.3). Keys read from an external JWKS are kActive.
enum class KeyStatus : std::uint8_t {
  kActive,   // signs new tokens (our ring has exactly one) and verifies
  kRetired,  // no longer signs; published and verifying until `verify_until`
};
// "active" | "retired".
std::string_view keyStatusName(KeyStatus status);

struct KeyEntry {
  std::string kid;
  crypto::SignatureKeyPtr key;  // never null
  KeyStatus status = KeyStatus::kActive;
  core::SystemTime created{};
  std::optional<core::SystemTime> retired;  // when it stopped signing
  // After this instant every token the key signed has expired: it verifies nothing more and is
  // removed from the ring. nullopt: no limit (active keys, external keys).
  std::optional<core::SystemTime> verify_until;

  // True when the key may verify a token at `now`.
  bool verifiesAt(core::SystemTime now) const { return !verify_until || now < *verify_until; }
};

class KeySet;
using KeySetPtr = std::shared_ptr<const KeySet>;

class KeySet {
 public:
  // Builds a snapshot. Fails when a kid is empty, repeated, or longer than 256 bytes, or when
  // more than one entry is kActive with a key that can sign.
  [[nodiscard]] static KeyResult<KeySetPtr> create(std::vector<KeyEntry> entries);
  // Returns an empty set.
  static KeySetPtr empty();

  // Returns the entry with this kid, or nullptr.
  const KeyEntry* find(std::string_view kid) const;
  // Returns the active entry whose key can sign, or nullptr (e.g. for a set read from a JWKS).
  const KeyEntry* signingKey() const { return signing_; }
  const std::vector<KeyEntry>& entries() const { return entries_; }

  // Returns the RFC 7517 JWK Set of the asymmetric public keys: {"keys":[{kty, crv/x/y or n/e,
  // alg, use:"sig", kid}, ...]}. Private parts and HS256 secrets are never included. Computed
  // once by create(); the reference lives as long as the set.
  const std::string& jwks() const { return jwks_; }

  // Use create().
  KeySet(std::vector<KeyEntry> entries, const KeyEntry* signing, std::string jwks);
  KeySet(const KeySet&) = delete;  // signing_ points into entries_
  KeySet& operator=(const KeySet&) = delete;

 private:
  std::vector<KeyEntry> entries_;
  const KeyEntry* signing_;
  std::string jwks_;
};

// How parseJwks() treats keys it cannot use.
struct JwksOptions {
  // false (default): a key that cannot be used (unsupported kty/crv/alg, RSA < 2048 bits, an
  // `oct` key without `alg`, private parts, no kid, ...) fails the whole set, naming the kid and
  // the reason, so a configuration mistake is noticed at start-up. true: such keys are skipped
  // and described in `skipped` (for providers whose JWKS lists keys for other purposes).
  bool skip_unusable = false;
};

// Parses an RFC 7517 JWK Set (text) into a KeySet of verification keys, all kActive. Each JWK
// needs a `kid`. A JWK without `alg` gets the one algorithm its type implies (OKP Ed25519 ->
// EdDSA, EC P-256 -> ES256, RSA -> RS256); an `oct` key must name `alg` HS256. JWKs with
// `use` "enc" are ignored; `key_ops`, when present, must include "verify". Fails on text that is
// not a strict JSON object with a `keys` array and on repeated kids.
[[nodiscard]] KeyResult<KeySetPtr> parseJwks(std::string_view text, const JwksOptions& options = {},
                                             std::vector<std::string>* skipped = nullptr);

// Returns one JWK object (text) for `key` with `kid`, alg and use "sig"; with `include_private`
// also d (EdDSA, ES256) or k (HS256). Public form of an HS256 key: nullopt (it has none).
std::optional<std::string> toJwk(std::string_view kid, const crypto::SignatureKey& key,
                                 bool include_private);

// Parses one JWK object text carrying a private key (as toJwk(..., true) writes it) for `kid`.
[[nodiscard]] KeyResult<crypto::SignatureKeyPtr> parsePrivateJwk(std::string_view text,
                                                                 std::string_view kid);

}  // namespace bulwark::jwt

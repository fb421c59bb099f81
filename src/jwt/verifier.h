#pragma once
// The access-token verifier (SPEC F2.2, F2.7): one object that accepts tokens from our own key
// ring and from configured external issuers, under the same strict rules, and remembers tokens it
// has already verified so a client reusing its token costs a hash and a lookup instead of a
// signature check (issue 3, "Verification cost").
//
// Steps for a token not in the cache: size limit; JWS structure and header rules (jws.h); the
// claims parsed strictly (claims.h); `iss` selects the issuer (unverified at that point: it only
// chooses whose keys to try); the issuer's typ policy; `kid` selects the key (always required);
// the header `alg` must equal the key's algorithm; signature; then aud, exp, nbf, iat and the
// issuer's required claims. Revocation is NOT checked here: callers check jti/sid/sub against
// the revocation set after every successful verify(), cached or not.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "crypto/signature_key.h"
#include "jwt/claims.h"
#include "jwt/errors.h"
#include "jwt/jws.h"
#include "jwt/key_source.h"

namespace bulwark::jwt {

// Which `typ` header values an issuer's tokens may carry (compared case-insensitively, with or
// without the "application/" prefix, RFC 7515 §4.1.9).
enum class TypPolicy : std::uint8_t {
  kAccessToken,       // required, "at+jwt" (RFC 9068): our tokens
  kAccessTokenOrJwt,  // required, "at+jwt" or "JWT": providers that label access tokens "JWT"
  kOptional,          // may be absent; when present "at+jwt" or "JWT"
};

struct IssuerConfig {
  // The exact `iss` value of this issuer's tokens.
  std::string issuer;
  // Accepted `aud` values; a token must name at least one. At least one is required.
  std::vector<std::string> audiences;
  TypPolicy typ = TypPolicy::kAccessToken;
  // Further claims that must be present: any of "sub", "jti", "sid", "iat", "nbf". Our own
  // issuer should require sub, jti and sid (revocation keys on them).
  std::vector<std::string> required_claims;
  // The top-level claim holding the roles (an array of strings); not a registered claim name.
  std::string roles_claim = "roles";
  // The issuer's keys (KeyRing for ours, FileJwksSource for external issuers). Required.
  KeySourcePtr keys;
  // Debugging only (`bulwark token verify` without --issuer / --audience): accept any `iss` /
  // any `aud` value (the claims must still be present). Allowed only for a verifier with a
  // single issuer; never set these in the gateway.
  bool accept_any_issuer = false;
  bool accept_any_audience = false;
};

struct TokenCacheConfig {
  // Most tokens remembered; 0 disables the cache.
  std::size_t capacity = 64 * 1024;
  // Independently locked parts (rounded up to a power of two).
  std::size_t shards = 16;
};

struct VerifierConfig {
  std::vector<IssuerConfig> issuers;
  // Clock skew allowed for exp, nbf and iat.
  std::chrono::seconds leeway{30};
  // Longest token accepted, in bytes.
  std::size_t max_token_bytes = kDefaultMaxTokenBytes;
  TokenCacheConfig cache;
};

// A token that passed every check. Shared: the cache hands the same object to every request
// presenting the same token.
struct VerifiedToken {
  Claims claims;
  std::string kid;
  crypto::Algorithm algorithm = crypto::Algorithm::kEdDSA;
  std::size_t issuer_index = 0;  // position in VerifierConfig::issuers
};
using VerifiedTokenPtr = std::shared_ptr<const VerifiedToken>;

// Counters (STYLE habit 7). Monotonic except cache_entries.
struct VerifierStats {
  std::uint64_t verified = 0;  // successful verify() calls, cached or not
  std::uint64_t cache_hits = 0;
  std::uint64_t cache_misses = 0;     // lookups that had to verify the signature
  std::uint64_t cache_evictions = 0;  // entries dropped for space, expiry or a key leaving
  std::uint64_t cache_entries = 0;
  // Rejections by reason, indexed by static_cast<int>(VerifyError).
  std::array<std::uint64_t, 64> rejected{};
};

class Verifier {
 public:
  virtual ~Verifier() = default;

  // Validates `config` (at least one issuer; non-empty, distinct issuer names; audiences; keys;
  // known required claims) and builds the verifier. Throws std::invalid_argument naming the
  // problem: this runs once at start-up.
  static std::unique_ptr<Verifier> create(VerifierConfig config, core::Clock& clock);

  // Verifies `token` (the compact JWS, without "Bearer "). Returns the verified token, or the
  // first rule it breaks. Thread-safe; the only mutex taken is one cache shard's (key sets are
  // read through an atomic shared_ptr snapshot).
  [[nodiscard]] virtual VerifyResult<VerifiedTokenPtr> verify(std::string_view token) const = 0;

  virtual VerifierStats stats() const = 0;
};
using VerifierPtr = std::unique_ptr<Verifier>;

// The JWS layer alone (`bulwark token verify --signature-only`): structure, header rules, kid
// selection in `keys` (kid required), alg match and signature; the payload may be any bytes and
// no claim or typ is checked. Retired keys still verify here. Thread-safe.
[[nodiscard]] VerifyResult<Jws> verifySignatureOnly(
    std::string_view token, const KeySet& keys,
    std::size_t max_token_bytes = kDefaultMaxTokenBytes);

}  // namespace bulwark::jwt

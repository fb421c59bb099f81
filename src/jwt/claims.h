#pragma once
// JWT claim sets (RFC 7519 §4.1, RFC 9068 §2.2): reading the registered claims from a verified
// payload and checking them against an issuer's policy at a given time.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "jwt/errors.h"

namespace bulwark::jwt {

// The claims bulwark uses. A string claim that is absent is empty: a present but empty `iss`,
// `sub`, `jti` or `sid` is refused as kBadClaim, so "empty" and "absent" cannot be confused.
struct Claims {
  std::string iss;
  std::string sub;
  std::vector<std::string> aud;  // `aud` as a string becomes one entry
  std::optional<core::SystemTime> exp;
  std::optional<core::SystemTime> nbf;
  std::optional<core::SystemTime> iat;
  std::string jti;
  std::string sid;
  std::vector<std::string> roles;
  std::string json;  // the claim set exactly as signed (a JSON object), for other claims
};

// Parses the payload `json` (a strict JSON object: kBadJson, kDuplicateMember) and reads the
// registered claims plus the roles from the member `roles_claim`. kBadClaim when a claim has the
// wrong type: iss/sub/jti/sid not a non-empty string, aud neither a string nor an array of
// strings, exp/nbf/iat not a number in [0, 253402300799] (year 9999), roles not an array of
// strings. Fractional NumericDates are truncated to whole seconds; dates after 2255 (the end of
// system_clock's range is 2262) are held as 2255-03-14, which compares the same way. Thread-safe.
[[nodiscard]] VerifyResult<Claims> parseClaims(std::string_view json,
                                               std::string_view roles_claim = "roles");

// What validateClaims() requires.
struct ClaimsPolicy {
  // The exact `iss` required; empty: any issuer (the claim must still be present).
  std::string issuer;
  // Accepted audiences: `aud` must contain at least one; empty: any (still required).
  std::vector<std::string> audiences;
  // Clock skew allowed for exp, nbf and iat.
  std::chrono::seconds leeway{30};
  // Further claims that must be present, from "sub", "jti", "sid", "iat", "nbf".
  std::vector<std::string> required;
};

// Checks `claims` at time `now`. Errors, in this order: kMissingIssuer, kWrongIssuer,
// kMissingAudience, kWrongAudience, kMissingExpiry, kMissingClaim, kExpired (now >= exp +
// leeway), kNotYetValid (now < nbf - leeway), kIssuedInFuture (iat > now + leeway).
[[nodiscard]] VerifyResult<void> validateClaims(const Claims& claims, const ClaimsPolicy& policy,
                                                core::SystemTime now);

// Seconds since the epoch, as NumericDate.
std::int64_t toNumericDate(core::SystemTime time);
core::SystemTime fromNumericDate(std::int64_t seconds);

}  // namespace bulwark::jwt

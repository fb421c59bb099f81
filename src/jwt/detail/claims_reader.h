#pragma once
// Reading a payload's claims in one strict parse (private to src/jwt), without building a JSON
// value. The verifier needs `iss` to choose the issuer before it knows that issuer's roles
// claim, so the roles of every candidate claim name are read in the same pass.

#include <boost/container/small_vector.hpp>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jwt/claims.h"

namespace bulwark::jwt::detail {

// What reading one payload found besides the claims themselves, before any is judged.
struct ReadClaims {
  // `iss` is present (its value is claims.iss when iss_ok).
  bool iss_present = false;
  // `iss` is a non-empty string.
  bool iss_ok = false;
  // Some other registered claim has the wrong type (see parseClaims()).
  bool bad_claim = false;
  // Per name in the `roles_claims` given: its array of strings, and whether it was one (absent
  // counts as one). Inline for the usual single name: no allocation per token.
  boost::container::small_vector<std::vector<std::string>, 1> roles;
  boost::container::small_vector<bool, 4> roles_ok;
};

// Parses `payload` as a strict JSON object (kBadJson, kDuplicateMember as parseStrictObject())
// and reads its registered claims into `claims` (a default-constructed Claims: the verifier
// reads straight into the VerifiedToken it may return; roles stay empty) and the members named
// in `roles_claims` (none of them a registered claim name) into `out`. Claim type errors are
// recorded, not returned, so that the caller can report them after the signature check. Takes
// `payload` to keep it as claims.json. Thread-safe.
[[nodiscard]] VerifyResult<void> readClaims(std::string payload,
                                            std::span<const std::string> roles_claims,
                                            Claims& claims, ReadClaims& out);

}  // namespace bulwark::jwt::detail

#pragma once
// Reading claims from an already parsed payload object (private to src/jwt), so the verifier
// parses a payload once: it needs `iss` to choose the issuer before it knows that issuer's roles
// claim.

#include <boost/json/object.hpp>
#include <string_view>

#include "jwt/claims.h"

namespace bulwark::jwt::detail {

// As parseClaims() after parsing: reads the claims of `object`, whose text is `text`.
[[nodiscard]] VerifyResult<Claims> readClaims(const boost::json::object& object,
                                              std::string_view text, std::string_view roles_claim);

}  // namespace bulwark::jwt::detail

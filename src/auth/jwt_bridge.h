#pragma once
// Where the auth services meet the JWT layer: the signer behind AccessTokenIssuer, and verified
// claims turned into what SessionService::isRevoked/logout/revokeAccessToken take.

#include <memory>

#include "auth/access_token_issuer.h"
#include "auth/session_service.h"
#include "jwt/claims.h"
#include "jwt/signer.h"

namespace bulwark::auth {

// Issues access tokens with `signer` (iss, aud, typ, kid and the signature are the signer's;
// sub, sid, roles, jti, iat/nbf and exp come from the session service). The signer's ttl must be
// at least SessionConfig::access_ttl, since it refuses an exp beyond now + ttl. A signing error
// is logged by name and reported as AuthError::kUnavailable.
AccessTokenIssuerPtr makeJwtAccessTokenIssuer(std::shared_ptr<const jwt::TokenSigner> signer);

// The claims the session service needs from a verified access token. Missing times stay at the
// epoch (a token without iat is then older than any not-before).
AccessTokenClaims accessTokenClaims(const jwt::Claims& claims);

}  // namespace bulwark::auth

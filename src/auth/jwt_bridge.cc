#include "auth/jwt_bridge.h"

#include "core/log.h"

namespace bulwark::auth {
namespace {

class JwtAccessTokenIssuer final : public AccessTokenIssuer {
 public:
  explicit JwtAccessTokenIssuer(std::shared_ptr<const jwt::TokenSigner> signer)
      : signer_(std::move(signer)) {}

  boost::system::result<IssuedToken> issue(const TokenSubject& subject) override {
    jwt::AccessTokenRequest request;
    request.subject = subject.subject;
    request.session_id = subject.session_id;
    request.roles = subject.roles;
    request.token_id = subject.token_id;
    request.issued_at = subject.issued_at;
    request.expires_at = subject.expires_at;
    auto signed_token = signer_->sign(request);
    if (!signed_token) {
      core::log(core::LogLevel::kError, "access token signing failed",
                {{"error", jwt::signErrorName(signed_token.error())}});
      return make_error_code(AuthError::kUnavailable);
    }
    return IssuedToken{std::move(signed_token->token)};
  }

 private:
  std::shared_ptr<const jwt::TokenSigner> signer_;
};

}  // namespace

AccessTokenIssuerPtr makeJwtAccessTokenIssuer(std::shared_ptr<const jwt::TokenSigner> signer) {
  return std::make_shared<JwtAccessTokenIssuer>(std::move(signer));
}

AccessTokenClaims accessTokenClaims(const jwt::Claims& claims) {
  AccessTokenClaims out;
  out.subject = claims.sub;
  out.session_id = claims.sid;
  out.token_id = claims.jti;
  out.issued_at = claims.iat.value_or(core::SystemTime{});
  out.expires_at = claims.exp.value_or(core::SystemTime{});
  return out;
}

}  // namespace bulwark::auth

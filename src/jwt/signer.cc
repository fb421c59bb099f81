#include "jwt/signer.h"

#include <stdexcept>

#include "core/json.h"
#include "jwt/claims.h"
#include "jwt/jws.h"

namespace bulwark::jwt {
namespace {

constexpr std::size_t kJtiBytes = 16;

class TokenSignerImpl final : public TokenSigner {
 public:
  TokenSignerImpl(SignerConfig config, KeySourcePtr keys, core::Clock& clock,
                  crypto::Random& random)
      : config_(std::move(config)), keys_(std::move(keys)), clock_(clock), random_(random) {
    // iss and aud are the same in every token: serialise them once.
    fixed_claims_ = "\"iss\":" + core::jsonString(config_.issuer) + ",\"aud\":";
    if (config_.audiences.size() == 1) {
      core::appendJsonString(fixed_claims_, config_.audiences.front());
    } else {
      fixed_claims_ += '[';
      for (std::size_t i = 0; i < config_.audiences.size(); ++i) {
        if (i > 0) {
          fixed_claims_ += ',';
        }
        core::appendJsonString(fixed_claims_, config_.audiences[i]);
      }
      fixed_claims_ += ']';
    }
  }

  boost::system::result<IssuedToken, SignError> sign(
      const AccessTokenRequest& request) const override {
    if (request.subject.empty() || request.session_id.empty()) {
      return SignError::kInvalidRequest;
    }
    const KeySetPtr keys = keys_->keys();
    const KeyEntry* key = keys->signingKey();
    if (key == nullptr) {
      return SignError::kNoSigningKey;
    }
    IssuedToken issued;
    issued.kid = key->kid;
    issued.jti =
        request.token_id.empty() ? crypto::randomToken(random_, kJtiBytes) : request.token_id;
    const core::SystemTime now = fromNumericDate(toNumericDate(clock_.systemTime()));
    issued.issued_at = request.issued_at ? fromNumericDate(toNumericDate(*request.issued_at)) : now;
    issued.expires_at = request.expires_at ? fromNumericDate(toNumericDate(*request.expires_at))
                                           : issued.issued_at + config_.ttl;
    if (issued.expires_at <= issued.issued_at || issued.expires_at > now + config_.ttl) {
      return SignError::kInvalidRequest;
    }
    const std::string iat_text = std::to_string(toNumericDate(issued.issued_at));

    std::string payload = "{";
    payload += fixed_claims_;
    payload += ",\"sub\":";
    core::appendJsonString(payload, request.subject);
    payload += ",\"exp\":" + std::to_string(toNumericDate(issued.expires_at));
    payload += ",\"nbf\":" + iat_text;
    payload += ",\"iat\":" + iat_text;
    payload += ",\"jti\":";
    core::appendJsonString(payload, issued.jti);
    payload += ",\"sid\":";
    core::appendJsonString(payload, request.session_id);
    payload += ",\"roles\":[";
    for (std::size_t i = 0; i < request.roles.size(); ++i) {
      if (i > 0) {
        payload += ',';
      }
      core::appendJsonString(payload, request.roles[i]);
    }
    payload += "]}";

    auto token = signJws(*key->key, key->kid, "at+jwt", payload);
    if (!token) {
      return SignError::kSigningFailed;
    }
    issued.token = std::move(*token);
    return issued;
  }

 private:
  const SignerConfig config_;
  const KeySourcePtr keys_;
  core::Clock& clock_;
  crypto::Random& random_;
  std::string fixed_claims_;
};

}  // namespace

std::string_view signErrorName(SignError error) {
  switch (error) {
    case SignError::kNoSigningKey:
      return "no_signing_key";
    case SignError::kInvalidRequest:
      return "invalid_request";
    case SignError::kSigningFailed:
      return "signing_failed";
  }
  return "unknown";
}

void throw_exception_from_error(SignError error, const boost::source_location&) {
  throw std::runtime_error("token signer: " + std::string(signErrorName(error)));
}

std::unique_ptr<TokenSigner> TokenSigner::create(SignerConfig config, KeySourcePtr keys,
                                                 core::Clock& clock, crypto::Random& random) {
  if (config.issuer.empty() || config.audiences.empty() || !keys) {
    throw std::invalid_argument("token signer: issuer, audiences and keys are required");
  }
  if (config.ttl < std::chrono::seconds(1) || config.ttl > std::chrono::hours(24)) {
    throw std::invalid_argument("token signer: ttl must be between 1 second and 24 hours");
  }
  return std::make_unique<TokenSignerImpl>(std::move(config), std::move(keys), clock, random);
}

}  // namespace bulwark::jwt

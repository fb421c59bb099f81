#include "jwt/errors.h"

#include <string>

namespace bulwark::jwt {
namespace {

struct Entry {
  std::string_view name;
  std::string_view description;
};

Entry entry(VerifyError error) {
  switch (error) {
    case VerifyError::kTokenTooLarge:
      return {"token_too_large", "the token is longer than the size limit"};
    case VerifyError::kMalformed:
      return {"malformed", "the token is not a JWS compact serialization"};
    case VerifyError::kBadBase64:
      return {"bad_base64", "a token part is not canonical unpadded base64url"};
    case VerifyError::kBadJson:
      return {"bad_json", "the header or payload is not a valid JSON object"};
    case VerifyError::kDuplicateMember:
      return {"duplicate_member", "a JSON object repeats a member name"};
    case VerifyError::kBadHeader:
      return {"bad_header", "a header member has the wrong type"};
    case VerifyError::kMissingAlg:
      return {"missing_alg", "the header has no alg"};
    case VerifyError::kAlgNone:
      return {"alg_none", "unsigned tokens (alg none) are not accepted"};
    case VerifyError::kUnsupportedAlg:
      return {"unsupported_alg", "the header alg is not a supported algorithm"};
    case VerifyError::kAlgMismatch:
      return {"alg_mismatch", "the header alg is not the algorithm of the selected key"};
    case VerifyError::kCritUnsupported:
      return {"crit_unsupported", "the header lists critical extensions that are not understood"};
    case VerifyError::kForbiddenHeader:
      return {"forbidden_header", "the header names a key source (jku, x5u, jwk or x5c)"};
    case VerifyError::kUnencodedPayload:
      return {"unencoded_payload", "unencoded payloads (b64 false) are not accepted"};
    case VerifyError::kNestedToken:
      return {"nested_token", "nested tokens (cty JWT) are not accepted"};
    case VerifyError::kMissingTyp:
      return {"missing_typ", "the header has no typ"};
    case VerifyError::kWrongTyp:
      return {"wrong_typ", "the header typ is not accepted for this issuer"};
    case VerifyError::kMissingKid:
      return {"missing_kid", "the header has no kid"};
    case VerifyError::kUnknownKid:
      return {"unknown_kid", "no key with this kid"};
    case VerifyError::kMalformedSignature:
      return {"malformed_signature", "the signature is not well-formed for the algorithm"};
    case VerifyError::kBadSignature:
      return {"bad_signature", "the signature does not verify"};
    case VerifyError::kBadClaim:
      return {"bad_claim", "a registered claim has the wrong type or value"};
    case VerifyError::kMissingIssuer:
      return {"missing_iss", "the token has no iss claim"};
    case VerifyError::kWrongIssuer:
      return {"wrong_issuer", "the issuer is not trusted"};
    case VerifyError::kMissingAudience:
      return {"missing_aud", "the token has no aud claim"};
    case VerifyError::kWrongAudience:
      return {"wrong_audience", "the token is not meant for this audience"};
    case VerifyError::kMissingExpiry:
      return {"missing_exp", "the token has no exp claim"};
    case VerifyError::kExpired:
      return {"expired", "the token has expired"};
    case VerifyError::kNotYetValid:
      return {"not_yet_valid", "the token is not valid yet (nbf)"};
    case VerifyError::kIssuedInFuture:
      return {"iat_in_future", "the token was issued in the future (iat)"};
    case VerifyError::kMissingClaim:
      return {"missing_claim", "a required claim is missing"};
    case VerifyError::kInternal:
      return {"internal_error", "internal error while verifying"};
  }
  return {"unknown", "unknown error"};
}

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bulwark.jwt"; }
  std::string message(int value) const override {
    return std::string(entry(static_cast<VerifyError>(value)).description);
  }
};

}  // namespace

std::string_view verifyErrorName(VerifyError error) { return entry(error).name; }

std::string_view verifyErrorDescription(VerifyError error) { return entry(error).description; }

const boost::system::error_category& verifyErrorCategory() {
  static const Category category;
  return category;
}

boost::system::error_code make_error_code(VerifyError error) {
  return {static_cast<int>(error), verifyErrorCategory()};
}

}  // namespace bulwark::jwt

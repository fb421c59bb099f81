#pragma once
// Why a token was rejected. Every reason has its own code and a stable lower_snake_case name,
// which `bulwark token verify` prints and audit events carry in their details; the names are part
// of the interface (scripts and SIEM rules match on them): add new ones, never rename.
//
// The client should learn little (RFC 6750: `invalid_token`); the name is for logs and audit.

#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/is_error_code_enum.hpp>
#include <boost/system/result.hpp>
#include <string_view>

namespace bulwark::jwt {

enum class VerifyError : int {
  // Structure and encoding.
  kTokenTooLarge = 1,  // token_too_large: longer than the configured limit (default 8 KiB)
  kMalformed,          // malformed: not three '.'-separated parts, or an empty header/signature
  kBadBase64,          // bad_base64: a part is not canonical unpadded base64url
  kBadJson,            // bad_json: header or payload is not a JSON object (or not UTF-8)
  kDuplicateMember,    // duplicate_member: a JSON object (at any depth) repeats a member name
  // Header (JOSE) rules.
  kBadHeader,         // bad_header: a header member has the wrong JSON type
  kMissingAlg,        // missing_alg
  kAlgNone,           // alg_none: "none" in any letter case
  kUnsupportedAlg,    // unsupported_alg: not EdDSA, ES256, HS256, RS256 or PS256
  kAlgMismatch,       // alg_mismatch: header alg differs from the algorithm the key owns
  kCritUnsupported,   // crit_unsupported: a `crit` header (we understand no extension)
  kForbiddenHeader,   // forbidden_header: jku, x5u, jwk or x5c (keys never come from tokens)
  kUnencodedPayload,  // unencoded_payload: `b64` other than true (RFC 7797)
  kNestedToken,       // nested_token: `cty` JWT (a JWT inside a JWT)
  kMissingTyp,        // missing_typ: the issuer requires a `typ`
  kWrongTyp,          // wrong_typ: `typ` not accepted by the issuer's policy
  // Key selection and signature.
  kMissingKid,          // missing_kid: no `kid` (always required: keys are selected only by kid)
  kUnknownKid,          // unknown_kid: no usable key with that kid for this issuer
  kMalformedSignature,  // malformed_signature: wrong length, or ECDSA r/s zero or >= n
  kBadSignature,        // bad_signature: the signature does not verify
  // Claims (RFC 7519 §4.1, RFC 9068).
  kBadClaim,         // bad_claim: a registered claim has the wrong type or value
  kMissingIssuer,    // missing_iss
  kWrongIssuer,      // wrong_issuer: `iss` is not an issuer this verifier trusts
  kMissingAudience,  // missing_aud
  kWrongAudience,    // wrong_audience: no `aud` entry is an accepted audience
  kMissingExpiry,    // missing_exp
  kExpired,          // expired: now > exp + leeway
  kNotYetValid,      // not_yet_valid: now < nbf - leeway
  kIssuedInFuture,   // iat_in_future: now < iat - leeway
  kMissingClaim,     // missing_claim: a claim the issuer requires (e.g. sub, jti) is absent
  kInternal,         // internal_error: OpenSSL or allocation failure
};

// Returns the stable name, e.g. "expired". "unknown" for a value outside the enum.
std::string_view verifyErrorName(VerifyError error);
// Returns a one-line English description, e.g. "the token has expired".
std::string_view verifyErrorDescription(VerifyError error);

// The boost::system category of VerifyError (name "bulwark.jwt"; message() is the description).
const boost::system::error_category& verifyErrorCategory();
boost::system::error_code make_error_code(VerifyError error);

// A value or the reason for rejecting. Accessing value() on an error throws system_error.
template <class T>
using VerifyResult = boost::system::result<T, VerifyError>;

}  // namespace bulwark::jwt

template <>
struct boost::system::is_error_code_enum<bulwark::jwt::VerifyError> : std::true_type {};

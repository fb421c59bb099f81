#include "jwt/jws.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/json.h"
#include "crypto/base64url.h"
#include "jwt/detail/strict_json.h"

namespace bulwark::jwt {
namespace {

namespace json = boost::json;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) {
      return false;
    }
  }
  return true;
}

// Reads an optional string member; false when present with another type.
bool optionalString(const json::object& header, std::string_view name,
                    std::optional<std::string>& out) {
  const json::value* v = header.if_contains(name);
  if (v == nullptr) {
    return true;
  }
  if (!v->is_string()) {
    return false;
  }
  out.emplace(v->get_string().data(), v->get_string().size());
  return true;
}

VerifyResult<JoseHeader> checkHeader(const json::object& header) {
  JoseHeader out;
  const json::value* alg = header.if_contains("alg");
  if (alg == nullptr) {
    return VerifyError::kMissingAlg;
  }
  if (!alg->is_string()) {
    return VerifyError::kBadHeader;
  }
  const std::string_view alg_name(alg->get_string().data(), alg->get_string().size());
  if (equalsIgnoreCase(alg_name, "none")) {
    return VerifyError::kAlgNone;
  }
  const auto algorithm = crypto::algorithmFromName(alg_name);
  if (!algorithm) {
    return VerifyError::kUnsupportedAlg;
  }
  out.alg = *algorithm;
  // RFC 7515 §4.1.11: a recipient must reject a token whose `crit` lists an extension it does
  // not understand. We understand none, so any `crit` (even an empty or malformed one) is refused.
  if (header.contains("crit")) {
    return VerifyError::kCritUnsupported;
  }
  for (std::string_view name : {"jku", "x5u", "jwk", "x5c"}) {
    if (header.contains(name)) {
      return VerifyError::kForbiddenHeader;
    }
  }
  if (const json::value* b64 = header.if_contains("b64")) {
    if (!b64->is_bool() || !b64->get_bool()) {
      return VerifyError::kUnencodedPayload;
    }
  }
  std::optional<std::string> cty;
  if (!optionalString(header, "cty", cty) || !optionalString(header, "kid", out.kid) ||
      !optionalString(header, "typ", out.typ)) {
    return VerifyError::kBadHeader;
  }
  if (cty && (equalsIgnoreCase(*cty, "JWT") || equalsIgnoreCase(*cty, "application/jwt"))) {
    return VerifyError::kNestedToken;
  }
  return out;
}

}  // namespace

VerifyResult<Jws> parseJws(std::string_view token, std::size_t max_token_bytes) {
  if (token.size() > max_token_bytes) {
    return VerifyError::kTokenTooLarge;
  }
  const std::size_t first = token.find('.');
  if (first == std::string_view::npos) {
    return VerifyError::kMalformed;
  }
  const std::size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return VerifyError::kMalformed;
  }
  const std::string_view header_part = token.substr(0, first);
  const std::string_view payload_part = token.substr(first + 1, second - first - 1);
  const std::string_view signature_part = token.substr(second + 1);
  if (header_part.empty() || signature_part.empty()) {
    return VerifyError::kMalformed;
  }

  Jws jws;
  jws.signing_input = token.substr(0, second);
  std::string header_json;
  if (!crypto::base64UrlDecode(header_part, header_json) ||
      !crypto::base64UrlDecode(payload_part, jws.payload) ||
      !crypto::base64UrlDecode(signature_part, jws.signature)) {
    return VerifyError::kBadBase64;
  }
  auto header = detail::parseStrictObject(header_json);
  if (!header) {
    return header.error();
  }
  auto checked = checkHeader(*header);
  if (!checked) {
    return checked.error();
  }
  jws.header = std::move(*checked);
  return jws;
}

VerifyResult<void> verifyJwsSignature(const Jws& jws, const crypto::SignatureKey& key) {
  if (jws.header.alg != key.algorithm()) {
    return VerifyError::kAlgMismatch;
  }
  switch (key.verify(jws.signing_input, jws.signature)) {
    case crypto::SignatureCheck::kValid:
      return {};
    case crypto::SignatureCheck::kMalformed:
      return VerifyError::kMalformedSignature;
    case crypto::SignatureCheck::kInvalid:
      break;
  }
  return VerifyError::kBadSignature;
}

std::optional<std::string> signJws(const crypto::SignatureKey& key, std::string_view kid,
                                   std::string_view typ, std::string_view payload) {
  if (!key.canSign()) {
    return std::nullopt;
  }
  std::string header = "{\"alg\":";
  core::appendJsonString(header, crypto::algorithmName(key.algorithm()));
  if (!typ.empty()) {
    header += ",\"typ\":";
    core::appendJsonString(header, typ);
  }
  if (!kid.empty()) {
    header += ",\"kid\":";
    core::appendJsonString(header, kid);
  }
  header += '}';
  std::string token;
  token.reserve((header.size() + payload.size()) * 4 / 3 + 100);
  crypto::appendBase64Url(token, header);
  token += '.';
  crypto::appendBase64Url(token, payload);
  std::string signature;
  if (!key.sign(token, signature)) {
    return std::nullopt;
  }
  token += '.';
  crypto::appendBase64Url(token, signature);
  return token;
}

}  // namespace bulwark::jwt

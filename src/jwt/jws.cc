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

VerifyResult<JoseHeader> checkHeader(const json::object& header) {
  // One pass over the members (headers are small; ten lookups would cost more than this), then
  // the rules in a fixed order so the reported reason does not depend on member order.
  const json::value* alg = nullptr;
  const json::value* kid = nullptr;
  const json::value* typ = nullptr;
  const json::value* cty = nullptr;
  const json::value* b64 = nullptr;
  bool crit = false, forbidden = false;
  for (const json::key_value_pair& member : header) {
    const std::string_view name(member.key().data(), member.key().size());
    if (name == "alg") {
      alg = &member.value();
    } else if (name == "kid") {
      kid = &member.value();
    } else if (name == "typ") {
      typ = &member.value();
    } else if (name == "cty") {
      cty = &member.value();
    } else if (name == "b64") {
      b64 = &member.value();
    } else if (name == "crit") {
      crit = true;
    } else if (name == "jku" || name == "x5u" || name == "jwk" || name == "x5c") {
      forbidden = true;
    }
  }
  JoseHeader out;
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
  if (crit) {
    return VerifyError::kCritUnsupported;
  }
  if (forbidden) {
    return VerifyError::kForbiddenHeader;
  }
  if (b64 != nullptr && (!b64->is_bool() || !b64->get_bool())) {
    return VerifyError::kUnencodedPayload;
  }
  if ((cty != nullptr && !cty->is_string()) || (kid != nullptr && !kid->is_string()) ||
      (typ != nullptr && !typ->is_string())) {
    return VerifyError::kBadHeader;
  }
  if (cty != nullptr) {
    const std::string_view value(cty->get_string().data(), cty->get_string().size());
    if (equalsIgnoreCase(value, "JWT") || equalsIgnoreCase(value, "application/jwt")) {
      return VerifyError::kNestedToken;
    }
  }
  if (kid != nullptr) {
    out.kid.emplace(kid->get_string().data(), kid->get_string().size());
  }
  if (typ != nullptr) {
    out.typ.emplace(typ->get_string().data(), typ->get_string().size());
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

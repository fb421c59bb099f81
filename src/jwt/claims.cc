#include "jwt/claims.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>

#include "jwt/detail/claims_reader.h"
#include "jwt/detail/strict_json.h"

namespace bulwark::jwt {
namespace {

namespace json = boost::json;

// 9999-12-31T23:59:59Z: far enough for any token, small enough for system_clock's nanoseconds.
constexpr std::int64_t kMaxNumericDate = 253402300799;

bool readString(const json::object& claims, std::string_view name, std::string& out) {
  const json::value* v = claims.if_contains(name);
  if (v == nullptr) {
    return true;
  }
  if (!v->is_string() || v->get_string().empty()) {
    return false;
  }
  out.assign(v->get_string().data(), v->get_string().size());
  return true;
}

bool readStringArray(const json::value& v, std::vector<std::string>& out) {
  if (!v.is_array()) {
    return false;
  }
  out.reserve(v.get_array().size());
  for (const json::value& item : v.get_array()) {
    if (!item.is_string()) {
      return false;
    }
    out.emplace_back(item.get_string().data(), item.get_string().size());
  }
  return true;
}

bool readDate(const json::object& claims, std::string_view name,
              std::optional<core::SystemTime>& out) {
  const json::value* v = claims.if_contains(name);
  if (v == nullptr) {
    return true;
  }
  std::int64_t seconds;
  if (v->is_int64()) {
    seconds = v->get_int64();
  } else if (v->is_uint64()) {
    if (v->get_uint64() > static_cast<std::uint64_t>(kMaxNumericDate)) {
      return false;
    }
    seconds = static_cast<std::int64_t>(v->get_uint64());
  } else if (v->is_double()) {
    const double d = v->get_double();
    if (!std::isfinite(d) || d < 0 || d > static_cast<double>(kMaxNumericDate)) {
      return false;
    }
    seconds = static_cast<std::int64_t>(d);
  } else {
    return false;
  }
  if (seconds < 0 || seconds > kMaxNumericDate) {
    return false;
  }
  out = fromNumericDate(seconds);
  return true;
}

bool contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

}  // namespace

std::int64_t toNumericDate(core::SystemTime time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

core::SystemTime fromNumericDate(std::int64_t seconds) {
  return core::SystemTime{std::chrono::seconds{seconds}};
}

namespace detail {

VerifyResult<Claims> readClaims(const json::object& object, std::string_view text,
                                std::string_view roles_claim) {
  Claims claims;
  if (!readString(object, "iss", claims.iss) || !readString(object, "sub", claims.sub) ||
      !readString(object, "jti", claims.jti) || !readString(object, "sid", claims.sid) ||
      !readDate(object, "exp", claims.exp) || !readDate(object, "nbf", claims.nbf) ||
      !readDate(object, "iat", claims.iat)) {
    return VerifyError::kBadClaim;
  }
  if (const json::value* aud = object.if_contains("aud")) {
    if (aud->is_string()) {
      claims.aud.emplace_back(aud->get_string().data(), aud->get_string().size());
    } else if (!readStringArray(*aud, claims.aud)) {
      return VerifyError::kBadClaim;
    }
  }
  if (const json::value* roles = object.if_contains(roles_claim)) {
    if (!readStringArray(*roles, claims.roles)) {
      return VerifyError::kBadClaim;
    }
  }
  claims.json.assign(text.data(), text.size());
  return claims;
}

}  // namespace detail

VerifyResult<Claims> parseClaims(std::string_view text, std::string_view roles_claim) {
  auto parsed = detail::parseStrictObject(text);
  if (!parsed) {
    return parsed.error();
  }
  return detail::readClaims(*parsed, text, roles_claim);
}

VerifyResult<void> validateClaims(const Claims& claims, const ClaimsPolicy& policy,
                                  core::SystemTime now) {
  if (claims.iss.empty()) {
    return VerifyError::kMissingIssuer;
  }
  if (!policy.issuer.empty() && claims.iss != policy.issuer) {
    return VerifyError::kWrongIssuer;
  }
  if (claims.aud.empty()) {
    return VerifyError::kMissingAudience;
  }
  if (!policy.audiences.empty() &&
      std::none_of(claims.aud.begin(), claims.aud.end(),
                   [&](const std::string& aud) { return contains(policy.audiences, aud); })) {
    return VerifyError::kWrongAudience;
  }
  if (!claims.exp) {
    return VerifyError::kMissingExpiry;
  }
  for (const std::string& name : policy.required) {
    const bool present = (name == "sub" && !claims.sub.empty()) ||
                         (name == "jti" && !claims.jti.empty()) ||
                         (name == "sid" && !claims.sid.empty()) ||
                         (name == "iat" && claims.iat) || (name == "nbf" && claims.nbf);
    if (!present) {
      return VerifyError::kMissingClaim;
    }
  }
  if (now >= *claims.exp + policy.leeway) {
    return VerifyError::kExpired;
  }
  if (claims.nbf && now < *claims.nbf - policy.leeway) {
    return VerifyError::kNotYetValid;
  }
  if (claims.iat && *claims.iat > now + policy.leeway) {
    return VerifyError::kIssuedInFuture;
  }
  return {};
}

}  // namespace bulwark::jwt

#include "jwt/claims.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cmath>

#include "jwt/detail/claims_reader.h"
#include "jwt/detail/strict_json.h"

namespace bulwark::jwt {
namespace {

namespace json = boost::json;

// 9999-12-31T23:59:59Z: the largest NumericDate accepted.
constexpr std::int64_t kMaxNumericDate = 253402300799;
// system_clock counts int64 nanoseconds (until 2262): later dates are held as 2255-03-14, which
// compares the same way against any current time plus leeway (found by fuzz/jwt_parse + UBSan).
constexpr std::int64_t kLatestRepresentable = 9'000'000'000;

bool readString(const json::value& v, std::string& out) {
  if (!v.is_string() || v.get_string().empty()) {
    return false;
  }
  out.assign(v.get_string().data(), v.get_string().size());
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

bool readDate(const json::value& v, std::optional<core::SystemTime>& out) {
  std::int64_t seconds;
  if (v.is_int64()) {
    seconds = v.get_int64();
  } else if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(kMaxNumericDate)) {
      return false;
    }
    seconds = static_cast<std::int64_t>(v.get_uint64());
  } else if (v.is_double()) {
    const double d = v.get_double();
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
  out = fromNumericDate(std::min(seconds, kLatestRepresentable));
  return true;
}

bool readAudience(const json::value& v, std::vector<std::string>& out) {
  if (v.is_string()) {
    out.emplace_back(v.get_string().data(), v.get_string().size());
    return true;
  }
  return readStringArray(v, out);
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
  // One pass over the members instead of a lookup per claim.
  Claims claims;
  for (const json::key_value_pair& member : object) {
    const std::string_view name(member.key().data(), member.key().size());
    const json::value& v = member.value();
    bool ok = true;
    if (name == roles_claim) {
      ok = readStringArray(v, claims.roles);
    } else if (name.size() == 3) {
      if (name == "iss") {
        ok = readString(v, claims.iss);
      } else if (name == "sub") {
        ok = readString(v, claims.sub);
      } else if (name == "aud") {
        ok = readAudience(v, claims.aud);
      } else if (name == "exp") {
        ok = readDate(v, claims.exp);
      } else if (name == "nbf") {
        ok = readDate(v, claims.nbf);
      } else if (name == "iat") {
        ok = readDate(v, claims.iat);
      } else if (name == "jti") {
        ok = readString(v, claims.jti);
      } else if (name == "sid") {
        ok = readString(v, claims.sid);
      }
    }
    if (!ok) {
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
                         (name == "sid" && !claims.sid.empty()) || (name == "iat" && claims.iat) ||
                         (name == "nbf" && claims.nbf);
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

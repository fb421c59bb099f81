#include "jwt/claims.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "jwt/detail/claims_reader.h"
#include "jwt/detail/strict_json.h"

namespace bulwark::jwt {
namespace {

// 9999-12-31T23:59:59Z: the largest NumericDate accepted.
constexpr std::int64_t kMaxNumericDate = 253402300799;
// system_clock counts int64 nanoseconds (until 2262): later dates are held as 2255-03-14, which
// compares the same way against any current time plus leeway (found by fuzz/jwt_parse + UBSan).
constexpr std::int64_t kLatestRepresentable = 9'000'000'000;

using core::JsonScalar;

bool readDate(const JsonScalar& v, std::optional<core::SystemTime>& out) {
  std::int64_t seconds;
  if (v.kind == JsonScalar::Kind::kInt64) {
    seconds = v.int64;
  } else if (v.kind == JsonScalar::Kind::kUint64) {
    if (v.uint64 > static_cast<std::uint64_t>(kMaxNumericDate)) {
      return false;
    }
    seconds = static_cast<std::int64_t>(v.uint64);
  } else if (v.kind == JsonScalar::Kind::kDouble) {
    const double d = v.number;
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

// Reads the claims from the parts of a payload (core::StrictJsonVisitor). Only the members of
// the top-level object (depth 1) and the elements of `aud` and roles arrays (depth 2) matter: a
// member's value is the next part at depth 1 after its name, and an array's elements are the
// parts at depth 2 until the next name at depth 1.
class ClaimsVisitor final : public core::StrictJsonVisitor {
 public:
  ClaimsVisitor(Claims& claims, detail::ReadClaims& out, std::span<const std::string> roles_claims)
      : claims_(claims), out_(out), roles_claims_(roles_claims) {
    out_.roles.resize(roles_claims.size());
    out_.roles_ok.assign(roles_claims.size(), true);
  }

  // Forgets everything seen (core::readStrictJsonObjectDirect()).
  void reset() {
    claims_ = Claims{};
    out_.iss_present = out_.iss_ok = out_.bad_claim = false;
    for (auto& roles : out_.roles) {
      roles.clear();
    }
    out_.roles_ok.assign(roles_claims_.size(), true);
    member_ = Member::kOther;
    roles_index_ = 0;
    array_ = nullptr;
    array_is_roles_ = false;
  }

  void onKey(std::size_t depth, std::string_view name) override {
    if (depth != 1) {
      return;
    }
    member_ = Member::kOther;
    array_ = nullptr;
    for (std::size_t i = 0; i < roles_claims_.size(); ++i) {
      if (name == roles_claims_[i]) {
        member_ = Member::kRoles;
        roles_index_ = i;
        return;
      }
    }
    if (name.size() != 3) {
      return;
    }
    // The registered names are all three letters: one switch on the three bytes.
    constexpr auto code = [](std::string_view n) {
      return static_cast<std::uint32_t>(static_cast<unsigned char>(n[0])) << 16 |
             static_cast<std::uint32_t>(static_cast<unsigned char>(n[1])) << 8 |
             static_cast<std::uint32_t>(static_cast<unsigned char>(n[2]));
    };
    switch (code(name)) {
      case code("iss"):
        member_ = Member::kIss;
        break;
      case code("sub"):
        member_ = Member::kSub;
        break;
      case code("aud"):
        member_ = Member::kAud;
        break;
      case code("exp"):
        member_ = Member::kExp;
        break;
      case code("nbf"):
        member_ = Member::kNbf;
        break;
      case code("iat"):
        member_ = Member::kIat;
        break;
      case code("jti"):
        member_ = Member::kJti;
        break;
      case code("sid"):
        member_ = Member::kSid;
        break;
      default:
        break;
    }
  }

  void onScalar(std::size_t depth, const JsonScalar& value) override {
    if (depth == 2 && array_ != nullptr) {
      if (value.kind == JsonScalar::Kind::kString) {
        array_->emplace_back(value.string);
      } else {
        arrayFailed();
      }
      return;
    }
    if (depth != 1) {
      return;
    }
    const bool string = value.kind == JsonScalar::Kind::kString;
    Claims& claims = claims_;
    switch (std::exchange(member_, Member::kOther)) {
      case Member::kOther:
        break;
      case Member::kIss:
        out_.iss_present = true;
        out_.iss_ok = string && !value.string.empty();
        if (out_.iss_ok) {
          claims.iss.assign(value.string);
        }
        break;
      case Member::kSub:
        readString(value, claims.sub);
        break;
      case Member::kJti:
        readString(value, claims.jti);
        break;
      case Member::kSid:
        readString(value, claims.sid);
        break;
      case Member::kAud:
        if (string) {
          claims.aud.emplace_back(value.string);
        } else {
          out_.bad_claim = true;
        }
        break;
      case Member::kExp:
        out_.bad_claim |= !readDate(value, claims.exp);
        break;
      case Member::kNbf:
        out_.bad_claim |= !readDate(value, claims.nbf);
        break;
      case Member::kIat:
        out_.bad_claim |= !readDate(value, claims.iat);
        break;
      case Member::kRoles:
        out_.roles_ok[roles_index_] = false;
        break;
    }
  }

  void onContainer(std::size_t depth, bool is_array) override {
    if (depth == 2 && array_ != nullptr) {
      arrayFailed();  // an array or object inside `aud` or a roles array
      return;
    }
    if (depth != 1) {
      return;
    }
    switch (std::exchange(member_, Member::kOther)) {
      case Member::kOther:
        break;
      case Member::kIss:
        out_.iss_present = true;
        out_.iss_ok = false;
        break;
      case Member::kAud:
        if (is_array) {
          array_ = &claims_.aud;
          array_is_roles_ = false;
        } else {
          out_.bad_claim = true;
        }
        break;
      case Member::kRoles:
        if (is_array) {
          array_ = &out_.roles[roles_index_];
          array_is_roles_ = true;
        } else {
          out_.roles_ok[roles_index_] = false;
        }
        break;
      default:  // sub, jti, sid, exp, nbf, iat
        out_.bad_claim = true;
        break;
    }
  }

 private:
  enum class Member { kOther, kIss, kSub, kAud, kExp, kNbf, kIat, kJti, kSid, kRoles };

  void readString(const JsonScalar& value, std::string& out) {
    if (value.kind == JsonScalar::Kind::kString && !value.string.empty()) {
      out.assign(value.string);
    } else {
      out_.bad_claim = true;
    }
  }
  void arrayFailed() {
    if (array_is_roles_) {
      out_.roles_ok[roles_index_] = false;
    } else {
      out_.bad_claim = true;
    }
  }

  Claims& claims_;
  detail::ReadClaims& out_;
  std::span<const std::string> roles_claims_;
  Member member_ = Member::kOther;             // the member whose value comes next
  std::size_t roles_index_ = 0;                // which roles claim, for kRoles and a roles array
  std::vector<std::string>* array_ = nullptr;  // the `aud` or roles array being read
  bool array_is_roles_ = false;
};

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

VerifyResult<void> readClaims(std::string payload, std::span<const std::string> roles_claims,
                              Claims& claims, ReadClaims& out) {
  ClaimsVisitor visitor(claims, out, roles_claims);
  if (auto read = readStrictObjectDirect(payload, visitor); !read) {
    return read.error();
  }
  claims.json = std::move(payload);
  return {};
}

}  // namespace detail

VerifyResult<Claims> parseClaims(std::string_view text, std::string_view roles_claim) {
  const std::string roles_name(roles_claim);
  Claims claims;
  detail::ReadClaims read;
  if (auto parsed = detail::readClaims(std::string(text), {&roles_name, 1}, claims, read);
      !parsed) {
    return parsed.error();
  }
  if ((read.iss_present && !read.iss_ok) || read.bad_claim || !read.roles_ok[0]) {
    return VerifyError::kBadClaim;
  }
  claims.roles = std::move(read.roles[0]);
  return claims;
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

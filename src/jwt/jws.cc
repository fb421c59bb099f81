#include "jwt/jws.h"

#include "core/json.h"
#include "crypto/base64url.h"
#include "jwt/detail/strict_json.h"

namespace bulwark::jwt {
namespace {

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

// Collects the members of a JOSE header that the rules look at (core::StrictJsonVisitor): the
// value of a top-level member is the next part at depth 1 after its name.
class HeaderVisitor final : public core::StrictJsonVisitor {
 public:
  struct Member {
    bool present = false;
    bool is_string = false;
    std::string value;
  };
  Member alg, kid, typ, cty;
  bool b64_present = false;
  bool b64_true = false;  // `b64` is the boolean true
  bool crit = false;
  bool forbidden = false;

  void onKey(std::size_t depth, std::string_view name) override {
    if (depth != 1) {
      return;
    }
    next_ = nullptr;
    next_b64_ = false;
    if (name == "alg") {
      next_ = &alg;
    } else if (name == "kid") {
      next_ = &kid;
    } else if (name == "typ") {
      next_ = &typ;
    } else if (name == "cty") {
      next_ = &cty;
    } else if (name == "b64") {
      next_b64_ = true;
    } else if (name == "crit") {
      crit = true;
    } else if (name == "jku" || name == "x5u" || name == "jwk" || name == "x5c") {
      forbidden = true;
    }
  }
  void onScalar(std::size_t depth, const core::JsonScalar& value) override {
    if (depth != 1) {
      return;
    }
    const bool string = value.kind == core::JsonScalar::Kind::kString;
    record(string, string ? value.string : std::string_view{},
           value.kind == core::JsonScalar::Kind::kBool && value.boolean);
  }
  void onContainer(std::size_t depth, bool) override {
    if (depth == 1) {
      record(false, {}, false);
    }
  }

 private:
  void record(bool is_string, std::string_view text, bool is_true) {
    if (next_ != nullptr) {
      next_->present = true;
      next_->is_string = is_string;
      next_->value.assign(text);
    } else if (next_b64_) {
      b64_present = true;
      b64_true = is_true;
    }
    next_ = nullptr;
    next_b64_ = false;
  }

  Member* next_ = nullptr;  // the member whose value comes next
  bool next_b64_ = false;
};

VerifyResult<JoseHeader> checkHeader(HeaderVisitor& header) {
  // The rules in a fixed order, so the reported reason does not depend on member order.
  JoseHeader out;
  if (!header.alg.present) {
    return VerifyError::kMissingAlg;
  }
  if (!header.alg.is_string) {
    return VerifyError::kBadHeader;
  }
  if (equalsIgnoreCase(header.alg.value, "none")) {
    return VerifyError::kAlgNone;
  }
  const auto algorithm = crypto::algorithmFromName(header.alg.value);
  if (!algorithm) {
    return VerifyError::kUnsupportedAlg;
  }
  out.alg = *algorithm;
  // RFC 7515 §4.1.11: a recipient must reject a token whose `crit` lists an extension it does
  // not understand. We understand none, so any `crit` (even an empty or malformed one) is refused.
  if (header.crit) {
    return VerifyError::kCritUnsupported;
  }
  if (header.forbidden) {
    return VerifyError::kForbiddenHeader;
  }
  if (header.b64_present && !header.b64_true) {
    return VerifyError::kUnencodedPayload;
  }
  if ((header.cty.present && !header.cty.is_string) ||
      (header.kid.present && !header.kid.is_string) ||
      (header.typ.present && !header.typ.is_string)) {
    return VerifyError::kBadHeader;
  }
  if (header.cty.present) {
    if (equalsIgnoreCase(header.cty.value, "JWT") ||
        equalsIgnoreCase(header.cty.value, "application/jwt")) {
      return VerifyError::kNestedToken;
    }
  }
  if (header.kid.present) {
    out.kid.emplace(std::move(header.kid.value));
  }
  if (header.typ.present) {
    out.typ.emplace(std::move(header.typ.value));
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
  // The header is needed only while it is read: decode it into a buffer the thread reuses.
  thread_local std::string header_json;
  if (!crypto::base64UrlDecode(header_part, header_json) ||
      !crypto::base64UrlDecode(payload_part, jws.payload) ||
      !crypto::base64UrlDecode(signature_part, jws.signature)) {
    return VerifyError::kBadBase64;
  }
  HeaderVisitor header;
  if (auto read = detail::readStrictObject(header_json, header); !read) {
    return read.error();
  }
  auto checked = checkHeader(header);
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

#include "jwt/jws.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "core/json.h"
#include "crypto/base64url.h"
#include "jwt/detail/jws_parts.h"
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
// value of a top-level member is the next part at depth 1 after its name. String values are
// kept as views when they lie in the decoded header `text` (which outlives the visitor's use);
// anything else (the general parser's buffers, valid only during the callback) is copied.
class HeaderVisitor final : public core::StrictJsonVisitor {
 public:
  struct Member {
    bool present = false;
    bool is_string = false;
    std::string_view value;
    std::string* storage = nullptr;  // where a value that is not a view of `text` is copied
  };
  Member alg, kid, typ, cty;
  bool b64_present = false;
  bool b64_true = false;  // `b64` is the boolean true
  bool crit = false;
  bool forbidden = false;

  HeaderVisitor(std::string_view text, std::string& kid_storage, std::string& typ_storage)
      : text_(text) {
    alg.storage = &alg_storage_;
    kid.storage = &kid_storage;
    typ.storage = &typ_storage;
    cty.storage = &cty_storage_;
  }

  // Forgets everything seen (core::readStrictJsonObjectDirect()).
  void reset() {
    for (Member* member : {&alg, &kid, &typ, &cty}) {
      member->present = false;
      member->is_string = false;
      member->value = {};
    }
    b64_present = b64_true = crit = forbidden = false;
    next_ = nullptr;
    next_b64_ = false;
  }

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
      if (inText(text)) {
        next_->value = text;
      } else {
        next_->storage->assign(text);
        next_->value = *next_->storage;
      }
    } else if (next_b64_) {
      b64_present = true;
      b64_true = is_true;
    }
    next_ = nullptr;
    next_b64_ = false;
  }
  bool inText(std::string_view part) const {
    // Compared as integers: pointers into different objects have no order in C++.
    const auto begin = reinterpret_cast<std::uintptr_t>(text_.data());
    const auto first = reinterpret_cast<std::uintptr_t>(part.data());
    return first >= begin && first - begin <= text_.size() &&
           part.size() <= text_.size() - (first - begin);
  }

  std::string_view text_;
  std::string alg_storage_, cty_storage_;
  Member* next_ = nullptr;  // the member whose value comes next
  bool next_b64_ = false;
};

// The checked header: alg, and kid/typ as views (of the decoded header or the scratch).
struct CheckedHeader {
  crypto::Algorithm alg = crypto::Algorithm::kEdDSA;
  bool has_kid = false;
  bool has_typ = false;
  std::string_view kid, typ;
};

VerifyResult<CheckedHeader> checkHeader(const HeaderVisitor& header) {
  // The rules in a fixed order, so the reported reason does not depend on member order.
  CheckedHeader out;
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
  out.has_kid = header.kid.present;
  out.kid = header.kid.value;
  out.has_typ = header.typ.present;
  out.typ = header.typ.value;
  return out;
}

// Decodes `part` into `array` when it fits, else into `overflow`; returns the bytes, or nullopt
// for a part that is not canonical base64url.
template <std::size_t N>
std::optional<std::string_view> decodePart(std::string_view part, std::array<char, N>& array,
                                           std::string& overflow) {
  const auto size = crypto::base64UrlDecodedSize(part.size());
  if (!size) {
    return std::nullopt;
  }
  std::span<char> out;
  if (*size <= N) {
    out = {array.data(), *size};
  } else {
    overflow.resize(*size);
    out = overflow;
  }
  if (!crypto::base64UrlDecodeTo(part, out)) {
    return std::nullopt;
  }
  return std::string_view(out.data(), out.size());
}

}  // namespace

namespace detail {

VerifyResult<void> parseJwsParts(std::string_view token, std::size_t max_token_bytes,
                                 JwsScratch& scratch, JwsParts& out) {
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

  out.signing_input = token.substr(0, second);
  // The header and signature go to the caller's scratch; the payload to its own string, which
  // the verifier keeps as Claims::json.
  const auto header_json = decodePart(header_part, scratch.header, scratch.header_overflow);
  if (!header_json) {
    return VerifyError::kBadBase64;
  }
  const auto payload_size = crypto::base64UrlDecodedSize(payload_part.size());
  if (!payload_size) {
    return VerifyError::kBadBase64;
  }
  out.payload.resize(*payload_size);
  if (!crypto::base64UrlDecodeTo(payload_part, out.payload)) {
    return VerifyError::kBadBase64;
  }
  const auto signature = decodePart(signature_part, scratch.signature, scratch.signature_overflow);
  if (!signature) {
    return VerifyError::kBadBase64;
  }
  out.signature = *signature;
  HeaderVisitor header(*header_json, scratch.kid, scratch.typ);
  if (auto read = readStrictObjectDirect(*header_json, header); !read) {
    return read.error();
  }
  auto checked = checkHeader(header);
  if (!checked) {
    return checked.error();
  }
  out.alg = checked->alg;
  out.has_kid = checked->has_kid;
  out.kid = checked->kid;
  out.has_typ = checked->has_typ;
  out.typ = checked->typ;
  return {};
}

VerifyResult<void> verifyJwsPartsSignature(crypto::Algorithm header_alg,
                                           std::string_view signing_input,
                                           std::string_view signature,
                                           const crypto::SignatureKey& key) {
  if (header_alg != key.algorithm()) {
    return VerifyError::kAlgMismatch;
  }
  switch (key.verify(signing_input, signature)) {
    case crypto::SignatureCheck::kValid:
      return {};
    case crypto::SignatureCheck::kMalformed:
      return VerifyError::kMalformedSignature;
    case crypto::SignatureCheck::kInvalid:
      break;
  }
  return VerifyError::kBadSignature;
}

}  // namespace detail

VerifyResult<Jws> parseJws(std::string_view token, std::size_t max_token_bytes) {
  detail::JwsScratch scratch;
  detail::JwsParts parts;
  if (auto parsed = detail::parseJwsParts(token, max_token_bytes, scratch, parts); !parsed) {
    return parsed.error();
  }
  Jws jws;
  jws.signing_input = parts.signing_input;
  jws.header.alg = parts.alg;
  if (parts.has_kid) {
    jws.header.kid.emplace(parts.kid);
  }
  if (parts.has_typ) {
    jws.header.typ.emplace(parts.typ);
  }
  jws.payload = std::move(parts.payload);
  jws.signature.assign(parts.signature);
  return jws;
}

VerifyResult<void> verifyJwsSignature(const Jws& jws, const crypto::SignatureKey& key) {
  return detail::verifyJwsPartsSignature(jws.header.alg, jws.signing_input, jws.signature, key);
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

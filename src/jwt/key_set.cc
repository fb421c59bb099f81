#include "jwt/key_set.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/json.h"
#include "crypto/base64url.h"
#include "jwt/detail/strict_json.h"

namespace bulwark::jwt {
namespace {

namespace json = boost::json;
using crypto::Algorithm;

constexpr std::size_t kMaxKidBytes = 256;

KeyError fail(std::string_view kid, std::string_view reason) {
  std::string message = "JWK";
  if (!kid.empty()) {
    message += " kid ";
    message += core::jsonString(kid);
  }
  message += ": ";
  message += reason;
  return KeyError{std::move(message)};
}

const json::string* stringMember(const json::object& jwk, std::string_view name) {
  const json::value* v = jwk.if_contains(name);
  return v != nullptr && v->is_string() ? &v->get_string() : nullptr;
}

std::string_view view(const json::string& s) { return {s.data(), s.size()}; }

// Decodes the base64url member `name` into `out`; an error names the member, never its value.
std::optional<KeyError> decodeMember(const json::object& jwk, std::string_view kid,
                                     std::string_view name, std::string& out) {
  const json::string* value = stringMember(jwk, name);
  if (value == nullptr) {
    return fail(kid, "member \"" + std::string(name) + "\" is missing or not a string");
  }
  if (!crypto::base64UrlDecode(view(*value), out)) {
    return fail(kid, "member \"" + std::string(name) + "\" is not canonical base64url");
  }
  return std::nullopt;
}

enum class JwkMode { kPublicSet, kPrivateFile };

// Parses one JWK. Returns a null key (and no error) for a JWK that is not for signatures.
KeyResult<std::pair<std::string, crypto::SignatureKeyPtr>> parseJwk(const json::object& jwk,
                                                                    JwkMode mode) {
  std::string kid;
  if (const json::value* v = jwk.if_contains("kid")) {
    if (!v->is_string() || v->get_string().empty() || v->get_string().size() > kMaxKidBytes) {
      return fail("", "kid must be a non-empty string of at most 256 bytes");
    }
    kid = view(v->get_string());
  } else {
    return fail("", "a kid is required (keys are selected by kid only)");
  }
  if (const json::value* use = jwk.if_contains("use")) {
    if (!use->is_string()) {
      return fail(kid, "use must be a string");
    }
    if (use->get_string() == "enc") {
      return std::pair{kid, crypto::SignatureKeyPtr{}};
    }
    if (use->get_string() != "sig") {
      return fail(kid, "use must be \"sig\"");
    }
  }
  if (const json::value* ops = jwk.if_contains("key_ops")) {
    const std::string_view wanted = mode == JwkMode::kPublicSet ? "verify" : "sign";
    bool found = false;
    if (!ops->is_array()) {
      return fail(kid, "key_ops must be an array");
    }
    for (const json::value& op : ops->get_array()) {
      found = found || (op.is_string() && op.get_string() == wanted);
    }
    if (!found) {
      return fail(kid, "key_ops does not include \"" + std::string(wanted) + "\"");
    }
  }
  const json::string* kty = stringMember(jwk, "kty");
  if (kty == nullptr) {
    return fail(kid, "kty is missing");
  }
  std::optional<Algorithm> alg;
  if (const json::value* a = jwk.if_contains("alg")) {
    if (!a->is_string()) {
      return fail(kid, "alg must be a string");
    }
    alg = crypto::algorithmFromName(view(a->get_string()));
    if (!alg) {
      return fail(kid, "alg " + core::jsonString(view(a->get_string())) + " is not supported");
    }
  }
  const bool private_file = mode == JwkMode::kPrivateFile;
  crypto::KeyMaterial material;
  const auto requireAlg = [&](std::initializer_list<Algorithm> allowed,
                              std::string_view what) -> std::optional<KeyError> {
    if (alg && std::find(allowed.begin(), allowed.end(), *alg) == allowed.end()) {
      return fail(kid, "alg " + std::string(crypto::algorithmName(*alg)) + " does not fit " +
                           std::string(what));
    }
    material.algorithm = alg ? *alg : *allowed.begin();
    return std::nullopt;
  };
  const auto noPrivate = [&](std::initializer_list<std::string_view> names) -> bool {
    return std::none_of(names.begin(), names.end(),
                        [&](std::string_view name) { return jwk.contains(name); });
  };

  if (*kty == "OKP") {
    const json::string* crv = stringMember(jwk, "crv");
    if (crv == nullptr || *crv != "Ed25519") {
      return fail(kid, "OKP keys must have crv Ed25519");
    }
    if (auto e = requireAlg({Algorithm::kEdDSA}, "an Ed25519 key")) return *e;
    if (auto e = decodeMember(jwk, kid, "x", material.x)) return *e;
    if (private_file) {
      if (auto e = decodeMember(jwk, kid, "d", material.d)) return *e;
    } else if (!noPrivate({"d"})) {
      return fail(kid, "private key material (d) in a public JWK Set");
    }
  } else if (*kty == "EC") {
    const json::string* crv = stringMember(jwk, "crv");
    if (crv == nullptr || *crv != "P-256") {
      return fail(kid, "EC keys must have crv P-256");
    }
    if (auto e = requireAlg({Algorithm::kES256}, "a P-256 key")) return *e;
    if (auto e = decodeMember(jwk, kid, "x", material.x)) return *e;
    if (auto e = decodeMember(jwk, kid, "y", material.y)) return *e;
    if (private_file) {
      if (auto e = decodeMember(jwk, kid, "d", material.d)) return *e;
    } else if (!noPrivate({"d"})) {
      return fail(kid, "private key material (d) in a public JWK Set");
    }
  } else if (*kty == "RSA") {
    if (private_file) {
      return fail(kid, "RSA keys are for verifying external issuers only");
    }
    if (auto e = requireAlg({Algorithm::kRS256, Algorithm::kPS256}, "an RSA key")) return *e;
    if (!noPrivate({"d", "p", "q", "dp", "dq", "qi", "oth"})) {
      return fail(kid, "private key material in a public JWK Set");
    }
    if (auto e = decodeMember(jwk, kid, "n", material.n)) return *e;
    if (auto e = decodeMember(jwk, kid, "e", material.e)) return *e;
  } else if (*kty == "oct") {
    // A shared secret names its algorithm explicitly: guessing one for an `oct` key is how
    // HMAC-with-a-public-key confusion starts.
    if (!alg) {
      return fail(kid, "oct keys must name their alg (HS256)");
    }
    if (auto e = requireAlg({Algorithm::kHS256}, "an oct key")) return *e;
    if (auto e = decodeMember(jwk, kid, "k", material.k)) return *e;
  } else {
    return fail(kid, "kty " + core::jsonString(view(*kty)) + " is not supported");
  }
  auto key = crypto::SignatureKey::fromMaterial(material);
  if (!key) {
    return fail(kid, key.error().message);
  }
  if (private_file && !(*key)->canSign()) {
    return fail(kid, "the key file holds no private key");
  }
  return std::pair{kid, std::move(*key)};
}

void appendMember(std::string& out, std::string_view name, std::string_view value) {
  if (out.back() != '{') {
    out += ',';
  }
  core::appendJsonString(out, name);
  out += ':';
  core::appendJsonString(out, value);
}

void appendBytesMember(std::string& out, std::string_view name, std::string_view bytes) {
  appendMember(out, name, crypto::base64UrlEncode(bytes));
}

}  // namespace

std::string_view keyStatusName(KeyStatus status) {
  return status == KeyStatus::kActive ? "active" : "retired";
}

KeySet::KeySet(std::vector<KeyEntry> entries, const KeyEntry* signing, std::string jwks)
    : entries_(std::move(entries)), signing_(signing), jwks_(std::move(jwks)) {}

KeyResult<KeySetPtr> KeySet::create(std::vector<KeyEntry> entries) {
  std::optional<std::size_t> signing;
  std::string jwks = "{\"keys\":[";
  bool first = true;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const KeyEntry& entry = entries[i];
    if (entry.kid.empty() || entry.kid.size() > kMaxKidBytes || !entry.key) {
      return KeyError{"every key needs a kid of 1 to 256 bytes and key material"};
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (entries[j].kid == entry.kid) {
        return KeyError{"kid " + core::jsonString(entry.kid) + " appears more than once"};
      }
    }
    if (entry.status == KeyStatus::kActive && entry.key->canSign()) {
      if (signing) {
        return KeyError{"more than one active signing key"};
      }
      signing = i;
    }
    if (auto jwk = toJwk(entry.kid, *entry.key, false)) {
      if (!first) {
        jwks += ',';
      }
      first = false;
      jwks += *jwk;
    }
  }
  jwks += "]}";
  auto set = std::make_shared<KeySet>(std::move(entries), nullptr, std::move(jwks));
  if (signing) {
    set->signing_ = &set->entries_[*signing];
  }
  return KeySetPtr(std::move(set));
}

KeySetPtr KeySet::empty() {
  static const KeySetPtr set =
      std::make_shared<KeySet>(std::vector<KeyEntry>{}, nullptr, std::string("{\"keys\":[]}"));
  return set;
}

const KeyEntry* KeySet::find(std::string_view kid) const {
  for (const KeyEntry& entry : entries_) {
    if (entry.kid == kid) {
      return &entry;
    }
  }
  return nullptr;
}

std::optional<std::string> toJwk(std::string_view kid, const crypto::SignatureKey& key,
                                 bool include_private) {
  const crypto::KeyMaterial m = include_private ? key.privateMaterial() : key.publicMaterial();
  std::string out = "{";
  switch (key.algorithm()) {
    case Algorithm::kEdDSA:
      appendMember(out, "kty", "OKP");
      appendMember(out, "crv", "Ed25519");
      appendBytesMember(out, "x", m.x);
      break;
    case Algorithm::kES256:
      appendMember(out, "kty", "EC");
      appendMember(out, "crv", "P-256");
      appendBytesMember(out, "x", m.x);
      appendBytesMember(out, "y", m.y);
      break;
    case Algorithm::kRS256:
    case Algorithm::kPS256:
      appendMember(out, "kty", "RSA");
      appendBytesMember(out, "n", m.n);
      appendBytesMember(out, "e", m.e);
      break;
    case Algorithm::kHS256:
      if (!include_private) {
        return std::nullopt;
      }
      appendMember(out, "kty", "oct");
      break;
  }
  if (include_private) {
    if (!m.d.empty()) {
      appendBytesMember(out, "d", m.d);
    }
    if (!m.k.empty()) {
      appendBytesMember(out, "k", m.k);
    }
  }
  appendMember(out, "alg", crypto::algorithmName(key.algorithm()));
  appendMember(out, "use", "sig");
  appendMember(out, "kid", kid);
  out += '}';
  return out;
}

KeyResult<KeySetPtr> parseJwks(std::string_view text, const JwksOptions& options,
                               std::vector<std::string>* skipped) {
  auto parsed = detail::parseStrictObject(text);
  if (!parsed) {
    return KeyError{parsed.error() == VerifyError::kDuplicateMember
                        ? "JWK Set repeats a member name"
                        : "JWK Set is not a JSON object"};
  }
  const json::value* keys = parsed->if_contains("keys");
  if (keys == nullptr || !keys->is_array()) {
    return KeyError{"JWK Set has no \"keys\" array"};
  }
  std::vector<KeyEntry> entries;
  for (const json::value& item : keys->get_array()) {
    if (!item.is_object()) {
      return KeyError{"JWK Set entry is not an object"};
    }
    auto jwk = parseJwk(item.get_object(), JwkMode::kPublicSet);
    if (!jwk) {
      if (!options.skip_unusable) {
        return jwk.error();
      }
      if (skipped != nullptr) {
        skipped->push_back(jwk.error().message);
      }
      continue;
    }
    if (!jwk->second) {
      continue;  // use "enc"
    }
    KeyEntry entry;
    entry.kid = std::move(jwk->first);
    entry.key = std::move(jwk->second);
    entries.push_back(std::move(entry));
  }
  return KeySet::create(std::move(entries));
}

KeyResult<crypto::SignatureKeyPtr> parsePrivateJwk(std::string_view text, std::string_view kid) {
  auto parsed = detail::parseStrictObject(text);
  if (!parsed) {
    return fail(kid, "key file is not a JSON object");
  }
  auto jwk = parseJwk(*parsed, JwkMode::kPrivateFile);
  if (!jwk) {
    return jwk.error();
  }
  if (!jwk->second || jwk->first != kid) {
    return fail(kid, "key file does not hold the signing key with this kid");
  }
  return std::move(jwk->second);
}

}  // namespace bulwark::jwt

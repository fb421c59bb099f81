// libFuzzer target for the JWT layer: JWS compact parsing, strict JSON (duplicate members), claims,
// JWK Sets and the whole verifier with its cache.
//
// The first input byte chooses what the rest is:
//   0: a token, given to parseJws and to Verifier::verify;
//   1: "<header JSON>\0<payload JSON>", turned into a correctly HS256-signed token, so the fuzzer
//      reaches the header rules, claims and cache paths behind the signature check;
//   2: a JWK Set text for parseJwks;
//   3: a claim set for parseClaims.
// Besides crashes and sanitizer reports it checks properties the gateway relies on:
//   - an accepted token's parts are canonical (re-encoding the decoded bytes gives them back)
//     and its signing input lies inside the token;
//   - verify() answers the same twice (the second answer may come from the cache);
//   - a token the verifier accepts has iss, aud, exp and an allowed typ/kid/alg;
//   - a parsed JWK Set re-serialises to a set that parses to the same JWKS text;
//   - core::readStrictJsonObject and core::readStrictJsonObjectDirect (the verifier's parse: the
//     subset reader calling the visitor as it reads, reset before a fallback) agree with
//     core::parseStrictJsonObject on every JSON text of modes 1 and 3: the same verdict, the
//     same duplicate flag, and the same parts in the same order.

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/strict_json.h"
#include "crypto/base64url.h"
#include "crypto/hmac.h"
#include "jwt/claims.h"
#include "jwt/jws.h"
#include "jwt/key_set.h"
#include "jwt/verifier.h"

namespace {

using namespace bulwark;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

const std::string kSecret = "fuzz-secret-fuzz-secret-fuzz-secret!";

struct Fixture {
  core::SimulatedClock clock;  // 1'800'000'000
  jwt::KeySetPtr keys;
  jwt::VerifierPtr verifier;

  Fixture() {
    crypto::KeyMaterial hs;
    hs.algorithm = crypto::Algorithm::kHS256;
    hs.k = kSecret;
    crypto::KeyMaterial ed;  // RFC 8037 A.1 public key
    ed.algorithm = crypto::Algorithm::kEdDSA;
    check(crypto::base64UrlDecode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", ed.x));
    jwt::KeyEntry a, b;
    a.kid = "hs";
    a.key = crypto::SignatureKey::fromMaterial(hs).value();
    a.status = jwt::KeyStatus::kRetired;
    b.kid = "ed";
    b.key = crypto::SignatureKey::fromMaterial(ed).value();
    keys = jwt::KeySet::create({a, b}).value();
    jwt::VerifierConfig config;
    jwt::IssuerConfig ours;
    ours.issuer = "https://bulwark.test";
    ours.audiences = {"api"};
    ours.required_claims = {"sub"};
    ours.keys = jwt::staticKeySource(keys);
    jwt::IssuerConfig other;
    other.issuer = "i";
    other.audiences = {"a"};
    other.typ = jwt::TypPolicy::kOptional;
    other.keys = jwt::staticKeySource(keys);
    config.issuers = {ours, other};
    config.cache.capacity = 64;
    config.max_token_bytes = 4096;
    verifier = jwt::Verifier::create(config, clock);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void checkToken(std::string_view token) {
  auto jws = jwt::parseJws(token, 4096);
  if (jws) {
    check(inside(jws->signing_input, token));
    const std::size_t first = token.find('.');
    const std::size_t second = token.rfind('.');
    check(first != second && second == jws->signing_input.size());
    check(crypto::base64UrlEncode(jws->payload) == token.substr(first + 1, second - first - 1));
    check(crypto::base64UrlEncode(jws->signature) == token.substr(second + 1));
  }
  Fixture& f = fixture();
  auto first = f.verifier->verify(token);
  auto again = f.verifier->verify(token);
  check(first.has_value() == again.has_value());
  if (!first) {
    check(first.error() == again.error());
    check(jwt::verifyErrorName(first.error()) != "unknown");
    return;
  }
  check(jws.has_value());
  const jwt::Claims& claims = (*first)->claims;
  check(!claims.iss.empty() && !claims.aud.empty() && claims.exp.has_value());
  check((*first)->claims.json == (*again)->claims.json);
  check(jws->header.kid && f.keys->find(*jws->header.kid) != nullptr);
  check(jws->header.alg == f.keys->find(*jws->header.kid)->key->algorithm());
}

// Writes the parts of a document as text, from the visitor or from a parsed value.
class PartsWriter final : public core::StrictJsonVisitor {
 public:
  std::string out;

  void onKey(std::size_t depth, std::string_view name) override {
    out += std::to_string(depth) + "k" + std::to_string(name.size()) + ":";
    out += name;
  }
  void onScalar(std::size_t depth, const core::JsonScalar& v) override {
    using Kind = core::JsonScalar::Kind;
    out += std::to_string(depth);
    char number[40];
    switch (v.kind) {
      case Kind::kString:
        out += "s" + std::to_string(v.string.size()) + ":";
        out += v.string;
        return;
      case Kind::kInt64:
        out += "i" + std::to_string(v.int64);
        return;
      case Kind::kUint64:
        out += "u" + std::to_string(v.uint64);
        return;
      case Kind::kDouble:
        std::snprintf(number, sizeof number, "d%.17g", v.number);
        out += number;
        return;
      case Kind::kBool:
        out += v.boolean ? "t" : "f";
        return;
      case Kind::kNull:
        out += "n";
        return;
    }
  }
  void onContainer(std::size_t depth, bool is_array) override {
    out += std::to_string(depth) + (is_array ? "[" : "{");
  }

  void walkObject(const boost::json::object& object, std::size_t depth) {
    for (const auto& member : object) {
      onKey(depth, {member.key().data(), member.key().size()});
      walk(member.value(), depth);
    }
  }
  void walk(const boost::json::value& v, std::size_t depth) {
    core::JsonScalar scalar;
    switch (v.kind()) {
      case boost::json::kind::object:
        onContainer(depth, false);
        walkObject(v.get_object(), depth + 1);
        return;
      case boost::json::kind::array:
        onContainer(depth, true);
        for (const auto& item : v.get_array()) walk(item, depth + 1);
        return;
      case boost::json::kind::string:
        scalar.kind = core::JsonScalar::Kind::kString;
        scalar.string = {v.get_string().data(), v.get_string().size()};
        break;
      case boost::json::kind::int64:
        scalar.kind = core::JsonScalar::Kind::kInt64;
        scalar.int64 = v.get_int64();
        break;
      case boost::json::kind::uint64:
        scalar.kind = core::JsonScalar::Kind::kUint64;
        scalar.uint64 = v.get_uint64();
        break;
      case boost::json::kind::double_:
        scalar.kind = core::JsonScalar::Kind::kDouble;
        scalar.number = v.get_double();
        break;
      case boost::json::kind::bool_:
        scalar.kind = core::JsonScalar::Kind::kBool;
        scalar.boolean = v.get_bool();
        break;
      case boost::json::kind::null:
        break;
    }
    onScalar(depth, scalar);
  }
};

// PartsWriter for core::readStrictJsonObjectDirect(), which needs a final visitor with reset().
class DirectPartsWriter final : public core::StrictJsonVisitor {
 public:
  PartsWriter inner;
  void reset() { inner.out.clear(); }
  void onKey(std::size_t depth, std::string_view name) override { inner.onKey(depth, name); }
  void onScalar(std::size_t depth, const core::JsonScalar& v) override { inner.onScalar(depth, v); }
  void onContainer(std::size_t depth, bool is_array) override {
    inner.onContainer(depth, is_array);
  }
};

void checkStrictJsonAgrees(std::string_view text) {
  for (const std::size_t depth : {std::size_t{2}, std::size_t{20}}) {
    bool value_duplicate = false, read_duplicate = false;
    const auto value = core::parseStrictJsonObject(text, depth, &value_duplicate);
    PartsWriter read;
    const bool accepted = core::readStrictJsonObject(text, depth, read, &read_duplicate);
    check(accepted == value.has_value());
    check(read_duplicate == value_duplicate);
    bool direct_duplicate = false;
    DirectPartsWriter direct;
    check(core::readStrictJsonObjectDirect(text, depth, direct, &direct_duplicate) == accepted);
    check(direct_duplicate == value_duplicate);
    if (value) {
      PartsWriter oracle;
      oracle.walkObject(*value, 1);
      check(read.out == oracle.out);
      check(direct.inner.out == oracle.out);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      checkToken(input);
      break;
    case 1: {
      const std::size_t split = input.find('\0');
      const std::string_view header = input.substr(0, split);
      const std::string_view payload =
          split == std::string_view::npos ? std::string_view() : input.substr(split + 1);
      checkStrictJsonAgrees(header);
      checkStrictJsonAgrees(payload);
      std::string token = crypto::base64UrlEncode(header) + "." + crypto::base64UrlEncode(payload);
      const auto mac = crypto::hmacSha256(
          {reinterpret_cast<const std::uint8_t*>(kSecret.data()), kSecret.size()}, token);
      token += "." + crypto::base64UrlEncode(mac);
      checkToken(token);
      break;
    }
    case 2: {
      auto keys = jwt::parseJwks(input, {.skip_unusable = (size & 1) != 0});
      if (keys) {
        auto again = jwt::parseJwks((*keys)->jwks());
        check(again.has_value());
        check((*again)->jwks() == (*keys)->jwks());
      }
      break;
    }
    case 3: {
      checkStrictJsonAgrees(input);
      auto claims = jwt::parseClaims(input);
      if (claims) {
        check(claims->json == input);
        (void)jwt::validateClaims(*claims, {}, fixture().clock.systemTime());
      }
      break;
    }
  }
  return 0;
}

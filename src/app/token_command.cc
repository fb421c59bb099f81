#include "app/token_command.h"

#include <ctime>
#include <istream>
#include <iterator>
#include <ostream>

#include "app/auth_wiring.h"
#include "core/clock.h"
#include "crypto/random.h"
#include "jwt/claims.h"
#include "jwt/key_ring.h"
#include "jwt/key_source.h"
#include "jwt/verifier.h"

namespace bulwark::app {
namespace {

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) {
    return {};
  }
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

int rejected(jwt::VerifyError error, std::ostream& out) {
  out << jwt::verifyErrorName(error) << ": " << jwt::verifyErrorDescription(error) << '\n';
  return 1;
}

std::string rfc3339(core::SystemTime time) {
  const std::time_t t = jwt::toNumericDate(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

jwt::KeyResult<jwt::KeyRingPtr> openRing(const KeysOptions& options, bool create) {
  jwt::KeyRingConfig config;
  config.directory = options.keys_dir;
  config.max_token_ttl = options.max_token_ttl;
  config.leeway = options.leeway;
  config.create_if_empty = create;
  return jwt::KeyRing::open(config, core::realClock(), crypto::systemRandom());
}

}  // namespace

std::optional<KeysOptions> keysOptions(const core::SettingSources& sources, std::string algorithm,
                                       std::ostream& err) {
  const core::LoadResult loaded = core::loadSettings(sources);
  if (!loaded.problems.empty()) {
    for (const core::Problem& problem : loaded.problems) {
      err << problem.setting << ": " << problem.message << " (fix: " << problem.fix << ")\n";
    }
    return std::nullopt;
  }
  KeysOptions options;
  options.keys_dir = signingKeysDirectory(loaded.settings);
  options.algorithm = std::move(algorithm);
  options.max_token_ttl = std::chrono::ceil<std::chrono::seconds>(loaded.settings.access_token_ttl);
  options.leeway = std::chrono::ceil<std::chrono::seconds>(loaded.settings.token_leeway);
  return options;
}

int runTokenVerify(const TokenVerifyOptions& options, std::istream& in, std::ostream& out,
                   std::ostream& err) {
  jwt::TypPolicy typ;
  if (options.typ == "at+jwt") {
    typ = jwt::TypPolicy::kAccessToken;
  } else if (options.typ == "jwt") {
    typ = jwt::TypPolicy::kAccessTokenOrJwt;
  } else if (options.typ == "optional") {
    typ = jwt::TypPolicy::kOptional;
  } else {
    err << "--typ must be at+jwt, jwt or optional\n";
    return 2;
  }
  auto keys = jwt::loadJwksFile(options.jwks_file);
  if (!keys) {
    err << keys.error().message << '\n';
    return 2;
  }
  const std::string input(std::istreambuf_iterator<char>(in), {});
  const std::string_view token = trim(input);
  if (token.empty()) {
    err << "no token on standard input\n";
    return 2;
  }

  if (options.signature_only) {
    auto jws = jwt::verifySignatureOnly(token, **keys, options.max_token_bytes);
    if (!jws) {
      return rejected(jws.error(), out);
    }
    out << jws->payload << '\n';
    return 0;
  }

  jwt::VerifierConfig config;
  jwt::IssuerConfig issuer;
  issuer.issuer = options.issuer;
  issuer.accept_any_issuer = options.issuer.empty();
  issuer.audiences = options.audiences;
  issuer.accept_any_audience = options.audiences.empty();
  issuer.typ = typ;
  issuer.keys = jwt::staticKeySource(*keys);
  config.issuers = {issuer};
  config.leeway = options.leeway;
  config.max_token_bytes = options.max_token_bytes;
  config.cache.capacity = 0;
  jwt::VerifierPtr verifier;
  try {
    verifier = jwt::Verifier::create(config, core::realClock());
  } catch (const std::invalid_argument& e) {
    err << e.what() << '\n';
    return 2;
  }
  auto verified = verifier->verify(token);
  if (!verified) {
    return rejected(verified.error(), out);
  }
  out << (*verified)->claims.json << '\n';
  return 0;
}

int runKeysRotate(const KeysOptions& options, std::ostream& out, std::ostream& err) {
  std::optional<crypto::Algorithm> algorithm;
  if (!options.algorithm.empty()) {
    algorithm = crypto::algorithmFromName(options.algorithm);
    if (!algorithm || *algorithm == crypto::Algorithm::kRS256 ||
        *algorithm == crypto::Algorithm::kPS256) {
      err << "--algorithm must be EdDSA, ES256 or HS256\n";
      return 2;
    }
  }
  auto ring = openRing(options, false);
  if (!ring) {
    err << ring.error().message << '\n';
    return 1;
  }
  auto kid = (*ring)->rotate(algorithm);
  if (!kid) {
    err << kid.error().message << '\n';
    return 1;
  }
  out << *kid << '\n';
  return 0;
}

int runKeysList(const KeysOptions& options, std::ostream& out, std::ostream& err) {
  auto ring = openRing(options, false);
  if (!ring) {
    err << ring.error().message << '\n';
    return 1;
  }
  for (const jwt::KeyEntry& entry : (*ring)->keys()->entries()) {
    out << entry.kid << ' ' << crypto::algorithmName(entry.key->algorithm()) << ' '
        << jwt::keyStatusName(entry.status) << ' ' << rfc3339(entry.created) << ' '
        << (entry.retired ? rfc3339(*entry.retired) : "-") << ' '
        << (entry.verify_until ? rfc3339(*entry.verify_until) : "-") << '\n';
  }
  return 0;
}

int runKeysJwks(const KeysOptions& options, std::ostream& out, std::ostream& err) {
  auto ring = openRing(options, false);
  if (!ring) {
    err << ring.error().message << '\n';
    return 1;
  }
  out << (*ring)->keys()->jwks() << '\n';
  return 0;
}

}  // namespace bulwark::app

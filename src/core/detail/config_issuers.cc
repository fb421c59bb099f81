#include "core/detail/config_issuers.h"

#include <unistd.h>

#include <algorithm>
#include <map>

#include "core/detail/config_values.h"

namespace bulwark::core {

bool ExternalIssuerConfig::jwksIsUrl() const { return jwks.find("://") != std::string::npos; }

namespace detail {
namespace {

const std::vector<std::string_view> kIssuerKeys = {
    "issuer",           "audiences",       "jwks", "ca_file", "typ", "roles_claim",
    "refetch_interval", "refresh_interval"};

bool hasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// What is wrong with a JWKS URL, or nullopt. http:// is accepted here only to a loopback IP
// literal (a name could resolve anywhere); production refuses it altogether.
std::optional<std::string> jwksUrlError(std::string_view url) {
  const auto scheme_end = url.find("://");
  const std::string_view scheme = url.substr(0, scheme_end);
  if (scheme != "https" && scheme != "http") {
    return quoted(scheme) + " is not a supported scheme";
  }
  const std::string_view rest = url.substr(scheme_end + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return "credentials in a JWKS URL are not supported";  // not echoed: may hold a password
  }
  if (url.find('#') != std::string_view::npos || hasControl(url) ||
      url.find(' ') != std::string_view::npos) {
    return quoted(url) + " is not a URL without spaces or a fragment";
  }
  std::string host(authority);
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    host = close == std::string::npos ? std::string() : host.substr(1, close - 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) {
    return quoted(url) + " has no host";
  }
  if (scheme == "http" && !isLoopbackHost(host)) {
    return "http:// sends keys in plaintext; it is accepted only to a loopback address "
           "(127.0.0.1, [::1]) in development";
  }
  return std::nullopt;
}

// Reads one [[external_issuer]] table; problems are appended as they are found.
class IssuerReader {
 public:
  IssuerReader(std::size_t index, std::vector<Problem>& problems)
      : base_("external_issuer[" + std::to_string(index) + "]"), problems_(problems) {}

  std::optional<ExternalIssuerConfig> read(const toml::table& table) {
    const std::size_t problems_before = problems_.size();
    for (const auto& [toml_key, node] : table) {
      readKey(toml_key.str(), node);
    }
    const std::string where =
        " (external_issuer starting at line " + std::to_string(table.source().begin.line) + ")";
    for (const auto& [key, example] :
         {std::pair{"issuer", "issuer = \"https://idp.example/realms/main\""},
          std::pair{"audiences", "audiences = [\"api\"]"},
          std::pair{"jwks", "jwks = \"https://idp.example/realms/main/certs\""}}) {
      if (table.find(key) == table.end()) {
        report(key, "is missing" + where, std::string("add ") + example);
      }
    }
    if (!config_.ca_file.empty() && !config_.jwks.empty() &&
        config_.jwks.rfind("https://", 0) != 0) {
      report("ca_file", "is only used with an https:// JWKS URL" + where,
             "remove ca_file, or serve the JWKS over https://");
    }
    if (config_.refresh_interval < config_.refetch_interval) {
      report("refresh_interval", "is shorter than refetch_interval" + where,
             "make refresh_interval at least refetch_interval");
    }
    if (problems_.size() != problems_before) {
      return std::nullopt;
    }
    return std::move(config_);
  }

 private:
  void report(std::string_view key, std::string message, std::string fix) {
    problems_.push_back({base_ + "." + std::string(key), std::move(message), std::move(fix)});
  }

  // The string value of `node`, or nullopt after reporting that it is not one.
  std::optional<std::string> stringValue(std::string_view key, const toml::node& node,
                                         const std::string& where, std::string_view example) {
    if (const auto* text = node.as_string()) {
      return std::string(trim(text->get()));
    }
    report(key, "expected a string" + where, "write it like " + std::string(example));
    return std::nullopt;
  }

  void readKey(std::string_view key, const toml::node& node) {
    const std::string where = " (line " + std::to_string(node.source().begin.line) + ")";
    if (key == "issuer") {
      if (auto text =
              stringValue(key, node, where, "issuer = \"https://idp.example/realms/main\"")) {
        if (text->empty() || hasControl(*text)) {
          report(key, "must be the provider's exact, non-empty `iss` value" + where,
                 "copy `issuer` from the provider's /.well-known/openid-configuration");
        } else {
          config_.issuer = std::move(*text);
        }
      }
    } else if (key == "audiences") {
      readAudiences(node, where);
    } else if (key == "jwks") {
      if (auto text = stringValue(key, node, where, "jwks = \"https://idp.example/certs\"")) {
        readJwks(std::move(*text), where);
      }
    } else if (key == "ca_file") {
      if (auto text = stringValue(key, node, where, "ca_file = \"/etc/bulwark/idp-ca.pem\"")) {
        if (!text->empty() && ::access(text->c_str(), R_OK) != 0) {
          report(key, "cannot read " + quoted(*text) + where,
                 "check the path and that bulwark's user may read it");
        } else {
          config_.ca_file = std::move(*text);
        }
      }
    } else if (key == "typ") {
      readTyp(node, where);
    } else if (key == "roles_claim") {
      if (auto text = stringValue(key, node, where, "roles_claim = \"roles\"")) {
        static const std::vector<std::string_view> kRegistered = {"iss", "sub", "aud", "exp",
                                                                  "nbf", "iat", "jti", "sid"};
        if (text->empty() || hasControl(*text) ||
            std::find(kRegistered.begin(), kRegistered.end(), *text) != kRegistered.end()) {
          report(key, quoted(*text) + " is not a claim that can hold roles" + where,
                 "name the top-level claim holding an array of role names, e.g. \"roles\"");
        } else {
          config_.roles_claim = std::move(*text);
        }
      }
    } else if (key == "refetch_interval") {
      readDuration(key, node, where, std::chrono::seconds(1), std::chrono::hours(1),
                   config_.refetch_interval);
    } else if (key == "refresh_interval") {
      readDuration(key, node, where, std::chrono::minutes(1), std::chrono::hours(24),
                   config_.refresh_interval);
    } else {
      const std::string match = closestMatch(key, kIssuerKeys);
      report(key,
             "unknown external_issuer key" +
                 (match.empty() ? std::string() : "; did you mean '" + match + "'?") + where,
             "use only issuer, audiences, jwks, ca_file, typ, roles_claim, refetch_interval, "
             "refresh_interval");
    }
  }

  void readAudiences(const toml::node& node, const std::string& where) {
    const auto* array = node.as_array();
    std::vector<std::string> audiences;
    bool valid = array != nullptr && !array->empty();
    for (std::size_t i = 0; valid && i < array->size(); ++i) {
      const auto* text = array->get(i)->as_string();
      valid = text != nullptr && !trim(text->get()).empty() && !hasControl(text->get());
      if (valid) {
        audiences.emplace_back(trim(text->get()));
      }
    }
    if (!valid) {
      report("audiences", "expected a non-empty array of non-empty strings" + where,
             "write audiences = [\"api\"] with the `aud` values this gateway accepts");
      return;
    }
    config_.audiences = std::move(audiences);
  }

  void readJwks(std::string text, const std::string& where) {
    if (text.empty()) {
      report("jwks", "is empty" + where, "write an https:// URL or the path of a JWKS file");
      return;
    }
    if (text.find("://") != std::string::npos) {
      if (auto error = jwksUrlError(text)) {
        report("jwks", *error + where,
               "write https://host/path (the provider's jwks_uri), or the path of a local file");
        return;
      }
    } else if (::access(text.c_str(), R_OK) != 0) {
      report("jwks", "cannot read the JWKS file " + quoted(text) + where,
             "check the path and that bulwark's user may read it, or write an https:// URL");
      return;
    }
    config_.jwks = std::move(text);
  }

  void readTyp(const toml::node& node, const std::string& where) {
    const auto text = stringValue("typ", node, where, "typ = \"at+jwt\"");
    if (!text) {
      return;
    }
    if (*text == "at+jwt") {
      config_.typ = IssuerTyp::kAccessToken;
    } else if (*text == "jwt") {
      config_.typ = IssuerTyp::kAccessTokenOrJwt;
    } else if (*text == "optional") {
      config_.typ = IssuerTyp::kOptional;
    } else {
      report("typ", quoted(*text) + " is not \"at+jwt\", \"jwt\" or \"optional\"" + where,
             "write typ = \"at+jwt\" (RFC 9068, the default), \"jwt\" (at+jwt or JWT) or "
             "\"optional\"");
    }
  }

  void readDuration(std::string_view key, const toml::node& node, const std::string& where,
                    std::chrono::milliseconds min, std::chrono::milliseconds max,
                    std::chrono::milliseconds& out) {
    const std::string range = formatDuration(min) + " to " + formatDuration(max);
    std::chrono::milliseconds value{-1};
    if (const auto* text = node.as_string();
        text != nullptr && !parseDuration(text->get(), value)) {
      value = std::chrono::milliseconds{-1};
    } else if (const auto* seconds = node.as_integer();
               seconds != nullptr && seconds->get() >= 0 && seconds->get() <= 366 * 86400) {
      value = std::chrono::seconds(seconds->get());
    }
    if (value < min || value > max) {
      report(key, "expected a duration from " + range + where,
             "write it like " + std::string(key) + " = \"" + formatDuration(out) + "\"");
      return;
    }
    out = value;
  }

  const std::string base_;
  std::vector<Problem>& problems_;
  ExternalIssuerConfig config_;
};

}  // namespace

void loadExternalIssuers(const toml::node& node, const std::string& where,
                         std::vector<ExternalIssuerConfig>& out, std::vector<Problem>& problems) {
  const auto* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    problems.push_back({"external_issuer", "must be an array of tables" + where,
                        "write each provider as an [[external_issuer]] table with issuer, "
                        "audiences and jwks"});
    return;
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    if (auto issuer = IssuerReader(i + 1, problems).read(*array->get(i)->as_table())) {
      out.push_back(std::move(*issuer));
    }
  }
}

void checkExternalIssuers(const Settings& settings, const SettingNames& names,
                          std::vector<Problem>& problems) {
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < settings.external_issuers.size(); ++i) {
    const ExternalIssuerConfig& issuer = settings.external_issuers[i];
    const std::string setting = "external_issuer[" + std::to_string(i + 1) + "].issuer";
    if (issuer.issuer == settings.token_issuer) {
      problems.push_back({setting,
                          quoted(issuer.issuer) + " is this gateway's own " +
                              names("token_issuer") +
                              "; its tokens are verified with its own keys only",
                          "give the provider its own issuer, or change " + names("token_issuer")});
    }
    const auto [it, inserted] = seen.try_emplace(issuer.issuer, i + 1);
    if (!inserted) {
      problems.push_back({setting,
                          quoted(issuer.issuer) + " is configured already by external_issuer[" +
                              std::to_string(it->second) + "]",
                          "merge the two tables (list every audience in one)"});
    }
  }
}

void externalIssuerJwksTls(const Settings& settings, const SettingNames&,
                           std::vector<Problem>& problems) {
  for (std::size_t i = 0; i < settings.external_issuers.size(); ++i) {
    const std::string& jwks = settings.external_issuers[i].jwks;
    if (jwks.rfind("http://", 0) == 0) {
      problems.push_back(
          {"external_issuer[" + std::to_string(i + 1) + "].jwks",
           "production mode requires https:// for a JWKS URL: over http:// anyone on the path "
           "could substitute keys and sign tokens the gateway would accept",
           "use the provider's https:// jwks_uri, or a local JWKS file"});
    }
  }
}

}  // namespace detail
}  // namespace bulwark::core

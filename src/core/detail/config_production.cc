// Production refusals. Each problem says which setting, why it is unsafe, and what to write
// instead; none repeats a secret (passwords are measured, never printed).

#include "core/detail/config_production.h"

#include <algorithm>

#include "core/detail/config_issuers.h"
#include "core/detail/config_secrets.h"
#include "core/detail/config_values.h"

namespace bulwark::core::detail {
namespace {

const SettingInfo* findByKey(std::string_view key) {
  for (const auto& info : settingsTable()) {
    if (info.key == key) {
      return &info;
    }
  }
  return nullptr;
}

void listenerTls(const Settings& settings, const SettingNames& names,
                 std::vector<Problem>& problems) {
  if (!settings.tls_cert_file.empty() || !settings.tls_key_file.empty()) {
    return;  // both-or-neither and readability are ordinary checks
  }
  std::string host;
  std::uint16_t port = 0;
  if (parseListen(settings.listen, host, port)) {
    return;  // an invalid listen address is already a problem
  }
  // A loopback-only listener is reachable only through a proxy on the same host, which may
  // terminate TLS itself (a local load balancer or sidecar); anything else is the network.
  if (isLoopbackHost(host)) {
    return;
  }
  problems.push_back(
      {names("tls_cert_file"),
       "production mode requires TLS on the listener: " + names("listen") + " is " +
           quoted(settings.listen) +
           ", reachable from other hosts, so passwords and tokens would cross the network in "
           "plaintext",
       "set " + names("tls_cert_file") + " and " + names("tls_key_file") +
           ", or listen on 127.0.0.1 or [::1] only, behind a local proxy that terminates TLS"});
}

void databaseTls(const Settings& settings, const SettingNames& names,
                 std::vector<Problem>& problems) {
  if (settings.database_url.empty()) {
    return;
  }
  const auto connection = parseConnectionString(settings.database_url);
  if (!connection) {
    return;  // reported as malformed already
  }
  const auto sslmode = connection->params.find("sslmode");
  if (sslmode != connection->params.end() && sslmode->second == "verify-full") {
    return;
  }
  const std::string found =
      sslmode == connection->params.end()
          ? "sslmode is not set (libpq then uses 'prefer', which silently falls back to plaintext)"
          : "sslmode is " + quoted(sslmode->second) +
                ", which does not verify both the server's certificate and its host name";
  problems.push_back(
      {names("database_url"),
       "production mode requires sslmode=verify-full for PostgreSQL: " + found +
           ", so a man in the middle could read or change security data",
       "add sslmode=verify-full (and sslrootcert=<CA file> unless the server's CA is in the "
       "system store)"});
}

void databasePassword(const Settings& settings, const SettingNames& names,
                      std::vector<Problem>& problems) {
  if (settings.database_url.empty()) {
    return;
  }
  const auto connection = parseConnectionString(settings.database_url);
  if (!connection) {
    return;
  }
  // A client certificate is a credential of its own; then no password is fine.
  const bool client_certificate =
      connection->params.count("sslcert") != 0 && connection->params.count("sslkey") != 0;
  if (client_certificate && (!connection->password || connection->password->empty())) {
    return;
  }
  if (const auto weakness = passwordWeakness(connection->password, connection->user)) {
    problems.push_back(
        {names("database_url"),
         "production mode refuses a weak database credential: the connection " + *weakness,
         "use a random password of at least " + std::to_string(kMinPasswordLength) +
             " characters (e.g. `openssl rand -base64 24`), or a client certificate "
             "(sslcert/sslkey)"});
  }
}

void redisTls(const Settings& settings, const SettingNames& names, std::vector<Problem>& problems) {
  if (settings.redis_url.empty()) {
    return;
  }
  const auto connection = parseConnectionString(settings.redis_url);
  if (!connection || connection->scheme == "rediss") {
    return;
  }
  problems.push_back({names("redis_url"),
                      "production mode requires TLS to Redis: " + connection->scheme +
                          ":// is plaintext, exposing revocations, rate-limit state and the "
                          "password on the network",
                      "use a rediss:// URL"});
}

void redisPassword(const Settings& settings, const SettingNames& names,
                   std::vector<Problem>& problems) {
  if (settings.redis_url.empty()) {
    return;
  }
  const auto connection = parseConnectionString(settings.redis_url);
  if (!connection) {
    return;
  }
  // Redis names its built-in ACL user "default"; only the password says anything.
  // Both arms are views: a "" : std::string conditional would make a temporary string and leave
  // the view dangling.
  const std::string_view user =
      connection->user == "default" ? std::string_view{} : std::string_view{connection->user};
  if (const auto weakness = passwordWeakness(connection->password, user)) {
    problems.push_back(
        {names("redis_url"),
         "production mode refuses a weak Redis credential: the connection " + *weakness,
         "write rediss://user:password@host:port with a random password of at least " +
             std::to_string(kMinPasswordLength) + " characters (e.g. `openssl rand -base64 24`)"});
  }
}

void debugLogging(const Settings& settings, const SettingNames& names,
                  std::vector<Problem>& problems) {
  if (settings.log_level != "debug") {
    return;
  }
  problems.push_back({names("log_level"),
                      "production mode refuses debug logging: it may write request details "
                      "(paths, headers, client data) to the logs",
                      "set it to info (or warn)"});
}

void trustEveryone(const Settings& settings, const SettingNames& names,
                   std::vector<Problem>& problems) {
  const bool everyone =
      std::any_of(settings.trusted_proxies.begin(), settings.trusted_proxies.end(),
                  [](const Cidr& cidr) { return cidr.prefix_length == 0; });
  if (!everyone) {
    return;
  }
  problems.push_back({names("trusted_proxies"),
                      "production mode refuses trusting X-Forwarded-For from every address: "
                      "any client could then choose the address that rate limits, blocks and "
                      "audit records see",
                      "list only the addresses of your load balancers"});
}

void openSignUp(const Settings& settings, const SettingNames& names,
                std::vector<Problem>& problems) {
  if (settings.sign_up != SignUp::kOpen) {
    return;
  }
  problems.push_back({names("sign_up"),
                      "production mode refuses open sign-up: anyone who can reach the gateway "
                      "could create an account and obtain tokens",
                      "set it to auto or off, and create accounts with `bulwark users add`"});
}

// The OWASP Password Storage Cheat Sheet lists equally strong argon2id configurations (p = 1);
// a setting must reach at least one of them.
void weakArgon2(const Settings& settings, const SettingNames& names,
                std::vector<Problem>& problems) {
  struct Minimum {
    std::uint64_t memory_kib;
    std::uint32_t iterations;
  };
  static constexpr Minimum kOwasp[] = {
      {47'104, 1}, {19'456, 2}, {12'288, 3}, {9'216, 4}, {7'168, 5}};
  const std::uint64_t memory_kib = settings.argon2_memory / 1024;
  for (const auto& minimum : kOwasp) {
    if (memory_kib >= minimum.memory_kib && settings.argon2_iterations >= minimum.iterations) {
      return;
    }
  }
  problems.push_back(
      {names("argon2_memory"),
       "production mode refuses argon2id parameters below the OWASP minimum: " +
           formatSize(settings.argon2_memory) + " with " +
           std::to_string(settings.argon2_iterations) + " iteration(s) (" +
           names("argon2_iterations") + ") makes stolen password hashes cheap to crack",
       "use 19MiB with 2 iterations (the default), or 46MiB/1, 12MiB/3, 9MiB/4, 7MiB/5"});
}

void auditKey(const Settings& settings, const SettingNames& names,
              std::vector<Problem>& problems) {
  if (!settings.audit_key_file.empty() || !settings.audit_key.empty()) {
    return;
  }
  problems.push_back(
      {names("audit_key_file"),
       "production mode requires an audit key: without one a generated key would sit next to "
       "the trail it protects",
       "create one outside the data directory, e.g. (umask 077; openssl rand -hex 32 > "
       "/etc/bulwark/audit.key), set " + names("audit_key_file") +
           " to it, and keep a copy offline to verify the trail"});
}

}  // namespace

void SettingNames::record(std::string_view key, Origin origin) {
  origins_.insert_or_assign(std::string(key), origin);
}

std::string SettingNames::operator()(std::string_view key) const {
  const SettingInfo* info = findByKey(key);
  if (info == nullptr) {
    return std::string(key);
  }
  const auto found = origins_.find(key);
  const Origin origin = found == origins_.end() ? Origin::kDefault : found->second;
  switch (origin) {
    case Origin::kFlag:
      return std::string(info->flag);
    case Origin::kFile:
      return std::string(info->key);
    case Origin::kEnv:
    case Origin::kDefault:
      return std::string(info->env);
  }
  return std::string(info->env);
}

const std::vector<ProductionRule>& productionRules() {
  static const std::vector<ProductionRule> rules = {
      {"the listener uses TLS (BULWARK_TLS_CERT_FILE, BULWARK_TLS_KEY_FILE), unless it listens "
       "on loopback only (127.0.0.1, [::1]) behind a local proxy that terminates TLS",
       listenerTls},
      {"BULWARK_DATABASE_URL, when set, has sslmode=verify-full", databaseTls},
      {"BULWARK_DATABASE_URL, when set, has a strong password (not a well-known default, at "
       "least 12 characters) or a client certificate (sslcert, sslkey)",
       databasePassword},
      {"BULWARK_REDIS_URL, when set, is a rediss:// (TLS) URL", redisTls},
      {"BULWARK_REDIS_URL, when set, has a strong password (not a well-known default, at least "
       "12 characters)",
       redisPassword},
      {"BULWARK_LOG_LEVEL is not debug (debug output may contain request details)", debugLogging},
      {"BULWARK_TRUSTED_PROXIES does not trust every address (0.0.0.0/0, ::/0)", trustEveryone},
      {"BULWARK_SIGN_UP is not on (auto means off in production)", openSignUp},
      {"BULWARK_ARGON2_MEMORY and BULWARK_ARGON2_ITERATIONS reach an OWASP argon2id "
       "configuration (19MiB/2 iterations, 46MiB/1, 12MiB/3, 9MiB/4 or 7MiB/5)",
       weakArgon2},
      {"an audit key is configured (BULWARK_AUDIT_KEY_FILE or BULWARK_AUDIT_KEY); development "
       "mode generates one under the data directory",
       auditKey},
      {"every [[external_issuer]] JWKS is an https:// URL or a local file (never http://)",
       externalIssuerJwksTls},
  };
  return rules;
}

}  // namespace bulwark::core::detail

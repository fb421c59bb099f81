// Settings are loaded in layers (defaults, TOML file, BULWARK_* environment, flags), each value
// going through the one parser its settingsTable() entry carries, and validated as a whole at the
// end. Problems are collected, never thrown, so `bulwark config check` can list every mistake at
// once and name each setting the way the user wrote it.

#include "core/config.h"

#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/detail/config_issuers.h"
#include "core/detail/config_production.h"
#include "core/detail/config_secrets.h"
#include "core/detail/config_values.h"

extern char** environ;

namespace bulwark::core {
namespace {

using detail::Origin;
using detail::quoted;
using detail::trim;
using Assign = decltype(SettingInfo::assign);
using Show = decltype(SettingInfo::show);
using Validate = std::function<std::optional<Problem>(std::string_view text)>;

constexpr std::string_view kEnvPrefix = "BULWARK_";
constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
constexpr std::uint64_t kGiB = 1024 * kMiB;

// How one setting is parsed and printed; the factories below make one per kind.
struct Binding {
  SettingKind kind;
  Assign assign;
  Show show;
};

// One line of the settings table before the derived names are filled in.
struct Entry {
  std::string_view key;
  std::string_view description;
  Binding binding;
  bool secret = false;
};

Problem failure(std::string message, std::string fix) {
  return Problem{{}, std::move(message), std::move(fix)};
}

Binding text(std::string Settings::*member, Validate validate = {}) {
  return {SettingKind::kString,
          [member, validate](std::string_view value, Settings& settings) -> std::optional<Problem> {
            value = trim(value);
            if (validate) {
              if (auto problem = validate(value)) {
                return problem;
              }
            }
            settings.*member = std::string(value);
            return std::nullopt;
          },
          [member](const Settings& settings) { return settings.*member; }};
}

template <class T>
Binding count(T Settings::*member, std::uint64_t min, std::uint64_t max) {
  return {
      SettingKind::kCount,
      [member, min, max](std::string_view value, Settings& settings) -> std::optional<Problem> {
        const std::string range = std::to_string(min) + " to " + std::to_string(max);
        value = trim(value);
        std::uint64_t number = 0;
        // parseSize without a unit is exactly a checked decimal number.
        if (value.empty() ||
            !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            !parseSize(value, number)) {
          return failure(quoted(value) + " is not a whole number",
                         "write a whole number from " + range);
        }
        if (number < min || number > max) {
          return failure(quoted(value) + " is out of range", "write a number from " + range);
        }
        settings.*member = static_cast<T>(number);
        return std::nullopt;
      },
      [member](const Settings& settings) { return std::to_string(settings.*member); }};
}

template <class T>
Binding size(T Settings::*member, std::uint64_t min, std::uint64_t max) {
  return {SettingKind::kSize,
          [member, min, max](std::string_view value, Settings& settings) -> std::optional<Problem> {
            const std::string range = detail::formatSize(min) + " to " + detail::formatSize(max);
            std::uint64_t bytes = 0;
            if (!parseSize(value, bytes)) {
              return failure(quoted(value) + " is not a size",
                             "write a size like 10MiB (bytes, or KiB/MiB/GiB = powers of 1024, "
                             "KB/MB/GB = powers of 1000) from " +
                                 range);
            }
            if (bytes < min || bytes > max) {
              return failure(quoted(value) + " is out of range", "write a size from " + range);
            }
            settings.*member = static_cast<T>(bytes);
            return std::nullopt;
          },
          [member](const Settings& settings) {
            return detail::formatSize(static_cast<std::uint64_t>(settings.*member));
          }};
}

Binding duration(std::chrono::milliseconds Settings::*member, std::chrono::milliseconds min,
                 std::chrono::milliseconds max) {
  return {SettingKind::kDuration,
          [member, min, max](std::string_view value, Settings& settings) -> std::optional<Problem> {
            const std::string range =
                detail::formatDuration(min) + " to " + detail::formatDuration(max);
            std::chrono::milliseconds parsed{};
            if (!parseDuration(value, parsed)) {
              return failure(quoted(value) + " is not a duration",
                             "write a duration like 250ms, 10s, 5m or 1h (a bare number is "
                             "seconds) from " +
                                 range);
            }
            if (parsed < min || parsed > max) {
              return failure(quoted(value) + " is out of range", "write a duration from " + range);
            }
            settings.*member = parsed;
            return std::nullopt;
          },
          [member](const Settings& settings) { return detail::formatDuration(settings.*member); }};
}

template <class T>
Binding choice(T Settings::*member, std::vector<std::pair<std::string_view, T>> values) {
  std::string names;
  for (const auto& [name, value] : values) {
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  return {SettingKind::kEnum,
          [member, values, names](std::string_view value,
                                  Settings& settings) -> std::optional<Problem> {
            value = trim(value);
            for (const auto& [name, candidate] : values) {
              if (name == value) {
                settings.*member = candidate;
                return std::nullopt;
              }
            }
            return failure(quoted(value) + " is not one of " + names, "write one of: " + names);
          },
          [member, values](const Settings& settings) {
            for (const auto& [name, candidate] : values) {
              if (candidate == settings.*member) {
                return std::string(name);
              }
            }
            return std::string();
          }};
}

Binding cidrList() {
  return {SettingKind::kList,
          [](std::string_view value, Settings& settings) -> std::optional<Problem> {
            std::vector<Cidr> cidrs;
            std::vector<std::string> texts;
            std::string bad;
            std::size_t start = 0;
            while (start <= value.size()) {
              const auto comma = std::min(value.find(',', start), value.size());
              const std::string_view item = trim(value.substr(start, comma - start));
              start = comma + 1;
              if (item.empty()) {
                continue;
              }
              Cidr cidr;
              if (parseCidr(item, cidr)) {
                cidrs.push_back(std::move(cidr));
                texts.emplace_back(item);
              } else {
                bad += (bad.empty() ? "" : ", ") + quoted(item);
              }
            }
            if (!bad.empty()) {
              return failure(bad + (bad.find("', '") == std::string::npos ? " is not a CIDR"
                                                                          : " are not CIDRs"),
                             "write networks like 10.0.0.0/8,2001:db8::/32 (no bits set after "
                             "the prefix length; a bare address means just that address)");
            }
            settings.trusted_proxies = std::move(cidrs);
            settings.trusted_proxies_text = std::move(texts);
            return std::nullopt;
          },
          [](const Settings& settings) {
            std::string out;
            for (const auto& item : settings.trusted_proxies_text) {
              out += (out.empty() ? "" : ",") + item;
            }
            return out;
          }};
}

// Key material: never echoed, printed as <redacted> when set.
Binding secretText(std::string Settings::*member) {
  return {SettingKind::kSecret,
          [member](std::string_view value, Settings& settings) -> std::optional<Problem> {
            settings.*member = std::string(trim(value));
            return std::nullopt;
          },
          [member](const Settings& settings) {
            return (settings.*member).empty() ? std::string() : std::string("<redacted>");
          }};
}

// A connection URL that may carry a password. Problems describe it without repeating it.
Binding connectionUrl(std::string Settings::*member, std::vector<std::string_view> schemes,
                      bool key_value_form, std::string example) {
  return {SettingKind::kSecret,
          [member, schemes, key_value_form, example](std::string_view value,
                                                     Settings& settings) -> std::optional<Problem> {
            value = trim(value);
            if (!value.empty()) {
              const auto connection = detail::parseConnectionString(value);
              const bool scheme_ok =
                  connection &&
                  (connection->scheme.empty() ? key_value_form
                                              : std::find(schemes.begin(), schemes.end(),
                                                          connection->scheme) != schemes.end());
              if (!scheme_ok) {
                // Not echoed: a malformed URL may still contain the password.
                return failure(
                    "is not a valid connection URL (value not shown: it may hold a "
                    "password)",
                    "write it like " + example);
              }
            }
            settings.*member = std::string(value);
            return std::nullopt;
          },
          [member](const Settings& settings) {
            const std::string& value = settings.*member;
            return value.empty() ? std::string() : redactUrl(value);
          }};
}

std::optional<Problem> validateListen(std::string_view value) {
  std::string host;
  std::uint16_t port = 0;
  if (auto error = detail::parseListen(value, host, port)) {
    return failure(quoted(value) + " is not a listen address: " + *error,
                   "write host:port or [ipv6]:port, e.g. 0.0.0.0:8443 or [::1]:8080");
  }
  return std::nullopt;
}

std::optional<Problem> validateUpstream(std::string_view value) {
  if (value.empty()) {
    return std::nullopt;  // no default route
  }
  UpstreamAddress address;
  return detail::parseUpstreamUrl(value, address);
}

std::optional<Problem> validateNodeId(std::string_view value) {
  const bool ok =
      value.size() <= 64 && std::all_of(value.begin(), value.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
  if (!ok) {
    return failure(quoted(value) + " is not a node id",
                   "use at most 64 letters, digits, '-', '_' or '.' (empty: the host name)");
  }
  return std::nullopt;
}

// An `iss` or `aud` value: compared exactly, so no surrounding space or control characters.
std::optional<Problem> validateTokenName(std::string_view value) {
  const bool ok = !value.empty() && value.size() <= 256 &&
                  std::all_of(value.begin(), value.end(), [](char c) {
                    return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
                  });
  if (!ok) {
    return failure("must be 1 to 256 printable characters without spaces",
                   "write a name or URL, e.g. https://auth.example.com");
  }
  return std::nullopt;
}

std::optional<Problem> validateNotEmpty(std::string_view value) {
  if (value.empty()) {
    return failure("must not be empty", "write a directory path, e.g. ./data");
  }
  return std::nullopt;
}

// The single source of every setting: its key (from which the env var and flag are derived),
// description, parser and printer, and the default (printed from a default Settings).
std::vector<Entry> entries() {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using std::chrono::minutes;
  using std::chrono::seconds;
  using S = Settings;
  return {
      {"mode", "Run mode: development or production (production refuses insecure settings)",
       choice(&S::mode, {{"development", Mode::kDevelopment}, {"production", Mode::kProduction}})},
      {"config", "TOML file with settings and [[route]] tables (a flag or env var only)",
       text(&S::config_file)},
      {"listen", "Address to listen on: host:port or [ipv6]:port",
       text(&S::listen, validateListen)},
      {"workers", "I/O threads; 0 = one per CPU core", count(&S::workers, 0, 256)},
      {"node_id", "Name of this node in audit records and metrics; empty = the host name",
       text(&S::node_id, validateNodeId)},
      {"data_dir", "Directory for the embedded database and audit segments",
       text(&S::data_dir, validateNotEmpty)},
      {"keys_dir",
       "Token signing key ring (mode 0700); empty = <data_dir>/keys. Nodes sharing a database "
       "must share it",
       text(&S::keys_dir)},
      {"tls_cert_file", "PEM certificate chain for TLS on the listener (with tls_key_file)",
       text(&S::tls_cert_file)},
      {"tls_key_file", "PEM private key for TLS on the listener (with tls_cert_file)",
       text(&S::tls_key_file)},
      {"upstream", "Upstream of the default route \"/\", e.g. http://127.0.0.1:9000",
       text(&S::upstream, validateUpstream)},
      {"log_level", "Minimum log level: debug, info, warn, error or off",
       choice<std::string>(&S::log_level, {{"debug", "debug"},
                                           {"info", "info"},
                                           {"warn", "warn"},
                                           {"error", "error"},
                                           {"off", "off"}})},
      {"max_request_line", "Longest request line (method, target, version) accepted",
       size(&S::max_request_line, 256, kMiB)},
      {"max_header_bytes", "Largest request head (request line and headers) accepted",
       size(&S::max_header_bytes, 1 * kKiB, 16 * kMiB)},
      {"max_header_count", "Most header fields accepted in one request",
       count(&S::max_header_count, 1, 10'000)},
      {"max_body_bytes", "Largest request body accepted", size(&S::max_body_bytes, 1, 1024 * kGiB)},
      {"max_connections", "Most client connections open at once (per process)",
       count(&S::max_connections, 1, 1'000'000)},
      {"header_timeout", "Time allowed from a request's first byte to the end of its head",
       duration(&S::header_timeout, milliseconds(1), hours(24))},
      {"idle_timeout", "Time a keep-alive connection may sit idle between requests",
       duration(&S::idle_timeout, milliseconds(1), hours(24))},
      {"request_timeout", "Time allowed for a whole exchange, bodies included",
       duration(&S::request_timeout, milliseconds(1), hours(24))},
      {"upstream_connect_timeout", "Time allowed to connect to an upstream",
       duration(&S::upstream_connect_timeout, milliseconds(1), hours(24))},
      {"upstream_timeout", "Time allowed waiting for bytes from an upstream",
       duration(&S::upstream_timeout, milliseconds(1), hours(24))},
      {"upstream_max_idle", "Idle keep-alive connections kept per upstream per thread (0: none)",
       count(&S::upstream_max_idle, 0, 10'000)},
      {"upstream_idle_timeout", "Time an idle upstream connection is kept",
       duration(&S::upstream_idle_timeout, milliseconds(1), hours(24))},
      {"shutdown_timeout", "Time in-flight requests get to finish on SIGTERM",
       duration(&S::shutdown_timeout, milliseconds(1), hours(24))},
      {"trusted_proxies", "Comma-separated CIDRs whose X-Forwarded-For is believed", cidrList()},
      {"sign_up", "Open sign-up (POST /auth/register): auto = on in development, off in production",
       choice(&S::sign_up, {{"auto", SignUp::kAuto}, {"on", SignUp::kOpen}, {"off", SignUp::kClosed}})},
      {"access_token_ttl", "Lifetime of access tokens (JWT exp - iat)",
       duration(&S::access_token_ttl, minutes(1), hours(24))},
      {"token_leeway", "Clock skew allowed when checking token exp, nbf and iat",
       duration(&S::token_leeway, milliseconds(0), minutes(5))},
      {"token_issuer", "Issuer (iss) of the access tokens this node signs and accepts",
       text(&S::token_issuer, validateTokenName)},
      {"token_audience", "Audience (aud) of the access tokens this node signs and accepts",
       text(&S::token_audience, validateTokenName)},
      {"refresh_token_ttl", "Lifetime of each refresh token (renewed at every rotation)",
       duration(&S::refresh_token_ttl, minutes(1), hours(24 * 90))},
      {"session_lifetime", "Absolute lifetime of a session, however often it is refreshed",
       duration(&S::session_lifetime, minutes(1), hours(24 * 365))},
      {"refresh_reuse_leeway",
       "Time in which a retry with the previous refresh token gets the same successor (0 = off)",
       duration(&S::refresh_reuse_leeway, milliseconds(0), seconds(60))},
      {"lockout_account_threshold", "Failed logins of one account before it is locked out",
       count(&S::lockout_account_threshold, 1, 1'000)},
      {"lockout_address_threshold", "Failed logins from one client address before it is locked out",
       count(&S::lockout_address_threshold, 1, 100'000)},
      {"lockout_base_delay", "First lockout; each further failure doubles it",
       duration(&S::lockout_base_delay, seconds(1), hours(1))},
      {"lockout_max_delay", "Longest lockout", duration(&S::lockout_max_delay, seconds(1), hours(24))},
      {"argon2_memory", "argon2id memory per password hash (OWASP: 19MiB with 2 iterations)",
       size(&S::argon2_memory, 8 * kKiB, 4 * kGiB)},
      {"argon2_iterations", "argon2id iterations (passes over the memory)",
       count(&S::argon2_iterations, 1, 100)},
      {"auth_workers", "Threads for password hashing and auth storage; 0 = one per CPU core",
       count(&S::auth_workers, 0, 256)},
      {"auth_queue", "Auth jobs that may wait for those threads before requests get 503",
       count(&S::auth_queue, 1, 1'000'000)},
      {"audit_durability",
       "When an audit event counts as written: sync (fsynced before the reply) or async",
       choice(&S::audit_durability,
              {{"async", AuditDurability::kAsync}, {"sync", AuditDurability::kSync}})},
      {"audit_requests",
       "all: one audit event per request; decisions: only requests a security decision settled",
       choice(&S::audit_requests,
              {{"all", AuditRequests::kAll}, {"decisions", AuditRequests::kDecisions}})},
      {"audit_batch_interval", "async: longest an audit event waits for its fsync (loss window)",
       duration(&S::audit_batch_interval, milliseconds(1), seconds(10))},
      {"audit_queue_capacity", "Audit events that may wait for the writer; beyond: counted, reported",
       count(&S::audit_queue_capacity, 1, 10'000'000)},
      {"audit_enqueue_timeout", "sync: how long a full audit queue may hold a request before 503",
       duration(&S::audit_enqueue_timeout, milliseconds(0), seconds(10))},
      {"audit_segment_size", "Size at which the audit trail starts a new segment file",
       size(&S::audit_segment_size, 64 * kKiB, 64 * kGiB)},
      {"audit_checkpoint_every", "Audit events between signed checkpoints (0: by time only)",
       count(&S::audit_checkpoint_every, 0, 100'000'000)},
      {"audit_checkpoint_interval", "Longest time between signed audit checkpoints, even when idle",
       duration(&S::audit_checkpoint_interval, seconds(1), hours(24))},
      {"audit_key_file",
       "Audit MAC key file, mode 0600 (empty: BULWARK_AUDIT_KEY; development generates one)",
       text(&S::audit_key_file)},
      {"audit_key", "Audit MAC keys as [kid:]hex-or-base64, comma-separated; the last one signs",
       secretText(&S::audit_key), true},
      {"audit_forward_secure",
       "Evolve the audit key per epoch (HKDF), so a stolen key cannot re-sign the past",
       choice(&S::audit_forward_secure, {{"off", false}, {"on", true}})},
      {"audit_epoch_records", "Forward security: audit records per key epoch",
       count(&S::audit_epoch_records, 1, 1'000'000'000)},
      {"audit_epoch_interval", "Forward security: longest key epoch",
       duration(&S::audit_epoch_interval, seconds(1), hours(24 * 30))},
      {"audit_store",
       "Where the audit trail is kept: files (under data_dir) or postgres (at database_url)",
       choice(&S::audit_store,
              {{"files", AuditStore::kFiles}, {"postgres", AuditStore::kPostgres}})},
      {"database_url", "PostgreSQL URL or key=value string; empty = embedded SQLite",
       connectionUrl(&S::database_url, {"postgres", "postgresql"}, true,
                     "postgresql://user:password@host:5432/db?sslmode=verify-full"),
       true},
      {"db_max_open", "PostgreSQL pool: most connections open at once",
       count(&S::db_max_open, 1, 1'000)},
      {"db_max_idle", "PostgreSQL pool: most idle connections kept",
       count(&S::db_max_idle, 0, 1'000)},
      {"db_conn_max_lifetime", "PostgreSQL pool: a connection older than this is replaced",
       duration(&S::db_conn_max_lifetime, seconds(1), hours(24))},
      {"db_conn_max_idle_time", "PostgreSQL pool: an idle connection older than this is closed",
       duration(&S::db_conn_max_idle_time, seconds(1), hours(24))},
      {"db_health_interval", "PostgreSQL pool: how often idle connections are checked and replaced",
       duration(&S::db_health_interval, seconds(1), hours(1))},
      {"db_acquire_timeout", "PostgreSQL pool: longest wait for a free connection before 503",
       duration(&S::db_acquire_timeout, milliseconds(10), minutes(5))},
      {"redis_url", "Redis URL for shared state; empty = in-process stores",
       connectionUrl(&S::redis_url, {"redis", "rediss"}, false,
                     "rediss://user:password@host:6380/0"),
       true},
      {"redis_ca_file", "CA certificates (PEM) that verify the Redis server; empty = system CAs",
       text(&S::redis_ca_file)},
      {"redis_pool_size", "Redis connections per node (commands are pipelined on each)",
       count(&S::redis_pool_size, 1, 256)},
      {"redis_timeout", "Redis: longest wait for one reply before the command is retried",
       duration(&S::redis_timeout, milliseconds(10), minutes(1))},
      {"redis_key_prefix", "Prefix of every Redis key and channel (several deployments, one Redis)",
       text(&S::redis_key_prefix, validateNotEmpty)},
      {"revocation_resync_interval",
       "Full reload of the shared revocation set, healing any missed pub/sub message",
       duration(&S::revocation_resync_interval, seconds(1), hours(1))},
  };
}

std::vector<SettingInfo> buildTable() {
  // Derived names need storage that lives as long as the table; a deque never moves its strings.
  static std::deque<std::string> storage;
  const auto keep = [](std::string text) -> std::string_view {
    return storage.emplace_back(std::move(text));
  };
  const Settings defaults;
  std::vector<SettingInfo> table;
  for (auto& entry : entries()) {
    std::string env(kEnvPrefix);
    std::string flag = "--";
    for (char c : entry.key) {
      env += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      flag += c == '_' ? '-' : c;
    }
    SettingInfo info;
    info.key = entry.key;
    info.env = keep(std::move(env));
    info.flag = keep(std::move(flag));
    info.default_text = keep(entry.binding.show(defaults));
    info.description = entry.description;
    info.secret = entry.secret;
    info.kind = entry.binding.kind;
    info.assign = std::move(entry.binding.assign);
    info.show = std::move(entry.binding.show);
    table.push_back(std::move(info));
  }
  return table;
}

const SettingInfo* findBy(std::string_view SettingInfo::*field, std::string_view value) {
  for (const auto& info : settingsTable()) {
    if (info.*field == value) {
      return &info;
    }
  }
  return nullptr;
}

std::vector<std::string_view> allOf(std::string_view SettingInfo::*field) {
  std::vector<std::string_view> out;
  for (const auto& info : settingsTable()) {
    out.push_back(info.*field);
  }
  return out;
}

std::string didYouMean(std::string_view word, const std::vector<std::string_view>& candidates) {
  const std::string match = detail::closestMatch(word, candidates);
  return match.empty() ? std::string() : "; did you mean '" + match + "'?";
}

// Replaces control characters so a printed value cannot start a line of its own.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  return out;
}

bool isMethodToken(std::string_view method) {
  return !method.empty() && method.size() <= 32 &&
         std::all_of(method.begin(), method.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; });
}

// A prefix is matched against normalised paths (F5.1), so one that no normalised path can start
// with would silently never match.
std::optional<std::string> prefixError(std::string_view prefix) {
  if (prefix.empty() || prefix.front() != '/') {
    return "must start with '/'";
  }
  for (char c : prefix) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f ||
        c == '?' || c == '#' || c == '\\') {
      return "may contain only visible ASCII, and no '?', '#' or '\\'";
    }
  }
  const std::string padded = std::string(prefix) + "/";
  if (padded.find("/./") != std::string::npos || padded.find("/../") != std::string::npos ||
      prefix.find("//") != std::string_view::npos) {
    return "must be a normalised path (no '.', '..' or empty segments)";
  }
  return std::nullopt;
}

// A [[route]] as read from the file, with what is needed to finish it after env and flags.
struct FileRoute {
  RouteConfig route;
  std::size_t index = 0;  // 1-based, as counted in the file
  bool has_upstream = false;
  bool upstream_written = false;  // even if invalid: then "missing" would be a second report
};

class Loader {
 public:
  Loader(const SettingSources& sources, LoadResult& result)
      : sources_(sources), settings_(result.settings), problems_(result.problems) {}

  void run() {
    const auto [path, origin_name] = configFile();
    if (!path.empty()) {
      loadFile(path, origin_name);
    }
    applyEnvironment();
    applyFlags();
    settings_.config_file = path;
    finishRoutes();
    checkTogether();
    detail::checkExternalIssuers(settings_, names_, problems_);
    if (settings_.mode == Mode::kProduction) {
      for (const auto& rule : detail::productionRules()) {
        rule.check(settings_, names_, problems_);
      }
    }
  }

 private:
  void report(std::string setting, std::string message, std::string fix) {
    problems_.push_back({std::move(setting), std::move(message), std::move(fix)});
  }

  void apply(const SettingInfo& info, std::string_view text, Origin origin, std::string name,
             std::string_view where = {}) {
    if (auto problem = info.assign(text, settings_)) {
      problem->setting = std::move(name);
      problem->message += where;
      problems_.push_back(std::move(*problem));
    } else {
      names_.record(info.key, origin);
    }
  }

  // The file named by the caller, else --config, else BULWARK_CONFIG; with how it was named.
  std::pair<std::string, std::string> configFile() const {
    const SettingInfo* info = findBy(&SettingInfo::key, "config");
    if (!sources_.config_file.empty()) {
      return {sources_.config_file, std::string(info->flag)};
    }
    if (const auto flag = sources_.flags.find("config"); flag != sources_.flags.end()) {
      return {std::string(trim(flag->second)), std::string(info->flag)};
    }
    if (const auto env = sources_.env.find(std::string(info->env)); env != sources_.env.end()) {
      return {std::string(trim(env->second)), std::string(info->env)};
    }
    return {};
  }

  void loadFile(const std::string& path, const std::string& named_by) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      const int error = errno;
      report(named_by, "cannot read " + quoted(path) + ": " + std::strerror(error),
             "check the path and that bulwark's user may read it");
      return;
    }
    const std::string content{std::istreambuf_iterator<char>(in), {}};
    toml::table root;
    try {
      root = toml::parse(content, path);
    } catch (const toml::parse_error& error) {
      const auto& begin = error.source().begin;
      report(path,
             "TOML syntax error at line " + std::to_string(begin.line) + ", column " +
                 std::to_string(begin.column) + ": " + printable(error.description()),
             "correct the TOML syntax (see https://toml.io)");
      return;
    }
    std::vector<std::string_view> file_keys = allOf(&SettingInfo::key);
    file_keys.push_back("route");
    file_keys.push_back("external_issuer");
    for (const auto& [toml_key, node] : root) {
      const std::string_view key = toml_key.str();
      const std::string where = " (line " + std::to_string(node.source().begin.line) + ")";
      if (key == "route") {
        loadRoutes(node, where);
        continue;
      }
      if (key == "external_issuer") {
        detail::loadExternalIssuers(node, where, settings_.external_issuers, problems_);
        continue;
      }
      const SettingInfo* info = findBy(&SettingInfo::key, key);
      if (info == nullptr) {
        report(std::string(key), "unknown setting" + didYouMean(key, file_keys) + where,
               "remove it; `bulwark config template` lists every setting");
        continue;
      }
      if (key == "config") {
        report(std::string(key), "a config file cannot name another config file" + where,
               "remove it; pass the file with --config or BULWARK_CONFIG");
        continue;
      }
      const auto value = nodeText(node, info->kind);
      if (!value) {
        report(
            std::string(key), "expected " + expectedInFile(info->kind) + where,
            "write it like " + std::string(key) + " = \"" + std::string(info->default_text) + "\"");
        continue;
      }
      apply(*info, *value, Origin::kFile, std::string(key), where);
    }
  }

  static std::string expectedInFile(SettingKind kind) {
    switch (kind) {
      case SettingKind::kList:
        return "a string or an array of strings";
      case SettingKind::kCount:
      case SettingKind::kSize:
      case SettingKind::kDuration:
        return "a string or an integer";
      default:
        return "a string";
    }
  }

  // The text of a scalar TOML value; arrays of strings only for lists (joined by commas).
  static std::optional<std::string> nodeText(const toml::node& node, SettingKind kind) {
    if (const auto* text = node.as_string()) {
      return text->get();
    }
    if (const auto* integer = node.as_integer()) {
      if (kind == SettingKind::kCount || kind == SettingKind::kSize ||
          kind == SettingKind::kDuration) {
        return std::to_string(integer->get());
      }
      return std::nullopt;
    }
    if (const auto* array = node.as_array(); array != nullptr && kind == SettingKind::kList) {
      std::string joined;
      for (const auto& item : *array) {
        const auto* text = item.as_string();
        if (text == nullptr) {
          return std::nullopt;
        }
        joined += (joined.empty() ? "" : ",") + text->get();
      }
      return joined;
    }
    return std::nullopt;
  }

  void loadRoutes(const toml::node& node, const std::string& where) {
    const auto* array = node.as_array();
    if (array == nullptr || !array->is_array_of_tables()) {
      report("route", "must be an array of tables" + where,
             "write each route as a [[route]] table with prefix, upstream, ... keys");
      return;
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
      loadRoute(*array->get(i)->as_table(), i + 1);
    }
  }

  void loadRoute(const toml::table& table, std::size_t index) {
    FileRoute file_route;
    file_route.index = index;
    RouteConfig& route = file_route.route;
    const std::string base = "route[" + std::to_string(index) + "]";
    const std::string route_where =
        " (route starting at line " + std::to_string(table.source().begin.line) + ")";
    bool has_prefix = false;
    bool has_name = false;
    static const std::vector<std::string_view> kRouteKeys = {
        "prefix", "methods", "upstream", "auth", "roles", "detect", "rate_limit", "name"};
    for (const auto& [toml_key, node] : table) {
      const std::string_view key = toml_key.str();
      const std::string setting = base + "." + std::string(key);
      const std::string where = " (line " + std::to_string(node.source().begin.line) + ")";
      const auto* text_node = node.as_string();
      const std::optional<std::string> text =
          text_node ? std::optional<std::string>(text_node->get()) : std::nullopt;
      const auto needString = [&](std::string_view example) {
        if (!text) {
          report(setting, "expected a string" + where,
                 "write it like " + std::string(key) + " = " + std::string(example));
        }
        return text.has_value();
      };
      if (key == "prefix") {
        if (!needString("\"/api/\"")) {
          continue;
        }
        if (auto error = prefixError(*text)) {
          report(setting, quoted(*text) + " " + *error + where,
                 "write a path prefix like \"/api/\"");
          continue;
        }
        route.prefix = *text;
        has_prefix = true;
      } else if (key == "methods") {
        auto methods = stringArray(node, setting, where, "methods = [\"GET\", \"POST\"]");
        if (!methods) {
          continue;
        }
        std::string bad;
        for (const auto& method : *methods) {
          if (!isMethodToken(method)) {
            bad += (bad.empty() ? "" : ", ") + quoted(method);
          }
        }
        if (!bad.empty()) {
          report(setting, bad + " must be HTTP methods in upper case" + where,
                 "write methods = [\"GET\", \"POST\"]");
          continue;
        }
        std::sort(methods->begin(), methods->end());
        methods->erase(std::unique(methods->begin(), methods->end()), methods->end());
        route.methods = std::move(*methods);
      } else if (key == "upstream") {
        file_route.upstream_written = true;
        if (!needString("\"http://127.0.0.1:9000\"")) {
          continue;
        }
        if (auto problem = detail::parseUpstreamUrl(*text, route.upstream)) {
          report(setting, problem->message + where, problem->fix);
          continue;
        }
        route.upstream_url = std::string(trim(*text));
        file_route.has_upstream = true;
      } else if (key == "auth") {
        if (!needString("\"required\"")) {
          continue;
        }
        if (*text == "required") {
          route.auth = AuthMode::kRequired;
        } else if (*text == "off") {
          route.auth = AuthMode::kOff;
        } else {
          report(setting, quoted(*text) + " is not \"required\" or \"off\"" + where,
                 "write auth = \"required\" or auth = \"off\"");
        }
      } else if (key == "roles") {
        auto roles = stringArray(node, setting, where, "roles = [\"user\"]");
        if (!roles) {
          continue;
        }
        if (std::any_of(roles->begin(), roles->end(),
                        [](const std::string& role) { return trim(role).empty(); })) {
          report(setting, "contains an empty role" + where, "write roles = [\"user\", \"admin\"]");
          continue;
        }
        route.roles = std::move(*roles);
      } else if (key == "detect") {
        if (!needString("\"block\"")) {
          continue;
        }
        if (*text == "off") {
          route.detect = DetectMode::kOff;
        } else if (*text == "detect") {
          route.detect = DetectMode::kDetect;
        } else if (*text == "block") {
          route.detect = DetectMode::kBlock;
        } else {
          report(setting, quoted(*text) + " is not \"off\", \"detect\" or \"block\"" + where,
                 "write detect = \"off\", \"detect\" or \"block\"");
        }
      } else if (key == "rate_limit") {
        if (!needString("\"100/s\"")) {
          continue;
        }
        RateLimit limit;
        if (!parseRateLimit(*text, limit)) {
          report(setting, quoted(*text) + " is not a rate" + where,
                 "write a rate like \"100/s\", \"6000/m\" or \"10000/h\" (a positive whole "
                 "number per second, minute or hour)");
          continue;
        }
        route.rate_limit = limit;
      } else if (key == "name") {
        if (!needString("\"api\"")) {
          continue;
        }
        const std::string_view name = trim(*text);
        if (name.empty() || name.size() > 64 || std::any_of(name.begin(), name.end(), [](char c) {
              return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
            })) {
          report(setting, "must be 1 to 64 printable characters" + where,
                 "write a short name like \"api\"");
          continue;
        }
        route.name = std::string(name);
        has_name = true;
      } else {
        report(setting, "unknown route key" + didYouMean(key, kRouteKeys) + where,
               "use only prefix, methods, upstream, auth, roles, detect, rate_limit, name");
      }
    }
    if (!has_prefix) {
      if (table.find("prefix") == table.end()) {
        report(base + ".prefix", "is missing" + route_where, "add prefix = \"/path/\"");
      }
      return;  // the route cannot be matched; its other problems are reported already
    }
    if (!has_name) {
      route.name = route.prefix;
    }
    file_routes_.push_back(std::move(file_route));
  }

  std::optional<std::vector<std::string>> stringArray(const toml::node& node,
                                                      const std::string& setting,
                                                      const std::string& where,
                                                      std::string_view example) {
    const auto* array = node.as_array();
    std::vector<std::string> out;
    if (array != nullptr) {
      for (const auto& item : *array) {
        const auto* text = item.as_string();
        if (text == nullptr) {
          array = nullptr;
          break;
        }
        out.push_back(text->get());
      }
    }
    if (array == nullptr) {
      report(setting, "expected an array of strings" + where, "write " + std::string(example));
      return std::nullopt;
    }
    return out;
  }

  void applyEnvironment() {
    const auto keys = allOf(&SettingInfo::key);
    for (const auto& [name, value] : sources_.env) {
      if (name.rfind(kEnvPrefix, 0) != 0) {
        continue;  // not ours
      }
      const SettingInfo* info = findBy(&SettingInfo::env, name);
      if (info == nullptr) {
        // Compare without the common prefix, which would make any two names look alike.
        std::string suggestion;
        const std::string match =
            detail::closestMatch(std::string_view(name).substr(kEnvPrefix.size()), keys);
        if (!match.empty()) {
          suggestion =
              "; did you mean '" + std::string(findBy(&SettingInfo::key, match)->env) + "'?";
        }
        report(printable(name), "unknown setting" + suggestion,
               "remove it; `bulwark config template` lists every setting");
        continue;
      }
      apply(*info, value, Origin::kEnv, name);
    }
  }

  void applyFlags() {
    const auto keys = allOf(&SettingInfo::key);
    for (const auto& [key, value] : sources_.flags) {
      const SettingInfo* info = findBy(&SettingInfo::key, key);
      if (info == nullptr) {
        std::string flag = "--" + printable(key);
        std::replace(flag.begin(), flag.end(), '_', '-');
        report(flag, "unknown setting" + didYouMean(key, keys),
               "remove it; `bulwark config template` lists every setting");
        continue;
      }
      apply(*info, value, Origin::kFlag, std::string(info->flag));
    }
  }

  // Routes need the merged `upstream`: a route without its own upstream inherits it, and it
  // becomes the default route "/" unless the file routes "/" itself.
  void finishRoutes() {
    UpstreamAddress default_upstream;
    const bool has_default = !settings_.upstream.empty() &&
                             !detail::parseUpstreamUrl(settings_.upstream, default_upstream);
    std::map<std::pair<std::string, std::vector<std::string>>, std::size_t> seen;
    bool routes_root = false;
    for (auto& file_route : file_routes_) {
      RouteConfig& route = file_route.route;
      const std::string base = "route[" + std::to_string(file_route.index) + "]";
      if (!file_route.has_upstream && !file_route.upstream_written) {
        if (has_default) {
          route.upstream = default_upstream;
          route.upstream_url = settings_.upstream;
        } else {
          report(base + ".upstream", "is missing",
                 "add upstream = \"http://host:port\" to the route, or set BULWARK_UPSTREAM for "
                 "every route without one");
        }
      }
      if (route.auth == AuthMode::kOff && !route.roles.empty()) {
        report(base + ".roles",
               "roles are only enforced when auth = \"required\"; with auth off anyone gets in",
               "add auth = \"required\" to the route, or remove roles");
      }
      const auto [it, inserted] = seen.try_emplace({route.prefix, route.methods}, file_route.index);
      if (!inserted) {
        report(base + ".prefix",
               quoted(route.prefix) + " with the same methods is already routed by route[" +
                   std::to_string(it->second) + "]",
               "merge the two routes or give them different prefixes or methods");
      }
      routes_root = routes_root || route.prefix == "/";
      settings_.routes.push_back(route);
    }
    if (has_default && !routes_root) {
      RouteConfig route;
      route.prefix = "/";
      route.name = "default";
      route.upstream = default_upstream;
      route.upstream_url = settings_.upstream;
      settings_.routes.push_back(std::move(route));
    }
  }

  void checkTogether() {
    const bool has_cert = !settings_.tls_cert_file.empty();
    const bool has_key = !settings_.tls_key_file.empty();
    if (has_cert != has_key) {
      const std::string given = names_(has_cert ? "tls_cert_file" : "tls_key_file");
      const std::string missing = names_(has_cert ? "tls_key_file" : "tls_cert_file");
      report(missing, "is required when " + given + " is set (TLS needs both)",
             "set both " + names_("tls_cert_file") + " and " + names_("tls_key_file") +
                 ", or neither");
    } else if (has_cert) {
      checkReadable("tls_cert_file", settings_.tls_cert_file);
      checkReadable("tls_key_file", settings_.tls_key_file);
    }
    if (settings_.lockout_max_delay < settings_.lockout_base_delay) {
      report(names_("lockout_max_delay"), "is shorter than " + names_("lockout_base_delay"),
             "make lockout_max_delay at least lockout_base_delay");
    }
    if (settings_.max_header_bytes < settings_.max_request_line) {
      report(names_("max_header_bytes"),
             "is smaller than " + names_("max_request_line") +
                 ", so the longest allowed request line could never be accepted",
             "make max_header_bytes at least max_request_line");
    }
    if (settings_.node_id.empty()) {
      char host[256] = {};
      settings_.node_id =
          gethostname(host, sizeof host - 1) == 0 && host[0] != '\0' ? host : "bulwark";
    }
    checkAuditKey();
    if (settings_.audit_store == AuditStore::kPostgres && settings_.database_url.empty()) {
      report(names_("audit_store"),
             "is postgres, but " + names_("database_url") + " is not set",
             "set " + names_("database_url") + " to the PostgreSQL database, or set " +
                 names_("audit_store") + " to files");
    }
  }

  // The key file is checked here so `config check` finds what `serve` would refuse; its content
  // is parsed (and never printed) by the audit component at start-up.
  void checkAuditKey() {
    const bool has_file = !settings_.audit_key_file.empty();
    if (has_file && !settings_.audit_key.empty()) {
      report(names_("audit_key"), "is set together with " + names_("audit_key_file"),
             "set only one of them");
    }
    if (settings_.audit_forward_secure && !has_file && !settings_.audit_key.empty()) {
      report(names_("audit_forward_secure"),
             "needs the key in a file: forward security rewrites it at every epoch, which a "
             "key in " + names_("audit_key") + " cannot be",
             "put the initial key in a file with mode 0600 and set " +
                 names_("audit_key_file") + "; keep a copy offline to verify the trail");
    }
    if (!has_file) {
      return;
    }
    struct stat info {};
    if (::stat(settings_.audit_key_file.c_str(), &info) != 0) {
      const int error = errno;
      report(names_("audit_key_file"),
             "cannot read " + quoted(settings_.audit_key_file) + ": " + std::strerror(error),
             "check the path, or create a key: (umask 077; openssl rand -hex 32 > FILE)");
      return;
    }
    if ((info.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
      report(names_("audit_key_file"),
             quoted(settings_.audit_key_file) + " has mode " + mode +
                 ": group or others may read or change the audit key",
             "chmod 600 " + settings_.audit_key_file);
    }
  }

  void checkReadable(std::string_view key, const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file || file.peek() == std::ifstream::traits_type::eof()) {
      const int error = errno;
      report(names_(key),
             "cannot read " + quoted(path) + ": " +
                 (file ? std::string("the file is empty") : std::string(std::strerror(error))),
             "check the path and that bulwark's user may read it");
    }
  }

  const SettingSources& sources_;
  Settings& settings_;
  std::vector<Problem>& problems_;
  detail::SettingNames names_;
  std::vector<FileRoute> file_routes_;
};

std::string authText(AuthMode mode) { return mode == AuthMode::kRequired ? "required" : "off"; }

std::string detectText(DetectMode mode) {
  switch (mode) {
    case DetectMode::kOff:
      return "off";
    case DetectMode::kDetect:
      return "detect";
    case DetectMode::kBlock:
      return "block";
  }
  return "off";
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ",") + item;
  }
  return out;
}

// Word-wraps `text` to the template's 100 columns.
std::string wrapped(std::string_view text, std::string_view first, std::string_view rest) {
  constexpr std::size_t kWidth = 100;
  std::string out(first);
  std::size_t line_length = first.size();
  bool line_empty = true;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = std::min(text.find(' ', start), text.size());
    const std::string_view word = text.substr(start, end - start);
    if (!line_empty && line_length + 1 + word.size() > kWidth) {
      out += "\n";
      out += rest;
      line_length = rest.size();
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++line_length;
    }
    out += word;
    line_length += word.size();
    line_empty = false;
    start = end + 1;
  }
  return out + "\n";
}

}  // namespace

const std::vector<SettingInfo>& settingsTable() {
  static const std::vector<SettingInfo> table = buildTable();
  return table;
}

LoadResult loadSettings(const SettingSources& sources) {
  LoadResult result;
  try {
    Loader(sources, result).run();
  } catch (const std::exception& error) {
    // Nothing above is expected to throw but allocation; the contract is to never throw.
    result.problems.push_back({"config", std::string("internal error: ") + error.what(),
                               "report this as a bug in bulwark"});
  }
  return result;
}

std::map<std::string, std::string> environmentSettings() {
  std::map<std::string, std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (text.rfind(kEnvPrefix, 0) == 0 && equals != std::string_view::npos) {
      out.emplace(text.substr(0, equals), text.substr(equals + 1));
    }
  }
  return out;
}

std::string renderTemplate() {
  std::ostringstream out;
  out << "# bulwark settings: .env.security.template\n"
         "#\n"
         "# Every setting bulwark reads, with its default. Generated by `bulwark config "
         "template`;\n"
         "# copy to .env (or your service manager's environment), uncomment what you change, and\n"
         "# check the result with `bulwark config check`.\n"
         "#\n"
         "# Precedence: command-line flag > environment variable > config file > default.\n"
         "#   BULWARK_MAX_BODY_BYTES=10MiB   is   --max-body-bytes 10MiB   on the command line\n"
         "#                                  and  max_body_bytes = \"10MiB\"  in the TOML file\n"
         "# The config file (--config or BULWARK_CONFIG) also holds the route table, which only\n"
         "# it can set; the longest matching prefix wins:\n"
         "#   [[route]]\n"
         "#   prefix     = \"/api/\"\n"
         "#   methods    = [\"GET\", \"POST\"]           # optional; default any method\n"
         "#   upstream   = \"http://127.0.0.1:9000\"    # default: BULWARK_UPSTREAM\n"
         "#   auth       = \"required\"                 # or \"off\" (default)\n"
         "#   roles      = [\"user\"]                   # any of; empty: any signed-in user\n"
         "#   detect     = \"block\"                    # \"off\" (default), \"detect\", "
         "\"block\"\n"
         "#   rate_limit = \"100/s\"                    # per client address; N/s, N/m, N/h\n"
         "#   name       = \"api\"                      # metrics label; default the prefix\n"
         "# BULWARK_UPSTREAM alone adds a route \"/\" named \"default\" unless the file routes "
         "\"/\".\n"
         "#\n"
         "# It also lists the identity providers (Keycloak, Auth0, ...) whose access tokens the\n"
         "# gateway accepts besides its own, under the same rules (alg from the key, kid required):\n"
         "#   [[external_issuer]]\n"
         "#   issuer           = \"https://idp.example/realms/main\"  # exact `iss`\n"
         "#   audiences        = [\"api\"]                 # `aud` must name one of these\n"
         "#   jwks             = \"https://idp.example/realms/main/protocol/openid-connect/certs\"\n"
         "#                      # or a local JWKS file; http:// only to 127.0.0.1/[::1] in "
         "development\n"
         "#   ca_file          = \"/etc/bulwark/idp-ca.pem\" # optional: trust only this CA\n"
         "#   typ              = \"at+jwt\"                # default; \"jwt\" also takes JWT; "
         "\"optional\"\n"
         "#   roles_claim      = \"roles\"                 # top-level array of role names\n"
         "#   refetch_interval = \"30s\"   # an unknown kid fetches the JWKS at most this often\n"
         "#   refresh_interval = \"5m\"    # a JWKS URL is fetched again this often\n"
         "# A token with a kid the cached JWKS lacks is refused (401) and starts a background\n"
         "# fetch; a failed fetch keeps the last good keys.\n"
         "#\n"
         "# Sizes: bytes, or KiB/MiB/GiB (powers of 1024); KB/MB/GB are powers of 1000.\n"
         "# Durations: 250ms, 10s, 5m, 1h; a bare number is seconds.\n"
         "#\n"
         "# BULWARK_MODE=production refuses to start unless:\n";
  for (const auto& rule : detail::productionRules()) {
    out << wrapped(rule.summary, "#   - ", "#     ");
  }
  out << "# and names each setting it refuses, and why.\n"
         "#\n"
         "# Secrets (marked below) belong in a secret store or an uncommitted .env file; bulwark\n"
         "# never prints them (`config check` shows URLs with the password replaced).\n";
  for (const auto& info : settingsTable()) {
    out << "\n# " << info.description << "\n";
    out << "# default: " << (info.default_text.empty() ? "(empty)" : info.default_text) << "\n";
    if (info.secret) {
      out << "# secret: never commit a real value\n";
    }
    out << "#" << info.env << "=" << info.default_text << "\n";
  }
  return out.str();
}

std::string describeRedacted(const Settings& settings) {
  std::string out;
  for (const auto& info : settingsTable()) {
    out += std::string(info.env) + "=" + printable(info.show(settings)) + "\n";
  }
  for (std::size_t i = 0; i < settings.routes.size(); ++i) {
    const RouteConfig& route = settings.routes[i];
    out += "route[" + std::to_string(i + 1) + "]=prefix=" + printable(route.prefix);
    out += " methods=" + (route.methods.empty() ? "any" : printable(joined(route.methods)));
    out += " upstream=http://" + route.upstream.authority();
    out += " auth=" + authText(route.auth);
    if (!route.roles.empty()) {
      out += " roles=" + printable(joined(route.roles));
    }
    out += " detect=" + detectText(route.detect);
    if (route.rate_limit) {
      out += " rate_limit=" + detail::formatRateLimit(*route.rate_limit);
    }
    out += " name=" + printable(route.name) + "\n";
  }
  for (std::size_t i = 0; i < settings.external_issuers.size(); ++i) {
    const ExternalIssuerConfig& issuer = settings.external_issuers[i];
    out += "external_issuer[" + std::to_string(i + 1) + "]=issuer=" + printable(issuer.issuer);
    out += " audiences=" + printable(joined(issuer.audiences));
    out += " jwks=" + printable(redactUrl(issuer.jwks)) + "\n";
  }
  return out;
}

}  // namespace bulwark::core

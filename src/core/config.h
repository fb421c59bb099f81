#pragma once
// Settings of the whole program (SPEC F6.3): defined once in a table (settingsTable()) from which
// environment variables, config-file keys, command-line flags, `config template`, `config check`
// and redacted printing are all derived. Precedence: flag > env > file > default.
// A loaded Settings is validated once and then shared immutably (std::shared_ptr<const Settings>).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::core {

enum class Mode : std::uint8_t { kDevelopment, kProduction };
enum class AuthMode : std::uint8_t { kOff, kRequired };
// When an audit event counts as written (SPEC F3.4): after its batch's fsync before the request
// is answered (sync), or within audit_batch_interval (async).
enum class AuditDurability : std::uint8_t { kAsync, kSync };
// Which requests leave an audit record: every one (REQUEST for the unremarkable ones), or only
// those settled by a security decision (rejected, rate-limited, access granted or denied).
enum class AuditRequests : std::uint8_t { kAll, kDecisions };
// Where the audit trail is kept: segment files under data_dir, or the audit_records table of
// the PostgreSQL database at database_url.
enum class AuditStore : std::uint8_t { kFiles, kPostgres };
enum class DetectMode : std::uint8_t { kOff, kDetect, kBlock };
// Open sign-up (POST /auth/register): kAuto is open in development, closed in production.
enum class SignUp : std::uint8_t { kAuto, kOpen, kClosed };

// "100/s", "6000/m", "10000/h": a sustained rate; burst defaults to one second's worth (at least 1).
struct RateLimit {
  double tokens_per_second = 0;
  double burst = 0;
};

// "http://host:port" (IPv6 as [addr]); only http is supported for upstreams here.
struct UpstreamAddress {
  std::string host;
  std::uint16_t port = 80;
  std::string authority() const;  // host:port as sent in Host when the client's is replaced
};

struct RouteConfig {
  std::string prefix = "/";           // longest prefix wins
  std::vector<std::string> methods;   // empty: any method
  UpstreamAddress upstream;
  std::string upstream_url;           // as written, for printing
  AuthMode auth = AuthMode::kOff;
  std::vector<std::string> roles;     // any of
  DetectMode detect = DetectMode::kOff;
  std::optional<RateLimit> rate_limit;  // per client address on this route
  std::string name;                   // defaults to the prefix; used as metrics label
};

// Which `typ` header an external issuer's tokens must carry: RFC 9068 names access tokens
// "at+jwt"; many providers (Keycloak, Auth0) write "JWT".
enum class IssuerTyp : std::uint8_t { kAccessToken, kAccessTokenOrJwt, kOptional };

// An identity provider whose access tokens the gateway accepts besides its own, under the same
// rules ([[external_issuer]] tables in the config file; SPEC F2.7).
struct ExternalIssuerConfig {
  std::string issuer;                  // the exact `iss` of its tokens
  std::vector<std::string> audiences;  // a token must name at least one in `aud`
  std::string jwks;     // https:// URL, http:// to a loopback address (development), or a file
  std::string ca_file;  // https: CA certificates (PEM) verifying the server; empty: system CAs
  IssuerTyp typ = IssuerTyp::kAccessToken;
  std::string roles_claim = "roles";  // top-level claim holding an array of role names
  std::chrono::milliseconds refetch_interval{30'000};   // least time between unknown-kid fetches
  std::chrono::milliseconds refresh_interval{300'000};  // a URL is fetched again this often
  // True when `jwks` is a URL (fetched over the network) rather than a file.
  bool jwksIsUrl() const;
};

// An IPv4 or IPv6 network, e.g. "10.0.0.0/8", "::1/128". Addresses are in network byte order,
// IPv4 stored as 4 bytes.
struct Cidr {
  std::vector<std::uint8_t> address;
  unsigned prefix_length = 0;
  bool contains(const std::vector<std::uint8_t>& ip) const;
};

struct Settings {
  Mode mode = Mode::kDevelopment;
  std::string config_file;                 // --config / BULWARK_CONFIG
  std::string listen = "127.0.0.1:8080";   // host:port, [v6]:port
  unsigned workers = 0;                    // I/O threads; 0 = one per core
  std::string node_id;                     // defaults to the hostname
  std::string data_dir = "./data";
  // Token signing keys; empty: <data_dir>/keys. Nodes sharing a database share this directory.
  std::string keys_dir;
  std::string tls_cert_file;               // both set: TLS on the listener
  std::string tls_key_file;
  std::string upstream;                    // BULWARK_UPSTREAM: default route "/" when set
  std::string log_level = "info";

  // F1.2 limits
  std::size_t max_request_line = 8192;
  std::size_t max_header_bytes = 32768;
  std::size_t max_header_count = 100;
  std::uint64_t max_body_bytes = 10 * 1024 * 1024;
  std::size_t max_connections = 10000;     // per process
  std::chrono::milliseconds header_timeout{10'000};   // first byte to end of head
  std::chrono::milliseconds idle_timeout{60'000};     // keep-alive idle between requests
  std::chrono::milliseconds request_timeout{60'000};  // whole exchange, body included
  std::chrono::milliseconds upstream_connect_timeout{3'000};
  std::chrono::milliseconds upstream_timeout{30'000};  // waiting for upstream bytes
  // Idle keep-alive connections kept per upstream per thread. Below the requests in flight it
  // closes and reopens connections per request (bench/RESULTS.md: 64 at 256 in flight lost a
  // third of the requests/s and filled the ephemeral port range with TIME-WAIT); the pool is
  // LIFO, so connections a burst no longer needs age out after upstream_idle_timeout.
  std::size_t upstream_max_idle = 1024;
  std::chrono::milliseconds upstream_idle_timeout{30'000};
  std::chrono::milliseconds shutdown_timeout{10'000};  // drain limit on SIGTERM

  std::vector<Cidr> trusted_proxies;       // X-Forwarded-For honoured only from these peers
  std::vector<std::string> trusted_proxies_text;

  // F2 auth: accounts, sessions, brute-force lockout (src/auth).
  SignUp sign_up = SignUp::kAuto;
  std::chrono::milliseconds access_token_ttl{15 * 60'000};
  std::chrono::milliseconds token_leeway{30'000};  // clock skew allowed for exp/nbf/iat
  std::string token_issuer = "bulwark";    // `iss` of the access tokens we sign and accept
  std::string token_audience = "bulwark";  // `aud` of the access tokens we sign and accept
  std::chrono::milliseconds refresh_token_ttl{7LL * 24 * 3'600'000};
  std::chrono::milliseconds session_lifetime{30LL * 24 * 3'600'000};  // absolute
  std::chrono::milliseconds refresh_reuse_leeway{0};  // 0 .. 60 s
  std::uint32_t lockout_account_threshold = 5;
  std::uint32_t lockout_address_threshold = 20;
  std::chrono::milliseconds lockout_base_delay{30'000};
  std::chrono::milliseconds lockout_max_delay{15 * 60'000};
  std::uint64_t argon2_memory = 19 * 1024 * 1024;  // OWASP: 19 MiB with t = 2
  std::uint32_t argon2_iterations = 2;
  unsigned auth_workers = 0;      // password hashing threads; 0 = one per core
  std::size_t auth_queue = 256;   // jobs waiting for them before 503

  // F3 audit trail (src/audit): <data_dir>/audit/<node_id>/segment-*.ndjson, or PostgreSQL.
  AuditDurability audit_durability = AuditDurability::kAsync;
  AuditRequests audit_requests = AuditRequests::kAll;
  std::chrono::milliseconds audit_batch_interval{20};    // async: fsync at least this often
  std::size_t audit_queue_capacity = 65536;              // events waiting for the writer
  std::chrono::milliseconds audit_enqueue_timeout{100};  // sync: wait for room, then refuse
  std::uint64_t audit_segment_size = 64ull * 1024 * 1024;
  std::uint64_t audit_checkpoint_every = 10000;             // events between checkpoints
  std::chrono::milliseconds audit_checkpoint_interval{60'000};  // heartbeat when idle
  std::string audit_key_file;  // mode 0600; rewritten per epoch with forward security
  std::string audit_key;       // secret: [kid:]hex|base64 entries, comma-separated
  bool audit_forward_secure = false;
  std::uint64_t audit_epoch_records = 100000;
  std::chrono::milliseconds audit_epoch_interval{3'600'000};
  AuditStore audit_store = AuditStore::kFiles;  // postgres needs database_url

  // Production backends (SPEC F6.1, F6.2): PostgreSQL for users, sessions, revocations (and the
  // audit trail when audit_store = postgres); Redis for shared revocations, rate limits, lockout.
  std::string database_url;  // secret
  std::size_t db_max_open = 25;
  std::size_t db_max_idle = 5;
  std::chrono::milliseconds db_conn_max_lifetime{300'000};
  std::chrono::milliseconds db_conn_max_idle_time{60'000};
  std::chrono::milliseconds db_health_interval{30'000};
  std::chrono::milliseconds db_acquire_timeout{5'000};  // waiting for a free connection
  std::string redis_url;      // secret
  std::string redis_ca_file;  // empty: the system's CA store
  std::size_t redis_pool_size = 4;
  std::chrono::milliseconds redis_timeout{1'000};  // per command, before a retry
  std::string redis_key_prefix = "bulwark:";  // keys and pub/sub channels; one per deployment
  std::chrono::milliseconds revocation_resync_interval{30'000};  // full reload from Redis

  std::vector<RouteConfig> routes;  // from the file, plus the default route from `upstream`
  std::vector<ExternalIssuerConfig> external_issuers;  // from the file only
};

// One problem with one setting: what is wrong and how to fix it.
struct Problem {
  std::string setting;  // e.g. "BULWARK_LISTEN" or "route[2].rate_limit"
  std::string message;
  std::string fix;
};

// How a setting's value is written; decides its parser and how it is printed.
enum class SettingKind : std::uint8_t {
  kString,    // free text (paths, names, addresses validated on their own)
  kCount,     // a plain non-negative integer
  kSize,      // bytes: "1048576", "64KiB", "10MiB" (see parseSize)
  kDuration,  // "250ms", "10s", "5m", "1h" (see parseDuration)
  kEnum,      // one of a fixed set of words
  kList,      // comma-separated (a TOML array of strings in the file)
  kSecret,    // a connection URL that may carry a password, or key material; printed redacted
};

// Describes a setting for env/file/flag/template/redaction.
struct SettingInfo {
  std::string_view key;          // config-file key and base name, e.g. "max_body_bytes"
  std::string_view env;          // "BULWARK_MAX_BODY_BYTES"
  std::string_view flag;         // "--max-body-bytes"
  std::string_view default_text; // as it would be written
  std::string_view description;  // one line, for the template
  bool secret = false;
  SettingKind kind = SettingKind::kString;
  // Parses `text` into this setting's field of `settings`. On failure leaves the field unchanged
  // and returns the problem (message and fix; `setting` left empty for the caller to name). Never
  // echoes a secret. Filled by settingsTable(); loadSettings() is the usual caller.
  std::function<std::optional<Problem>(std::string_view text, Settings& settings)> assign;
  // Returns this setting's value in `settings` as it would be written, secrets redacted.
  std::function<std::string(const Settings& settings)> show;
};

// Every setting, in template order.
const std::vector<SettingInfo>& settingsTable();

// Where settings come from. `flags` and `env` map a setting key (SettingInfo::key) or env name to
// its text; `env` is typically the process environment filtered to BULWARK_*.
struct SettingSources {
  std::map<std::string, std::string> flags;  // by SettingInfo::key
  std::map<std::string, std::string> env;    // by env name
  std::string config_file;                   // empty: BULWARK_CONFIG from env, or none
};

struct LoadResult {
  Settings settings;
  std::vector<Problem> problems;  // empty: valid. Includes production-mode refusals.
};

// Loads, merges and validates. Never throws; every problem found is reported, not just the first.
LoadResult loadSettings(const SettingSources& sources);

// Reads BULWARK_* from the process environment.
std::map<std::string, std::string> environmentSettings();

// Returns the commented .env.security.template text documenting every setting.
std::string renderTemplate();

// Returns the effective settings as "KEY=value" lines with secrets (passwords inside URLs too)
// replaced by "<redacted>".
std::string describeRedacted(const Settings& settings);

// Returns `url` with any password (user:password@) replaced by "<redacted>".
std::string redactUrl(std::string_view url);

// Parses "250ms", "10s", "5m", "1h" (a bare number is seconds).
bool parseDuration(std::string_view text, std::chrono::milliseconds& out);
// Parses "1048576", "64KiB", "10MiB", "1GiB".
bool parseSize(std::string_view text, std::uint64_t& out);
bool parseRateLimit(std::string_view text, RateLimit& out);
bool parseCidr(std::string_view text, Cidr& out);
// Parses a textual IPv4/IPv6 address into bytes (4 or 16); false when invalid.
bool parseIp(std::string_view text, std::vector<std::uint8_t>& out);

}  // namespace bulwark::core

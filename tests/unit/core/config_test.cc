#include "core/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace bulwark::core {
namespace {

using std::chrono::milliseconds;

// A file under the test's temporary directory, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(std::string_view content, std::string_view suffix = ".toml") {
    static int counter = 0;
    path_ = testing::TempDir() + "bulwark_config_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter++) + std::string(suffix);
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string describe(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& problem : problems) {
    out += problem.setting + ": " + problem.message + " (fix: " + problem.fix + ")\n";
  }
  return out;
}

// The problem about `setting`, or nullptr.
const Problem* find(const std::vector<Problem>& problems, std::string_view setting) {
  for (const auto& problem : problems) {
    if (problem.setting == setting) {
      return &problem;
    }
  }
  return nullptr;
}

// Expects a problem about `setting` whose message or fix contains `text`.
void expectProblemAbout(const std::vector<Problem>& problems, std::string_view setting,
                        std::string_view text) {
  const Problem* problem = find(problems, setting);
  ASSERT_NE(problem, nullptr) << setting << "\n" << describe(problems);
  EXPECT_NE((problem->message + problem->fix).find(text), std::string::npos)
      << setting << ": " << problem->message;
}

LoadResult loadFile(std::string_view toml, SettingSources sources = {}) {
  TempFile file(toml);
  sources.config_file = file.path();
  return loadSettings(sources);
}

// ---- The table and the template --------------------------------------------------------------

TEST(SettingsTable, NamesAreDerivedFromKeysAndUnique) {
  std::set<std::string_view> keys;
  std::set<std::string_view> envs;
  std::set<std::string_view> flags;
  for (const auto& info : settingsTable()) {
    std::string env = "BULWARK_";
    std::string flag = "--";
    for (char c : info.key) {
      env += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      flag += c == '_' ? '-' : c;
    }
    EXPECT_EQ(info.env, env);
    EXPECT_EQ(info.flag, flag);
    EXPECT_TRUE(keys.insert(info.key).second) << info.key;
    EXPECT_TRUE(envs.insert(info.env).second) << info.env;
    EXPECT_TRUE(flags.insert(info.flag).second) << info.flag;
    EXPECT_FALSE(info.description.empty()) << info.key;
    EXPECT_EQ(info.secret, info.kind == SettingKind::kSecret) << info.key;
    ASSERT_TRUE(info.assign) << info.key;
    ASSERT_TRUE(info.show) << info.key;
  }
}

TEST(SettingsTable, CoversEverySetting) {
  const std::vector<std::string_view> expected = {"mode",
                                                  "config",
                                                  "listen",
                                                  "workers",
                                                  "node_id",
                                                  "data_dir",
                                                  "keys_dir",
                                                  "tls_cert_file",
                                                  "tls_key_file",
                                                  "upstream",
                                                  "log_level",
                                                  "max_request_line",
                                                  "max_header_bytes",
                                                  "max_header_count",
                                                  "max_body_bytes",
                                                  "max_connections",
                                                  "header_timeout",
                                                  "idle_timeout",
                                                  "request_timeout",
                                                  "upstream_connect_timeout",
                                                  "upstream_timeout",
                                                  "upstream_max_idle",
                                                  "upstream_idle_timeout",
                                                  "shutdown_timeout",
                                                  "trusted_proxies",
                                                  "sign_up",
                                                  "access_token_ttl",
                                                  "token_leeway",
                                                  "token_issuer",
                                                  "token_audience",
                                                  "refresh_token_ttl",
                                                  "session_lifetime",
                                                  "refresh_reuse_leeway",
                                                  "lockout_account_threshold",
                                                  "lockout_address_threshold",
                                                  "lockout_base_delay",
                                                  "lockout_max_delay",
                                                  "argon2_memory",
                                                  "argon2_iterations",
                                                  "auth_workers",
                                                  "auth_queue",
                                                  "audit_durability",
                                                  "audit_requests",
                                                  "audit_batch_interval",
                                                  "audit_queue_capacity",
                                                  "audit_enqueue_timeout",
                                                  "audit_segment_size",
                                                  "audit_checkpoint_every",
                                                  "audit_checkpoint_interval",
                                                  "audit_key_file",
                                                  "audit_key",
                                                  "audit_forward_secure",
                                                  "audit_epoch_records",
                                                  "audit_epoch_interval",
                                                  "audit_store",
                                                  "database_url",
                                                  "db_max_open",
                                                  "db_max_idle",
                                                  "db_conn_max_lifetime",
                                                  "db_conn_max_idle_time",
                                                  "db_health_interval",
                                                  "db_acquire_timeout",
                                                  "redis_url",
                                                  "redis_ca_file",
                                                  "redis_pool_size",
                                                  "redis_timeout",
                                                  "redis_key_prefix",
                                                  "revocation_resync_interval"};
  std::vector<std::string_view> actual;
  for (const auto& info : settingsTable()) {
    actual.push_back(info.key);
  }
  EXPECT_EQ(actual, expected);
}

TEST(SettingsTable, DefaultTextIsTheDefaultAndParsesBack) {
  const Settings defaults;
  for (const auto& info : settingsTable()) {
    EXPECT_EQ(info.show(defaults), info.default_text) << info.key;
    Settings settings;
    EXPECT_FALSE(info.assign(info.default_text, settings).has_value()) << info.key;
    EXPECT_EQ(info.show(settings), info.default_text) << info.key;
  }
  const auto* body = &*std::find_if(settingsTable().begin(), settingsTable().end(),
                                    [](const auto& info) { return info.key == "max_body_bytes"; });
  EXPECT_EQ(body->default_text, "10MiB");
}

TEST(Template, DocumentsEverySetting) {
  const std::string text = renderTemplate();
  for (const auto& info : settingsTable()) {
    const std::string line = "#" + std::string(info.env) + "=" + std::string(info.default_text);
    EXPECT_NE(text.find("\n" + line + "\n"), std::string::npos) << line;
    EXPECT_NE(text.find("# " + std::string(info.description) + "\n"), std::string::npos);
    if (info.secret) {
      EXPECT_NE(text.find("# secret: never commit a real value\n" + line), std::string::npos)
          << info.key;
    }
  }
  EXPECT_NE(text.find("Precedence: command-line flag > environment variable > config file"),
            std::string::npos);
  EXPECT_NE(text.find("BULWARK_MODE=production refuses"), std::string::npos);
  // Nothing uncommented: sourcing the template changes nothing.
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(line.empty() || line[0] == '#') << line;
  }
}

TEST(Template, CommittedFileIsCurrent) {
  std::ifstream in(std::string(BULWARK_SOURCE_DIR) + "/.env.security.template", std::ios::binary);
  ASSERT_TRUE(in) << "missing .env.security.template; regenerate with `bulwark config template`";
  const std::string committed{std::istreambuf_iterator<char>(in), {}};
  EXPECT_EQ(committed, renderTemplate())
      << "regenerate with `bulwark config template > .env.security.template`";
}

// ---- Parsers ---------------------------------------------------------------------------------

TEST(ParseDuration, AcceptsUnits) {
  milliseconds out{};
  ASSERT_TRUE(parseDuration("250ms", out));
  EXPECT_EQ(out, milliseconds(250));
  ASSERT_TRUE(parseDuration("10s", out));
  EXPECT_EQ(out, milliseconds(10'000));
  ASSERT_TRUE(parseDuration("5m", out));
  EXPECT_EQ(out, milliseconds(300'000));
  ASSERT_TRUE(parseDuration("1h", out));
  EXPECT_EQ(out, milliseconds(3'600'000));
  ASSERT_TRUE(parseDuration("30", out));
  EXPECT_EQ(out, milliseconds(30'000));
  ASSERT_TRUE(parseDuration(" 2s ", out));
  EXPECT_EQ(out, milliseconds(2'000));
  ASSERT_TRUE(parseDuration("0", out));
  EXPECT_EQ(out, milliseconds(0));
}

TEST(ParseDuration, RejectsGarbage) {
  milliseconds out{123};
  for (const char* bad : {"", "s", "-1s", "+1s", "1.5s", "10 seconds", "1d", "10S", "1h30m", "abc",
                          "99999999999999999999", "9223372036854775807h", "0x10"}) {
    EXPECT_FALSE(parseDuration(bad, out)) << bad;
  }
  EXPECT_EQ(out, milliseconds(123));
}

TEST(ParseSize, AcceptsUnits) {
  std::uint64_t out = 0;
  ASSERT_TRUE(parseSize("1048576", out));
  EXPECT_EQ(out, 1048576u);
  ASSERT_TRUE(parseSize("64KiB", out));
  EXPECT_EQ(out, 65536u);
  ASSERT_TRUE(parseSize("10MiB", out));
  EXPECT_EQ(out, 10u * 1024 * 1024);
  ASSERT_TRUE(parseSize("1GiB", out));
  EXPECT_EQ(out, 1024u * 1024 * 1024);
  ASSERT_TRUE(parseSize("64KB", out));  // SI: powers of 1000
  EXPECT_EQ(out, 64'000u);
  ASSERT_TRUE(parseSize("2mb", out));
  EXPECT_EQ(out, 2'000'000u);
  ASSERT_TRUE(parseSize("512B", out));
  EXPECT_EQ(out, 512u);
  ASSERT_TRUE(parseSize("10 MiB", out));
  EXPECT_EQ(out, 10u * 1024 * 1024);
}

TEST(ParseSize, RejectsGarbage) {
  std::uint64_t out = 7;
  for (const char* bad : {"", "MiB", "-1", "1.5MiB", "10 M", "10k", "10XB", "1e6",
                          "18446744073709551616", "17179869184GiB", "0x400"}) {
    EXPECT_FALSE(parseSize(bad, out)) << bad;
  }
  EXPECT_EQ(out, 7u);
}

TEST(ParseRateLimit, BurstIsOneSecondsWorth) {
  RateLimit out;
  ASSERT_TRUE(parseRateLimit("100/s", out));
  EXPECT_DOUBLE_EQ(out.tokens_per_second, 100);
  EXPECT_DOUBLE_EQ(out.burst, 100);
  ASSERT_TRUE(parseRateLimit("6000/m", out));
  EXPECT_DOUBLE_EQ(out.tokens_per_second, 100);
  EXPECT_DOUBLE_EQ(out.burst, 100);
  ASSERT_TRUE(parseRateLimit("10000/h", out));
  EXPECT_NEAR(out.tokens_per_second, 10000.0 / 3600, 1e-9);
  EXPECT_DOUBLE_EQ(out.burst, 2.7777777777777777);
  ASSERT_TRUE(parseRateLimit("10/m", out));
  EXPECT_DOUBLE_EQ(out.burst, 1);
}

TEST(ParseRateLimit, RejectsGarbage) {
  RateLimit out;
  for (const char* bad : {"", "100", "/s", "0/s", "-1/s", "1.5/s", "100/d", "100/sec", "x/s",
                          "100/s burst 5", "99999999999/s"}) {
    EXPECT_FALSE(parseRateLimit(bad, out)) << bad;
  }
}

TEST(ParseIp, BothFamilies) {
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(parseIp("10.1.2.3", out));
  EXPECT_EQ(out, (std::vector<std::uint8_t>{10, 1, 2, 3}));
  ASSERT_TRUE(parseIp("::1", out));
  ASSERT_EQ(out.size(), 16u);
  EXPECT_EQ(out[15], 1);
  for (const char* bad :
       {"", "10.1.2", "10.1.2.256", "010.1.2.3x", "fe80::1%eth0", "[::1]", "host", " 10.1.2.3"}) {
    EXPECT_FALSE(parseIp(bad, out)) << bad;
  }
}

TEST(ParseCidr, NetworksAndContainment) {
  Cidr cidr;
  ASSERT_TRUE(parseCidr("10.0.0.0/8", cidr));
  std::vector<std::uint8_t> ip;
  ASSERT_TRUE(parseIp("10.200.3.4", ip));
  EXPECT_TRUE(cidr.contains(ip));
  ASSERT_TRUE(parseIp("11.0.0.1", ip));
  EXPECT_FALSE(cidr.contains(ip));
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
  ASSERT_TRUE(parseIp("::ffff:10.9.8.7", ip));
  EXPECT_TRUE(cidr.contains(ip));
  ASSERT_TRUE(parseIp("::ffff:11.9.8.7", ip));
  EXPECT_FALSE(cidr.contains(ip));
  ASSERT_TRUE(parseIp("::10.9.8.7", ip));  // not mapped
  EXPECT_FALSE(cidr.contains(ip));

  ASSERT_TRUE(parseCidr("2001:db8::/32", cidr));
  ASSERT_TRUE(parseIp("2001:db8:1::5", ip));
  EXPECT_TRUE(cidr.contains(ip));
  ASSERT_TRUE(parseIp("2001:db9::5", ip));
  EXPECT_FALSE(cidr.contains(ip));
  ASSERT_TRUE(parseIp("10.0.0.1", ip));
  EXPECT_FALSE(cidr.contains(ip));

  ASSERT_TRUE(parseCidr("::ffff:10.0.0.0/104", cidr));
  ASSERT_TRUE(parseIp("10.1.1.1", ip));
  EXPECT_TRUE(cidr.contains(ip));

  ASSERT_TRUE(parseCidr("192.168.1.7", cidr));  // a bare address is a /32
  EXPECT_EQ(cidr.prefix_length, 32u);
  ASSERT_TRUE(parseCidr("10.0.0.0/12", cidr));
  ASSERT_TRUE(parseIp("10.15.255.255", ip));
  EXPECT_TRUE(cidr.contains(ip));
  ASSERT_TRUE(parseIp("10.16.0.0", ip));
  EXPECT_FALSE(cidr.contains(ip));
  ASSERT_TRUE(parseCidr("0.0.0.0/0", cidr));
  EXPECT_TRUE(cidr.contains(ip));
}

TEST(ParseCidr, RejectsGarbage) {
  Cidr cidr;
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.1/8",
                          "10.0.0.0/-1", "10.0.0.0/8x", "host/8", "2001:db8::1/32"}) {
    EXPECT_FALSE(parseCidr(bad, cidr)) << bad;
  }
}

TEST(UpstreamAddress, Authority) {
  EXPECT_EQ((UpstreamAddress{"svc", 9000}).authority(), "svc:9000");
  EXPECT_EQ((UpstreamAddress{"::1", 80}).authority(), "[::1]:80");
}

// ---- Loading ---------------------------------------------------------------------------------

TEST(LoadSettings, DefaultsAreValid) {
  const auto result = loadSettings({});
  EXPECT_TRUE(result.problems.empty()) << describe(result.problems);
  EXPECT_EQ(result.settings.listen, "127.0.0.1:8080");
  EXPECT_FALSE(result.settings.node_id.empty());  // the host name
  EXPECT_TRUE(result.settings.routes.empty());
}

TEST(LoadSettings, PrecedenceFlagOverEnvOverFileOverDefault) {
  TempFile file(R"(
listen = "127.0.0.1:1001"
max_body_bytes = "1MiB"
header_timeout = 5
workers = 3
)");
  SettingSources sources;
  sources.config_file = file.path();
  sources.env = {{"BULWARK_LISTEN", "127.0.0.1:1002"}, {"BULWARK_MAX_BODY_BYTES", "2MiB"}};
  sources.flags = {{"listen", "127.0.0.1:1003"}};

  auto result = loadSettings(sources);
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  EXPECT_EQ(result.settings.listen, "127.0.0.1:1003");             // flag
  EXPECT_EQ(result.settings.max_body_bytes, 2u * 1024 * 1024);     // env
  EXPECT_EQ(result.settings.header_timeout, milliseconds(5'000));  // file
  EXPECT_EQ(result.settings.workers, 3u);                          // file
  EXPECT_EQ(result.settings.idle_timeout, milliseconds(60'000));   // default
  EXPECT_EQ(result.settings.config_file, file.path());

  sources.flags.clear();
  result = loadSettings(sources);
  EXPECT_EQ(result.settings.listen, "127.0.0.1:1002");
  sources.env.clear();
  result = loadSettings(sources);
  EXPECT_EQ(result.settings.listen, "127.0.0.1:1001");
  EXPECT_EQ(result.settings.max_body_bytes, 1u * 1024 * 1024);
  sources.config_file.clear();
  result = loadSettings(sources);
  EXPECT_EQ(result.settings.listen, "127.0.0.1:8080");
}

TEST(LoadSettings, ConfigFileFromEnvOrFlag) {
  TempFile file("workers = 7\n");
  SettingSources sources;
  sources.env = {{"BULWARK_CONFIG", file.path()}};
  auto result = loadSettings(sources);
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  EXPECT_EQ(result.settings.workers, 7u);

  sources.env.clear();
  sources.flags = {{"config", file.path()}};
  result = loadSettings(sources);
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  EXPECT_EQ(result.settings.workers, 7u);

  sources.flags = {{"config", "/nonexistent/bulwark.toml"}};
  result = loadSettings(sources);
  const Problem* problem = find(result.problems, "--config");
  ASSERT_NE(problem, nullptr) << describe(result.problems);
  EXPECT_NE(problem->message.find("No such file"), std::string::npos);
}

TEST(LoadSettings, ValuesFromEachSource) {
  SettingSources sources;
  sources.env = {{"BULWARK_TRUSTED_PROXIES", "10.0.0.0/8, ::1"},
                 {"BULWARK_MODE", "production"},
                 {"BULWARK_LOG_LEVEL", "warn"},
                 {"BULWARK_NODE_ID", "edge-1"},
                 {"BULWARK_AUDIT_KEY", "k1:" + std::string(64, 'a')},
                 {"HOME", "/root"}};  // not ours: ignored
  sources.flags = {{"shutdown_timeout", "250ms"}, {"max_request_line", "4KiB"}};
  const auto result = loadSettings(sources);
  EXPECT_TRUE(result.problems.empty()) << describe(result.problems);
  EXPECT_EQ(result.settings.mode, Mode::kProduction);
  EXPECT_EQ(result.settings.log_level, "warn");
  EXPECT_EQ(result.settings.node_id, "edge-1");
  EXPECT_EQ(result.settings.shutdown_timeout, milliseconds(250));
  EXPECT_EQ(result.settings.max_request_line, 4096u);
  ASSERT_EQ(result.settings.trusted_proxies.size(), 2u);
  EXPECT_EQ(result.settings.trusted_proxies[1].prefix_length, 128u);
  EXPECT_EQ(result.settings.trusted_proxies_text, (std::vector<std::string>{"10.0.0.0/8", "::1"}));
}

TEST(LoadSettings, TokenIssuerAndAudienceAreExactNames) {
  SettingSources sources;
  sources.env = {{"BULWARK_TOKEN_ISSUER", " https://auth.example.com "}};
  sources.flags = {{"token_audience", "orders-api"}};
  auto result = loadSettings(sources);
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  EXPECT_EQ(result.settings.token_issuer, "https://auth.example.com");
  EXPECT_EQ(result.settings.token_audience, "orders-api");
  EXPECT_EQ(Settings().token_issuer, "bulwark");
  EXPECT_EQ(Settings().token_audience, "bulwark");
  for (const std::string& bad : {std::string(), std::string("two words"), std::string("tab\there"),
                                 std::string(257, 'a')}) {
    sources.env = {{"BULWARK_TOKEN_ISSUER", bad}};
    sources.flags = {{"token_audience", bad}};
    result = loadSettings(sources);
    ASSERT_EQ(result.problems.size(), 2u) << bad;
    EXPECT_EQ(result.problems[0].setting, "BULWARK_TOKEN_ISSUER");
    EXPECT_EQ(result.problems[1].setting, "--token-audience");
  }
}

TEST(LoadSettings, FileValuesAsIntegersStringsAndArrays) {
  const auto result = loadFile(R"(
max_body_bytes = 4096
max_header_bytes = "64KiB"
trusted_proxies = ["10.0.0.0/8", "192.168.0.0/16"]
)");
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  EXPECT_EQ(result.settings.max_body_bytes, 4096u);
  EXPECT_EQ(result.settings.max_header_bytes, 65536u);
  EXPECT_EQ(result.settings.trusted_proxies.size(), 2u);
}

TEST(LoadSettings, NamesEachBadValueAsWrittenAndReportsThemAll) {
  TempFile file(R"(
max_header_count = "lots"
idle_timeout = -5
mode = 1
)");
  SettingSources sources;
  sources.config_file = file.path();
  sources.env = {{"BULWARK_MAX_BODY_BYTES", "10 megs"}, {"BULWARK_WORKERS", "1000"}};
  sources.flags = {{"listen", "localhost"}, {"header_timeout", "-1s"}};
  const auto result = loadSettings(sources);

  const Problem* body = find(result.problems, "BULWARK_MAX_BODY_BYTES");
  ASSERT_NE(body, nullptr) << describe(result.problems);
  EXPECT_NE(body->message.find("'10 megs'"), std::string::npos);
  EXPECT_NE(body->fix.find("10MiB"), std::string::npos);
  ASSERT_NE(find(result.problems, "BULWARK_WORKERS"), nullptr);
  EXPECT_NE(find(result.problems, "BULWARK_WORKERS")->fix.find("0 to 256"), std::string::npos);
  const Problem* listen = find(result.problems, "--listen");
  ASSERT_NE(listen, nullptr);
  EXPECT_NE(listen->message.find("port is missing"), std::string::npos);
  ASSERT_NE(find(result.problems, "--header-timeout"), nullptr);
  const Problem* count = find(result.problems, "max_header_count");
  ASSERT_NE(count, nullptr);
  EXPECT_NE(count->message.find("line 2"), std::string::npos);
  ASSERT_NE(find(result.problems, "idle_timeout"), nullptr);
  ASSERT_NE(find(result.problems, "mode"), nullptr);
  EXPECT_EQ(result.problems.size(), 7u) << describe(result.problems);
  // Rejected values leave the earlier layer's value.
  EXPECT_EQ(result.settings.listen, "127.0.0.1:8080");
  EXPECT_EQ(result.settings.workers, 0u);
}

TEST(LoadSettings, UnknownSettingsEverywhere) {
  TempFile file("lisen = \"0.0.0.0:80\"\n[tls]\ncert = \"x\"\n");
  SettingSources sources;
  sources.config_file = file.path();
  sources.env = {{"BULWARK_MAX_BODY_BYTE", "1"}, {"BULWARK_NOPE", "1"}};
  sources.flags = {{"no_such", "1"}};
  const auto result = loadSettings(sources);
  const Problem* file_key = find(result.problems, "lisen");
  ASSERT_NE(file_key, nullptr) << describe(result.problems);
  EXPECT_NE(file_key->message.find("did you mean 'listen'?"), std::string::npos);
  ASSERT_NE(find(result.problems, "tls"), nullptr);
  const Problem* env = find(result.problems, "BULWARK_MAX_BODY_BYTE");
  ASSERT_NE(env, nullptr);
  EXPECT_NE(env->message.find("did you mean 'BULWARK_MAX_BODY_BYTES'?"), std::string::npos);
  const Problem* nope = find(result.problems, "BULWARK_NOPE");
  ASSERT_NE(nope, nullptr);
  EXPECT_EQ(nope->message, "unknown setting");
  ASSERT_NE(find(result.problems, "--no-such"), nullptr);
  EXPECT_EQ(result.problems.size(), 5u) << describe(result.problems);
}

TEST(LoadSettings, TomlSyntaxErrorHasLineAndColumn) {
  TempFile file("workers = 2\nlisten = \"127.0.0.1:80\n");
  SettingSources sources;
  sources.config_file = file.path();
  const auto result = loadSettings(sources);
  ASSERT_EQ(result.problems.size(), 1u) << describe(result.problems);
  EXPECT_EQ(result.problems[0].setting, file.path());
  EXPECT_NE(result.problems[0].message.find("line 2, column"), std::string::npos)
      << result.problems[0].message;
}

TEST(LoadSettings, ConfigInsideTheFileIsRefused) {
  const auto result = loadFile("config = \"other.toml\"\n");
  ASSERT_NE(find(result.problems, "config"), nullptr) << describe(result.problems);
}

TEST(LoadSettings, CrossChecks) {
  SettingSources sources;
  sources.flags = {{"max_header_bytes", "4KiB"}, {"max_request_line", "8KiB"}};
  sources.env = {{"BULWARK_TLS_CERT_FILE", "/nonexistent/cert.pem"}};
  auto result = loadSettings(sources);
  ASSERT_NE(find(result.problems, "--max-header-bytes"), nullptr) << describe(result.problems);
  const Problem* key = find(result.problems, "BULWARK_TLS_KEY_FILE");
  ASSERT_NE(key, nullptr) << describe(result.problems);
  EXPECT_NE(key->message.find("BULWARK_TLS_CERT_FILE"), std::string::npos);

  TempFile cert("-----BEGIN CERTIFICATE-----\n", ".pem");
  sources.flags = {{"tls_key_file", "/nonexistent/key.pem"}};
  sources.env = {{"BULWARK_TLS_CERT_FILE", cert.path()}};
  result = loadSettings(sources);
  ASSERT_EQ(result.problems.size(), 1u) << describe(result.problems);
  EXPECT_EQ(result.problems[0].setting, "--tls-key-file");
  EXPECT_NE(result.problems[0].message.find("cannot read"), std::string::npos);
}

TEST(LoadSettings, ListenForms) {
  for (const char* good :
       {"0.0.0.0:8443", "[::]:80", "[::1]:65535", "localhost:1", "gw.example:8080",
        "127.0.0.1:0"}) {
    SettingSources sources;
    sources.flags = {{"listen", good}};
    EXPECT_TRUE(loadSettings(sources).problems.empty()) << good;
  }
  for (const char* bad : {"8080", ":8080", "0.0.0.0:65536", "::1:80", "[::1]",
                          "[::1]80", "10.0.0.300:80", "host:http", "ho st:80"}) {
    SettingSources sources;
    sources.flags = {{"listen", bad}};
    EXPECT_NE(find(loadSettings(sources).problems, "--listen"), nullptr) << bad;
  }
}

// ---- Routes ----------------------------------------------------------------------------------

TEST(Routes, EveryKeyParsed) {
  const auto result = loadFile(R"(
[[route]]
prefix     = "/api/"
methods    = ["POST", "GET", "GET"]
upstream   = "http://127.0.0.1:9000"
auth       = "required"
roles      = ["user", "admin"]
detect     = "block"
rate_limit = "6000/m"
name       = "api"

[[route]]
prefix   = "/static/"
upstream = "http://[::1]/"
)");
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  ASSERT_EQ(result.settings.routes.size(), 2u);
  const RouteConfig& api = result.settings.routes[0];
  EXPECT_EQ(api.prefix, "/api/");
  EXPECT_EQ(api.methods, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_EQ(api.upstream.host, "127.0.0.1");
  EXPECT_EQ(api.upstream.port, 9000);
  EXPECT_EQ(api.upstream_url, "http://127.0.0.1:9000");
  EXPECT_EQ(api.auth, AuthMode::kRequired);
  EXPECT_EQ(api.roles, (std::vector<std::string>{"user", "admin"}));
  EXPECT_EQ(api.detect, DetectMode::kBlock);
  ASSERT_TRUE(api.rate_limit.has_value());
  EXPECT_DOUBLE_EQ(api.rate_limit->tokens_per_second, 100);
  EXPECT_EQ(api.name, "api");
  const RouteConfig& files = result.settings.routes[1];
  EXPECT_EQ(files.name, "/static/");  // defaults to the prefix
  EXPECT_EQ(files.upstream.authority(), "[::1]:80");
  EXPECT_TRUE(files.methods.empty());
  EXPECT_EQ(files.auth, AuthMode::kOff);
  EXPECT_EQ(files.detect, DetectMode::kOff);
  EXPECT_FALSE(files.rate_limit.has_value());
}

TEST(Routes, AuthRequiredWithoutRolesMeansAnyUser) {
  const auto result = loadFile(R"(
[[route]]
prefix = "/me"
upstream = "http://svc:80"
auth = "required"
)");
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  EXPECT_TRUE(result.settings.routes[0].roles.empty());
}

TEST(Routes, EachBadKeyNamedWithItsRoute) {
  const auto result = loadFile(R"(
[[route]]
prefix = "/ok/"
upstream = "http://127.0.0.1:9000"

[[route]]
prefix     = "/api/"
methods    = ["get", "POST"]
upstream   = "https://svc:443"
auth       = "maybe"
roles      = "user"
detect     = "loud"
rate_limit = "lots"
name       = ""
upstrem    = "x"

[[route]]
prefix   = "api"
upstream = "http://svc/path"

[[route]]
methods = "GET"
)");
  const auto& problems = result.problems;
  const auto expectProblem = [&](std::string_view setting, std::string_view text) {
    expectProblemAbout(problems, setting, text);
  };
  expectProblem("route[2].methods", "'get'");
  expectProblem("route[2].upstream", "https upstreams are not supported yet");
  expectProblem("route[2].auth", "'maybe'");
  expectProblem("route[2].roles", "array of strings");
  expectProblem("route[2].detect", "'loud'");
  expectProblem("route[2].rate_limit", "100/s");
  expectProblem("route[2].name", "printable");
  expectProblem("route[2].upstrem", "did you mean 'upstream'?");
  expectProblem("route[3].prefix", "must start with '/'");
  expectProblem("route[3].upstream", "cannot have a path");
  expectProblem("route[4].methods", "array of strings");
  expectProblem("route[4].prefix", "is missing");
  EXPECT_EQ(find(problems, "route[1].prefix"), nullptr);
  EXPECT_EQ(problems.size(), 12u) << describe(problems);
}

TEST(Routes, MissingUpstreamAndRolesWithoutAuth) {
  const auto result = loadFile(R"(
[[route]]
prefix = "/a/"
roles = ["admin"]
)");
  ASSERT_NE(find(result.problems, "route[1].upstream"), nullptr) << describe(result.problems);
  ASSERT_NE(find(result.problems, "route[1].roles"), nullptr);
}

TEST(Routes, DuplicatePrefixAndMethods) {
  const auto result = loadFile(R"(
[[route]]
prefix = "/a/"
methods = ["GET", "POST"]
upstream = "http://svc:1"

[[route]]
prefix = "/a/"
methods = ["GET"]
upstream = "http://svc:2"

[[route]]
prefix = "/a/"
methods = ["POST", "GET"]
upstream = "http://svc:3"
)");
  ASSERT_EQ(result.problems.size(), 1u) << describe(result.problems);
  EXPECT_EQ(result.problems[0].setting, "route[3].prefix");
  EXPECT_NE(result.problems[0].message.find("route[1]"), std::string::npos);
}

TEST(Routes, NotAnArrayOfTables) {
  const auto result = loadFile("[route]\nprefix = \"/\"\n");
  ASSERT_NE(find(result.problems, "route"), nullptr) << describe(result.problems);
}

TEST(Routes, UpstreamSettingAddsDefaultRoute) {
  SettingSources sources;
  sources.env = {{"BULWARK_UPSTREAM", "http://app.internal:9000"}};
  auto result = loadSettings(sources);
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  ASSERT_EQ(result.settings.routes.size(), 1u);
  EXPECT_EQ(result.settings.routes[0].prefix, "/");
  EXPECT_EQ(result.settings.routes[0].name, "default");
  EXPECT_EQ(result.settings.routes[0].upstream.authority(), "app.internal:9000");

  // A file route without an upstream inherits it; the default route is still added.
  result = loadFile("[[route]]\nprefix = \"/api/\"\nauth = \"required\"\n", sources);
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  ASSERT_EQ(result.settings.routes.size(), 2u);
  EXPECT_EQ(result.settings.routes[0].upstream.port, 9000);
  EXPECT_EQ(result.settings.routes[1].prefix, "/");

  // The file's own "/" wins.
  result = loadFile("[[route]]\nprefix = \"/\"\nupstream = \"http://other:1\"\n", sources);
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  ASSERT_EQ(result.settings.routes.size(), 1u);
  EXPECT_EQ(result.settings.routes[0].upstream.host, "other");
}

TEST(Routes, UpstreamUrlForms) {
  for (const char* bad : {"https://svc", "svc:80", "http://", "http://svc:0", "http://u:p@svc",
                          "http://svc/api", "http://svc?x=1", "ftp://svc"}) {
    SettingSources sources;
    sources.env = {{"BULWARK_UPSTREAM", bad}};
    EXPECT_NE(find(loadSettings(sources).problems, "BULWARK_UPSTREAM"), nullptr) << bad;
  }
  SettingSources sources;
  sources.env = {{"BULWARK_UPSTREAM", "http://u:hunter2hunter2@svc"}};
  const auto problems = loadSettings(sources).problems;
  EXPECT_EQ(describe(problems).find("hunter2"), std::string::npos) << describe(problems);
}

// ---- External issuers ------------------------------------------------------------------------

TEST(ExternalIssuers, EveryKeyParsed) {
  TempFile jwks(R"({"keys":[]})", ".json");
  TempFile ca("-----BEGIN CERTIFICATE-----\n", ".pem");
  const auto result = loadFile(R"(
[[external_issuer]]
issuer           = "https://idp.example/realms/main"
audiences        = ["api", "admin-api"]
jwks             = "https://idp.example/realms/main/certs"
ca_file          = ")" + ca.path() + R"("
typ              = "jwt"
roles_claim      = "groups"
refetch_interval = "10s"
refresh_interval = 600

[[external_issuer]]
issuer    = "https://other.example/"
audiences = ["api"]
jwks      = ")" + jwks.path() + R"("
)");
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  ASSERT_EQ(result.settings.external_issuers.size(), 2u);
  const ExternalIssuerConfig& idp = result.settings.external_issuers[0];
  EXPECT_EQ(idp.issuer, "https://idp.example/realms/main");
  EXPECT_EQ(idp.audiences, (std::vector<std::string>{"api", "admin-api"}));
  EXPECT_EQ(idp.jwks, "https://idp.example/realms/main/certs");
  EXPECT_TRUE(idp.jwksIsUrl());
  EXPECT_EQ(idp.ca_file, ca.path());
  EXPECT_EQ(idp.typ, IssuerTyp::kAccessTokenOrJwt);
  EXPECT_EQ(idp.roles_claim, "groups");
  EXPECT_EQ(idp.refetch_interval, std::chrono::seconds(10));
  EXPECT_EQ(idp.refresh_interval, std::chrono::minutes(10));
  const ExternalIssuerConfig& file = result.settings.external_issuers[1];
  EXPECT_FALSE(file.jwksIsUrl());
  EXPECT_EQ(file.typ, IssuerTyp::kAccessToken);  // RFC 9068 unless told otherwise
  EXPECT_EQ(file.roles_claim, "roles");
  EXPECT_EQ(file.refetch_interval, std::chrono::seconds(30));
  EXPECT_EQ(file.refresh_interval, std::chrono::minutes(5));
  const std::string described = describeRedacted(result.settings);
  EXPECT_NE(described.find("external_issuer[2]=issuer=https://other.example/"), std::string::npos)
      << described;
}

TEST(ExternalIssuers, EachBadValueNamedWithItsTable) {
  const auto result = loadFile(R"(
token_issuer = "https://gateway.example"

[[external_issuer]]
issuer    = "https://ok.example"
audiences = ["api"]
jwks      = "https://ok.example/certs"

[[external_issuer]]
issuer           = ""
audiences        = []
jwks             = "http://idp.example/certs"
ca_file          = "/nonexistent/ca.pem"
typ              = "Bearer"
roles_claim      = "sub"
refetch_interval = "0s"
refresh_interval = "soon"
jwk              = "x"

[[external_issuer]]
issuer    = "https://ok.example"
audiences = ["api", ""]
jwks      = "https://user:hunter2hunter2@idp.example/certs"

[[external_issuer]]
issuer    = "https://gateway.example"
audiences = "api"
jwks      = "/nonexistent/jwks.json"

[[external_issuer]]
issuer    = "https://files.example"
audiences = ["api"]
jwks      = "ftp://idp.example/certs"
ca_file   = 7

[[external_issuer]]
typ = "at+jwt"
)");
  const auto& problems = result.problems;
  const auto expectProblem = [&](std::string_view setting, std::string_view text) {
    expectProblemAbout(problems, setting, text);
  };
  expectProblem("external_issuer[2].issuer", "exact, non-empty");
  expectProblem("external_issuer[2].audiences", "non-empty array");
  expectProblem("external_issuer[2].jwks", "only to a loopback address");
  expectProblem("external_issuer[2].ca_file", "cannot read");
  expectProblem("external_issuer[2].typ", "'Bearer'");
  expectProblem("external_issuer[2].roles_claim", "'sub'");
  expectProblem("external_issuer[2].refetch_interval", "1s to 1h");
  expectProblem("external_issuer[2].refresh_interval", "1m to 24h");
  expectProblem("external_issuer[2].jwk", "did you mean 'jwks'?");
  expectProblem("external_issuer[3].audiences", "non-empty strings");
  expectProblem("external_issuer[3].jwks", "credentials");
  expectProblem("external_issuer[4].audiences", "array");
  expectProblem("external_issuer[4].jwks", "cannot read the JWKS file");
  expectProblem("external_issuer[5].jwks", "not a supported scheme");
  expectProblem("external_issuer[5].ca_file", "expected a string");
  expectProblem("external_issuer[6].issuer", "is missing");
  expectProblem("external_issuer[6].audiences", "is missing");
  expectProblem("external_issuer[6].jwks", "is missing");
  EXPECT_EQ(find(problems, "external_issuer[1].issuer"), nullptr);
  EXPECT_EQ(describe(problems).find("hunter2"), std::string::npos) << describe(problems);
  EXPECT_EQ(problems.size(), 18u) << describe(problems);
}

TEST(ExternalIssuers, OwnIssuerAndDuplicatesRefused) {
  const auto result = loadFile(R"(
token_issuer = "https://gateway.example"

[[external_issuer]]
issuer    = "https://gateway.example"
audiences = ["api"]
jwks      = "https://idp.example/certs"

[[external_issuer]]
issuer    = "https://idp.example"
audiences = ["api"]
jwks      = "https://idp.example/certs"

[[external_issuer]]
issuer    = "https://idp.example"
audiences = ["other"]
jwks      = "https://idp.example/certs"
)");
  ASSERT_EQ(result.problems.size(), 2u) << describe(result.problems);
  const Problem* own = find(result.problems, "external_issuer[1].issuer");
  ASSERT_NE(own, nullptr);
  EXPECT_NE(own->message.find("own token_issuer"), std::string::npos) << own->message;
  const Problem* twice = find(result.problems, "external_issuer[3].issuer");
  ASSERT_NE(twice, nullptr);
  EXPECT_NE(twice->message.find("external_issuer[2]"), std::string::npos) << twice->message;
}

TEST(ExternalIssuers, PlainHttpOnlyToLoopbackAndNotAnArrayOfTables) {
  for (const char* url : {"http://127.0.0.1:8081/certs", "http://[::1]/certs"}) {
    const auto result = loadFile(std::string("[[external_issuer]]\nissuer = \"i\"\n") +
                                 "audiences = [\"a\"]\njwks = \"" + url + "\"\n");
    EXPECT_TRUE(result.problems.empty()) << url << "\n" << describe(result.problems);
  }
  for (const char* url : {"http://localhost/certs", "http://10.0.0.1/certs", "https:///certs",
                          "https://idp.example/certs#frag"}) {
    const auto result = loadFile(std::string("[[external_issuer]]\nissuer = \"i\"\n") +
                                 "audiences = [\"a\"]\njwks = \"" + url + "\"\n");
    EXPECT_NE(find(result.problems, "external_issuer[1].jwks"), nullptr) << url;
  }
  const auto result = loadFile("[external_issuer]\nissuer = \"i\"\n");
  EXPECT_NE(find(result.problems, "external_issuer"), nullptr) << describe(result.problems);
}

// ---- Production mode -------------------------------------------------------------------------

class Production : public testing::Test {
 protected:
  Production()
      : cert_("-----BEGIN CERTIFICATE-----\n", ".pem"),
        key_("-----BEGIN PRIVATE KEY-----\n", ".pem") {
    sources_.env = {
        {"BULWARK_MODE", "production"},
        {"BULWARK_LISTEN", "0.0.0.0:8443"},
        {"BULWARK_TLS_CERT_FILE", cert_.path()},
        {"BULWARK_TLS_KEY_FILE", key_.path()},
        {"BULWARK_DATABASE_URL",
         "postgresql://bulwark:S3cretPassw0rd!@db.internal/bulwark?sslmode=verify-full"},
        {"BULWARK_REDIS_URL", "rediss://default:An0therSecret@redis.internal:6380/0"},
        {"BULWARK_TRUSTED_PROXIES", "10.0.0.0/8"},
        {"BULWARK_AUDIT_KEY", std::string("k1:") + std::string(64, 'a')},
    };
  }

  // The single problem loading reports, which must be about `setting`.
  Problem onlyProblem(std::string_view setting) {
    const auto result = loadSettings(sources_);
    EXPECT_EQ(result.problems.size(), 1u) << describe(result.problems);
    const Problem* problem = find(result.problems, setting);
    EXPECT_NE(problem, nullptr) << describe(result.problems);
    return problem ? *problem : Problem{};
  }

  TempFile cert_;
  TempFile key_;
  SettingSources sources_;
};

TEST_F(Production, AcceptsASecureConfiguration) {
  const auto result = loadSettings(sources_);
  EXPECT_TRUE(result.problems.empty()) << describe(result.problems);
}

TEST_F(Production, RefusesPlaintextListener) {
  sources_.env.erase("BULWARK_TLS_CERT_FILE");
  sources_.env.erase("BULWARK_TLS_KEY_FILE");
  const Problem problem = onlyProblem("BULWARK_TLS_CERT_FILE");
  EXPECT_NE(problem.message.find("TLS on the listener"), std::string::npos);
  EXPECT_NE(problem.message.find("0.0.0.0:8443"), std::string::npos);
  EXPECT_NE(problem.fix.find("127.0.0.1"), std::string::npos);
}

TEST_F(Production, AllowsPlaintextOnLoopbackOnly) {
  sources_.env.erase("BULWARK_TLS_CERT_FILE");
  sources_.env.erase("BULWARK_TLS_KEY_FILE");
  for (const char* listen : {"127.0.0.1:8080", "[::1]:8080"}) {
    sources_.env["BULWARK_LISTEN"] = listen;
    EXPECT_TRUE(loadSettings(sources_).problems.empty()) << listen;
  }
  sources_.env["BULWARK_LISTEN"] = "localhost:8080";  // a name could resolve anywhere
  EXPECT_FALSE(loadSettings(sources_).problems.empty());
}

TEST_F(Production, RefusesSslModeBelowVerifyFull) {
  for (const char* url : {"postgresql://bulwark:S3cretPassw0rd!@db/x?sslmode=require",
                          "postgresql://bulwark:S3cretPassw0rd!@db/x",
                          "host=db user=bulwark password='S3cretPassw0rd!' sslmode=verify-ca"}) {
    sources_.env["BULWARK_DATABASE_URL"] = url;
    const Problem problem = onlyProblem("BULWARK_DATABASE_URL");
    EXPECT_NE(problem.message.find("sslmode"), std::string::npos) << url;
    EXPECT_NE(problem.fix.find("sslmode=verify-full"), std::string::npos);
    EXPECT_EQ(problem.message.find("S3cretPassw0rd"), std::string::npos);
  }
  sources_.env["BULWARK_DATABASE_URL"] =
      "host=db user=bulwark password='S3cretPassw0rd!' sslmode=verify-full";
  EXPECT_TRUE(loadSettings(sources_).problems.empty());
}

TEST_F(Production, RefusesWeakDatabasePasswords) {
  for (const char* url : {"postgresql://postgres:postgres@db/x?sslmode=verify-full",
                          "postgresql://bulwark:changeme@db/x?sslmode=verify-full",
                          "postgresql://bulwark@db/x?sslmode=verify-full",
                          "postgresql://bulwark:short1!@db/x?sslmode=verify-full",
                          "postgresql://bulwark:Password1@db/x?sslmode=verify-full",
                          "user=bulwark password=secret host=db sslmode=verify-full"}) {
    sources_.env["BULWARK_DATABASE_URL"] = url;
    const Problem problem = onlyProblem("BULWARK_DATABASE_URL");
    EXPECT_NE(problem.message.find("weak database credential"), std::string::npos) << url;
  }
  // A client certificate is a credential of its own.
  sources_.env["BULWARK_DATABASE_URL"] =
      "postgresql://bulwark@db/x?sslmode=verify-full&sslcert=/c.pem&sslkey=/k.pem";
  EXPECT_TRUE(loadSettings(sources_).problems.empty());
}

TEST_F(Production, RefusesPlaintextOrWeakRedis) {
  sources_.env["BULWARK_REDIS_URL"] = "redis://default:An0therSecret@redis:6379/0";
  EXPECT_NE(onlyProblem("BULWARK_REDIS_URL").message.find("TLS to Redis"), std::string::npos);
  for (const char* url : {"rediss://redis:6380", "rediss://:changeme@redis:6380",
                          "rediss://default:redis@redis:6380", "rediss://:short@redis"}) {
    sources_.env["BULWARK_REDIS_URL"] = url;
    EXPECT_NE(onlyProblem("BULWARK_REDIS_URL").message.find("weak Redis credential"),
              std::string::npos)
        << url;
  }
}

TEST_F(Production, RefusesDebugLoggingAndTrustingEveryone) {
  sources_.flags = {{"log_level", "debug"}};
  EXPECT_NE(onlyProblem("--log-level").message.find("debug"), std::string::npos);
  sources_.flags = {{"trusted_proxies", "10.0.0.0/8,0.0.0.0/0"}};
  onlyProblem("--trusted-proxies");
}

TEST_F(Production, RefusesOpenSignUp) {
  sources_.env["BULWARK_SIGN_UP"] = "on";
  const Problem problem = onlyProblem("BULWARK_SIGN_UP");
  EXPECT_NE(problem.message.find("open sign-up"), std::string::npos);
  sources_.env["BULWARK_SIGN_UP"] = "auto";  // means off in production
  EXPECT_TRUE(loadSettings(sources_).problems.empty());
}

TEST_F(Production, RefusesArgon2BelowOwasp) {
  sources_.env["BULWARK_ARGON2_MEMORY"] = "8MiB";
  const Problem problem = onlyProblem("BULWARK_ARGON2_MEMORY");
  EXPECT_NE(problem.message.find("OWASP"), std::string::npos);
  EXPECT_NE(problem.message.find("8MiB"), std::string::npos);
  sources_.env["BULWARK_ARGON2_MEMORY"] = "19MiB";
  sources_.env["BULWARK_ARGON2_ITERATIONS"] = "1";
  onlyProblem("BULWARK_ARGON2_MEMORY");
  // Every OWASP configuration is accepted.
  for (const auto& [memory, iterations] :
       std::vector<std::pair<const char*, const char*>>{
           {"46MiB", "1"}, {"19MiB", "2"}, {"12MiB", "3"}, {"9MiB", "4"}, {"7MiB", "5"}}) {
    sources_.env["BULWARK_ARGON2_MEMORY"] = memory;
    sources_.env["BULWARK_ARGON2_ITERATIONS"] = iterations;
    EXPECT_TRUE(loadSettings(sources_).problems.empty()) << memory << "/" << iterations;
  }
}

TEST_F(Production, ReportsEveryRefusalAtOnce) {
  sources_.env = {{"BULWARK_MODE", "production"},
                  {"BULWARK_LISTEN", "0.0.0.0:80"},
                  {"BULWARK_DATABASE_URL", "postgres://postgres:postgres@db/x?sslmode=require"},
                  {"BULWARK_REDIS_URL", "redis://redis:6379"},
                  {"BULWARK_LOG_LEVEL", "debug"}};
  const auto result = loadSettings(sources_);
  EXPECT_EQ(result.problems.size(), 7u) << describe(result.problems);
}

TEST_F(Production, RequiresAnAuditKey) {
  sources_.env.erase("BULWARK_AUDIT_KEY");
  const Problem problem = onlyProblem("BULWARK_AUDIT_KEY_FILE");
  EXPECT_NE(problem.message.find("audit key"), std::string::npos);
  EXPECT_NE(problem.fix.find("openssl rand -hex 32"), std::string::npos);
}

TEST_F(Production, RefusesPlaintextJwksUrls) {
  TempFile config(R"(
[[external_issuer]]
issuer    = "https://idp.example"
audiences = ["api"]
jwks      = "http://127.0.0.1:8081/certs"

[[external_issuer]]
issuer    = "https://idp2.example"
audiences = ["api"]
jwks      = "https://idp2.example/certs"
)");
  sources_.config_file = config.path();
  const Problem problem = onlyProblem("external_issuer[1].jwks");
  EXPECT_NE(problem.message.find("https://"), std::string::npos) << problem.message;
  EXPECT_NE(problem.message.find("substitute keys"), std::string::npos) << problem.message;
}

TEST(AuditSettings, KeyFileMustBePrivateAndKeysAreRedacted) {
  TempFile key(std::string(64, 'b') + "\n", ".key");
  ::chmod(key.path().c_str(), 0644);
  SettingSources sources;
  sources.env = {{"BULWARK_AUDIT_KEY_FILE", key.path()}};
  auto result = loadSettings(sources);
  const Problem* problem = find(result.problems, "BULWARK_AUDIT_KEY_FILE");
  ASSERT_NE(problem, nullptr) << describe(result.problems);
  EXPECT_NE(problem->message.find("0644"), std::string::npos);
  EXPECT_EQ(problem->fix, "chmod 600 " + key.path());
  ::chmod(key.path().c_str(), 0600);
  EXPECT_TRUE(loadSettings(sources).problems.empty());

  sources.env = {{"BULWARK_AUDIT_KEY", "k1:" + std::string(64, 'c')},
                 {"BULWARK_AUDIT_FORWARD_SECURE", "on"}};
  result = loadSettings(sources);
  ASSERT_NE(find(result.problems, "BULWARK_AUDIT_FORWARD_SECURE"), nullptr)
      << describe(result.problems);
  sources.env = {{"BULWARK_AUDIT_KEY", "k1:" + std::string(64, 'c')},
                 {"BULWARK_AUDIT_KEY_FILE", key.path()}};
  ASSERT_NE(find(loadSettings(sources).problems, "BULWARK_AUDIT_KEY"), nullptr);

  sources.env = {{"BULWARK_AUDIT_KEY", "k1:" + std::string(64, 'c')},
                 {"BULWARK_AUDIT_DURABILITY", "sync"}};
  result = loadSettings(sources);
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  EXPECT_EQ(result.settings.audit_durability, AuditDurability::kSync);
  const std::string text = describeRedacted(result.settings);
  EXPECT_EQ(text.find(std::string(64, 'c')), std::string::npos);
  EXPECT_NE(text.find("BULWARK_AUDIT_KEY=<redacted>\n"), std::string::npos);
}

TEST(AuthSettings, DefaultsFollowTheSpec) {
  const Settings defaults;
  EXPECT_EQ(defaults.sign_up, SignUp::kAuto);
  EXPECT_EQ(defaults.access_token_ttl, std::chrono::minutes(15));
  EXPECT_EQ(defaults.refresh_token_ttl, std::chrono::hours(24 * 7));
  EXPECT_EQ(defaults.refresh_reuse_leeway, milliseconds(0));
  EXPECT_EQ(defaults.argon2_memory, 19u * 1024 * 1024);
  EXPECT_EQ(defaults.argon2_iterations, 2u);
}

TEST(AuthSettings, ParsesAndBoundsValues) {
  SettingSources sources;
  sources.env = {{"BULWARK_SIGN_UP", "off"},
                 {"BULWARK_REFRESH_REUSE_LEEWAY", "10s"},
                 {"BULWARK_ARGON2_MEMORY", "64MiB"},
                 {"BULWARK_LOCKOUT_ACCOUNT_THRESHOLD", "3"}};
  auto result = loadSettings(sources);
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  EXPECT_EQ(result.settings.sign_up, SignUp::kClosed);
  EXPECT_EQ(result.settings.refresh_reuse_leeway, milliseconds(10'000));
  EXPECT_EQ(result.settings.argon2_memory, 64u * 1024 * 1024);
  EXPECT_EQ(result.settings.lockout_account_threshold, 3u);

  sources.env = {{"BULWARK_REFRESH_REUSE_LEEWAY", "61s"}};
  EXPECT_NE(find(loadSettings(sources).problems, "BULWARK_REFRESH_REUSE_LEEWAY"), nullptr);
  sources.env = {{"BULWARK_SIGN_UP", "yes"}};
  EXPECT_NE(find(loadSettings(sources).problems, "BULWARK_SIGN_UP"), nullptr);
  sources.env = {{"BULWARK_LOCKOUT_BASE_DELAY", "10m"}, {"BULWARK_LOCKOUT_MAX_DELAY", "5m"}};
  EXPECT_NE(find(loadSettings(sources).problems, "BULWARK_LOCKOUT_MAX_DELAY"), nullptr);
}

TEST(Development, AllowsWhatProductionRefuses) {
  SettingSources sources;
  sources.env = {{"BULWARK_LISTEN", "0.0.0.0:80"},
                 {"BULWARK_DATABASE_URL", "postgres://postgres:postgres@db/x"},
                 {"BULWARK_REDIS_URL", "redis://localhost:6379"},
                 {"BULWARK_LOG_LEVEL", "debug"}};
  const auto result = loadSettings(sources);
  EXPECT_TRUE(result.problems.empty()) << describe(result.problems);
}

TEST(Secrets, MalformedUrlsReportedWithoutTheirValue) {
  SettingSources sources;
  sources.env = {{"BULWARK_DATABASE_URL", "mysql://root:TopSecretValue@db/x"},
                 {"BULWARK_REDIS_URL", "host=r password=TopSecretValue"}};
  const auto result = loadSettings(sources);
  ASSERT_NE(find(result.problems, "BULWARK_DATABASE_URL"), nullptr);
  ASSERT_NE(find(result.problems, "BULWARK_REDIS_URL"), nullptr);
  EXPECT_EQ(describe(result.problems).find("TopSecretValue"), std::string::npos);
}

// ---- Redaction -------------------------------------------------------------------------------

TEST(Redaction, DescribeNeverShowsPasswords) {
  SettingSources sources;
  sources.env = {
      {"BULWARK_DATABASE_URL", "postgresql://bulwark:S3cretPassw0rd!@db/x?sslmode=verify-full"},
      {"BULWARK_REDIS_URL", "rediss://default:An0therSecret@r:6380/0"},
      {"BULWARK_UPSTREAM", "http://app:9000"},
  };
  const auto result = loadSettings(sources);
  ASSERT_TRUE(result.problems.empty()) << describe(result.problems);
  const std::string text = describeRedacted(result.settings);
  EXPECT_EQ(text.find("S3cretPassw0rd"), std::string::npos) << text;
  EXPECT_EQ(text.find("An0therSecret"), std::string::npos) << text;
  EXPECT_NE(text.find("BULWARK_DATABASE_URL=postgresql://bulwark:<redacted>@db/x?"
                      "sslmode=verify-full\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("BULWARK_REDIS_URL=rediss://default:<redacted>@r:6380/0\n"),
            std::string::npos);
  EXPECT_NE(text.find("BULWARK_MAX_BODY_BYTES=10MiB\n"), std::string::npos);
  EXPECT_NE(text.find("route[1]=prefix=/ methods=any upstream=http://app:9000 auth=off "
                      "detect=off name=default\n"),
            std::string::npos)
      << text;
}

TEST(Redaction, RedactUrlForms) {
  EXPECT_EQ(redactUrl("postgres://user:pass@host/db"), "postgres://user:<redacted>@host/db");
  EXPECT_EQ(redactUrl("rediss://:pass@host:6380"), "rediss://:<redacted>@host:6380");
  EXPECT_EQ(redactUrl("rediss://user:pass@host"), "rediss://user:<redacted>@host");
  EXPECT_EQ(redactUrl("rediss://loneword@host"), "rediss://<redacted>@host");
  EXPECT_EQ(redactUrl("postgres://user@host/db"), "postgres://user@host/db");
  EXPECT_EQ(redactUrl("postgres://host/db?sslmode=verify-full&password=pw&x=1"),
            "postgres://host/db?sslmode=verify-full&password=<redacted>&x=1");
  EXPECT_EQ(redactUrl("postgres://u:p@ss/w?rd@host/db"), "postgres://u:<redacted>@host/db");
  EXPECT_EQ(redactUrl("host=db password=pw sslmode=verify-full"),
            "host=db password=<redacted> sslmode=verify-full");
  EXPECT_EQ(redactUrl("host=db password = 'p w\\'x' user=u"),
            "host=db password = <redacted> user=u");
  EXPECT_EQ(redactUrl("just-a-secret"), "<redacted>");
  EXPECT_EQ(redactUrl("host=db password='unterminated"), "<redacted>");
  EXPECT_EQ(redactUrl("http://app:9000"), "http://app:9000");
}

}  // namespace
}  // namespace bulwark::core

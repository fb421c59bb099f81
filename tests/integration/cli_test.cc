// The real `bulwark` binary: configuration errors, production refusals, the template, serving
// (plain and TLS) and graceful shutdown on SIGTERM.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "support/process.h"
#include "support/raw_client.h"
#include "support/test_upstream.h"

namespace bulwark::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = BULWARK_BINARY;

TEST(Cli, ConfigCheckNamesEveryBadSettingAndTheFix) {
  auto result = runProcess({kBinary, "config", "check"},
                           {{"BULWARK_MAX_BODY_BYTES", "lots"},
                            {"BULWARK_LISTEN", "nowhere"},
                            {"BULWARK_UPSTRAEM", "http://127.0.0.1:1"}});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("BULWARK_MAX_BODY_BYTES"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("BULWARK_LISTEN"), std::string::npos);
  EXPECT_NE(result.err.find("BULWARK_UPSTRAEM"), std::string::npos);
  EXPECT_NE(result.err.find("fix:"), std::string::npos);
}

TEST(Cli, ConfigCheckAcceptsAValidConfigFileAndRedactsSecrets) {
  const auto dir = std::filesystem::temp_directory_path() / "bulwark-cli-test";
  std::filesystem::create_directories(dir);
  const auto file = dir / "bulwark.toml";
  std::ofstream(file) << "listen = \"127.0.0.1:8081\"\n"
                         "[[route]]\nprefix = \"/api/\"\nupstream = \"http://127.0.0.1:9000\"\n"
                         "rate_limit = \"10/s\"\n";
  auto result = runProcess(
      {kBinary, "config", "check", "--config", file.string()},
      {{"BULWARK_DATABASE_URL",
        "postgresql://bulwark:Sup3rSecretPassw0rd@db/x?sslmode=verify-full"}});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ((result.out + result.err).find("Sup3rSecretPassw0rd"), std::string::npos);
  EXPECT_NE(result.out.find("127.0.0.1:8081"), std::string::npos) << result.out;
}

TEST(Cli, ProductionModeRefusesInsecureSettingsWithoutEchoingSecrets) {
  auto result = runProcess({kBinary, "serve"},
                           {{"BULWARK_MODE", "production"},
                            {"BULWARK_LISTEN", "0.0.0.0:18080"},
                            {"BULWARK_REDIS_URL", "redis://:hunter2hunter2@127.0.0.1:6379/0"}});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("BULWARK_REDIS_URL"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("BULWARK_TLS_CERT_FILE"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("hunter2hunter2"), std::string::npos);
}

TEST(Cli, TemplateMatchesTheCommittedFile) {
  auto result = runProcess({kBinary, "config", "template"}, {});
  EXPECT_EQ(result.exit_code, 0);
  std::ifstream committed(std::string(BULWARK_SOURCE_DIR) + "/.env.security.template");
  std::string text((std::istreambuf_iterator<char>(committed)), std::istreambuf_iterator<char>());
  EXPECT_EQ(result.out, text);
}

TEST(Cli, ServesAndShutsDownCleanlyOnSigterm) {
  TestUpstream upstream;
  const auto data = std::filesystem::temp_directory_path() /
                    ("bulwark-cli-serve-" + std::to_string(::getpid()));
  std::filesystem::remove_all(data);
  const std::map<std::string, std::string> env = {{"BULWARK_DATA_DIR", data.string()},
                                                  {"BULWARK_NODE_ID", "cli-test"}};
  ChildProcess bulwark({kBinary, "serve", "--workers", "2"},
                       {{"BULWARK_LISTEN", "127.0.0.1:0"},
                        {"BULWARK_UPSTREAM", upstream.url()},
                        {"BULWARK_DATA_DIR", data.string()},
                        {"BULWARK_NODE_ID", "cli-test"}});
  const auto log = bulwark.waitForStderr("\"msg\":\"listening\"", 10s);
  ASSERT_FALSE(log.empty()) << bulwark.stderrText();
  const auto port = listeningPort(log);
  ASSERT_NE(port, 0);
  RawClient client(port);
  EXPECT_EQ(client.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  bulwark.signal(SIGTERM);
  EXPECT_EQ(bulwark.wait(10s), 0);
  EXPECT_TRUE(client.waitClosed(2s));
  // The start and the stop are in the signed audit trail, which verifies.
  const auto trail = runProcess({kBinary, "audit", "export"}, env);
  EXPECT_EQ(trail.exit_code, 0) << trail.err;
  EXPECT_NE(trail.out.find("\"type\":\"SYSTEM_START\""), std::string::npos) << trail.out;
  EXPECT_NE(trail.out.find("\"type\":\"SYSTEM_STOP\""), std::string::npos) << trail.out;
  const auto verified = runProcess({kBinary, "audit", "verify"}, env);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  std::filesystem::remove_all(data);
}

TEST(Cli, ServesTlsWithAGeneratedCertificate) {
  const auto dir = std::filesystem::temp_directory_path() / "bulwark-tls-test";
  std::filesystem::create_directories(dir);
  const auto cert = (dir / "cert.pem").string();
  const auto key = (dir / "key.pem").string();
  auto made = runProcess({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                          "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                          key, "-out", cert},
                         {});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  TestUpstream upstream;
  ChildProcess bulwark({kBinary, "serve"}, {{"BULWARK_LISTEN", "127.0.0.1:0"},
                                            {"BULWARK_UPSTREAM", upstream.url()},
                                            {"BULWARK_DATA_DIR", (dir / "data").string()},
                                            {"BULWARK_TLS_CERT_FILE", cert},
                                            {"BULWARK_TLS_KEY_FILE", key}});
  const auto log = bulwark.waitForStderr("\"msg\":\"listening\"", 10s);
  ASSERT_FALSE(log.empty()) << bulwark.stderrText();
  const auto url = "https://127.0.0.1:" + std::to_string(listeningPort(log)) + "/echo";
  auto fetched = runProcess({"/usr/bin/curl", "-sS", "--cacert", cert, url}, {});
  EXPECT_EQ(fetched.exit_code, 0) << fetched.err;
  EXPECT_NE(fetched.out.find("X-Forwarded-Proto: https"), std::string::npos) << fetched.out;
  // An unverified certificate is refused by a normal client (the cert is not in its store).
  auto untrusted = runProcess({"/usr/bin/curl", "-sS", url}, {});
  EXPECT_NE(untrusted.exit_code, 0);
  bulwark.signal(SIGTERM);
  EXPECT_EQ(bulwark.wait(10s), 0);
}

}  // namespace
}  // namespace bulwark::testing

namespace bulwark::testing {
namespace {

TEST(Cli, ABurstOfDenialsBlocksTheAddressAndRaisesAnIncident) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("bulwark-incident-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  TestUpstream upstream;
  std::ofstream(dir / "b.toml") << "[[route]]\nprefix = \"/api/\"\nupstream = \"" << upstream.url()
                                << "\"\nauth = \"required\"\n";
  ChildProcess bulwark({kBinary, "serve", "--config", (dir / "b.toml").string()},
                       {{"BULWARK_LISTEN", "127.0.0.1:0"},
                        {"BULWARK_DATA_DIR", (dir / "data").string()},
                        {"BULWARK_NODE_ID", "incident"}});
  const auto log = bulwark.waitForStderr("\"msg\":\"listening\"", 10s);
  const auto port = listeningPort(log);
  ASSERT_NE(port, 0) << bulwark.stderrText();
  // The rule (30 denials a minute) runs on the audit writer's thread, so the block lands shortly
  // after the 30th denial: keep asking (bounded) until it does.
  std::map<int, int> statuses;
  int sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (sent < 400 && statuses[403] == 0 && std::chrono::steady_clock::now() < deadline) {
    RawClient client(port);
    statuses[client.roundTrip("GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n").status]++;
    ++sent;
  }
  EXPECT_GE(statuses[401], 30);
  EXPECT_GT(statuses[403], 0) << "the incident rule never blocked the address";
  EXPECT_EQ(statuses[401] + statuses[403], sent);
  EXPECT_EQ(upstream.requests(), 0);
  bulwark.signal(SIGTERM);
  EXPECT_EQ(bulwark.wait(10s), 0);
  EXPECT_NE(bulwark.stderrText().find("incident: client address blocked"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bulwark::testing

// The real `bulwark` binary: `token verify` exit codes and reasons, `keys rotate|list|jwks`.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "core/clock.h"
#include "crypto/random.h"
#include "jwt/key_ring.h"
#include "jwt/signer.h"
#include "support/process.h"

namespace bulwark::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kBinary = BULWARK_BINARY;

class TokenCli : public ::testing::Test {
 protected:
  TokenCli() {
    dir_ = fs::temp_directory_path() /
           ("bulwark-token-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~TokenCli() override { fs::remove_all(dir_); }

  ProcessResult keys(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kBinary, "keys"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data-dir", dir_.string()});
    return runProcess(argv, {});
  }
  // Runs `bulwark token verify ARGS` with `token` on standard input.
  ProcessResult verify(const std::string& token, const std::string& args) {
    const fs::path input = dir_ / "token.txt";
    std::ofstream(input) << token << "\n";
    return runProcess({"/bin/sh", "-c", kBinary + " token verify " + args + " < " + input.string()},
                      {});
  }
  std::string issue(std::optional<core::SystemTime> issued_at = {},
                    std::optional<core::SystemTime> expires_at = {}) {
    jwt::KeyRingConfig config;
    config.directory = dir_ / "keys";
    auto ring = jwt::KeyRing::open(config, core::realClock(), crypto::systemRandom()).value();
    jwt::SignerConfig signer_config;
    signer_config.issuer = "https://bulwark.test";
    signer_config.audiences = {"api"};
    auto signer =
        jwt::TokenSigner::create(signer_config, ring, core::realClock(), crypto::systemRandom());
    jwt::AccessTokenRequest request;
    request.subject = "user-9";
    request.session_id = "s";
    request.issued_at = issued_at;
    request.expires_at = expires_at;
    return signer->sign(request).value().token;
  }
  std::string jwksFile() {
    auto result = keys({"jwks"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const fs::path file = dir_ / "jwks.json";
    std::ofstream(file) << result.out;
    return file.string();
  }

  fs::path dir_;
};

TEST_F(TokenCli, KeysRotateListAndJwks) {
  auto first = keys({"rotate"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto second = keys({"rotate", "--algorithm", "ES256"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const std::string kid1 = first.out.substr(0, first.out.find('\n'));
  const std::string kid2 = second.out.substr(0, second.out.find('\n'));
  auto list = keys({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(kid1 + " EdDSA retired "), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(kid2 + " ES256 active "), std::string::npos) << list.out;
  auto jwks = keys({"jwks"});
  EXPECT_NE(jwks.out.find(kid1), std::string::npos);
  EXPECT_NE(jwks.out.find(kid2), std::string::npos);
  EXPECT_EQ(jwks.out.find("\"d\""), std::string::npos);
  EXPECT_EQ(keys({"rotate", "--algorithm", "RS256"}).exit_code, 2);
}

// A key retired from the command line must keep verifying as long as the server's tokens live.
TEST_F(TokenCli, KeysRotateUsesTheServersAccessTokenTtl) {
  ASSERT_EQ(keys({"rotate", "--access-token-ttl", "30m"}).exit_code, 0);
  ASSERT_EQ(keys({"rotate", "--access-token-ttl", "30m"}).exit_code, 0);
  auto list = keys({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const auto retired_line = list.out.substr(0, list.out.find('\n'));
  // "kid alg retired created retired verify_until"
  std::istringstream fields(retired_line);
  std::string kid, alg, status, created, retired, until;
  fields >> kid >> alg >> status >> created >> retired >> until;
  ASSERT_EQ(status, "retired") << list.out;
  const auto parse = [](const std::string& text) {
    std::tm tm{};
    std::istringstream(text) >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
    return timegm(&tm);
  };
  EXPECT_EQ(parse(until) - parse(retired), 30 * 60 + 30) << retired_line;
  EXPECT_EQ(keys({"list", "--access-token-ttl", "soon"}).exit_code, 2);
}

TEST_F(TokenCli, KeysRefuseAReadableKeyFileNamingTheFix) {
  ASSERT_EQ(keys({"rotate"}).exit_code, 0);
  for (const auto& entry : fs::directory_iterator(dir_ / "keys")) {
    if (entry.path().extension() == ".jwk") {
      ::chmod(entry.path().c_str(), 0644);
    }
  }
  auto list = keys({"list"});
  EXPECT_EQ(list.exit_code, 1);
  EXPECT_NE(list.err.find("has mode 0644"), std::string::npos) << list.err;
  EXPECT_NE(list.err.find("fix: chmod 600 "), std::string::npos) << list.err;
}

TEST_F(TokenCli, VerifyPrintsClaimsOrTheExactReason) {
  const std::string token = issue();
  const std::string jwks = jwksFile();
  auto ok = verify(token, "--jwks " + jwks + " --issuer https://bulwark.test --audience api");
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(ok.out.find("{\"iss\":\"https://bulwark.test\",\"aud\":\"api\",\"sub\":\"user-9\""), 0u)
      << ok.out;

  auto wrong_aud = verify(token, "--jwks " + jwks + " --audience web");
  EXPECT_EQ(wrong_aud.exit_code, 1);
  EXPECT_EQ(wrong_aud.out, "wrong_audience: the token is not meant for this audience\n");
  auto wrong_iss = verify(token, "--jwks " + jwks + " --issuer https://other");
  EXPECT_EQ(wrong_iss.exit_code, 1);
  EXPECT_EQ(wrong_iss.out.rfind("wrong_issuer:", 0), 0u) << wrong_iss.out;

  const auto now = core::realClock().systemTime();
  const std::string expired = issue(now - 2h, now - 1h);
  auto old = verify(expired, "--jwks " + jwks);
  EXPECT_EQ(old.exit_code, 1);
  EXPECT_EQ(old.out.rfind("expired:", 0), 0u) << old.out;
  // The JWS layer alone does not look at claims.
  auto signature_only = verify(expired, "--jwks " + jwks + " --signature-only");
  EXPECT_EQ(signature_only.exit_code, 0) << signature_only.out;
  EXPECT_NE(signature_only.out.find("\"sub\":\"user-9\""), std::string::npos);

  std::string tampered = token;
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  auto bad = verify(tampered, "--jwks " + jwks);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(bad.out.rfind("bad_signature:", 0) == 0 || bad.out.rfind("bad_base64:", 0) == 0)
      << bad.out;
}

TEST_F(TokenCli, VerifyUsageAndIoErrorsExitTwo) {
  EXPECT_EQ(verify("x", "--jwks " + (dir_ / "missing.json").string()).exit_code, 2);
  const std::string jwks = jwksFile();
  EXPECT_EQ(verify("", "--jwks " + jwks).exit_code, 2);
  EXPECT_EQ(verify("x", "--jwks " + jwks + " --typ bogus").exit_code, 2);
  std::ofstream(dir_ / "bad.json") << "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\",\"k\":\"AAAA\"}]}";
  auto bad_jwks = verify("x", "--jwks " + (dir_ / "bad.json").string());
  EXPECT_EQ(bad_jwks.exit_code, 2);
  EXPECT_NE(bad_jwks.err.find("alg"), std::string::npos) << bad_jwks.err;
}

}  // namespace
}  // namespace bulwark::testing

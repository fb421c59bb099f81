// The auth service end to end in the real `bulwark serve`: register, login, a protected route
// with the token, refresh rotation, reuse of an old refresh token (the whole family and its access
// tokens fail at once), logout-all; and a key rotated by `bulwark keys rotate` beside the running
// server. Argon2 runs with small parameters (development mode allows them) to stay fast.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/process.h"
#include "support/raw_client.h"
#include "support/test_upstream.h"

namespace bulwark::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kBinary = BULWARK_BINARY;
const std::string kCredentials = R"({"username":"alice","password":"correct horse battery"})";

json::object parseObject(const RawResponse& response) {
  boost::system::error_code ec;
  auto value = json::parse(response.body, ec);
  if (ec || !value.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << response.head << response.body;
    return {};
  }
  return value.as_object();
}

std::string str(const json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
}

class AuthE2eTest : public ::testing::Test {
 protected:
  AuthE2eTest() {
    root_ = fs::temp_directory_path() /
            ("bulwark-auth-e2e-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    const auto config = root_ / "bulwark.toml";
    std::ofstream(config) << "[[route]]\nprefix = \"/api/\"\nupstream = \"" << upstream_.url()
                          << "\"\nauth = \"required\"\nroles = [\"user\"]\n";
    env_ = {{"BULWARK_LISTEN", "127.0.0.1:0"},
            {"BULWARK_DATA_DIR", (root_ / "data").string()},
            {"BULWARK_NODE_ID", "auth-e2e"}};
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBinary, "serve", "--config", config.string(), "--workers", "1",
                                 "--auth-workers", "1", "--argon2-memory", "8MiB",
                                 "--argon2-iterations", "1"},
        env_);
    const auto log = server_->waitForStderr("\"msg\":\"listening\"", 15s);
    port_ = listeningPort(log);
    EXPECT_NE(port_, 0) << server_->stderrText();
  }
  ~AuthE2eTest() override {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait(10s), 0) << server_->stderrText();
    fs::remove_all(root_);
  }

  RawResponse send(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& bearer = "") {
    RawClient client(port_);
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: bulwark\r\n";
    if (!bearer.empty()) request += "Authorization: Bearer " + bearer + "\r\n";
    if (!body.empty()) {
      request +=
          "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n";
    }
    return client.roundTrip(request + "\r\n" + body);
  }
  RawResponse post(const std::string& path, const std::string& body,
                   const std::string& bearer = "") {
    return send("POST", path, body, bearer);
  }
  RawResponse protectedRoute(const std::string& access_token) {
    return send("GET", "/api/echo", "", access_token);
  }
  json::object login() {
    auto response = post("/auth/login", kCredentials);
    EXPECT_EQ(response.status, 200) << response.head << response.body;
    EXPECT_EQ(response.headers["pragma"], "no-cache");
    return parseObject(response);
  }
  RawResponse refresh(const std::string& refresh_token) {
    return post("/auth/refresh", "{\"refresh_token\":\"" + refresh_token + "\"}");
  }

  TestUpstream upstream_;
  fs::path root_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<ChildProcess> server_;
  std::uint16_t port_ = 0;
};

TEST_F(AuthE2eTest, RegisterLoginRefreshReuseAndLogoutAll) {
  ASSERT_NE(port_, 0);
  auto registered = post("/auth/register", kCredentials);
  ASSERT_EQ(registered.status, 201) << registered.head << registered.body;
  const std::string user_id = str(parseObject(registered), "id");
  ASSERT_FALSE(user_id.empty());

  // The protected route needs a token; with one, the upstream learns who is calling.
  EXPECT_EQ(protectedRoute("").status, 401);
  auto first = login();
  auto granted = protectedRoute(str(first, "access_token"));
  ASSERT_EQ(granted.status, 200) << granted.head << granted.body;
  const auto head = upstream_.lastHead();
  EXPECT_NE(head.find("X-Bulwark-Subject: " + user_id + "\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Bulwark-Roles: user\r\n"), std::string::npos) << head;

  // Rotation: a new pair; the old refresh token presented again is reuse.
  auto rotated = refresh(str(first, "refresh_token"));
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  auto second = parseObject(rotated);
  EXPECT_NE(str(second, "refresh_token"), str(first, "refresh_token"));
  EXPECT_EQ(protectedRoute(str(second, "access_token")).status, 200);
  const int forwarded = upstream_.requests();
  auto reused = refresh(str(first, "refresh_token"));
  EXPECT_EQ(reused.status, 401);
  EXPECT_EQ(str(parseObject(reused), "error"), "invalid_grant");
  // The whole family is revoked at once: both access tokens and the newest refresh token.
  auto denied = protectedRoute(str(second, "access_token"));
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.headers["www-authenticate"],
            "Bearer realm=\"bulwark\", error=\"invalid_token\"");
  EXPECT_EQ(protectedRoute(str(first, "access_token")).status, 401);
  EXPECT_EQ(refresh(str(second, "refresh_token")).status, 401);
  EXPECT_EQ(upstream_.requests(), forwarded);

  // A new login works until logout-all.
  auto third = login();
  EXPECT_EQ(protectedRoute(str(third, "access_token")).status, 200);
  EXPECT_EQ(post("/auth/logout-all", "", str(third, "access_token")).status, 204);
  EXPECT_EQ(protectedRoute(str(third, "access_token")).status, 401);
  EXPECT_EQ(refresh(str(third, "refresh_token")).status, 401);

  // Malformed requests are JSON 400s; unknown auth paths JSON 404s.
  auto malformed = post("/auth/login", "[\"alice\"]");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(str(parseObject(malformed), "error"), "invalid_request");
  auto unknown = post("/auth/nope", "{}");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(str(parseObject(unknown), "error"), "not_found");

  // Every step is in the signed audit trail.
  auto trail = runProcess({kBinary, "audit", "export"}, env_);
  ASSERT_EQ(trail.exit_code, 0) << trail.err;
  for (const char* type : {"LOGIN", "TOKEN_REFRESH", "SECURITY_INCIDENT", "ACCESS_GRANTED",
                           "ACCESS_DENIED", "LOGOUT"}) {
    EXPECT_NE(trail.out.find("\"type\":\"" + std::string(type) + "\""), std::string::npos) << type;
  }
  EXPECT_EQ(trail.out.find("correct horse battery"), std::string::npos);
  EXPECT_EQ(trail.out.find(str(first, "refresh_token")), std::string::npos);
}

TEST_F(AuthE2eTest, AKeyRotatedBesideTheServerIsPublishedAndSigns) {
  ASSERT_NE(port_, 0);
  ASSERT_EQ(post("/auth/register", kCredentials).status, 201);
  auto before = login();
  auto rotated =
      runProcess({kBinary, "keys", "rotate", "--data-dir", (root_ / "data").string()}, env_);
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  std::string kid = rotated.out;
  while (!kid.empty() && kid.back() == '\n') kid.pop_back();
  ASSERT_FALSE(kid.empty());
  // The server notices the ring's manifest change within its maintenance interval (500 ms).
  std::string jwks;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    jwks = send("GET", "/.well-known/jwks.json", "").body;
    if (jwks.find(kid) != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(jwks.find(kid), std::string::npos) << jwks;
  EXPECT_EQ(jwks.find("\"d\""), std::string::npos);
  // Tokens of the retired key keep working; new ones carry the new kid.
  EXPECT_EQ(protectedRoute(str(before, "access_token")).status, 200);
  auto after = login();
  const std::string token = str(after, "access_token");
  const std::string header = token.substr(0, token.find('.'));
  EXPECT_EQ(protectedRoute(token).status, 200);
  // The header is base64url JSON naming the kid.
  std::string decoded;
  {
    static const std::string kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned buffer = 0;
    int bits = 0;
    for (char c : header) {
      buffer = (buffer << 6) | static_cast<unsigned>(kAlphabet.find(c));
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        decoded.push_back(static_cast<char>((buffer >> bits) & 0xff));
      }
    }
  }
  EXPECT_NE(decoded.find("\"kid\":\"" + kid + "\""), std::string::npos) << decoded;
}

}  // namespace
}  // namespace bulwark::testing

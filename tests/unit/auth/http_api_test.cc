// The auth service's HTTP endpoints driven directly with ApiRequests: real argon2id (small
// parameters), real EdDSA signer and verifier on a key ring in a temporary directory, memory
// stores, the real worker pool. Every malformed request is a 400 with a JSON body; tokens,
// refresh rotation, reuse, revocation, introspection, lockout and the admin endpoints end to end.

#include "auth/http_api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <future>
#include <latch>
#include <set>

#include "auth/jwt_bridge.h"
#include "fakes.h"
#include "jwt/signer.h"
#include "support/recording_sink.h"

namespace bulwark::auth {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using audit::EventType;
using http::ApiRequest;
using http::ApiResponse;
using namespace std::chrono_literals;

constexpr std::string_view kPassword = "correct horse battery";

std::string header(const ApiResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return {};
}

json::object body(const ApiResponse& response) {
  boost::system::error_code ec;
  auto value = json::parse(response.body, ec);
  if (ec || !value.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << response.body;
    return {};
  }
  return value.as_object();
}

std::string str(const json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
}

// A sink that asks for sync durability and counts the flushes that honour it.
class SyncSink final : public audit::Sink {
 public:
  void record(audit::Event event) override { inner.record(std::move(event)); }
  void flush() override { ++flushes; }
  bool syncDurability() const override { return true; }
  bulwark::testing::RecordingSink inner;
  std::atomic<int> flushes{0};
};

class HttpApiTest : public ::testing::Test {
 protected:
  HttpApiTest() {
    dir_ = fs::temp_directory_path() /
           ("bulwark-http-api-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    jwt::KeyRingConfig ring;
    ring.directory = dir_ / "keys";
    ring_ = jwt::KeyRing::open(ring, clock_, random_).value();
    jwt::SignerConfig signer;
    signer.issuer = "https://bulwark.test";
    signer.audiences = {"api"};
    std::shared_ptr<const jwt::TokenSigner> minted =
        jwt::TokenSigner::create(signer, ring_, clock_, random_);
    jwt::IssuerConfig ours;
    ours.issuer = "https://bulwark.test";
    ours.audiences = {"api"};
    ours.keys = ring_;
    ours.required_claims = {"sub", "jti", "sid", "iat"};
    jwt::VerifierConfig verifier;
    verifier.issuers = {ours};
    verifier_ = jwt::Verifier::create(verifier, clock_);
    sessions_ = SessionService::create(
        {}, {session_store_, users_, revocations_, makeJwtAccessTokenIssuer(minted), audit_},
        clock_, random_);
    LockoutConfig lockout;
    lockout.account_threshold = 3;
    lockout.address_threshold = 100;
    lockout.base_delay = 30s;
    lockout_ = std::make_shared<Lockout>(lockout, clock_);
    accounts_ = AccountService::create(
        {.open_sign_up = true}, {users_, hasher_, lockout_, sessions_, audit_}, clock_, random_);
    EXPECT_TRUE(accounts_->createUser("root", kPassword, {"admin", "user"}, "test", {}));
    api_ = makeApi(pool_);
  }
  ~HttpApiTest() override {
    pool_->stop();
    fs::remove_all(dir_);
  }

  http::ApiHandlerPtr makeApi(std::shared_ptr<WorkerPool> pool, audit::SinkPtr audit = nullptr) {
    HttpApiDeps deps;
    deps.accounts = accounts_;
    deps.sessions = sessions_;
    deps.pool = std::move(pool);
    deps.verifier = verifier_;
    deps.key_ring = ring_;
    deps.clock = &clock_;
    deps.issuer = "https://bulwark.test";
    deps.revocations = revocations_;
    deps.audit = audit ? audit : audit_;
    return makeHttpApi(std::move(deps));
  }

  static ApiRequest request(std::string method, std::string path, std::string body = "",
                            std::string content_type = "application/json",
                            std::string authorization = "") {
    ApiRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.body = std::move(body);
    r.content_type = std::move(content_type);
    r.authorization = std::move(authorization);
    r.client_address = "203.0.113.7";
    r.request_id = "req-1";
    return r;
  }

  ApiResponse call(ApiRequest r, const http::ApiHandlerPtr& api = nullptr) {
    auto promise = std::make_shared<std::promise<ApiResponse>>();
    auto future = promise->get_future();
    (api ? api : api_)->handle(std::move(r), [promise](ApiResponse response) {
      promise->set_value(std::move(response));
    });
    if (future.wait_for(20s) != std::future_status::ready) {
      ADD_FAILURE() << "no answer";
      return {};
    }
    return future.get();
  }

  ApiResponse post(std::string path, std::string json_body, std::string bearer = "") {
    return call(request("POST", std::move(path), std::move(json_body), "application/json",
                        bearer.empty() ? "" : "Bearer " + bearer));
  }
  ApiResponse postForm(std::string path, std::string form, std::string bearer = "") {
    return call(request("POST", std::move(path), std::move(form),
                        "application/x-www-form-urlencoded",
                        bearer.empty() ? "" : "Bearer " + bearer));
  }

  static std::string credentials(std::string_view user, std::string_view password) {
    return "{\"username\":" + json::serialize(json::value(json::string(user))) +
           ",\"password\":" + json::serialize(json::value(json::string(password))) + "}";
  }

  // Registers `user` (if needed) and logs in; returns the token response.
  json::object login(const std::string& user = "alice") {
    if (user != "root") {
      call(request("POST", "/auth/register", credentials(user, kPassword)));
    }
    auto response = post("/auth/login", credentials(user, kPassword));
    EXPECT_EQ(response.status, 200u) << response.body;
    return body(response);
  }

  ApiResponse refresh(const std::string& token) {
    return post("/auth/refresh", "{\"refresh_token\":\"" + token + "\"}");
  }

  bool accessWorks(const std::string& token) {
    auto verified = verifier_->verify(token);
    return verified && !sessions_->isRevoked(accessTokenClaims((*verified)->claims));
  }

  static void expectBadRequest(const ApiResponse& response, const std::string& what) {
    EXPECT_EQ(response.status, 400u) << what << ": " << response.body;
    EXPECT_EQ(response.content_type, "application/json") << what;
    boost::system::error_code ec;
    auto value = json::parse(response.body, ec);
    ASSERT_FALSE(ec) << what << ": " << response.body;
    EXPECT_TRUE(value.as_object().contains("error")) << what;
    EXPECT_TRUE(value.as_object().contains("error_description")) << what;
  }

  fs::path dir_;
  core::SimulatedClock clock_;
  testing::SequenceRandom random_;
  jwt::KeyRingPtr ring_;
  std::shared_ptr<const jwt::Verifier> verifier_;
  store::UserStorePtr users_ = store::makeMemoryUserStore();
  store::SessionStorePtr session_store_ = store::makeMemorySessionStore();
  store::RevocationStorePtr revocations_ = store::makeMemoryRevocationStore();
  std::shared_ptr<bulwark::testing::RecordingSink> audit_ =
      std::make_shared<bulwark::testing::RecordingSink>();
  std::shared_ptr<testing::CountingHasher> hasher_ = std::make_shared<testing::CountingHasher>();
  LockoutPtr lockout_;
  SessionServicePtr sessions_;
  AccountServicePtr accounts_;
  std::shared_ptr<WorkerPool> pool_ =
      std::make_shared<WorkerPool>(WorkerPoolConfig{2, 64, "test-auth"});
  http::ApiHandlerPtr api_;
};

TEST_F(HttpApiTest, RegisterLoginAndTheTokenResponse) {
  auto registered = call(request("POST", "/auth/register", credentials("Alice", kPassword)));
  ASSERT_EQ(registered.status, 201u) << registered.body;
  const std::string id = str(body(registered), "id");
  EXPECT_EQ(id.size(), 22u);
  EXPECT_EQ(call(request("POST", "/auth/register", credentials("alice", kPassword))).status, 409u);

  auto response = post("/auth/login", credentials("alice", kPassword));
  ASSERT_EQ(response.status, 200u) << response.body;
  EXPECT_EQ(header(response, "Cache-Control"), "no-store");
  EXPECT_EQ(header(response, "Pragma"), "no-cache");
  auto tokens = body(response);
  EXPECT_EQ(tokens.size(), 4u);
  EXPECT_EQ(str(tokens, "token_type"), "Bearer");
  EXPECT_EQ(tokens.at("expires_in").as_int64(), 900);
  EXPECT_GE(str(tokens, "refresh_token").size(), 43u);  // 256 bits, base64url
  auto verified = verifier_->verify(str(tokens, "access_token"));
  ASSERT_TRUE(verified);
  EXPECT_EQ((*verified)->claims.sub, id);
  EXPECT_EQ((*verified)->claims.roles, std::vector<std::string>{"user"});
  EXPECT_EQ(audit_->count(EventType::kLogin), 1);
}

TEST_F(HttpApiTest, FailedLoginsLookTheSameWhetherOrNotTheUserExists) {
  login("alice");
  auto wrong = post("/auth/login", credentials("alice", "wrong password!"));
  auto unknown = post("/auth/login", credentials("nobody", kPassword));
  auto impossible = post("/auth/login", credentials("no such user!", kPassword));
  EXPECT_EQ(wrong.status, 401u);
  EXPECT_EQ(wrong.body, unknown.body);
  EXPECT_EQ(wrong.body, impossible.body);
  EXPECT_EQ(wrong.headers, unknown.headers);
  EXPECT_EQ(str(body(wrong), "error"), "invalid_grant");
  EXPECT_EQ(header(wrong, "WWW-Authenticate"), "Bearer realm=\"bulwark\"");
}

TEST_F(HttpApiTest, RefreshRotatesAndReuseRevokesTheWholeFamily) {
  auto first = login();
  auto rotated = refresh(str(first, "refresh_token"));
  ASSERT_EQ(rotated.status, 200u) << rotated.body;
  EXPECT_EQ(header(rotated, "Cache-Control"), "no-store");
  auto second = body(rotated);
  EXPECT_NE(str(second, "refresh_token"), str(first, "refresh_token"));
  EXPECT_TRUE(accessWorks(str(second, "access_token")));

  auto reused = refresh(str(first, "refresh_token"));
  EXPECT_EQ(reused.status, 401u);
  EXPECT_EQ(str(body(reused), "error"), "invalid_grant");
  // The family is gone: its newest refresh token and every access token of it.
  EXPECT_EQ(refresh(str(second, "refresh_token")).status, 401u);
  EXPECT_FALSE(accessWorks(str(first, "access_token")));
  EXPECT_FALSE(accessWorks(str(second, "access_token")));
  auto logout = post("/auth/logout", "", str(second, "access_token"));
  EXPECT_EQ(logout.status, 401u);
  EXPECT_EQ(header(logout, "WWW-Authenticate"),
            "Bearer realm=\"bulwark\", error=\"invalid_token\"");
  EXPECT_EQ(audit_->count(EventType::kSecurityIncident, "refresh_token_reuse"), 1);
  EXPECT_EQ(audit_->count(EventType::kAccessDenied, "revoked"), 1);
  EXPECT_EQ(refresh("not-a-token").status, 401u);
}

TEST_F(HttpApiTest, LogoutEndsThisSessionOnly) {
  auto one = login();
  auto two = login();
  ASSERT_EQ(post("/auth/logout", "{\"refresh_token\":\"" + str(one, "refresh_token") + "\"}",
                 str(one, "access_token"))
                .status,
            204u);
  EXPECT_FALSE(accessWorks(str(one, "access_token")));
  EXPECT_EQ(refresh(str(one, "refresh_token")).status, 401u);
  EXPECT_TRUE(accessWorks(str(two, "access_token")));
  // Without a body too.
  EXPECT_EQ(post("/auth/logout", "", str(two, "access_token")).status, 204u);
  EXPECT_FALSE(accessWorks(str(two, "access_token")));
  EXPECT_EQ(audit_->count(EventType::kLogout), 2);
}

TEST_F(HttpApiTest, LogoutAllEndsEverySessionOfTheUser) {
  auto one = login();
  auto two = login();
  auto other = login("bob");
  ASSERT_EQ(post("/auth/logout-all", "", str(one, "access_token")).status, 204u);
  EXPECT_FALSE(accessWorks(str(one, "access_token")));
  EXPECT_FALSE(accessWorks(str(two, "access_token")));
  EXPECT_EQ(refresh(str(two, "refresh_token")).status, 401u);
  EXPECT_TRUE(accessWorks(str(other, "access_token")));
  EXPECT_EQ(refresh(str(other, "refresh_token")).status, 200u);
}

TEST_F(HttpApiTest, RevokeFollowsRfc7009) {
  auto tokens = login();
  auto revoked = postForm(
      "/auth/revoke", "token=" + str(tokens, "refresh_token") + "&token_type_hint=refresh_token");
  EXPECT_EQ(revoked.status, 200u) << revoked.body;
  EXPECT_EQ(refresh(str(tokens, "refresh_token")).status, 401u);

  auto again = login();
  EXPECT_EQ(postForm("/auth/revoke", "token=" + str(again, "access_token")).status, 200u);
  EXPECT_FALSE(accessWorks(str(again, "access_token")));
  EXPECT_EQ(refresh(str(again, "refresh_token")).status, 200u);  // the session lives on

  // Unknown and invalid tokens: 200 all the same (§2.2).
  EXPECT_EQ(postForm("/auth/revoke", "token=unknown").status, 200u);
  EXPECT_EQ(postForm("/auth/revoke", "token=a.b.c").status, 200u);
  auto hint = postForm("/auth/revoke", "token=x&token_type_hint=id_token");
  EXPECT_EQ(hint.status, 400u);
  EXPECT_EQ(str(body(hint), "error"), "unsupported_token_type");
  expectBadRequest(postForm("/auth/revoke", "token_type_hint=refresh_token"), "missing token");
  expectBadRequest(post("/auth/revoke", "{\"token\":\"x\"}"), "JSON body");
}

TEST_F(HttpApiTest, IntrospectionIsForAdministrators) {
  auto user = login();
  auto admin = login("root");
  const std::string form = "token=" + str(user, "access_token");
  auto anonymous = postForm("/auth/introspect", form);
  EXPECT_EQ(anonymous.status, 401u);
  EXPECT_EQ(header(anonymous, "WWW-Authenticate"), "Bearer realm=\"bulwark\"");
  auto forbidden = postForm("/auth/introspect", form, str(user, "access_token"));
  EXPECT_EQ(forbidden.status, 403u);
  EXPECT_EQ(str(body(forbidden), "error"), "insufficient_scope");
  EXPECT_EQ(audit_->count(EventType::kAccessDenied, "missing_role"), 1);

  auto access = postForm("/auth/introspect", form, str(admin, "access_token"));
  ASSERT_EQ(access.status, 200u) << access.body;
  EXPECT_EQ(header(access, "Cache-Control"), "no-store");
  auto claims = body(access);
  EXPECT_TRUE(claims.at("active").as_bool());
  EXPECT_EQ(str(claims, "token_type"), "Bearer");
  EXPECT_EQ(str(claims, "iss"), "https://bulwark.test");
  EXPECT_EQ(str(claims, "aud"), "api");
  EXPECT_FALSE(str(claims, "sub").empty());
  EXPECT_FALSE(str(claims, "sid").empty());
  EXPECT_EQ(claims.at("exp").as_int64() - claims.at("iat").as_int64(), 900);

  auto refresh_token = postForm(
      "/auth/introspect", "token=" + str(user, "refresh_token") + "&token_type_hint=refresh_token",
      str(admin, "access_token"));
  ASSERT_EQ(refresh_token.status, 200u) << refresh_token.body;
  EXPECT_TRUE(body(refresh_token).at("active").as_bool());
  EXPECT_EQ(str(body(refresh_token), "sid"), str(claims, "sid"));

  ASSERT_EQ(post("/auth/logout", "", str(user, "access_token")).status, 204u);
  for (const auto& token : {str(user, "access_token"), str(user, "refresh_token"),
                            std::string("garbage"), std::string("a.b.c")}) {
    auto answer = postForm("/auth/introspect", "token=" + token, str(admin, "access_token"));
    EXPECT_EQ(answer.status, 200u);
    EXPECT_EQ(answer.body, "{\"active\":false}") << token;
  }
}

TEST_F(HttpApiTest, AdministratorsLockAndUnlockAccounts) {
  auto alice = login();
  auto admin = login("root");
  EXPECT_EQ(post("/admin/users/alice/lock", "", str(alice, "access_token")).status, 403u);
  ASSERT_EQ(post("/admin/users/alice/lock", "", str(admin, "access_token")).status, 204u);
  EXPECT_FALSE(accessWorks(str(alice, "access_token")));  // locking revokes every session
  EXPECT_EQ(post("/auth/login", credentials("alice", kPassword)).status, 401u);
  // Percent-encoded names are decoded.
  ASSERT_EQ(post("/admin/users/%61lice/unlock", "", str(admin, "access_token")).status, 204u);
  EXPECT_EQ(post("/auth/login", credentials("alice", kPassword)).status, 200u);
  auto unknown = post("/admin/users/nobody/lock", "", str(admin, "access_token"));
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(str(body(unknown), "error"), "not_found");
  auto get = call(request("GET", "/admin/users/alice/lock", "", "", "Bearer x"));
  EXPECT_EQ(get.status, 405u);
  EXPECT_EQ(header(get, "Allow"), "POST");
  EXPECT_EQ(call(request("POST", "/admin/users/alice")).status, 404u);
  EXPECT_EQ(call(request("POST", "/admin/users/a/b/lock")).status, 404u);
  EXPECT_EQ(call(request("POST", "/admin/users/%2f/lock")).status, 404u);
  EXPECT_EQ(audit_->count(EventType::kPermissionChange, "lock"), 1);
  EXPECT_EQ(audit_->count(EventType::kPermissionChange, "unlock"), 1);
}

TEST_F(HttpApiTest, KeyRotationAndTheJwks) {
  auto before = login("root");
  const std::string old_kid = ring_->keys()->signingKey()->kid;
  EXPECT_EQ(post("/admin/keys/rotate", "", str(login(), "access_token")).status, 403u);
  auto rotated = post("/admin/keys/rotate", "", str(before, "access_token"));
  ASSERT_EQ(rotated.status, 200u) << rotated.body;
  const std::string kid = str(body(rotated), "kid");
  EXPECT_NE(kid, old_kid);
  EXPECT_EQ(ring_->keys()->signingKey()->kid, kid);
  EXPECT_EQ(audit_->count(EventType::kConfigChange, "key_rotate"), 1);
  // Tokens of the retired key still verify; new ones are signed by the new key.
  EXPECT_TRUE(accessWorks(str(before, "access_token")));
  auto after = login("root");
  EXPECT_EQ((*verifier_->verify(str(after, "access_token")))->kid, kid);

  auto jwks = call(request("GET", "/.well-known/jwks.json", "", ""));
  ASSERT_EQ(jwks.status, 200u);
  EXPECT_EQ(jwks.content_type, "application/jwk-set+json");
  std::set<std::string> kids;
  const auto published = body(jwks);
  for (const auto& key : published.at("keys").as_array()) {
    const auto& jwk = key.as_object();
    kids.insert(std::string(jwk.at("kid").as_string()));
    EXPECT_EQ(jwk.at("use").as_string(), "sig");
    EXPECT_EQ(jwk.at("alg").as_string(), "EdDSA");
    for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "k"}) {
      EXPECT_FALSE(jwk.contains(secret)) << secret;
    }
  }
  EXPECT_EQ(kids, (std::set<std::string>{old_kid, kid}));
  auto wrong = call(request("POST", "/.well-known/jwks.json"));
  EXPECT_EQ(wrong.status, 405u);
  EXPECT_EQ(header(wrong, "Allow"), "GET, HEAD");
}

TEST_F(HttpApiTest, EveryMalformedJsonBodyIsA400WithAJsonError) {
  const std::string huge(70, '9');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"application/json", ""},
      {"application/json", "not json"},
      {"application/json", "[\"alice\",\"pw\"]"},
      {"application/json", "\"alice\""},
      {"application/json", "null"},
      {"application/json", "{\"username\":\"alice\"}"},
      {"application/json", "{\"password\":\"correct horse battery\"}"},
      {"application/json", "{\"username\":\"\",\"password\":\"correct horse battery\"}"},
      {"application/json", "{\"username\":42,\"password\":\"correct horse battery\"}"},
      {"application/json", "{\"username\":\"alice\",\"password\":null}"},
      {"application/json", "{\"username\":[\"alice\"],\"password\":\"x\"}"},
      {"application/json", "{\"username\":{\"a\":1},\"password\":\"x\"}"},
      {"application/json", "{\"username\":\"alice\",\"password\":" + huge + "}"},
      {"application/json", "{\"username\":\"alice\",\"password\":1e999999}"},
      {"application/json", "{\"username\":\"alice\",\"password\":true}"},
      {"application/json",
       "{\"username\":\"alice\",\"username\":\"root\",\"password\":\"correct horse battery\"}"},
      {"application/json", "{\"username\":\"alice\",\"password\":\"pw\",}"},
      {"application/json", "{\"username\":\"alice\",/*c*/\"password\":\"pw\"}"},
      {"application/json", "{\"username\":\"al\xff\",\"password\":\"pw\"}"},
      {"application/json", "{\"username\":\"alice\",\"password\":\"pw\"} {}"},
      {"application/json", "{\"username\":\"alice\",\"password\":\"pw\""},
      {"application/json", "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}"},
      {"text/plain", "{\"username\":\"alice\",\"password\":\"correct horse battery\"}"},
      {"", "{\"username\":\"alice\",\"password\":\"correct horse battery\"}"},
      {"application/json; charset=latin1",
       "{\"username\":\"alice\",\"password\":\"correct horse battery\"}"},
      {"application/x-www-form-urlencoded", "username=alice&password=x"},
  };
  const int verifications = hasher_->verifications.load();
  for (const auto& [type, text] : cases) {
    for (const char* path : {"/auth/login", "/auth/register"}) {
      expectBadRequest(call(request("POST", path, text, type)), std::string(path) + " " + text);
    }
  }
  for (const auto& text : {std::string("{\"refresh_token\":7}"), std::string("{}"),
                           std::string("[]"), std::string("{\"refresh_token\":[\"x\"]}")}) {
    expectBadRequest(call(request("POST", "/auth/refresh", text)), text);
  }
  EXPECT_EQ(hasher_->verifications.load(), verifications);  // refused before any work
  // Parameters are accepted as UTF-8 JSON with any letter case of the media type.
  EXPECT_EQ(call(request("POST", "/auth/login", credentials("root", kPassword),
                         "Application/JSON; charset=\"UTF-8\""))
                .status,
            200u);
  // Optional bodies must still be well-formed when present.
  auto tokens = login();
  expectBadRequest(post("/auth/logout", "[]", str(tokens, "access_token")), "logout array");
  expectBadRequest(post("/auth/logout", "{\"refresh_token\":1}", str(tokens, "access_token")),
                   "logout number");
  expectBadRequest(post("/auth/logout-all", "nope", str(tokens, "access_token")), "logout-all");
  EXPECT_TRUE(accessWorks(str(tokens, "access_token")));
}

TEST_F(HttpApiTest, EveryMalformedFormIsA400WithAJsonError) {
  auto admin = login("root");
  const std::vector<std::string> cases = {
      "token=%zz", "token=%4",    "token=abc%",        "token=a&token=b",
      "token",     "=abc",        "token=a&&x=1",      "token=a&",
      "&token=a",  "token=a\x01", "token=caf\xc3\xa9", "token=a b",
      "",          "token=",
  };
  for (const auto& form : cases) {
    expectBadRequest(postForm("/auth/revoke", form), "revoke " + form);
    expectBadRequest(postForm("/auth/introspect", form, str(admin, "access_token")),
                     "introspect " + form);
  }
  // '+' is a space and %XX escapes decode: this is the token "a b/c" (unknown, so 200).
  EXPECT_EQ(postForm("/auth/revoke", "token=a+b%2Fc").status, 200u);
  // Revoking with a percent-encoded real token works.
  auto tokens = login();
  std::string encoded;
  for (char c : str(tokens, "refresh_token")) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
    encoded += hex;
  }
  EXPECT_EQ(postForm("/auth/revoke", "token=" + encoded).status, 200u);
  EXPECT_EQ(refresh(str(tokens, "refresh_token")).status, 401u);
}

TEST_F(HttpApiTest, LockoutIsA429WithRetryAfterBeforeAnyHashing) {
  login();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(post("/auth/login", credentials("alice", "wrong password!")).status, 401u);
  }
  const int verifications = hasher_->verifications.load();
  for (const auto& password : {std::string("wrong password!"), std::string(kPassword)}) {
    auto locked = post("/auth/login", credentials("alice", password));
    EXPECT_EQ(locked.status, 429u) << locked.body;
    EXPECT_EQ(header(locked, "Retry-After"), "30");
    EXPECT_EQ(str(body(locked), "error"), "too_many_attempts");
  }
  EXPECT_EQ(hasher_->verifications.load(), verifications);
  EXPECT_EQ(audit_->count(EventType::kLoginFailed, "locked_out"), 2);
  EXPECT_EQ(audit_->count(EventType::kSecurityIncident, "brute_force"), 1);
  clock_.advance(31s);
  EXPECT_EQ(post("/auth/login", credentials("alice", kPassword)).status, 200u);
}

TEST_F(HttpApiTest, AFullPoolIsA503WithRetryAfter) {
  auto pool = std::make_shared<WorkerPool>(WorkerPoolConfig{1, 1, "test-full"});
  std::latch release(1);
  std::latch started(1);
  ASSERT_TRUE(pool->submit([&] {
    started.count_down();
    release.wait();
  }));
  started.wait();
  ASSERT_TRUE(pool->submit([] {}));  // the queue is full now
  auto api = makeApi(pool);
  auto refused = call(request("POST", "/auth/login", credentials("root", kPassword)), api);
  EXPECT_EQ(refused.status, 503u);
  EXPECT_EQ(str(body(refused), "error"), "temporarily_unavailable");
  EXPECT_EQ(header(refused, "Retry-After"), "1");
  release.count_down();
  pool->stop();
}

TEST_F(HttpApiTest, BearerProblemsAre401WithAChallengeAndAnEvent) {
  auto tokens = login();
  auto missing = post("/auth/logout-all", "");
  EXPECT_EQ(missing.status, 401u);
  EXPECT_EQ(header(missing, "WWW-Authenticate"), "Bearer realm=\"bulwark\"");
  for (const char* authorization : {"Basic YWxpY2U6cHc=", "Bearer", "Bearer ", "Bearertoken"}) {
    auto malformed = call(request("POST", "/auth/logout-all", "", "", authorization));
    EXPECT_EQ(malformed.status, 401u) << authorization;
    EXPECT_EQ(str(body(malformed), "error"), "invalid_token");
    EXPECT_EQ(header(malformed, "WWW-Authenticate"),
              "Bearer realm=\"bulwark\", error=\"invalid_token\"");
  }
  EXPECT_EQ(post("/auth/logout-all", "", "forged.token.here").status, 401u);
  clock_.advance(16min);
  auto expired = post("/auth/logout-all", "", str(tokens, "access_token"));
  EXPECT_EQ(expired.status, 401u);
  EXPECT_EQ(expired.body.find("expired"), std::string::npos);  // the client learns little
  EXPECT_EQ(audit_->count(EventType::kAccessDenied, "expired"), 1);
  EXPECT_EQ(audit_->count(EventType::kAccessDenied, "missing_token"), 1);
  EXPECT_EQ(audit_->count(EventType::kAccessDenied, "malformed_authorization"), 4);
}

TEST_F(HttpApiTest, UnknownPathsWrongMethodsAndQueries) {
  for (const char* path : {"/auth/", "/auth/nope", "/auth/login/", "/admin/keys/", "/admin/keys/x",
                           "/admin/users/alice/delete"}) {
    auto response = call(request("POST", path));
    EXPECT_EQ(response.status, 404u) << path;
    EXPECT_EQ(str(body(response), "error"), "not_found");
  }
  auto get = call(request("GET", "/auth/login"));
  EXPECT_EQ(get.status, 405u);
  EXPECT_EQ(header(get, "Allow"), "POST");
  EXPECT_EQ(str(body(get), "error"), "method_not_allowed");
  auto query = request("POST", "/auth/login", credentials("root", kPassword));
  query.query = "password=x";
  expectBadRequest(call(query), "query");
}

TEST_F(HttpApiTest, SignUpCanBeClosed) {
  auto closed = AccountService::create(
      {.open_sign_up = false}, {users_, hasher_, lockout_, sessions_, audit_}, clock_, random_);
  HttpApiDeps deps;
  deps.accounts = closed;
  deps.sessions = sessions_;
  deps.pool = pool_;
  deps.verifier = verifier_;
  deps.key_ring = ring_;
  deps.clock = &clock_;
  auto api = makeHttpApi(deps);
  auto refused = call(request("POST", "/auth/register", credentials("alice", kPassword)), api);
  EXPECT_EQ(refused.status, 403u);
  EXPECT_EQ(str(body(refused), "error"), "access_denied");
}

TEST_F(HttpApiTest, SecretsNeverReachEventsOrErrors) {
  const std::string secret = "s3cret-passw0rd-XYZ";
  call(request("POST", "/auth/register", credentials("alice", secret)));
  auto ok = body(post("/auth/login", credentials("alice", secret)));
  std::vector<ApiResponse> answers = {
      post("/auth/login", credentials("alice", secret + "!")),
      post("/auth/login", credentials("nobody", secret)),
      post("/auth/login", "{\"username\":\"alice\",\"password\":\"" + secret + "\""),
      refresh(str(ok, "refresh_token") + "x"),
      postForm("/auth/revoke", "token=" + secret + "%zz"),
  };
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.body.find(secret), std::string::npos) << answer.body;
  }
  for (const auto& event : audit_->events()) {
    std::string line;
    audit::appendEventJson(line, event);
    EXPECT_EQ(line.find(secret), std::string::npos) << line;
    EXPECT_EQ(line.find(str(ok, "refresh_token")), std::string::npos) << line;
    EXPECT_EQ(line.find(str(ok, "access_token")), std::string::npos) << line;
  }
}

TEST_F(HttpApiTest, SyncDurabilityWaitsForTheEventsBeforeAnswering) {
  auto sink = std::make_shared<SyncSink>();
  auto api = makeApi(pool_, sink);
  EXPECT_EQ(call(request("POST", "/auth/login", credentials("root", kPassword)), api).status, 200u);
  EXPECT_GE(sink->flushes.load(), 1);
  // Refusals answered on the calling thread are recorded through the same sink.
  EXPECT_EQ(call(request("POST", "/auth/logout-all"), api).status, 401u);
  EXPECT_EQ(sink->inner.count(EventType::kAccessDenied, "missing_token"), 1);
}

}  // namespace
}  // namespace bulwark::auth

#include "auth/http_api.h"

#include <sodium.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/jwt_bridge.h"
#include "core/json.h"
#include "core/strict_json.h"
#include "core/log.h"
#include "store/user_store.h"

namespace bulwark::auth {
namespace {

namespace json = boost::json;
using http::ApiCompletion;
using http::ApiRequest;
using http::ApiResponse;

// RFC 6750 §3: no error code when the request carried no credentials at all.
constexpr std::string_view kChallenge = "Bearer realm=\"bulwark\"";
constexpr std::string_view kInvalidTokenChallenge =
    "Bearer realm=\"bulwark\", error=\"invalid_token\"";
constexpr std::string_view kScopeChallenge =
    "Bearer realm=\"bulwark\", error=\"insufficient_scope\"";

// Request bodies are small objects; anything nested deeper is not ours.
constexpr std::size_t kMaxJsonDepth = 8;

// ---- text helpers ------------------------------------------------------------------------------

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Overwrites a secret before its memory is released (best effort: copies the standard library
// made on the way are out of reach).
void wipe(std::string& text) {
  sodium_memzero(text.data(), text.size());
  text.clear();
}

// A password or token captured by a queued job: wiped when the last copy goes away.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string text) : text_(std::move(text)) {}
  Secret(const Secret& other) : text_(other.text_) {}
  Secret& operator=(const Secret&) = delete;
  ~Secret() { wipe(text_); }
  std::string_view view() const { return text_; }
  bool empty() const { return text_.empty(); }

 private:
  std::string text_;
};

// True when the Content-Type `value` names `expected` (case-insensitive), with at most a
// charset parameter of UTF-8 (JSON is UTF-8, RFC 8259 §8.1); other parameters are ignored.
bool contentTypeIs(std::string_view value, std::string_view expected) {
  std::size_t semicolon = value.find(';');
  if (!equalsIgnoreCase(trim(value.substr(0, semicolon)), expected)) {
    return false;
  }
  while (semicolon != std::string_view::npos) {
    value.remove_prefix(semicolon + 1);
    semicolon = value.find(';');
    const std::string_view parameter = trim(value.substr(0, semicolon));
    const std::size_t equals = parameter.find('=');
    if (equals != std::string_view::npos &&
        equalsIgnoreCase(trim(parameter.substr(0, equals)), "charset")) {
      std::string_view charset = trim(parameter.substr(equals + 1));
      if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
        charset = charset.substr(1, charset.size() - 2);
      }
      if (!equalsIgnoreCase(charset, "utf-8")) {
        return false;
      }
    }
  }
  return true;
}

// Decodes one application/x-www-form-urlencoded name or value: %XX escapes and '+' for space.
// Refuses a '%' without two hex digits and raw control or non-ASCII bytes (a conforming client
// escapes them).
bool formDecode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (in.size() - i < 3) {
        return false;
      }
      const int high = hexValue(in[i + 1]);
      const int low = hexValue(in[i + 2]);
      if (high < 0 || low < 0) {
        return false;
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return false;
    } else {
      out.push_back(c);
    }
  }
  return true;
}

// Decodes %XX escapes of one path segment (no '+' rule in paths). Refuses bad escapes, control
// bytes and an encoded '/'.
bool pathDecode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) {
        return false;
      }
      const int high = hexValue(in[i + 1]);
      const int low = hexValue(in[i + 2]);
      if (high < 0 || low < 0) {
        return false;
      }
      c = static_cast<char>(high * 16 + low);
      i += 2;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '/') {
      return false;
    }
    out.push_back(c);
  }
  return true;
}

// RFC 6750 §2.1: "Bearer" (any case), one or more spaces, the token.
std::optional<std::string_view> bearerToken(std::string_view authorization) {
  if (authorization.size() < 8 || !equalsIgnoreCase(authorization.substr(0, 6), "bearer") ||
      authorization[6] != ' ') {
    return std::nullopt;
  }
  std::string_view token = authorization.substr(7);
  while (!token.empty() && token.front() == ' ') {
    token.remove_prefix(1);
  }
  if (token.empty()) {
    return std::nullopt;
  }
  return token;
}

// ---- strict JSON ----------------------------------------------------------------------------

// Parses `text` as exactly one strict JSON object (core/strict_json.h); nullopt for anything else.
std::optional<json::object> parseStrictObject(std::string_view text) {
  return core::parseStrictJsonObject(text, kMaxJsonDepth);
}

// Wipes the string member `name` of `body` (a password or token read out of it).
void wipeMember(json::object& body, std::string_view name) {
  if (json::value* value = body.if_contains(name); value != nullptr && value->is_string()) {
    json::string& text = value->get_string();
    sodium_memzero(text.data(), text.size());
  }
}

// ---- responses -----------------------------------------------------------------------------

ApiResponse badRequest(std::string_view description) {
  return ApiResponse::error(400, "invalid_request", description);
}

ApiResponse notFound() { return ApiResponse::error(404, "not_found", "no such endpoint"); }

ApiResponse methodNotAllowed(std::string_view allow) {
  auto response =
      ApiResponse::error(405, "method_not_allowed", "method not allowed on this endpoint");
  response.headers.emplace_back("Allow", std::string(allow));
  return response;
}

void setRetryAfter(ApiResponse& response, std::chrono::seconds seconds) {
  response.headers.emplace_back("Retry-After",
                                std::to_string(std::max<std::int64_t>(1, seconds.count())));
}

// RFC 6749 §5.1: responses carrying tokens must not be stored by any cache.
void setNoStore(ApiResponse& response) {
  response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("Pragma", "no-cache");
}

ApiResponse busy() {
  auto response =
      ApiResponse::error(503, "temporarily_unavailable", errorDescription(AuthError::kBusy));
  setRetryAfter(response, std::chrono::seconds(1));
  return response;
}

ApiResponse failureResponse(const AuthFailure& failure) {
  auto response = ApiResponse::error(httpStatus(failure.error), errorCode(failure.error),
                                     errorDescription(failure.error));
  switch (failure.error) {
    case AuthError::kLockedOut:
    case AuthError::kBusy:
      setRetryAfter(response, failure.retry_after);
      break;
    case AuthError::kInvalidCredentials:
    case AuthError::kInvalidGrant:
      // A 401 must carry a challenge (RFC 9110 §15.5.2): the scheme these credentials obtain.
      response.headers.emplace_back("WWW-Authenticate", std::string(kChallenge));
      break;
    default:
      break;
  }
  return response;
}

ApiResponse tokenResponse(const TokenGrant& grant) {
  std::string body = "{\"access_token\":";
  core::appendJsonString(body, grant.access_token);
  body += ",\"token_type\":";
  core::appendJsonString(body, grant.token_type);
  body += ",\"expires_in\":";
  body += std::to_string(grant.expires_in.count());
  body += ",\"refresh_token\":";
  core::appendJsonString(body, grant.refresh_token);
  body += '}';
  auto response = ApiResponse::json(200, std::move(body));
  setNoStore(response);
  return response;
}

ApiResponse noContent() { return ApiResponse::json(204, ""); }

ApiResponse inactive() {
  auto response = ApiResponse::json(200, "{\"active\":false}");
  setNoStore(response);
  return response;
}

std::int64_t numericDate(core::SystemTime time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

// ---- request bodies ------------------------------------------------------------------------

// Reads the body as a JSON object; false with `refusal` set otherwise.
bool readJsonBody(const ApiRequest& request, json::object& out, ApiResponse& refusal) {
  if (!contentTypeIs(request.content_type, "application/json")) {
    refusal = badRequest("the body must be application/json");
    return false;
  }
  auto parsed = parseStrictObject(request.body);
  if (!parsed) {
    refusal = badRequest("the body must be one JSON object (UTF-8, no repeated member names)");
    return false;
  }
  out = std::move(*parsed);
  return true;
}

// Bodies that may be absent: an empty body is an empty object.
bool readOptionalJsonBody(const ApiRequest& request, json::object& out, ApiResponse& refusal) {
  if (request.body.empty()) {
    out.clear();
    return true;
  }
  return readJsonBody(request, out, refusal);
}

// Reads the string member `name`; false with `refusal` set when it is not a string, or missing
// or empty while `required`.
bool stringMember(const json::object& body, std::string_view name, bool required, std::string& out,
                  ApiResponse& refusal) {
  const json::value* value = body.if_contains(name);
  if (value == nullptr || (value->is_string() && value->get_string().empty())) {
    if (required) {
      refusal = badRequest("missing " + std::string(name));
      return false;
    }
    out.clear();
    return true;
  }
  if (!value->is_string()) {
    refusal = badRequest(std::string(name) + " must be a string");
    return false;
  }
  out.assign(value->get_string().data(), value->get_string().size());
  return true;
}

// Parses an application/x-www-form-urlencoded body strictly: every pair is name=value, names
// are not empty and not repeated (RFC 6749 §3.1), escapes are valid.
bool readFormBody(const ApiRequest& request, std::map<std::string, std::string>& out,
                  ApiResponse& refusal) {
  if (!contentTypeIs(request.content_type, "application/x-www-form-urlencoded")) {
    refusal = badRequest("the body must be application/x-www-form-urlencoded");
    return false;
  }
  out.clear();
  std::string_view rest = request.body;
  std::string name;
  std::string value;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const std::size_t equals = pair.find('=');
    if (pair.empty() || equals == std::string_view::npos || equals == 0 ||
        (amp != std::string_view::npos && rest.empty())) {
      refusal = badRequest("malformed form body: expected name=value pairs joined by '&'");
      return false;
    }
    if (!formDecode(pair.substr(0, equals), name) || !formDecode(pair.substr(equals + 1), value)) {
      refusal = badRequest("malformed form body: invalid percent-encoding");
      return false;
    }
    if (!out.emplace(std::move(name), std::move(value)).second) {
      refusal = badRequest("malformed form body: a parameter is repeated");
      return false;
    }
  }
  return true;
}

// RFC 7009 §2.1 / RFC 7662 §2.1 `token_type_hint`: absent, "access_token" or "refresh_token".
bool validHint(const std::map<std::string, std::string>& form, ApiResponse& refusal) {
  const auto hint = form.find("token_type_hint");
  if (hint == form.end() || hint->second == "access_token" || hint->second == "refresh_token") {
    return true;
  }
  refusal = ApiResponse::error(400, "unsupported_token_type",
                               "token_type_hint must be access_token or refresh_token");
  return false;
}

// The `token` of an RFC 7009 / 7662 form body (with a valid hint), or nullopt with the 400 in
// `refusal`. The request body and every other form value are wiped either way.
std::optional<Secret> readTokenForm(ApiRequest& request, ApiResponse& refusal) {
  std::map<std::string, std::string> form;
  const bool ok = readFormBody(request, form, refusal) && validHint(form, refusal);
  wipe(request.body);
  std::optional<Secret> token;
  if (auto found = form.find("token"); ok && found != form.end() && !found->second.empty()) {
    token.emplace(std::move(found->second));
  } else if (ok) {
    refusal = badRequest("missing token");
  }
  for (auto& [name, value] : form) {
    wipe(value);
  }
  return token;
}

// Our access tokens are compact JWS (three parts); refresh tokens are opaque base64url.
bool looksLikeJwt(std::string_view token) { return token.find('.') != std::string_view::npos; }

// ---- endpoints -----------------------------------------------------------------------------

enum class Endpoint {
  kRegister,
  kLogin,
  kRefresh,
  kLogout,
  kLogoutAll,
  kRevoke,
  kIntrospect,
  kJwks,
  kLockUser,
  kUnlockUser,
  kRotateKeys,
};

// Maps a path to its endpoint; `user` gets the decoded {name} of /admin/users/{name}/...
std::optional<Endpoint> classify(std::string_view path, std::string& user) {
  static const std::pair<std::string_view, Endpoint> kExact[] = {
      {"/auth/register", Endpoint::kRegister},       {"/auth/login", Endpoint::kLogin},
      {"/auth/refresh", Endpoint::kRefresh},         {"/auth/logout", Endpoint::kLogout},
      {"/auth/logout-all", Endpoint::kLogoutAll},    {"/auth/revoke", Endpoint::kRevoke},
      {"/auth/introspect", Endpoint::kIntrospect},   {"/.well-known/jwks.json", Endpoint::kJwks},
      {"/admin/keys/rotate", Endpoint::kRotateKeys},
  };
  for (const auto& [exact, endpoint] : kExact) {
    if (path == exact) {
      return endpoint;
    }
  }
  constexpr std::string_view kUsers = "/admin/users/";
  if (path.substr(0, kUsers.size()) != kUsers) {
    return std::nullopt;
  }
  const std::string_view rest = path.substr(kUsers.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 ||
      rest.find('/', slash + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view action = rest.substr(slash + 1);
  if ((action != "lock" && action != "unlock") || !pathDecode(rest.substr(0, slash), user) ||
      user.empty()) {
    return std::nullopt;
  }
  return action == "lock" ? Endpoint::kLockUser : Endpoint::kUnlockUser;
}

bool requiresBearer(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kLogout:
    case Endpoint::kLogoutAll:
    case Endpoint::kIntrospect:
    case Endpoint::kLockUser:
    case Endpoint::kUnlockUser:
    case Endpoint::kRotateKeys:
      return true;
    default:
      return false;
  }
}

bool adminOnly(Endpoint endpoint) {
  return endpoint == Endpoint::kIntrospect || endpoint == Endpoint::kLockUser ||
         endpoint == Endpoint::kUnlockUser || endpoint == Endpoint::kRotateKeys;
}

// What queued jobs use. Shared by them, so it outlives the handler while a job waits; it holds
// no reference to the pool (a job must never be the one to destroy the pool it runs on).
struct Backend {
  AccountServicePtr accounts;
  SessionServicePtr sessions;
  jwt::KeyRingPtr key_ring;
  audit::SinkPtr audit;
  const core::Clock* clock = nullptr;

  void record(const RequestContext& context, audit::Event event) const {
    if (!audit) {
      return;
    }
    event.time = clock->systemTime();
    event.client_address = context.client_address;
    event.request_id = context.request_id;
    audit->record(std::move(event));
  }
};

class HttpApi final : public http::ApiHandler {
 public:
  explicit HttpApi(HttpApiDeps deps)
      : backend_(std::make_shared<Backend>(
            Backend{deps.accounts, deps.sessions, deps.key_ring, deps.audit, deps.clock})),
        pool_(std::move(deps.pool)),
        verifier_(std::move(deps.verifier)),
        revocations_(std::move(deps.revocations)),
        admin_role_(std::move(deps.admin_role)),
        issuer_(std::move(deps.issuer)) {}

  void handle(ApiRequest request, ApiCompletion done) override {
    std::string user;
    const auto endpoint = classify(request.path, user);
    if (!endpoint) {
      return done(notFound());
    }
    if (*endpoint == Endpoint::kJwks) {
      if (request.method != "GET" && request.method != "HEAD") {
        return done(methodNotAllowed("GET, HEAD"));
      }
      return done(jwks());
    }
    if (request.method != "POST") {
      return done(methodNotAllowed("POST"));
    }
    // Credentials in a URL end up in logs and histories: these endpoints take a body only.
    if (!request.query.empty()) {
      return done(badRequest("query parameters are not accepted; send them in the body"));
    }
    jwt::VerifiedTokenPtr bearer;
    if (requiresBearer(*endpoint)) {
      bearer = authenticate(request, adminOnly(*endpoint), done);
      if (!bearer) {
        return;  // answered
      }
    }
    switch (*endpoint) {
      case Endpoint::kRegister:
        return registerUser(request, std::move(done));
      case Endpoint::kLogin:
        return login(request, std::move(done));
      case Endpoint::kRefresh:
        return refresh(request, std::move(done));
      case Endpoint::kLogout:
        return logout(request, *bearer, std::move(done));
      case Endpoint::kLogoutAll:
        return logoutAll(request, *bearer, std::move(done));
      case Endpoint::kRevoke:
        return revoke(request, std::move(done));
      case Endpoint::kIntrospect:
        return introspect(request, std::move(done));
      case Endpoint::kLockUser:
      case Endpoint::kUnlockUser:
        return setLocked(request, *bearer, user, *endpoint == Endpoint::kLockUser, std::move(done));
      case Endpoint::kRotateKeys:
        return rotateKeys(request, *bearer, std::move(done));
      case Endpoint::kJwks:
        break;
    }
    done(notFound());
  }

 private:
  using Work = std::function<ApiResponse(const Backend&)>;

  static RequestContext contextOf(const ApiRequest& request) {
    return RequestContext{request.client_address, request.request_id};
  }

  // Runs `work` on the pool and answers with its result from the pool's thread, after the
  // request's audit events are durable when the sink asks for that. A full queue answers 503.
  void run(ApiCompletion done, Work work) const {
    auto answer = std::make_shared<ApiCompletion>(std::move(done));
    const bool queued =
        pool_->submit([backend = backend_, answer, work = std::move(work)]() mutable {
          ApiResponse response;
          try {
            response = work(*backend);
          } catch (const std::exception& e) {
            core::log(core::LogLevel::kError, "auth api: request failed", {{"error", e.what()}});
            response = ApiResponse::error(500, "server_error", "internal error");
          }
          work = nullptr;  // the captured secrets go before the answer leaves
          if (backend->audit && backend->audit->syncDurability()) {
            backend->audit->flush();
          }
          (*answer)(std::move(response));
        });
    if (!queued) {
      (*answer)(busy());
    }
  }

  // Answers on the calling thread after recording `event`; with sync durability the answer
  // waits (without blocking this thread) until the event is durable.
  void answerAfter(const ApiRequest& request, audit::Event event, ApiResponse response,
                   ApiCompletion& done) const {
    const auto& audit = backend_->audit;
    if (!audit || !audit->syncDurability()) {
      backend_->record(contextOf(request), std::move(event));
      return done(std::move(response));
    }
    event.time = backend_->clock->systemTime();
    event.client_address = request.client_address;
    event.request_id = request.request_id;
    const std::uint64_t seq = audit->append(std::move(event));
    audit->whenDurable(seq, [done = std::move(done), response = std::move(response)](
                                boost::system::error_code) mutable { done(std::move(response)); });
  }

  // Verifies the request's Bearer token: signature and claims, our issuer, revocation, and the
  // admin role when `admin`. Returns the verified token, or answers the request (401, 403 or
  // 503, with an ACCESS_DENIED event) and returns null.
  jwt::VerifiedTokenPtr authenticate(const ApiRequest& request, bool admin,
                                     ApiCompletion& done) const {
    const auto deny = [&](std::string_view reason, std::string actor, ApiResponse response) {
      audit::Event event;
      event.type = audit::EventType::kAccessDenied;
      event.severity = audit::Severity::kMedium;
      event.outcome = audit::Outcome::kDenied;
      event.actor = std::move(actor);
      event.target = request.path;
      event.details = {
          {"method", request.method}, {"path", request.path}, {"reason", std::string(reason)}};
      answerAfter(request, std::move(event), std::move(response), done);
      return nullptr;
    };
    const auto invalid = [] {
      auto response = ApiResponse::error(401, "invalid_token", "the access token is invalid");
      response.headers.emplace_back("WWW-Authenticate", std::string(kInvalidTokenChallenge));
      return response;
    };
    if (request.authorization.empty()) {
      auto response = ApiResponse::error(401, "invalid_request", "a bearer token is required");
      response.headers.emplace_back("WWW-Authenticate", std::string(kChallenge));
      return deny("missing_token", "", std::move(response));
    }
    const auto token = bearerToken(request.authorization);
    if (!token) {
      auto response =
          ApiResponse::error(401, "invalid_token", "expected Authorization: Bearer <token>");
      response.headers.emplace_back("WWW-Authenticate", std::string(kInvalidTokenChallenge));
      return deny("malformed_authorization", "", std::move(response));
    }
    auto verified = verifier_->verify(*token);
    if (!verified) {
      return deny(jwt::verifyErrorName(verified.error()), "", invalid());
    }
    const jwt::Claims& claims = (*verified)->claims;
    if (!issuer_.empty() && claims.iss != issuer_) {
      return deny("foreign_issuer", "", invalid());
    }
    if (revocations_ && !revocations_->isCurrent()) {
      auto response =
          ApiResponse::error(503, "temporarily_unavailable", "authentication is unavailable");
      setRetryAfter(response, std::chrono::seconds(1));
      return deny("revocation_state_unknown", claims.sub, std::move(response));
    }
    if (backend_->sessions->isRevoked(accessTokenClaims(claims))) {
      return deny("revoked", claims.sub, invalid());
    }
    if (admin &&
        std::find(claims.roles.begin(), claims.roles.end(), admin_role_) == claims.roles.end()) {
      auto response = ApiResponse::error(403, "insufficient_scope", "a required role is missing");
      response.headers.emplace_back("WWW-Authenticate", std::string(kScopeChallenge));
      return deny("missing_role", claims.sub, std::move(response));
    }
    return std::move(*verified);
  }

  // Verifies a token presented for revocation or introspection (not as credentials): null when
  // it is not one of our valid, unrevoked access tokens.
  jwt::VerifiedTokenPtr verifyPresented(std::string_view token) const {
    auto verified = verifier_->verify(token);
    if (!verified || (!issuer_.empty() && (*verified)->claims.iss != issuer_)) {
      return nullptr;
    }
    return std::move(*verified);
  }

  ApiResponse jwks() const {
    return ApiResponse{200, "application/jwk-set+json", backend_->key_ring->keys()->jwks(), {}};
  }

  void registerUser(ApiRequest& request, ApiCompletion done) const {
    json::object body;
    ApiResponse refusal;
    std::string username;
    std::string password;
    const bool ok = readJsonBody(request, body, refusal) &&
                    stringMember(body, "username", true, username, refusal) &&
                    stringMember(body, "password", true, password, refusal);
    wipeMember(body, "password");
    wipe(request.body);
    if (!ok) {
      wipe(password);
      return done(std::move(refusal));
    }
    run(std::move(done), [username = std::move(username), password = Secret(std::move(password)),
                          context = contextOf(request)](const Backend& backend) {
      auto user = backend.accounts->registerUser(username, password.view(), context);
      if (!user) {
        return failureResponse(user.error());
      }
      return ApiResponse::json(201, "{\"id\":" + core::jsonString(user->id) + "}");
    });
  }

  void login(ApiRequest& request, ApiCompletion done) const {
    json::object body;
    ApiResponse refusal;
    std::string username;
    std::string password;
    const bool ok = readJsonBody(request, body, refusal) &&
                    stringMember(body, "username", true, username, refusal) &&
                    stringMember(body, "password", true, password, refusal);
    wipeMember(body, "password");
    wipe(request.body);
    if (!ok) {
      wipe(password);
      return done(std::move(refusal));
    }
    const RequestContext context = contextOf(request);
    // In memory and cheap: a locked-out account or address costs no argon2 run and no queue slot.
    if (const auto status = backend_->accounts->checkLockout(username, context); status.locked()) {
      wipe(password);
      const auto normal = store::normalizeUsername(username);
      audit::Event event;
      event.type = audit::EventType::kLoginFailed;
      event.severity = audit::Severity::kMedium;
      event.outcome = audit::Outcome::kDenied;
      event.target = normal ? *normal : "(invalid username)";
      event.details = {{"reason", "locked_out"},
                       {"scope", status.scope == LockoutScope::kAccount ? "account" : "address"},
                       {"retry_after_s", std::to_string(status.retry_after.count())}};
      return answerAfter(request, std::move(event),
                         failureResponse({AuthError::kLockedOut, status.retry_after}), done);
    }
    run(std::move(done), [username = std::move(username), password = Secret(std::move(password)),
                          context](const Backend& backend) {
      auto grant = backend.accounts->login(username, password.view(), context);
      if (!grant) {
        return failureResponse(grant.error());
      }
      return tokenResponse(*grant);
    });
  }

  void refresh(ApiRequest& request, ApiCompletion done) const {
    json::object body;
    ApiResponse refusal;
    std::string token;
    const bool ok = readJsonBody(request, body, refusal) &&
                    stringMember(body, "refresh_token", true, token, refusal);
    wipeMember(body, "refresh_token");
    wipe(request.body);
    if (!ok) {
      return done(std::move(refusal));
    }
    run(std::move(done),
        [token = Secret(std::move(token)), context = contextOf(request)](const Backend& backend) {
          auto grant = backend.sessions->refresh(token.view(), context);
          if (!grant) {
            return failureResponse(grant.error());
          }
          return tokenResponse(*grant);
        });
  }

  void logout(ApiRequest& request, const jwt::VerifiedToken& bearer, ApiCompletion done) const {
    json::object body;
    ApiResponse refusal;
    std::string token;
    const bool ok = readOptionalJsonBody(request, body, refusal) &&
                    stringMember(body, "refresh_token", false, token, refusal);
    wipeMember(body, "refresh_token");
    wipe(request.body);
    if (!ok) {
      return done(std::move(refusal));
    }
    run(std::move(done),
        [claims = accessTokenClaims(bearer.claims), token = Secret(std::move(token)),
         context = contextOf(request)](const Backend& backend) {
          auto outcome = backend.sessions->logout(claims, token.view(), context);
          return outcome ? noContent() : failureResponse(outcome.error());
        });
  }

  void logoutAll(ApiRequest& request, const jwt::VerifiedToken& bearer, ApiCompletion done) const {
    json::object body;
    ApiResponse refusal;
    if (!readOptionalJsonBody(request, body, refusal)) {
      return done(std::move(refusal));
    }
    run(std::move(done),
        [subject = bearer.claims.sub, context = contextOf(request)](const Backend& backend) {
          auto revoked = backend.sessions->logoutAll(subject, subject, "logout_all", context);
          return revoked ? noContent() : failureResponse(revoked.error());
        });
  }

  // RFC 7009: 200 whether or not the token was valid or known (§2.2); only a malformed request
  // or an unavailable store is an error.
  void revoke(ApiRequest& request, ApiCompletion done) const {
    ApiResponse refusal;
    auto presented = readTokenForm(request, refusal);
    if (!presented) {
      return done(std::move(refusal));
    }
    const Secret& secret = *presented;
    if (looksLikeJwt(secret.view())) {
      const auto verified = verifyPresented(secret.view());
      if (!verified) {
        return done(ApiResponse::json(200, "{}"));  // invalid or expired: nothing to revoke
      }
      return run(std::move(done), [claims = accessTokenClaims(verified->claims),
                                   context = contextOf(request)](const Backend& backend) {
        auto revoked = backend.sessions->revokeAccessToken(claims, context);
        return revoked ? ApiResponse::json(200, "{}") : failureResponse(revoked.error());
      });
    }
    run(std::move(done), [secret, context = contextOf(request)](const Backend& backend) {
      auto revoked = backend.sessions->revokeRefreshToken(secret.view(), context);
      return revoked ? ApiResponse::json(200, "{}") : failureResponse(revoked.error());
    });
  }

  // RFC 7662 for an administrator: access tokens from their verified claims (and the revocation
  // set), refresh tokens from the session store.
  void introspect(ApiRequest& request, ApiCompletion done) const {
    ApiResponse refusal;
    auto presented = readTokenForm(request, refusal);
    if (!presented) {
      return done(std::move(refusal));
    }
    const Secret& secret = *presented;
    if (looksLikeJwt(secret.view())) {
      const auto verified = verifyPresented(secret.view());
      if (!verified || backend_->sessions->isRevoked(accessTokenClaims(verified->claims))) {
        return done(inactive());
      }
      return done(accessIntrospection(verified->claims));
    }
    run(std::move(done), [secret](const Backend& backend) {
      auto found = backend.sessions->introspectRefreshToken(secret.view());
      if (!found) {
        return failureResponse(found.error());
      }
      if (!found->active) {
        return inactive();
      }
      json::object out;
      out["active"] = true;
      out["token_use"] = "refresh_token";
      out["sub"] = found->user_id;
      out["sid"] = found->session_id;
      out["iat"] = numericDate(found->issued_at);
      out["exp"] = numericDate(found->expires_at);
      auto response = ApiResponse::json(200, json::serialize(out));
      setNoStore(response);
      return response;
    });
  }

  static ApiResponse accessIntrospection(const jwt::Claims& claims) {
    json::object out;
    out["active"] = true;
    out["token_type"] = "Bearer";
    out["token_use"] = "access_token";
    out["iss"] = claims.iss;
    out["sub"] = claims.sub;
    if (claims.aud.size() == 1) {
      out["aud"] = claims.aud.front();
    } else {
      json::array aud;
      for (const auto& item : claims.aud) {
        aud.emplace_back(item);
      }
      out["aud"] = std::move(aud);
    }
    if (claims.exp) {
      out["exp"] = numericDate(*claims.exp);
    }
    if (claims.iat) {
      out["iat"] = numericDate(*claims.iat);
    }
    if (claims.nbf) {
      out["nbf"] = numericDate(*claims.nbf);
    }
    if (!claims.jti.empty()) {
      out["jti"] = claims.jti;
    }
    if (!claims.sid.empty()) {
      out["sid"] = claims.sid;
    }
    json::array roles;
    for (const auto& role : claims.roles) {
      roles.emplace_back(role);
    }
    out["roles"] = std::move(roles);
    auto response = ApiResponse::json(200, json::serialize(out));
    setNoStore(response);
    return response;
  }

  void setLocked(ApiRequest& request, const jwt::VerifiedToken& bearer, std::string user,
                 bool locked, ApiCompletion done) const {
    json::object body;
    ApiResponse refusal;
    if (!readOptionalJsonBody(request, body, refusal)) {
      return done(std::move(refusal));
    }
    run(std::move(done), [user = std::move(user), locked, actor = bearer.claims.sub,
                          context = contextOf(request)](const Backend& backend) {
      auto set = backend.accounts->setLocked(user, locked, actor, context);
      return set ? noContent() : failureResponse(set.error());
    });
  }

  void rotateKeys(ApiRequest& request, const jwt::VerifiedToken& bearer, ApiCompletion done) const {
    json::object body;
    ApiResponse refusal;
    if (!readOptionalJsonBody(request, body, refusal)) {
      return done(std::move(refusal));
    }
    run(std::move(done),
        [context = contextOf(request), actor = bearer.claims.sub](const Backend& backend) {
          auto kid = backend.key_ring->rotate();
          audit::Event event;
          event.type = audit::EventType::kConfigChange;
          event.severity = audit::Severity::kMedium;
          event.actor = actor;
          event.target = "signing_key";
          if (!kid) {
            // The reason names files and directories (never key material): for the operator only.
            core::log(core::LogLevel::kError, "signing key rotation failed",
                      {{"error", kid.error().message}});
            event.outcome = audit::Outcome::kError;
            event.details = {{"action", "key_rotate"}, {"reason", "rotate_failed"}};
            backend.record(context, std::move(event));
            return failureResponse({AuthError::kUnavailable, {}});
          }
          event.outcome = audit::Outcome::kSuccess;
          event.details = {{"action", "key_rotate"}, {"kid", *kid}};
          backend.record(context, std::move(event));
          return ApiResponse::json(200, "{\"kid\":" + core::jsonString(*kid) + "}");
        });
  }

  const std::shared_ptr<const Backend> backend_;
  const std::shared_ptr<WorkerPool> pool_;
  const std::shared_ptr<const jwt::Verifier> verifier_;
  const store::RevocationStorePtr revocations_;
  const std::string admin_role_;
  const std::string issuer_;
};

}  // namespace

http::ApiHandlerPtr makeHttpApi(HttpApiDeps deps) {
  if (!deps.accounts || !deps.sessions || !deps.pool || !deps.verifier || !deps.key_ring ||
      deps.clock == nullptr) {
    throw std::invalid_argument(
        "auth http api: accounts, sessions, pool, verifier, key_ring and clock are required");
  }
  if (deps.admin_role.empty()) {
    throw std::invalid_argument("auth http api: admin_role must not be empty");
  }
  return std::make_shared<HttpApi>(std::move(deps));
}

}  // namespace bulwark::auth

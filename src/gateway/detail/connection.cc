// One client connection: read a request head under the limits, answer the gateway's own
// endpoints, route, rate-limit, and proxy to the upstream with body and response streamed.
//
// Every message forwarded is re-framed by us (Content-Length or chunked that we encode), never
// passed through with the sender's framing, so a framing disagreement between us and the upstream
// (request smuggling) cannot arise. Deadlines are enforced by the worker's sweeper (see Tracked).

#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <array>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <optional>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/log.h"
#include "gateway/client_address.h"
#include "gateway/route_table.h"
#include "gateway/detail/buffer.h"
#include "gateway/detail/worker.h"

namespace bulwark::gateway::detail {
namespace {

using http::equalsIgnoreCase;

constexpr std::size_t kInitialBufferBytes = 16 * 1024;
constexpr std::size_t kBodyBufferBytes = 64 * 1024;

std::string_view reasonPhrase(unsigned status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

void appendNumber(std::string& out, std::uint64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

void appendHex(std::string& out, std::uint64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n, 16);
  out.append(digits, end);
}

// X-Bulwark-* fields carry what the gateway verified (subject, roles) to the upstream, which trusts
// them: a client's copies are always dropped, on every route.
bool isGatewayField(std::string_view name) {
  return name.size() > 10 && equalsIgnoreCase(name.substr(0, 10), "x-bulwark-");
}

// Fields the proxy sets itself or that describe the hop rather than the message.
bool isReplacedRequestField(std::string_view name) {
  switch (name.size()) {
    case 6: return equalsIgnoreCase(name, "expect");
    case 12: return equalsIgnoreCase(name, "x-request-id");
    case 14: return equalsIgnoreCase(name, "content-length");
    case 15: return equalsIgnoreCase(name, "x-forwarded-for");
    case 17: return equalsIgnoreCase(name, "x-forwarded-proto");
    default: return false;
  }
}

bool isReplacedResponseField(std::string_view name) {
  switch (name.size()) {
    case 12: return equalsIgnoreCase(name, "x-request-id");
    case 14: return equalsIgnoreCase(name, "content-length");
    default: return false;
  }
}

// Connection-header tokens that name other fields to drop (RFC 9110 §7.6.1), ignoring the
// common "close"/"keep-alive" which name no field.
bool namedByConnection(const std::vector<std::string_view>& connection_values,
                       std::string_view name) {
  for (auto value : connection_values) {
    if (http::connectionListHas(value, name)) return true;
  }
  return false;
}

template <class... B>
std::array<asio::const_buffer, sizeof...(B)> buffers(const B&... b) {
  return {asio::const_buffer(b)...};
}

// True when the serialised header block `fields` ("Name: value\r\n"…) has a field `name`
// (lowercase).
bool hasField(std::string_view fields, std::string_view name) {
  while (!fields.empty()) {
    const auto end = fields.find("\r\n");
    const auto line = fields.substr(0, end);
    const auto colon = line.find(':');
    if (colon == name.size() && equalsIgnoreCase(line.substr(0, colon), name)) return true;
    if (end == std::string_view::npos) break;
    fields.remove_prefix(end + 2);
  }
  return false;
}

template <class Stream>
BasicSocket& lowestLayer(Stream& stream) {
  return stream.lowest_layer();
}

template <class Stream>
class ClientSession {
 public:
  ClientSession(Worker& worker, Stream stream, std::string peer)
      : worker_(worker),
        shared_(worker.shared()),
        settings_(worker.settings()),
        stream_(std::move(stream)),
        peer_(std::move(peer)),
        in_(kInitialBufferBytes),
        upstream_in_(kInitialBufferBytes) {}

  Task<void> run() {
    worker_.track(tracked_);
    tracked_.client = &lowestLayer(stream_);
    struct Cleanup {
      ClientSession& session;
      ~Cleanup() {
        session.worker_.untrack(session.tracked_);
        boost::system::error_code ignored;
        lowestLayer(session.stream_).close(ignored);
        session.worker_.metrics().connections_open.add(-1);
        session.shared_.open_connections.fetch_sub(1, std::memory_order_relaxed);
      }
    } cleanup{*this};

    if constexpr (!std::is_same_v<Stream, Socket>) {
      tracked_.phase = Phase::kHead;
      tracked_.client_deadline = worker_.now() + settings_.header_timeout;
      auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, kAwait);
      if (ec) co_return;
    }
    while (co_await readHead()) {
      if (!co_await handleRequest()) break;
      if (shared_.draining.load(std::memory_order_relaxed)) break;
    }
    if constexpr (!std::is_same_v<Stream, Socket>) {
      if (!tracked_.client_timed_out) {
        tracked_.client_deadline = worker_.now() + settings_.idle_timeout;
        co_await stream_.async_shutdown(kAwait);
      }
    }
  }

 private:
  // ---- reading the request head --------------------------------------------------------------

  // Returns true with head_ parsed, false when the connection is to be closed.
  Task<bool> readHead() {
    const auto now = worker_.now();
    skip_parse_ = false;
    head_has_line_end_ = false;
    if (in_.empty()) {
      tracked_.phase = Phase::kIdle;
      tracked_.client_deadline =
          now + (requests_ == 0 ? settings_.header_timeout : settings_.idle_timeout);
    } else {
      tracked_.phase = Phase::kHead;
      tracked_.client_deadline = now + settings_.header_timeout;
    }
    for (;;) {
      if (!in_.empty() && !skip_parse_) {
        const auto result = http::parseRequestHead(in_.view(), shared_.request_limits, head_);
        if (result.status == http::ParseStatus::kComplete) co_return true;
        if (result.status == http::ParseStatus::kError) {
          co_await reject(result.error);
          co_return false;
        }
      }
      if (in_.writable() == 0) in_.reserve(settings_.max_header_bytes + 1);
      if (in_.writable() == 0) {
        // The parser refuses heads over the limit before the buffer fills; reaching this
        // means the limit is larger than the buffer can hold. Refuse rather than loop.
        co_await reject(http::ParseError::kHeadTooLarge);
        co_return false;
      }
      auto [ec, n] = co_await stream_.async_read_some(
          asio::buffer(in_.writePtr(), in_.writable()), kAwait);
      if (ec || n == 0) {
        if (tracked_.client_timed_out && tracked_.phase == Phase::kHead) {
          auditAbandoned("header_timeout");
        }
        co_return false;
      }
      in_.commit(n);
      // A head can only complete, or newly break a rule, on a line end or when it crosses a
      // size limit; re-parsing on every read of a byte-by-byte drip would cost quadratic CPU.
      const bool line_end = std::memchr(in_.writePtr() - n, '\n', n) != nullptr;
      head_has_line_end_ = head_has_line_end_ || line_end;
      const std::size_t limit =
          head_has_line_end_ ? settings_.max_header_bytes : settings_.max_request_line;
      skip_parse_ = !line_end && in_.size() <= limit;
      if (tracked_.phase == Phase::kIdle) {
        tracked_.phase = Phase::kHead;
        tracked_.client_deadline = worker_.now() + settings_.header_timeout;
      }
    }
  }

  // ---- one request ---------------------------------------------------------------------------

  Task<bool> handleRequest() {
    started_ = worker_.now();
    ++requests_;
    decision_ = {};
    tracked_.phase = Phase::kBody;
    tracked_.client_deadline = started_ + settings_.request_timeout;
    route_index_ = WorkerMetrics::kNoRoute;
    body_pending_ = head_.framing != http::BodyFraming::kNone;
    client_minor_ = head_.version_minor;
    keep_alive_ = head_.keep_alive && !shared_.draining.load(std::memory_order_relaxed);
    method_.assign(head_.method);
    path_.assign(head_.target.substr(0, head_.target.find('?')));
    // The head's views stay valid until the next read into in_, which only the body forwarding
    // does, after the upstream head has been built.
    in_.consume(head_.head_bytes);

    std::string_view incoming_id;
    forwarded_for_.clear();
    connection_values_.clear();
    for (const auto& field : head_.fields) {
      if (field.name.size() == 12 && equalsIgnoreCase(field.name, "x-request-id")) {
        incoming_id = field.value;
      } else if (field.name.size() == 15 && equalsIgnoreCase(field.name, "x-forwarded-for")) {
        forwarded_for_.push_back(field.value);
      } else if (field.name.size() == 10 && equalsIgnoreCase(field.name, "connection")) {
        connection_values_.push_back(field.value);
      }
    }
    if (isAcceptableRequestId(incoming_id)) {
      request_id_.assign(incoming_id);
    } else {
      worker_.requestIds().next(request_id_);
    }
    peer_trusted_ = !settings_.trusted_proxies.empty() && isTrustedPeer();
    client_address_ = peer_trusted_ ? resolveClientAddress(peer_, forwarded_for_,
                                                           settings_.trusted_proxies)
                                    : peer_;

    const std::string_view path = head_.target.substr(0, head_.target.find('?'));
    if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
      co_return co_await serveInternal(path);
    }
    if (shared_.blocked_addresses && shared_.blocked_addresses->isBlocked(client_address_)) {
      decide(audit::EventType::kAccessDenied, audit::Severity::kMedium, audit::Outcome::kBlocked,
             "address_blocked");
      co_return co_await respondError(403, "access_denied",
                                      "this client address is temporarily blocked");
    }

    for (const auto& mount : shared_.api_mounts) {
      if (pathHasPrefix(mount.prefix, path)) co_return co_await serveApi(mount);
    }

    const auto match = shared_.routes->match(head_.method, head_.target);
    if (match.status == MatchStatus::kNoRoute) {
      co_return co_await respondError(404, "not_found", "no route for this path");
    }
    if (match.status == MatchStatus::kMethodNotAllowed) {
      std::string allow = "Allow: ";
      for (const auto& method : match.route->config.methods) {
        if (allow.size() > 7) allow += ", ";
        allow += method;
      }
      allow += "\r\n";
      co_return co_await respondError(405, "method_not_allowed",
                                      "method not allowed on this route", allow);
    }
    const Route& route = *match.route;
    route_index_ = route.index;

    if (route.config.rate_limit) {
      rate_key_.assign(route.config.name);
      rate_key_.push_back('\x1f');
      rate_key_.append(client_address_);
      // The embedded store answers inline (no allocation, no hop); a remote one must not block
      // this I/O thread, so the decision is awaited and resumes here.
      store::RateDecision decision;
      if (shared_.rate_limits->isRemote()) {
        decision = co_await consumeRemote(*route.config.rate_limit);
      } else {
        decision = shared_.rate_limits->consume(rate_key_, *route.config.rate_limit);
      }
      if (decision.unavailable) {
        // Fail closed (DESIGN decision 9): without a decision the limit cannot be vouched for.
        auditRateLimitUnavailable();
        co_return co_await respondError(503, "temporarily_unavailable",
                                        "rate limiting is unavailable; retry later",
                                        "Retry-After: 1\r\n");
      }
      if (!decision.allowed) {
        worker_.metrics().route(route.index).rate_limited.add();
        const auto seconds = (decision.retry_after.count() + 999) / 1000;
        auditRateLimited(route);
        std::string retry = "Retry-After: ";
        appendNumber(retry, static_cast<std::uint64_t>(std::max<std::int64_t>(1, seconds)));
        retry += "\r\n";
        co_return co_await respondError(429, "rate_limited",
                                        "too many requests; retry after the indicated delay",
                                        retry);
      }
    }
    principal_.reset();
    if (route.config.auth == core::AuthMode::kRequired) {
      if (auto refused = authorize(route)) {
        co_return co_await respondError(refused->status, refused->code, refused->description,
                                        refused->headers);
      }
    }
    co_return co_await proxy(route);
  }

  // ---- bearer tokens on protected routes -----------------------------------------------------

  struct Refusal {
    unsigned status;
    std::string_view code;
    std::string_view description;
    std::string_view headers;
  };

  // Decides a protected route: nullopt when the request may pass (principal_ is then set),
  // otherwise the answer. Every decision is an ACCESS_GRANTED or ACCESS_DENIED event.
  std::optional<Refusal> authorize(const Route& route) {
    static constexpr std::string_view kChallenge =
        "WWW-Authenticate: Bearer realm=\"bulwark\"\r\n";
    static constexpr std::string_view kInvalid =
        "WWW-Authenticate: Bearer realm=\"bulwark\", error=\"invalid_token\"\r\n";
    static constexpr std::string_view kScope =
        "WWW-Authenticate: Bearer realm=\"bulwark\", error=\"insufficient_scope\"\r\n";
    std::string_view authorization;
    int authorization_fields = 0;
    for (const auto& field : head_.fields) {
      if (field.name.size() == 13 && equalsIgnoreCase(field.name, "authorization")) {
        authorization = field.value;
        ++authorization_fields;
      }
    }
    if (authorization_fields == 0) {
      auditAccess(route, false, "missing_token");
      return Refusal{401, "invalid_request", "a bearer token is required", kChallenge};
    }
    if (authorization_fields > 1 || authorization.size() < 7 ||
        !equalsIgnoreCase(authorization.substr(0, 7), "bearer ")) {
      auditAccess(route, false, "malformed_authorization");
      return Refusal{401, "invalid_token", "expected Authorization: Bearer <token>", kInvalid};
    }
    std::string_view token = authorization.substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    if (!shared_.authenticator) {
      auditUnavailable("authenticator_unavailable");
      return Refusal{503, "temporarily_unavailable", "authentication is unavailable", {}};
    }
    auto outcome = shared_.authenticator->authenticate(token);
    if (outcome.status == auth::AuthStatus::kUnavailable) {
      auditUnavailable(outcome.reason.empty() ? "unavailable" : outcome.reason);
      return Refusal{503, "temporarily_unavailable", "authentication is unavailable", {}};
    }
    if (outcome.status == auth::AuthStatus::kAuthenticated &&
        !headerSafe(outcome.principal)) {
      outcome.status = auth::AuthStatus::kInvalidToken;
      outcome.reason = "unsafe_claim_value";
    }
    if (outcome.status != auth::AuthStatus::kAuthenticated) {
      auditAccess(route, false, outcome.reason.empty() ? "invalid_token" : outcome.reason);
      return Refusal{401, "invalid_token", "the access token is invalid", kInvalid};
    }
    principal_ = std::move(outcome.principal);
    const auto& needed = route.config.roles;
    if (!needed.empty()) {
      bool allowed = false;
      for (const auto& role : principal_->roles) {
        if (std::find(needed.begin(), needed.end(), role) != needed.end()) {
          allowed = true;
          break;
        }
      }
      if (!allowed) {
        auditAccess(route, false, "missing_role");
        principal_.reset();
        return Refusal{403, "insufficient_scope", "a required role is missing", kScope};
      }
    }
    auditAccess(route, true, {});
    return std::nullopt;
  }

  // Claims become header values for the upstream: no control characters, and no commas in roles
  // (they are joined with commas).
  static bool headerSafe(const auth::Principal& principal) {
    auto safe = [](std::string_view value, bool allow_comma) {
      for (unsigned char c : value) {
        if (c < 0x20 || c == 0x7f || (!allow_comma && c == ',')) return false;
      }
      return true;
    };
    if (principal.subject.empty() || !safe(principal.subject, true) ||
        !safe(principal.session_id, true) || !safe(principal.issuer, true)) {
      return false;
    }
    for (const auto& role : principal.roles) {
      if (!safe(role, false)) return false;
    }
    return true;
  }

  // ---- the gateway's JSON endpoints ----------------------------------------------------------

  Task<bool> serveApi(const http::ApiMount& mount) {
    http::ApiRequest request;
    request.method = method_;
    const auto query_at = head_.target.find('?');
    request.path = std::string(head_.target.substr(0, query_at));
    if (query_at != std::string_view::npos) {
      request.query = std::string(head_.target.substr(query_at + 1));
    }
    for (const auto& field : head_.fields) {
      if (field.name.size() == 13 && equalsIgnoreCase(field.name, "authorization")) {
        request.authorization = std::string(field.value);
      } else if (field.name.size() == 12 && equalsIgnoreCase(field.name, "content-type")) {
        request.content_type = std::string(field.value);
      }
    }
    request.client_address = client_address_;
    request.request_id = request_id_;
    if (head_.framing == http::BodyFraming::kContentLength &&
        head_.content_length > mount.max_body_bytes) {
      co_return co_await respondError(413, "invalid_request", "request body too large");
    }
    if (body_pending_) {
      const auto read = co_await readWholeBody(request.body, head_.framing, head_.content_length,
                                               mount.max_body_bytes);
      if (read == BodyRead::kClientGone) co_return false;
      if (read == BodyRead::kAnswered) co_return false;
    }
    const auto response = co_await callApi(*mount.handler, std::move(request));
    std::string extra;
    for (const auto& [name, value] : response.headers) {
      const bool unsafe = name.empty() || name.find_first_of(" :\r\n") != std::string::npos ||
                          value.find_first_of("\r\n") != std::string::npos;
      if (unsafe) continue;
      extra += name;
      extra += ": ";
      extra += value;
      extra += "\r\n";
    }
    co_return co_await respond(response.status, response.content_type, response.body, extra);
  }

  // Asks a remote rate-limit store for rate_key_'s decision and resumes on this worker's thread
  // (the store answers on its own).
  Task<store::RateDecision> consumeRemote(const core::RateLimit& limit) {
    using Token = asio::use_awaitable_t<Executor>;
    Token token;
    auto executor = worker_.executor();
    // A raw pointer: the store lives as long as the server. (Copying the shared_ptr into the
    // initiation lambda was destroyed twice by GCC 12's coroutine lowering.)
    store::RateLimitStore* store = shared_.rate_limits.get();
    const auto decision = co_await asio::async_initiate<Token, void(store::RateDecision)>(
        [store, executor, &limit, this](auto completion) {
          auto shared = std::make_shared<decltype(completion)>(std::move(completion));
          store->consumeAsync(rate_key_, limit, [shared, executor](store::RateDecision decision) {
            asio::post(executor, [shared, decision]() mutable { (*shared)(decision); });
          });
        },
        token);
    co_return decision;
  }

  // Runs the handler and resumes on this worker's thread whichever thread it answers from.
  Task<http::ApiResponse> callApi(http::ApiHandler& handler, http::ApiRequest request) {
    using Token = asio::use_awaitable_t<Executor>;
    Token token;
    auto executor = worker_.executor();
    co_return co_await asio::async_initiate<Token, void(http::ApiResponse)>(
        [&handler, executor](auto completion, http::ApiRequest moved) {
          auto shared = std::make_shared<decltype(completion)>(std::move(completion));
          handler.handle(std::move(moved), [shared, executor](http::ApiResponse response) {
            asio::post(executor, [shared, response = std::move(response)]() mutable {
              (*shared)(std::move(response));
            });
          });
        },
        token, std::move(request));
  }

  enum class BodyRead { kOk, kClientGone, kAnswered };

  // Reads a whole (small) request body into `out`, refusing more than `limit` bytes with 413.
  Task<BodyRead> readWholeBody(std::string& out, http::BodyFraming framing,
                               std::uint64_t content_length, std::size_t limit) {
    if (framing == http::BodyFraming::kContentLength) {
      while (in_.size() < content_length) {
        if (in_.writable() == 0) in_.reserve(kBodyBufferBytes);
        auto [ec, n] = co_await stream_.async_read_some(
            asio::buffer(in_.writePtr(), in_.writable()), kAwait);
        if (ec || n == 0) co_return BodyRead::kClientGone;
        in_.commit(n);
      }
      out.assign(in_.view().substr(0, static_cast<std::size_t>(content_length)));
      in_.consume(static_cast<std::size_t>(content_length));
      body_pending_ = false;
      co_return BodyRead::kOk;
    }
    http::ChunkedDecoder decoder(limit);
    for (;;) {
      while (!in_.empty()) {
        const auto step = decoder.decode(in_.view());
        if (step.error != http::ParseError::kNone) {
          co_await reject(step.error);
          co_return BodyRead::kAnswered;
        }
        out.append(step.data);
        in_.consume(step.consumed);
        if (step.done) {
          body_pending_ = false;
          co_return BodyRead::kOk;
        }
        if (step.consumed == 0 && step.data.empty()) break;
      }
      if (in_.writable() == 0) in_.reserve(kBodyBufferBytes);
      auto [ec, n] = co_await stream_.async_read_some(
          asio::buffer(in_.writePtr(), in_.writable()), kAwait);
      if (ec || n == 0) co_return BodyRead::kClientGone;
      in_.commit(n);
    }
  }

  // ---- the gateway's own endpoints -----------------------------------------------------------

  Task<bool> serveInternal(std::string_view path) {
    if (head_.method != "GET" && head_.method != "HEAD") {
      co_return co_await respondError(405, "method_not_allowed", "use GET", "Allow: GET, HEAD\r\n");
    }
    unsigned status = 200;
    std::string body;
    std::string_view content_type = "application/json";
    if (path == "/healthz") {
      body = R"({"status":"ok"})";
    } else if (path == "/readyz") {
      bool ready = !shared_.draining.load(std::memory_order_relaxed);
      std::string components = R"("listener":{"status":)";
      components += ready ? R"("ok"})" : R"("draining"})";
      components += R"(,"rate_limits":{"status":"ok","buckets":)";
      appendNumber(components, shared_.rate_limits->size());
      components += R"(},"upstreams":{)";
      const auto& upstreams = shared_.routes->upstreams();
      for (std::size_t u = 0; u < upstreams.size(); ++u) {
        if (u > 0) components += ',';
        core::appendJsonString(components, upstreams[u].authority());
        components += ':';
        components += shared_.upstream_up[u].load(std::memory_order_relaxed) != 0
                          ? R"({"status":"ok"})"
                          : R"({"status":"unreachable"})";
      }
      components += '}';
      for (const auto& component : shared_.readiness) {
        const auto state = component.check();
        ready = ready && state.ready;
        components += ',';
        core::appendJsonString(components, component.name);
        components += ':';
        components += state.json;
      }
      const bool draining = shared_.draining.load(std::memory_order_relaxed);
      status = ready ? 200 : 503;
      body = ready ? R"({"status":"ready","components":{)"
                   : draining ? R"({"status":"draining","components":{)"
                              : R"({"status":"not_ready","components":{)";
      body += components;
      body += "}}";
    } else {
      body = shared_.metrics->render();
      content_type = "text/plain; version=0.0.4; charset=utf-8";
    }
    co_return co_await respond(status, content_type, body, {});
  }

  // ---- answers made by the gateway -----------------------------------------------------------

  Task<bool> respondError(unsigned status, std::string_view code, std::string_view description,
                          std::string_view extra_headers = {}) {
    co_return co_await respond(status, "application/json", core::jsonError(code, description),
                               extra_headers);
  }

  // Writes a complete response. Returns whether the connection may carry another request.
  Task<bool> respond(unsigned status, std::string_view content_type, std::string_view body,
                     std::string_view extra_headers) {
    // An unread request body would be parsed as the next request: close instead.
    if (body_pending_) keep_alive_ = false;
    std::string fallback;
    bool audited = true;
    if (const auto seq = auditRequest(status)) audited = co_await awaitDurable(*seq);
    if (!audited) {
      // Sync durability and the trail cannot take the event: answer nothing it would not show.
      status = 503;
      fallback = core::jsonError("temporarily_unavailable", "the audit trail is unavailable");
      content_type = "application/json";
      body = fallback;
      extra_headers = {};
      keep_alive_ = false;
    }
    out_.clear();
    out_ += "HTTP/1.1 ";
    appendNumber(out_, status);
    out_ += ' ';
    out_ += reasonPhrase(status);
    out_ += "\r\n";
    const bool no_content = status == 204 || status == 304;  // RFC 9110 §8.6: no length
    if (no_content) {
      body = {};
    } else {
      out_ += "Content-Type: ";
      out_ += content_type;
      out_ += "\r\nContent-Length: ";
      appendNumber(out_, body.size());
      out_ += "\r\n";
    }
    // Answers made here are not cacheable unless their maker says otherwise (JWKS may be).
    if (!hasField(extra_headers, "cache-control")) out_ += "Cache-Control: no-store\r\n";
    if (!request_id_.empty()) {
      out_ += "X-Request-Id: ";
      out_ += request_id_;
      out_ += "\r\n";
    }
    out_ += extra_headers;
    appendConnectionHeader();
    out_ += "\r\n";
    const bool head_only = method_ == "HEAD";
    std::array<asio::const_buffer, 2> message{
        asio::buffer(out_), asio::buffer(body.data(), head_only ? 0 : body.size())};
    tracked_.phase = Phase::kResponse;
    tracked_.client_deadline = worker_.now() + settings_.idle_timeout;
    auto [ec, n] = co_await asio::async_write(stream_, message, kAwait);
    finishRequest(status);
    co_return !ec && keep_alive_;
  }

  // The 503 sent when sync durability fails after the request event was attempted.
  Task<void> respondUnaudited() {
    const std::string body =
        core::jsonError("temporarily_unavailable", "the audit trail is unavailable");
    out_.clear();
    out_ += "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            "Content-Length: ";
    appendNumber(out_, body.size());
    out_ += "\r\nConnection: close\r\n\r\n";
    out_ += body;
    co_await asio::async_write(stream_, asio::buffer(out_), kAwait);
    finishRequest(503);
  }

  void appendConnectionHeader() {
    // A drain that began while this request was in flight ends the connection after it.
    if (shared_.draining.load(std::memory_order_relaxed)) keep_alive_ = false;
    if (!keep_alive_) {
      out_ += "Connection: close\r\n";
    } else if (client_minor_ == 0) {
      out_ += "Connection: keep-alive\r\n";
    }
  }

  void finishRequest(unsigned status) {
    worker_.metrics().countRequest(route_index_, status, worker_.now() - started_);
  }

  // Appends this request's one REQUEST event (status known, response not yet sent). Returns the
  // event's sequence number when the answer must wait until it — and so every earlier event of
  // this request, the chain being ordered — is durable (sync durability mode: co_await
  // awaitDurable, which is false when it cannot become durable); nullopt when the answer may go
  // out at once. A plain function, not a coroutine: in async mode, the default, every request
  // passes here, and a coroutine frame per request is a cost with nothing to wait for.
  std::optional<std::uint64_t> auditRequest(unsigned status) {
    if (decision_.type == audit::EventType::kRequest &&
        settings_.audit_requests == core::AuditRequests::kDecisions) {
      return std::nullopt;  // nothing remarkable, and the deployment only keeps decisions
    }
    audit::Event event;
    event.type = decision_.type;
    event.severity = decision_.severity;
    event.outcome = decision_.outcome ? *decision_.outcome
                    : status >= 500   ? audit::Outcome::kError
                    : status >= 400   ? audit::Outcome::kFailure
                                      : audit::Outcome::kSuccess;
    event.time = shared_.clock->systemTime();
    if (principal_) event.actor = principal_->subject;
    event.client_address = client_address_.empty() ? peer_ : client_address_;
    event.request_id = request_id_;
    if (route_index_ != WorkerMetrics::kNoRoute) {
      event.target = shared_.routes->routes()[route_index_].config.name;
    }
    event.details.reserve(5);
    event.details.emplace_back("method", method_);
    event.details.emplace_back("path", path_);
    event.details.emplace_back("status", std::to_string(status));
    event.details.emplace_back(
        "duration_us",
        std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                           worker_.now() - started_)
                           .count()));
    if (!decision_.reason.empty()) event.details.emplace_back("reason", decision_.reason);
    decision_ = {};
    const auto seq = shared_.audit->append(std::move(event));
    if (!shared_.audit->syncDurability()) return std::nullopt;
    return seq;
  }

  Task<bool> awaitDurable(std::uint64_t seq) {
    auto token = asio::as_tuple(asio::use_awaitable_t<Executor>{});
    auto executor = worker_.executor();
    // A raw pointer, not a shared_ptr copy: GCC 12 destroys the initiation lambda (a temporary
    // inside the co_await) twice, and a captured shared_ptr then releases one reference too
    // many (valgrind: the sink freed while its owner still held it). shared_.audit outlives
    // every connection, and the lambda uses the sink only while async_initiate runs.
    audit::Sink* sink = shared_.audit.get();
    auto [ec] = co_await asio::async_initiate<decltype(token), void(boost::system::error_code)>(
        [sink, seq, executor](auto completion) {
          auto shared = std::make_shared<decltype(completion)>(std::move(completion));
          sink->whenDurable(seq, [shared, executor](boost::system::error_code result) {
            asio::post(executor, [shared, result]() mutable { (*shared)(result); });
          });
        },
        token);
    co_return !ec;
  }

  // Answers a malformed request and records why. The connection closes after it.
  Task<void> reject(http::ParseError error) {
    const unsigned status = http::statusFor(error);
    const auto code = http::errorCode(error);
    worker_.metrics().rejected_by_reason[static_cast<std::size_t>(error) % 32].add();
    decision_ = {};
    auditRejected(code);
    started_ = worker_.now();
    route_index_ = WorkerMetrics::kNoRoute;
    keep_alive_ = false;
    body_pending_ = false;
    request_id_.clear();
    worker_.requestIds().next(request_id_);
    method_.clear();
    path_.clear();
    client_minor_ = 1;
    co_await respondError(status, "invalid_request", code);
  }

  // ---- proxying ------------------------------------------------------------------------------

  // Counts an upstream connection in the in_use gauge until released or destroyed.
  class UpstreamInUse {
   public:
    explicit UpstreamInUse(Gauge& gauge) : gauge_(&gauge) { gauge_->add(1); }
    ~UpstreamInUse() { release(); }
    UpstreamInUse(const UpstreamInUse&) = delete;
    UpstreamInUse& operator=(const UpstreamInUse&) = delete;
    void release() {
      if (gauge_ != nullptr) gauge_->add(-1);
      gauge_ = nullptr;
    }

   private:
    Gauge* gauge_;
  };

  Task<bool> proxy(const Route& route) {
    const std::size_t upstream_index = route.upstream;
    buildUpstreamHead(route);
    const http::BodyFraming framing = head_.framing;
    const std::uint64_t content_length = head_.content_length;
    const bool expect_continue = head_.expect_continue;
    // From here on head_'s views may be overwritten by body bytes read into in_.

    const auto& endpoints = shared_.upstream_endpoints[upstream_index];
    if (endpoints.empty()) {
      co_return co_await upstreamFailed(502, "upstream address does not resolve");
    }
    auto& upstream_metrics = worker_.metrics().upstream(upstream_index);

    bool retried = false;  // one retry, only for a bodiless request on a stale pooled connection
    for (;;) {
      std::optional<Socket> pooled = worker_.takePooled(upstream_index);
      const bool reused = pooled.has_value();
      if (reused && framing != http::BodyFraming::kNone && isClosedByPeer(*pooled)) {
        // A body cannot be replayed once sent: test pooled connections before using them.
        continue;
      }
      Socket upstream = reused ? std::move(*pooled) : Socket(worker_.executor());
      UpstreamInUse in_use(upstream_metrics.in_use);

      if (reused) {
        upstream_metrics.reused.add();
      } else {
        const auto connected = co_await connect(upstream, endpoints, upstream_index);
        if (!connected) {
          co_return co_await upstreamFailed(
              tracked_.upstream_timed_out ? 504 : 502,
              tracked_.upstream_timed_out ? "upstream connect timed out"
                                          : "upstream refused the connection");
        }
      }

      const SendResult sent = co_await sendRequest(upstream, framing, content_length,
                                                   expect_continue);
      if (sent == SendResult::kClientGone) co_return false;
      if (sent == SendResult::kClientError) co_return false;  // answered already
      if (sent == SendResult::kUpstreamError) {
        if (reused && !retried && framing == http::BodyFraming::kNone) {
          upstream_metrics.retries.add();
          retried = true;
          continue;
        }
        co_return co_await upstreamFailed(tracked_.upstream_timed_out ? 504 : 502,
                                          "upstream failed while receiving the request");
      }

      const ReadResult got = co_await readResponseHead(upstream);
      if (got == ReadResult::kEmpty && reused && !retried &&
          framing == http::BodyFraming::kNone) {
        // The pooled connection was closed by the upstream as we reused it: retry once.
        upstream_metrics.retries.add();
        retried = true;
        continue;
      }
      if (got != ReadResult::kOk) {
        if (tracked_.upstream_timed_out) {
          upstream_metrics.timeouts.add();
          co_return co_await upstreamFailed(504, "upstream did not answer in time");
        }
        co_return co_await upstreamFailed(
            502, got == ReadResult::kMalformed ? "upstream sent an invalid response"
                                               : "upstream closed the connection");
      }
      co_await forwardResponse(upstream, upstream_index, in_use);
      co_return keep_alive_ && !client_failed_;
    }
  }

  static bool isClosedByPeer(Socket& socket) {
    char byte;
    const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    // 0: orderly close; >0: unsolicited bytes, so the connection is out of step; both unusable.
    return n >= 0;
  }

  Task<bool> connect(Socket& upstream, const std::vector<asio::ip::tcp::endpoint>& endpoints,
                     std::size_t upstream_index) {
    auto& counters = worker_.metrics().upstream(upstream_index);
    armUpstream(upstream, settings_.upstream_connect_timeout);
    boost::system::error_code ec = asio::error::host_not_found;
    for (const auto& endpoint : endpoints) {
      boost::system::error_code ignored;
      upstream.close(ignored);
      std::tie(ec) = co_await upstream.async_connect(endpoint, kAwait);
      if (!ec || tracked_.upstream_timed_out) break;
    }
    disarmUpstream();
    auto& up = shared_.upstream_up[upstream_index];
    const int now_up = ec ? 0 : 1;
    if (up.load(std::memory_order_relaxed) != now_up) up.store(now_up, std::memory_order_relaxed);
    if (ec) {
      counters.connect_failures.add();
      co_return false;
    }
    counters.connects.add();
    boost::system::error_code ignored;
    upstream.set_option(asio::ip::tcp::no_delay(true), ignored);
    co_return true;
  }

  void armUpstream(Socket& upstream, std::chrono::milliseconds timeout) {
    tracked_.upstream_timed_out = false;
    tracked_.upstream = &upstream;
    tracked_.upstream_deadline = worker_.now() + timeout;
  }
  void disarmUpstream() {
    tracked_.upstream = nullptr;
    tracked_.upstream_deadline = SteadyTime::max();
  }

  Task<bool> upstreamFailed(unsigned status, std::string_view description) {
    co_return co_await respondError(status, status == 504 ? "upstream_timeout" : "bad_gateway",
                                    description);
  }

  void buildUpstreamHead(const Route& route) {
    out_.clear();
    out_ += head_.method;
    out_ += ' ';
    out_ += head_.target;
    out_ += " HTTP/1.1\r\n";
    bool has_host = false;
    for (const auto& field : head_.fields) {
      if (http::isHopByHop(field.name) || isReplacedRequestField(field.name) ||
          isGatewayField(field.name)) {
        continue;
      }
      if (!connection_values_.empty() && namedByConnection(connection_values_, field.name)) {
        continue;
      }
      if (field.name.size() == 4 && equalsIgnoreCase(field.name, "host")) has_host = true;
      out_ += field.name;
      out_ += ": ";
      out_ += field.value;
      out_ += "\r\n";
    }
    if (!has_host) {
      out_ += "Host: ";
      out_ += route.config.upstream.authority();
      out_ += "\r\n";
    }
    // Only a trusted proxy's list is kept; otherwise the client may have forged it.
    out_ += "X-Forwarded-For: ";
    if (peer_trusted_) {
      for (auto value : forwarded_for_) {
        out_ += value;
        out_ += ", ";
      }
    }
    out_ += peer_;
    if (principal_) {
      out_ += "\r\nX-Bulwark-Subject: ";
      out_ += principal_->subject;
      out_ += "\r\nX-Bulwark-Roles: ";
      for (std::size_t i = 0; i < principal_->roles.size(); ++i) {
        if (i > 0) out_ += ',';
        out_ += principal_->roles[i];
      }
      if (!principal_->session_id.empty()) {
        out_ += "\r\nX-Bulwark-Session: ";
        out_ += principal_->session_id;
      }
      // Who vouches for the subject: ours or an external provider's, whose ids are its own.
      if (!principal_->issuer.empty()) {
        out_ += "\r\nX-Bulwark-Issuer: ";
        out_ += principal_->issuer;
      }
    }
    out_ += shared_.tls ? "\r\nX-Forwarded-Proto: https\r\nX-Request-Id: "
                        : "\r\nX-Forwarded-Proto: http\r\nX-Request-Id: ";
    out_ += request_id_;
    out_ += "\r\n";
    if (head_.framing == http::BodyFraming::kContentLength) {
      out_ += "Content-Length: ";
      appendNumber(out_, head_.content_length);
      out_ += "\r\n";
    } else if (head_.framing == http::BodyFraming::kChunked) {
      out_ += "Transfer-Encoding: chunked\r\n";
    }
    out_ += "\r\n";
  }

  bool isTrustedPeer() const {
    std::vector<std::uint8_t> ip;
    if (!core::parseIp(peer_, ip)) return false;
    for (const auto& cidr : settings_.trusted_proxies) {
      if (cidr.contains(ip)) return true;
    }
    return false;
  }

  enum class SendResult { kOk, kUpstreamError, kClientGone, kClientError };

  Task<SendResult> sendRequest(Socket& upstream, http::BodyFraming framing,
                               std::uint64_t content_length, bool expect_continue) {
    if (expect_continue && body_pending_ && in_.empty()) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(kContinue), kAwait);
      if (ec) co_return SendResult::kClientGone;
    }
    if (framing == http::BodyFraming::kContentLength) {
      co_return co_await sendFixedBody(upstream, content_length);
    }
    if (framing == http::BodyFraming::kChunked) {
      co_return co_await sendChunkedBody(upstream);
    }
    armUpstream(upstream, settings_.upstream_timeout);
    auto [ec, n] = co_await asio::async_write(upstream, asio::buffer(out_), kAwait);
    disarmUpstream();
    co_return ec ? SendResult::kUpstreamError : SendResult::kOk;
  }

  Task<SendResult> sendFixedBody(Socket& upstream, std::uint64_t remaining) {
    // The head and whatever body bytes came with it leave in one write.
    std::size_t part = static_cast<std::size_t>(std::min<std::uint64_t>(in_.size(), remaining));
    std::array<asio::const_buffer, 2> first{asio::buffer(out_),
                                            asio::buffer(in_.view().data(), part)};
    armUpstream(upstream, settings_.upstream_timeout);
    auto [ec, n] = co_await asio::async_write(upstream, first, kAwait);
    disarmUpstream();
    if (ec) co_return SendResult::kUpstreamError;
    in_.consume(part);
    remaining -= part;
    if (remaining > 0) in_.reserve(kBodyBufferBytes);
    while (remaining > 0) {
      auto [read_ec, got] = co_await stream_.async_read_some(
          asio::buffer(in_.writePtr(), in_.writable()), kAwait);
      if (read_ec || got == 0) co_return SendResult::kClientGone;
      in_.commit(got);
      part = static_cast<std::size_t>(std::min<std::uint64_t>(in_.size(), remaining));
      armUpstream(upstream, settings_.upstream_timeout);
      auto [write_ec, written] =
          co_await asio::async_write(upstream, asio::buffer(in_.view().data(), part), kAwait);
      disarmUpstream();
      if (write_ec) co_return SendResult::kUpstreamError;
      in_.consume(part);
      remaining -= part;
    }
    body_pending_ = false;
    co_return SendResult::kOk;
  }

  Task<SendResult> sendChunkedBody(Socket& upstream) {
    armUpstream(upstream, settings_.upstream_timeout);
    auto [ec, n] = co_await asio::async_write(upstream, asio::buffer(out_), kAwait);
    disarmUpstream();
    if (ec) co_return SendResult::kUpstreamError;
    http::ChunkedDecoder decoder(settings_.max_body_bytes);
    in_.reserve(kBodyBufferBytes);
    for (;;) {
      while (!in_.empty()) {
        const auto step = decoder.decode(in_.view());
        if (step.error != http::ParseError::kNone) {
          // The upstream got a partial body; that connection is dropped by the caller's
          // scope. The client gets the reason and the connection closes.
          co_await reject(step.error);
          co_return SendResult::kClientError;
        }
        if (!step.data.empty()) {
          chunk_prefix_.clear();
          appendHex(chunk_prefix_, step.data.size());
          chunk_prefix_ += "\r\n";
          std::array<asio::const_buffer, 3> chunk{asio::buffer(chunk_prefix_),
                                                  asio::buffer(step.data), asio::buffer("\r\n", 2)};
          armUpstream(upstream, settings_.upstream_timeout);
          auto [write_ec, written] = co_await asio::async_write(upstream, chunk, kAwait);
          disarmUpstream();
          if (write_ec) co_return SendResult::kUpstreamError;
        }
        in_.consume(step.consumed);
        if (step.done) {
          armUpstream(upstream, settings_.upstream_timeout);
          auto [end_ec, end_n] =
              co_await asio::async_write(upstream, asio::buffer("0\r\n\r\n", 5), kAwait);
          disarmUpstream();
          if (end_ec) co_return SendResult::kUpstreamError;
          body_pending_ = false;
          co_return SendResult::kOk;
        }
        if (step.consumed == 0 && step.data.empty()) break;  // needs more input
      }
      auto [read_ec, got] = co_await stream_.async_read_some(
          asio::buffer(in_.writePtr(), in_.writable()), kAwait);
      if (read_ec || got == 0) co_return SendResult::kClientGone;
      in_.commit(got);
    }
  }

  enum class ReadResult { kOk, kEmpty, kClosed, kMalformed };

  Task<ReadResult> readResponseHead(Socket& upstream) {
    upstream_in_.clear();
    tracked_.phase = Phase::kUpstream;
    armUpstream(upstream, settings_.upstream_timeout);
    bool received_any = false;
    for (;;) {
      if (!upstream_in_.empty()) {
        const auto result = http::parseResponseHead(upstream_in_.view(), shared_.response_limits,
                                                    method_, response_);
        if (result.status == http::ParseStatus::kError) {
          disarmUpstream();
          co_return ReadResult::kMalformed;
        }
        if (result.status == http::ParseStatus::kComplete) {
          if (response_.status == 101) {
            disarmUpstream();  // we never ask for an upgrade
            co_return ReadResult::kMalformed;
          }
          if (response_.status < 200) {  // interim (100, 103): not forwarded
            upstream_in_.consume(response_.head_bytes);
            continue;
          }
          disarmUpstream();
          co_return ReadResult::kOk;
        }
      }
      if (upstream_in_.writable() == 0) upstream_in_.reserve(shared_.response_limits.max_header_bytes + 1);
      if (upstream_in_.writable() == 0) {
        disarmUpstream();
        co_return ReadResult::kMalformed;
      }
      auto [ec, n] = co_await upstream.async_read_some(
          asio::buffer(upstream_in_.writePtr(), upstream_in_.writable()), kAwait);
      if (ec || n == 0) {
        disarmUpstream();
        co_return received_any ? ReadResult::kClosed : ReadResult::kEmpty;
      }
      received_any = true;
      upstream_in_.commit(n);
    }
  }

  // Streams the parsed response to the client and pools the upstream connection when it ended
  // cleanly at a message boundary. Sets client_failed_ when the client connection is no longer
  // usable.
  Task<void> forwardResponse(Socket& upstream, std::size_t upstream_index, UpstreamInUse& in_use) {
    tracked_.phase = Phase::kResponse;
    const auto framing = response_.framing;
    const bool to_old_client = client_minor_ == 0;
    // A 1.0 client cannot receive chunked: send the body raw and end it by closing.
    const bool reencode_chunked =
        !to_old_client &&
        (framing == http::BodyFraming::kChunked || framing == http::BodyFraming::kUntilClose);
    if (to_old_client &&
        (framing == http::BodyFraming::kChunked || framing == http::BodyFraming::kUntilClose)) {
      keep_alive_ = false;
    }
    const unsigned status = response_.status;

    out_.clear();
    out_ += "HTTP/1.1 ";
    appendNumber(out_, status);
    out_ += ' ';
    out_ += response_.reason;
    out_ += "\r\n";
    response_connection_.clear();
    for (const auto& field : response_.fields) {
      if (field.name.size() == 10 && equalsIgnoreCase(field.name, "connection")) {
        response_connection_.push_back(field.value);
      }
    }
    for (const auto& field : response_.fields) {
      if (http::isHopByHop(field.name)) continue;
      if (isReplacedResponseField(field.name)) {
        // HEAD, 204 and 304 answers keep the length of the representation they describe.
        if (framing != http::BodyFraming::kNone || field.name.size() != 14) continue;
      }
      if (!response_connection_.empty() && namedByConnection(response_connection_, field.name)) {
        continue;
      }
      out_ += field.name;
      out_ += ": ";
      out_ += field.value;
      out_ += "\r\n";
    }
    if (framing == http::BodyFraming::kContentLength) {
      out_ += "Content-Length: ";
      appendNumber(out_, response_.content_length);
      out_ += "\r\n";
    } else if (reencode_chunked) {
      out_ += "Transfer-Encoding: chunked\r\n";
    }
    out_ += "X-Request-Id: ";
    out_ += request_id_;
    out_ += "\r\n";
    appendConnectionHeader();
    out_ += "\r\n";
    upstream_in_.consume(response_.head_bytes);
    bool audited = true;
    bool pooled = false;
    if (const auto seq = auditRequest(status)) {
      // Sync durability: the answer waits for an fsync. A response already whole in the buffer
      // gives its upstream connection back first: held through the wait, every request in
      // flight would hold an upstream connection of its own.
      if (responseIsBuffered()) {
        in_use.release();
        worker_.returnPooled(upstream_index, std::move(upstream));
        pooled = true;
      }
      audited = co_await awaitDurable(*seq);
    }
    if (!audited) {
      // Sync durability and the trail cannot take the event: the upstream's answer is withheld.
      keep_alive_ = false;
      upstream_in_.clear();
      co_await respondUnaudited();
      co_return;
    }

    bool clean = false;
    switch (framing) {
      case http::BodyFraming::kNone:
        clean = co_await writeClient(buffers(asio::buffer(out_)));
        break;
      case http::BodyFraming::kContentLength:
        clean = co_await forwardFixed(upstream, response_.content_length);
        break;
      case http::BodyFraming::kChunked:
        clean = co_await forwardChunked(upstream, reencode_chunked);
        break;
      case http::BodyFraming::kUntilClose:
        co_await forwardUntilClose(upstream, reencode_chunked);
        clean = false;
        break;
    }
    finishRequest(status);
    if (!pooled && clean && response_.keep_alive && upstream_in_.empty() && !client_failed_) {
      worker_.returnPooled(upstream_index, std::move(upstream));
    }
  }

  // Whether the rest of the response (after its head) is all in upstream_in_, nothing more, and
  // the upstream connection may serve another request.
  bool responseIsBuffered() const {
    if (!response_.keep_alive) return false;
    switch (response_.framing) {
      case http::BodyFraming::kNone:
        return upstream_in_.empty();
      case http::BodyFraming::kContentLength:
        return upstream_in_.size() == response_.content_length;
      default:
        return false;
    }
  }

  template <std::size_t N>
  Task<bool> writeClient(std::array<asio::const_buffer, N> data) {
    tracked_.client_deadline = worker_.now() + settings_.idle_timeout;
    auto [ec, n] = co_await asio::async_write(stream_, data, kAwait);
    if (ec) client_failed_ = true;
    co_return !ec;
  }

  // Reads more upstream bytes into upstream_in_. False on error, timeout or end of stream.
  Task<bool> readUpstream(Socket& upstream) {
    upstream_in_.reserve(kBodyBufferBytes);
    armUpstream(upstream, settings_.upstream_timeout);
    auto [ec, n] = co_await upstream.async_read_some(
        asio::buffer(upstream_in_.writePtr(), upstream_in_.writable()), kAwait);
    disarmUpstream();
    if (ec || n == 0) co_return false;
    upstream_in_.commit(n);
    co_return true;
  }

  Task<bool> forwardFixed(Socket& upstream, std::uint64_t remaining) {
    std::size_t part =
        static_cast<std::size_t>(std::min<std::uint64_t>(upstream_in_.size(), remaining));
    std::array<asio::const_buffer, 2> first{asio::buffer(out_),
                                            asio::buffer(upstream_in_.view().data(), part)};
    tracked_.client_deadline = worker_.now() + settings_.idle_timeout;
    auto [ec, n] = co_await asio::async_write(stream_, first, kAwait);
    if (ec) {
      client_failed_ = true;
      co_return false;
    }
    upstream_in_.consume(part);
    remaining -= part;
    while (remaining > 0) {
      if (!co_await readUpstream(upstream)) {
        client_failed_ = true;  // the client got a truncated body: it must see the close
        co_return false;
      }
      part = static_cast<std::size_t>(std::min<std::uint64_t>(upstream_in_.size(), remaining));
      if (!co_await writeClient(buffers(asio::buffer(upstream_in_.view().data(), part)))) {
        co_return false;
      }
      upstream_in_.consume(part);
      remaining -= part;
    }
    co_return true;
  }

  Task<bool> forwardChunked(Socket& upstream, bool reencode) {
    if (!co_await writeClient(buffers(asio::buffer(out_)))) co_return false;
    http::ChunkedDecoder decoder(UINT64_MAX);
    for (;;) {
      while (!upstream_in_.empty()) {
        const auto step = decoder.decode(upstream_in_.view());
        if (step.error != http::ParseError::kNone) {
          client_failed_ = true;
          co_return false;
        }
        if (!step.data.empty()) {
          bool ok;
          if (reencode) {
            chunk_prefix_.clear();
            appendHex(chunk_prefix_, step.data.size());
            chunk_prefix_ += "\r\n";
            ok = co_await writeClient(buffers(asio::buffer(chunk_prefix_), asio::buffer(step.data),
                                       asio::buffer("\r\n", 2)));
          } else {
            ok = co_await writeClient(buffers(asio::buffer(step.data)));
          }
          if (!ok) co_return false;
        }
        upstream_in_.consume(step.consumed);
        if (step.done) {
          if (reencode && !co_await writeClient(buffers(asio::buffer("0\r\n\r\n", 5)))) co_return false;
          co_return true;
        }
        if (step.consumed == 0 && step.data.empty()) break;
      }
      if (!co_await readUpstream(upstream)) {
        client_failed_ = true;
        co_return false;
      }
    }
  }

  Task<void> forwardUntilClose(Socket& upstream, bool reencode) {
    if (!co_await writeClient(buffers(asio::buffer(out_)))) co_return;
    for (;;) {
      if (!upstream_in_.empty()) {
        bool ok;
        if (reencode) {
          chunk_prefix_.clear();
          appendHex(chunk_prefix_, upstream_in_.size());
          chunk_prefix_ += "\r\n";
          ok = co_await writeClient(buffers(asio::buffer(chunk_prefix_),
                                     asio::buffer(upstream_in_.view()), asio::buffer("\r\n", 2)));
        } else {
          ok = co_await writeClient(buffers(asio::buffer(upstream_in_.view())));
        }
        if (!ok) co_return;
        upstream_in_.clear();
      }
      if (!co_await readUpstream(upstream)) break;
    }
    if (tracked_.upstream_timed_out) {
      client_failed_ = true;  // the body may be incomplete: do not present it as complete
      co_return;
    }
    if (reencode) co_await writeClient(buffers(asio::buffer("0\r\n\r\n", 5)));
  }

  // ---- audit ---------------------------------------------------------------------------------

  // Each request ends in exactly one event, typed by the decision that settled it: REQUEST when
  // nothing stood in its way, otherwise REQUEST_REJECTED, API_RATE_LIMIT, ACCESS_GRANTED or
  // ACCESS_DENIED. One record per request keeps the trail complete and its cost bounded.
  struct Decision {
    audit::EventType type = audit::EventType::kRequest;
    audit::Severity severity = audit::Severity::kInfo;
    std::optional<audit::Outcome> outcome;  // default: from the status
    std::string reason;
  };

  void decide(audit::EventType type, audit::Severity severity, audit::Outcome outcome,
              std::string_view reason) {
    decision_.type = type;
    decision_.severity = severity;
    decision_.outcome = outcome;
    decision_.reason.assign(reason);
  }

  void auditRejected(std::string_view reason) {
    decide(audit::EventType::kRequestRejected, audit::Severity::kMedium, audit::Outcome::kBlocked,
           reason);
  }

  // A connection closed before any answer (e.g. a slowloris head): its own event.
  void auditAbandoned(std::string_view reason) {
    audit::Event event;
    event.type = audit::EventType::kRequestRejected;
    event.severity = audit::Severity::kMedium;
    event.outcome = audit::Outcome::kBlocked;
    event.time = shared_.clock->systemTime();
    event.client_address = peer_;
    event.details = {{"reason", std::string(reason)}};
    shared_.audit->record(std::move(event));
  }

  // Refused because we cannot decide (revocation state or auth store unavailable: fail closed).
  // Outcome ERROR, not DENIED: the client did nothing wrong, so incident rules counting denials
  // per address must not block it for our outage.
  void auditUnavailable(std::string_view reason) {
    decide(audit::EventType::kAccessDenied, audit::Severity::kHigh, audit::Outcome::kError,
           reason);
  }

  void auditAccess(const Route& route, bool granted, std::string_view reason) {
    if (granted) {
      decide(audit::EventType::kAccessGranted, audit::Severity::kInfo, audit::Outcome::kSuccess,
             reason);
    } else {
      decide(audit::EventType::kAccessDenied, audit::Severity::kMedium, audit::Outcome::kDenied,
             reason);
    }
  }

  void auditRateLimited(const Route& route) {
    decide(audit::EventType::kApiRateLimit, audit::Severity::kLow, audit::Outcome::kDenied, {});
  }

  void auditRateLimitUnavailable() {
    decide(audit::EventType::kApiRateLimit, audit::Severity::kMedium, audit::Outcome::kError,
           "rate_limit_store_unavailable");
  }

  Worker& worker_;
  Shared& shared_;
  const core::Settings& settings_;
  Stream stream_;
  std::string peer_;
  Tracked tracked_;

  ByteBuffer in_;           // client bytes: request heads and bodies
  ByteBuffer upstream_in_;  // upstream bytes: response heads and bodies
  std::string out_;         // serialised heads, reused for every message
  std::string chunk_prefix_;
  http::RequestHead head_;
  http::ResponseHead response_;
  std::vector<std::string_view> forwarded_for_;
  std::vector<std::string_view> connection_values_;
  std::vector<std::string_view> response_connection_;
  std::string request_id_;
  std::string client_address_;
  std::string rate_key_;
  std::string method_;
  std::string path_;  // without the query, which may carry secrets

  SteadyTime started_{};
  std::size_t requests_ = 0;
  std::size_t route_index_ = WorkerMetrics::kNoRoute;
  unsigned client_minor_ = 1;
  bool keep_alive_ = true;
  bool body_pending_ = false;
  bool client_failed_ = false;
  bool peer_trusted_ = false;
  std::optional<auth::Principal> principal_;  // set on protected routes once authorized
  Decision decision_;
  bool skip_parse_ = false;         // no new line end since the last incomplete parse
  bool head_has_line_end_ = false;  // the head being read has completed its request line
};

template <class Stream>
void spawnSession(Worker& worker, Stream stream, std::string peer) {
  auto session = std::make_shared<ClientSession<Stream>>(worker, std::move(stream), std::move(peer));
  asio::co_spawn(worker.executor(), [session]() -> Task<void> { co_await session->run(); },
                 [](std::exception_ptr error) {
                   if (!error) return;
                   try {
                     std::rethrow_exception(error);
                   } catch (const std::exception& e) {
                     core::log(core::LogLevel::kError, "connection failed", {{"error", e.what()}});
                   }
                 });
}

}  // namespace

void spawnConnection(Worker& worker, Socket socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  worker.shared().open_connections.fetch_add(1, std::memory_order_relaxed);
  worker.metrics().connections_open.add(1);
  worker.metrics().connections_accepted.add();
  if (worker.shared().tls) {
    spawnSession(worker, asio::ssl::stream<Socket>(std::move(socket), *worker.shared().tls),
                 address.to_string());
  } else {
    spawnSession(worker, std::move(socket), address.to_string());
  }
}

}  // namespace bulwark::gateway::detail

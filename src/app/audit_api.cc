#include "app/audit_api.h"

#include <algorithm>
#include <charconv>
#include <future>

#include "audit/file_store.h"
#include "audit/query.h"
#include "auth/worker_pool.h"
#include "core/json.h"

namespace bulwark::app {

namespace {

constexpr std::uint64_t kDefaultLimit = 1000;
constexpr std::uint64_t kMaxLimit = 10000;

// Strict application/x-www-form-urlencoded value decoding: %XX and '+'; false on a bad escape.
bool percentDecode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      unsigned value = 0;
      auto [end, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, value, 16);
      if (ec != std::errc() || end != in.data() + i + 3) return false;
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return true;
}

}  // namespace

class AuditApi final : public http::ApiHandler {
 public:
  AuditApi(AuditApiConfig config, audit::SinkPtr trail, auth::AuthenticatorPtr authenticator,
           const core::Clock& clock)
      : config_(std::move(config)),
        trail_(std::move(trail)),
        authenticator_(std::move(authenticator)),
        clock_(clock),
        store_(config_.trail),
        pool_(auth::WorkerPoolConfig{1, 8}) {}

  void stop() { pool_.stop(); }

  void handle(http::ApiRequest request, http::ApiCompletion done) override {
    if (request.path != "/admin/audit/events") {
      done(http::ApiResponse::error(404, "not_found", "no such endpoint"));
      return;
    }
    if (request.method != "GET") {
      auto response = http::ApiResponse::error(405, "invalid_request", "use GET");
      response.headers.emplace_back("Allow", "GET");
      done(std::move(response));
      return;
    }
    auth::Principal admin;
    if (auto refused = authorize(request, admin)) {
      done(std::move(*refused));
      return;
    }
    audit::Query query;
    bool ndjson = true;
    if (auto problem = parseQuery(request.query, query, ndjson)) {
      done(http::ApiResponse::error(400, "invalid_request", *problem));
      return;
    }
    auto job = [this, query, ndjson, admin, request = std::move(request), done]() mutable {
      done(run(query, ndjson, admin, request));
    };
    if (!pool_.submit(std::move(job))) {
      auto busy = http::ApiResponse::error(503, "temporarily_unavailable", "try again shortly");
      busy.headers.emplace_back("Retry-After", "1");
      done(std::move(busy));
    }
  }

 private:
  std::optional<http::ApiResponse> authorize(const http::ApiRequest& request,
                                             auth::Principal& admin) {
    auto challenge = [](http::ApiResponse response, std::string_view value) {
      response.headers.emplace_back("WWW-Authenticate", std::string(value));
      return response;
    };
    const std::string_view header = request.authorization;
    if (header.size() < 8 || !std::equal(header.begin(), header.begin() + 7, "bearer ",
                                         [](char a, char b) { return std::tolower(a) == b; })) {
      return challenge(http::ApiResponse::error(401, "invalid_request", "a bearer token is required"),
                       "Bearer realm=\"bulwark\"");
    }
    if (!authenticator_) {
      return http::ApiResponse::error(503, "temporarily_unavailable", "authentication is unavailable");
    }
    auto outcome = authenticator_->authenticate(header.substr(7));
    if (outcome.status == auth::AuthStatus::kUnavailable) {
      return http::ApiResponse::error(503, "temporarily_unavailable", "authentication is unavailable");
    }
    if (outcome.status != auth::AuthStatus::kAuthenticated) {
      recordAccess(request, {}, false, outcome.reason);
      return challenge(http::ApiResponse::error(401, "invalid_token", "the access token is invalid"),
                       "Bearer realm=\"bulwark\", error=\"invalid_token\"");
    }
    const auto& roles = outcome.principal.roles;
    if (std::find(roles.begin(), roles.end(), config_.admin_role) == roles.end()) {
      recordAccess(request, outcome.principal.subject, false, "missing_role");
      return challenge(http::ApiResponse::error(403, "insufficient_scope", "administrators only"),
                       "Bearer realm=\"bulwark\", error=\"insufficient_scope\"");
    }
    admin = std::move(outcome.principal);
    return std::nullopt;
  }

  void recordAccess(const http::ApiRequest& request, const std::string& actor, bool granted,
                    std::string_view reason) {
    audit::Event event;
    event.type = granted ? audit::EventType::kAccessGranted : audit::EventType::kAccessDenied;
    event.severity = granted ? audit::Severity::kInfo : audit::Severity::kMedium;
    event.outcome = granted ? audit::Outcome::kSuccess : audit::Outcome::kDenied;
    event.time = clock_.systemTime();
    event.actor = actor;
    event.client_address = request.client_address;
    event.request_id = request.request_id;
    event.target = "/admin/audit/events";
    if (!reason.empty()) event.details.emplace_back("reason", std::string(reason));
    trail_->record(std::move(event));
  }

  // Returns a description of the first bad parameter, or nullopt.
  std::optional<std::string> parseQuery(std::string_view text, audit::Query& query,
                                        bool& ndjson) const {
    query.limit = kDefaultLimit;
    while (!text.empty()) {
      const auto amp = text.find('&');
      const auto pair = text.substr(0, amp);
      text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      std::string name, value;
      if (!percentDecode(pair.substr(0, eq), name) ||
          !percentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), value)) {
        return "bad percent-encoding in the query";
      }
      if (name == "type") {
        std::string_view list = value;
        while (!list.empty()) {
          const auto comma = list.find(',');
          if (comma != 0) query.types.emplace_back(list.substr(0, comma));
          list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        }
      } else if (name == "actor") {
        query.actor = value;
      } else if (name == "request_id") {
        query.request_id = value;
      } else if (name == "since" || name == "until") {
        core::SystemTime time;
        if (!audit::parseTimeArgument(value, clock_, time)) {
          return name + ": expected a UTC time (2026-12-04T10:00:00Z), a date or a duration (15m)";
        }
        (name == "since" ? query.since : query.until) = time;
      } else if (name == "limit") {
        std::uint64_t limit = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
        if (ec != std::errc() || end != value.data() + value.size() || limit == 0 ||
            limit > kMaxLimit) {
          return "limit: expected 1 to " + std::to_string(kMaxLimit);
        }
        query.limit = limit;
      } else if (name == "format") {
        if (value != "ndjson" && value != "json") return "format: expected ndjson or json";
        ndjson = value == "ndjson";
      } else {
        return "unknown parameter '" + name + "'";
      }
    }
    if (const auto unknown = audit::unknownTypes(query); !unknown.empty()) {
      return "type: unknown event type '" + unknown.front() + "'";
    }
    return std::nullopt;
  }

  http::ApiResponse run(const audit::Query& query, bool ndjson, const auth::Principal& admin,
                        const http::ApiRequest& request) {
    // Read-your-writes: what was recorded before this request (the administrator's own login,
    // a decision a moment ago) is in the answer, however the async writer batches. A pool
    // thread, so waiting is fine.
    trail_->flush();
    std::string body = ndjson ? "" : "[";
    std::uint64_t count = 0;
    auto stats = audit::runQuery(*store_, query, [&](std::string_view line, const audit::Record&) {
      if (!ndjson && count > 0) body += ',';
      body += line;
      if (ndjson) body += '\n';
      ++count;
      return true;
    });
    if (!stats) {
      return http::ApiResponse::error(503, "temporarily_unavailable", "the audit trail cannot be read");
    }
    if (!ndjson) body += ']';
    audit::Event event;
    event.type = audit::EventType::kDataExport;
    event.severity = audit::Severity::kLow;
    event.time = clock_.systemTime();
    event.actor = admin.subject;
    event.client_address = request.client_address;
    event.request_id = request.request_id;
    event.target = "audit_trail";
    event.details = audit::queryDetails(query);
    event.details.emplace_back("records", std::to_string(count));
    // The export leaves only once its DATA_EXPORT record is durable (this is a pool thread, so
    // waiting is fine): a read that could not be audited is not answered.
    std::promise<boost::system::error_code> durable;
    auto outcome = durable.get_future();
    trail_->whenDurable(trail_->append(std::move(event)),
                        [&durable](boost::system::error_code ec) { durable.set_value(ec); });
    if (outcome.get()) {
      return http::ApiResponse::error(503, "temporarily_unavailable",
                                      "the export could not be audited");
    }
    auto response = http::ApiResponse::json(200, std::move(body));
    if (ndjson) response.content_type = "application/x-ndjson";
    return response;
  }

  AuditApiConfig config_;
  audit::SinkPtr trail_;
  auth::AuthenticatorPtr authenticator_;
  const core::Clock& clock_;
  audit::StorePtr store_;
  auth::WorkerPool pool_;
};

std::shared_ptr<AuditApi> makeAuditApi(AuditApiConfig config, audit::SinkPtr trail,
                                       auth::AuthenticatorPtr authenticator,
                                       const core::Clock& clock) {
  return std::make_shared<AuditApi>(std::move(config), std::move(trail), std::move(authenticator),
                                    clock);
}

http::ApiHandlerPtr asHandler(const std::shared_ptr<AuditApi>& api) { return api; }

void stopAuditApi(AuditApi& api) { api.stop(); }

}  // namespace bulwark::app

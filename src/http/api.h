#pragma once
// The transport-neutral shape of the gateway's own JSON endpoints (/auth/*, /admin/*,
// /.well-known/*): the gateway reads and bounds the request, a component answers it. Components
// stay free of Asio; they may answer from any thread (e.g. after argon2 on a worker pool) and the
// gateway resumes the connection on its own thread.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulwark::http {

struct ApiRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // without '?'
  std::string authorization;  // the Authorization header value, if any
  std::string content_type;
  std::string body;  // complete, at most the mount's max_body_bytes
  std::string client_address;
  std::string request_id;
};

struct ApiResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra header fields. Names are tokens and values never contain CR/LF (the gateway drops any
  // that do rather than emit them).
  std::vector<std::pair<std::string, std::string>> headers;

  static ApiResponse json(unsigned status, std::string body);
  // The error shape of SPEC "Interfaces": {"error": code, "error_description": description}.
  static ApiResponse error(unsigned status, std::string_view code, std::string_view description);
};

using ApiCompletion = std::function<void(ApiResponse)>;

class ApiHandler {
 public:
  virtual ~ApiHandler() = default;
  // Answers `request` by calling `done` exactly once, from any thread, possibly before returning.
  virtual void handle(ApiRequest request, ApiCompletion done) = 0;
};
using ApiHandlerPtr = std::shared_ptr<ApiHandler>;

// Where an ApiHandler answers: every path equal to `prefix` or below it (prefix "/auth/" takes
// "/auth/login"). Mounted paths are answered before the route table.
struct ApiMount {
  std::string prefix;
  ApiHandlerPtr handler;
  std::size_t max_body_bytes = 64 * 1024;
};

}  // namespace bulwark::http

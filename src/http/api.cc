#include "http/api.h"

#include "core/json.h"

namespace bulwark::http {

ApiResponse ApiResponse::json(unsigned status, std::string body) {
  ApiResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

ApiResponse ApiResponse::error(unsigned status, std::string_view code,
                               std::string_view description) {
  return json(status, core::jsonError(code, description));
}

}  // namespace bulwark::http

#pragma once
// What the auth services need to know about the request they serve, for the audit trail.

#include <string>

namespace bulwark::auth {

struct RequestContext {
  std::string client_address;  // resolved client IP (the gateway's client_address)
  std::string request_id;
};

}  // namespace bulwark::auth

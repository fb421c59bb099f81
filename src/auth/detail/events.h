#pragma once
// Builds the audit events of the auth services in one shape: time from the service's clock,
// client address and request id from the request, never a secret in any field.

#include <string>
#include <utility>
#include <vector>

#include "audit/event.h"
#include "auth/context.h"
#include "core/clock.h"

namespace bulwark::auth::detail {

struct EventFields {
  audit::EventType type = audit::EventType::kLogin;
  audit::Severity severity = audit::Severity::kInfo;
  audit::Outcome outcome = audit::Outcome::kSuccess;
  std::string actor;
  std::string target;
  std::vector<std::pair<std::string, std::string>> details;
};

// Records the event on `sink` (a null sink records nothing).
void record(audit::Sink* sink, const core::Clock& clock, const RequestContext& context,
            EventFields fields);

}  // namespace bulwark::auth::detail

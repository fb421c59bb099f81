#pragma once
// The audit event model (SPEC F3.1) and the hook every security decision goes through.
// The gateway and other components only see `audit::Sink`; the signed, chained writer of the
// audit issue implements it. Until then `LoggingSink` writes each event as a JSON log line.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace bulwark::audit {

enum class EventType : std::uint8_t {
  // authentication
  kLogin,
  kLoginFailed,
  kLogout,
  kTokenRefresh,
  kTokenRevoke,
  // authorization
  kAccessGranted,
  kAccessDenied,
  kPermissionChange,
  // data
  kDataAccess,
  kDataModify,
  kDataDelete,
  kDataExport,
  // security and system
  kSecurityIncident,
  kApiRateLimit,
  kRequestRejected,  // malformed / hostile HTTP refused by the gateway (F1.2)
  kAttackDetected,   // detector hit (F5.3)
  kRequest,          // one per proxied or answered request
  kSystemStart,
  kSystemStop,
  kAuditVerify,
  kConfigChange,
};

// Returns the wire name, e.g. "API_RATE_LIMIT".
std::string_view eventTypeName(EventType type);

enum class Severity : std::uint8_t { kInfo, kLow, kMedium, kHigh, kCritical };
std::string_view severityName(Severity severity);

enum class Outcome : std::uint8_t { kSuccess, kFailure, kDenied, kBlocked, kError };
std::string_view outcomeName(Outcome outcome);

// One security-relevant fact. Strings are copied in: events outlive the request buffers.
// `details` values must never contain secrets; they are escaped when serialised.
struct Event {
  EventType type = EventType::kRequest;
  Severity severity = Severity::kInfo;
  Outcome outcome = Outcome::kSuccess;
  core::SystemTime time{};
  std::string actor;           // user id / subject, empty when anonymous
  std::string client_address;  // resolved client IP
  std::string request_id;
  std::string target;  // route, path, account or key the decision was about
  std::vector<std::pair<std::string, std::string>> details;
};

// Appends `event` as one JSON object (no trailing newline), fields in a fixed order.
void appendEventJson(std::string& out, const Event& event);

// Where events go. Implementations are thread-safe and must not block the caller on I/O.
class Sink {
 public:
  virtual ~Sink() = default;
  // Takes the event. Never throws; a sink that cannot keep up counts and reports the overflow.
  virtual void record(Event event) = 0;
  // Blocks until every event recorded so far is persisted (used at shutdown).
  virtual void flush() = 0;
};
using SinkPtr = std::shared_ptr<Sink>;

// Writes each event as one JSON log line through the process logger ("audit" field).
SinkPtr makeLoggingSink();

}  // namespace bulwark::audit

#pragma once
// The audit event model (SPEC F3.1) and the hook every security decision goes through.
// The gateway and other components only see `audit::Sink`; `audit::Writer` (writer.h) is the
// signed, chained, group-committed implementation, `LoggingSink` a log-only one for tools.
// The record format on disk (sequence number, node, key id, chain MACs) is in record.h.

#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
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
  // written by the audit writer itself
  kAuditCheckpoint,  // signed (seq, head mac, time), every N events or T seconds, also when idle
  kAuditOverflow,    // events the queue could not take, with their count (never silent loss)
  kAuditRecovery,    // a torn last line from a crash cut off at start-up (and kept aside)
  kAuditKeyRotate,   // the signing key changed; the chain continues under the new kid
};
inline constexpr std::size_t kEventTypeCount =
    static_cast<std::size_t>(EventType::kAuditKeyRotate) + 1;

// Returns the wire name, e.g. "API_RATE_LIMIT".
std::string_view eventTypeName(EventType type);
// Parses a wire name; nullopt when unknown.
std::optional<EventType> parseEventType(std::string_view name);

enum class Severity : std::uint8_t { kInfo, kLow, kMedium, kHigh, kCritical };
std::string_view severityName(Severity severity);
std::optional<Severity> parseSeverity(std::string_view name);

enum class Outcome : std::uint8_t { kSuccess, kFailure, kDenied, kBlocked, kError };
std::string_view outcomeName(Outcome outcome);
std::optional<Outcome> parseOutcome(std::string_view name);

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
  // Unique id (the SIEMs' idempotency key, e.g. Elasticsearch _id). Empty: the writer assigns
  // one (its random instance nonce and the sequence number, 32 hex digits).
  std::string id;
};

// Appends `event` as one JSON object (no trailing newline), fields in a fixed order.
void appendEventJson(std::string& out, const Event& event);

// Returned by Sink::append() when the event was not taken (queue full past its timeout, or the
// writer closed/failed). Counted by the sink and reported in the trail (AUDIT_OVERFLOW).
inline constexpr std::uint64_t kNotRecorded = 0;
// Returned by sinks without a sequence (LoggingSink, test sinks): taken, nothing to wait for.
inline constexpr std::uint64_t kUnsequenced = std::numeric_limits<std::uint64_t>::max();

// Called once when an appended event is durable (empty code) or can no longer become durable
// (audit::Errc::kNotRecorded, kWriterFailed, kClosed). See Sink::whenDurable for the thread.
using DurableCallback = std::function<void(boost::system::error_code)>;

// Where events go. Implementations are thread-safe and must not block the caller on I/O.
class Sink {
 public:
  virtual ~Sink() = default;
  // Takes the event. Never throws; a sink that cannot keep up counts and reports the overflow.
  virtual void record(Event event) = 0;
  // Blocks until every event recorded so far is persisted (used at shutdown).
  virtual void flush() = 0;

  // Takes the event like record() and returns its sequence number in this node's chain (a
  // ticket for whenDurable), kNotRecorded when it was not taken, or kUnsequenced for sinks
  // without a chain. The default records and returns kUnsequenced.
  virtual std::uint64_t append(Event event) {
    record(std::move(event));
    return kUnsequenced;
  }
  // Arranges for `callback` to run once event `seq` is durable (see DurableCallback). It runs on
  // the sink's own thread (the audit writer's syncer thread), or inline on the caller's thread when
  // the answer is already known; it must not block — post the continuation to your own executor.
  // The default answers at once: success, or kNotRecorded for seq == kNotRecorded.
  virtual void whenDurable(std::uint64_t seq, DurableCallback callback);
  // True when the deployment wants requests answered only after their events are durable
  // (durability mode `sync`, SPEC F3.4); the request path then waits through whenDurable.
  virtual bool syncDurability() const { return false; }
};
using SinkPtr = std::shared_ptr<Sink>;

// Writes each event as one JSON log line through the process logger ("audit" field).
SinkPtr makeLoggingSink();

}  // namespace bulwark::audit

#include "audit/event.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "audit/error.h"
#include "core/json.h"
#include "core/log.h"

namespace bulwark::audit {

std::string_view eventTypeName(EventType type) {
  switch (type) {
    case EventType::kLogin: return "LOGIN";
    case EventType::kLoginFailed: return "LOGIN_FAILED";
    case EventType::kLogout: return "LOGOUT";
    case EventType::kTokenRefresh: return "TOKEN_REFRESH";
    case EventType::kTokenRevoke: return "TOKEN_REVOKE";
    case EventType::kAccessGranted: return "ACCESS_GRANTED";
    case EventType::kAccessDenied: return "ACCESS_DENIED";
    case EventType::kPermissionChange: return "PERMISSION_CHANGE";
    case EventType::kDataAccess: return "DATA_ACCESS";
    case EventType::kDataModify: return "DATA_MODIFY";
    case EventType::kDataDelete: return "DATA_DELETE";
    case EventType::kDataExport: return "DATA_EXPORT";
    case EventType::kSecurityIncident: return "SECURITY_INCIDENT";
    case EventType::kApiRateLimit: return "API_RATE_LIMIT";
    case EventType::kRequestRejected: return "REQUEST_REJECTED";
    case EventType::kAttackDetected: return "ATTACK_DETECTED";
    case EventType::kRequest: return "REQUEST";
    case EventType::kSystemStart: return "SYSTEM_START";
    case EventType::kSystemStop: return "SYSTEM_STOP";
    case EventType::kAuditVerify: return "AUDIT_VERIFY";
    case EventType::kConfigChange: return "CONFIG_CHANGE";
    case EventType::kAuditCheckpoint: return "AUDIT_CHECKPOINT";
    case EventType::kAuditOverflow: return "AUDIT_OVERFLOW";
    case EventType::kAuditRecovery: return "AUDIT_RECOVERY";
    case EventType::kAuditKeyRotate: return "AUDIT_KEY_ROTATE";
  }
  return "UNKNOWN";
}

std::optional<EventType> parseEventType(std::string_view name) {
  for (std::size_t i = 0; i < kEventTypeCount; ++i) {
    const auto type = static_cast<EventType>(i);
    if (eventTypeName(type) == name) return type;
  }
  return std::nullopt;
}

std::optional<Severity> parseSeverity(std::string_view name) {
  for (auto severity : {Severity::kInfo, Severity::kLow, Severity::kMedium, Severity::kHigh,
                        Severity::kCritical}) {
    if (severityName(severity) == name) return severity;
  }
  return std::nullopt;
}

std::optional<Outcome> parseOutcome(std::string_view name) {
  for (auto outcome : {Outcome::kSuccess, Outcome::kFailure, Outcome::kDenied, Outcome::kBlocked,
                       Outcome::kError}) {
    if (outcomeName(outcome) == name) return outcome;
  }
  return std::nullopt;
}

std::string_view severityName(Severity severity) {
  switch (severity) {
    case Severity::kInfo: return "info";
    case Severity::kLow: return "low";
    case Severity::kMedium: return "medium";
    case Severity::kHigh: return "high";
    case Severity::kCritical: return "critical";
  }
  return "unknown";
}

std::string_view outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess: return "success";
    case Outcome::kFailure: return "failure";
    case Outcome::kDenied: return "denied";
    case Outcome::kBlocked: return "blocked";
    case Outcome::kError: return "error";
  }
  return "unknown";
}

void appendEventJson(std::string& out, const Event& event) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
      event.time.time_since_epoch());
  auto secs = std::chrono::floor<std::chrono::seconds>(event.time);
  out += '{';
  if (!event.id.empty()) {
    out += "\"id\":";
    core::appendJsonString(out, event.id);
    out += ',';
  }
  out += "\"time\":\"";
  fmt::format_to(std::back_inserter(out), "{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", secs,
                 static_cast<int>(micros.count() % 1'000'000));
  out += "\",\"type\":\"";
  out += eventTypeName(event.type);
  out += "\",\"severity\":\"";
  out += severityName(event.severity);
  out += "\",\"outcome\":\"";
  out += outcomeName(event.outcome);
  out += "\",\"actor\":";
  core::appendJsonString(out, event.actor);
  out += ",\"client\":";
  core::appendJsonString(out, event.client_address);
  out += ",\"request_id\":";
  core::appendJsonString(out, event.request_id);
  out += ",\"target\":";
  core::appendJsonString(out, event.target);
  out += ",\"details\":{";
  bool first = true;
  for (const auto& [key, value] : event.details) {
    if (!first) out += ',';
    first = false;
    core::appendJsonString(out, key);
    out += ':';
    core::appendJsonString(out, value);
  }
  out += "}}";
}

void Sink::whenDurable(std::uint64_t seq, DurableCallback callback) {
  callback(seq == kNotRecorded ? make_error_code(Errc::kNotRecorded)
                               : boost::system::error_code());
}

namespace {

class LoggingSink final : public Sink {
 public:
  void record(Event event) override {
    std::string line;
    line.reserve(256);
    appendEventJson(line, event);
    core::logRaw(core::LogLevel::kInfo, "audit", line);
  }
  void flush() override { core::flushLogs(); }
};

}  // namespace

SinkPtr makeLoggingSink() { return std::make_shared<LoggingSink>(); }

}  // namespace bulwark::audit

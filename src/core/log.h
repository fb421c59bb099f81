#pragma once
// Structured logging: one JSON object per line on stderr (spdlog underneath).
// Values are escaped, so a client-supplied string cannot forge a log line. Never pass secrets.

#include <initializer_list>
#include <string_view>

namespace bulwark::core {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };

struct LogField {
  std::string_view key;
  std::string_view value;
};

// Parses "debug" | "info" | "warn" | "error" | "off"; false when unknown.
bool parseLogLevel(std::string_view text, LogLevel& level);

// Sets the minimum level. Thread-safe; may be called before any log line.
void setLogLevel(LogLevel level);
bool logEnabled(LogLevel level);

// Writes {"time":…,"level":…,"msg":msg,<fields>}.
void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
// Writes {"time":…,"level":…,"<key>":<json>} where `json` is already a JSON value.
void logRaw(LogLevel level, std::string_view key, std::string_view json);

void flushLogs();

}  // namespace bulwark::core

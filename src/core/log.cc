#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "core/json.h"

namespace bulwark::core {
namespace {

spdlog::level::level_enum toSpd(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto l = std::make_shared<spdlog::logger>("bulwark", sink);
    l->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})", spdlog::pattern_time_type::utc));
    l->set_level(spdlog::level::info);
    l->flush_on(spdlog::level::warn);
    return l;
  }();
  return *instance;
}

}  // namespace

bool parseLogLevel(std::string_view text, LogLevel& level) {
  if (text == "debug") level = LogLevel::kDebug;
  else if (text == "info") level = LogLevel::kInfo;
  else if (text == "warn") level = LogLevel::kWarn;
  else if (text == "error") level = LogLevel::kError;
  else if (text == "off") level = LogLevel::kOff;
  else return false;
  return true;
}

void setLogLevel(LogLevel level) { logger().set_level(toSpd(level)); }

bool logEnabled(LogLevel level) { return logger().should_log(toSpd(level)); }

void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!logEnabled(level)) return;
  std::string line = "\"msg\":";
  appendJsonString(line, msg);
  for (const auto& field : fields) {
    line += ',';
    appendJsonString(line, field.key);
    line += ':';
    appendJsonString(line, field.value);
  }
  logger().log(toSpd(level), spdlog::string_view_t(line.data(), line.size()));
}

void logRaw(LogLevel level, std::string_view key, std::string_view json) {
  if (!logEnabled(level)) return;
  std::string line;
  line.reserve(key.size() + json.size() + 4);
  appendJsonString(line, key);
  line += ':';
  line += json;
  logger().log(toSpd(level), spdlog::string_view_t(line.data(), line.size()));
}

void flushLogs() { logger().flush(); }

}  // namespace bulwark::core

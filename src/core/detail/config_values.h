#pragma once
// Value parsers and printers shared by the settings table, the loader and the production checks
// (core/config.cc). Not for use outside core: other components read the loaded Settings.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace bulwark::core::detail {

// Returns `text` without leading and trailing ASCII spaces and tabs.
std::string_view trim(std::string_view text);

// Returns `text` in single quotes for a problem message, control bytes escaped and long values
// shortened, so a hostile environment cannot forge output lines. Never pass a secret.
std::string quoted(std::string_view text);

// Returns "10MiB", "64KiB", "1GiB" when exact, else the byte count.
std::string formatSize(std::uint64_t bytes);
// Returns "1h", "5m", "10s" when exact, else "250ms".
std::string formatDuration(std::chrono::milliseconds duration);
// Returns "100/s" (or "0.5/s") and the burst when it is not the derived default.
std::string formatRateLimit(const RateLimit& limit);

// Splits "host:port" / "[v6]:port" and checks both parts. Returns what is wrong, or nullopt.
// `host` is returned without brackets.
std::optional<std::string> parseListen(std::string_view text, std::string& host,
                                       std::uint16_t& port);

// Parses "http://host[:port][/]" into `out`. Returns the problem (message and fix), or nullopt.
std::optional<Problem> parseUpstreamUrl(std::string_view text, UpstreamAddress& out);

// True when `host` (no brackets) is a loopback IP literal: 127.0.0.0/8, ::1 or ::ffff:127.x.
bool isLoopbackHost(std::string_view host);

// Returns the candidate closest to `word` when it is a likely typo (small edit distance), else "".
std::string closestMatch(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace bulwark::core::detail

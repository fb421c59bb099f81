// Parsers for the value formats settings are written in. They are strict on purpose: a value
// that is almost right (a negative duration, "10MB" read as 10 MiB, an IPv4 CIDR with host bits
// set) is more likely a mistake than a wish, and a gateway's limits should mean what they say.

#include "core/detail/config_values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/config.h"

namespace bulwark::core {
namespace {

constexpr std::uint64_t kKiB = 1024;

bool isDigit(char c) { return c >= '0' && c <= '9'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

// Splits "<digits><spaces><unit>" into the number and the unit. False when there is no leading
// number, the number overflows, or anything but digits precedes the unit (signs, decimal points).
bool splitNumber(std::string_view text, std::uint64_t& number, std::string_view& unit) {
  text = detail::trim(text);
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && isDigit(text[i])) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return false;
    }
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) {
    return false;
  }
  number = value;
  unit = detail::trim(text.substr(i));
  return true;
}

bool checkedMultiply(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b) {
    return false;
  }
  out = a * b;
  return true;
}

// Rewrites an IPv4 address as its IPv4-mapped IPv6 form (::ffff:a.b.c.d).
std::array<std::uint8_t, 16> mapped(const std::uint8_t* v4) {
  std::array<std::uint8_t, 16> out{};
  out[10] = 0xff;
  out[11] = 0xff;
  std::copy(v4, v4 + 4, out.begin() + 12);
  return out;
}

bool isV4Mapped(const std::uint8_t* v6) {
  static constexpr std::array<std::uint8_t, 12> kPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(kPrefix.begin(), kPrefix.end(), v6);
}

bool prefixMatches(const std::uint8_t* network, const std::uint8_t* ip, unsigned bits) {
  const unsigned whole = bits / 8;
  if (!std::equal(network, network + whole, ip)) {
    return false;
  }
  const unsigned rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (network[whole] & mask) == (ip[whole] & mask);
}

bool isHostnameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c == '-' || c == '.';
}

// A DNS name or an IPv4 literal. Strings of digits and dots must be a valid IPv4 address, so a
// typo like "10.0.0.256" is not silently looked up as a name.
bool validHost(std::string_view host) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  if (!std::all_of(host.begin(), host.end(), isHostnameChar)) {
    return false;
  }
  if (std::all_of(host.begin(), host.end(), [](char c) { return isDigit(c) || c == '.'; })) {
    std::vector<std::uint8_t> ip;
    return parseIp(host, ip) && ip.size() == 4;
  }
  return host.front() != '-' && host.front() != '.';
}

std::optional<std::uint16_t> parsePort(std::string_view text) {
  if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), isDigit)) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (char c : text) {
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 1 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

// Splits "host[:port]" / "[v6][:port]". `port_text` is empty when absent.
std::optional<std::string> splitHostPort(std::string_view text, std::string& host,
                                         std::string_view& port_text, bool& had_colon) {
  had_colon = false;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return "an IPv6 address is missing its closing ']'";
    }
    const std::string_view inside = text.substr(1, close - 1);
    std::vector<std::uint8_t> ip;
    if (!parseIp(inside, ip) || ip.size() != 16) {
      return detail::quoted(inside) + " is not an IPv6 address";
    }
    host = lowered(inside);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return "unexpected text after ']'";
      }
      had_colon = true;
      port_text = rest.substr(1);
    }
    return std::nullopt;
  }
  const auto colon = text.rfind(':');
  std::string_view host_text = text;
  if (colon != std::string_view::npos) {
    host_text = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    had_colon = true;
    if (host_text.find(':') != std::string_view::npos) {
      return "IPv6 addresses must be written in brackets";
    }
  }
  if (host_text.empty()) {
    return "the host is missing";
  }
  if (!validHost(host_text)) {
    return detail::quoted(host_text) + " is not a host name or IP address";
  }
  host = lowered(host_text);
  return std::nullopt;
}

}  // namespace

std::string UpstreamAddress::authority() const {
  // IPv6 literals need brackets in Host and in URLs (RFC 3986 section 3.2.2).
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

bool Cidr::contains(const std::vector<std::uint8_t>& ip) const {
  // Compare in one family: an IPv4 peer seen by a dual-stack socket arrives as ::ffff:a.b.c.d and
  // must still match "10.0.0.0/8"; a plain IPv4 address is lifted to that form for IPv6 networks.
  if (address.size() == 4 && prefix_length <= 32) {
    if (ip.size() == 4) {
      return prefixMatches(address.data(), ip.data(), prefix_length);
    }
    if (ip.size() == 16 && isV4Mapped(ip.data())) {
      return prefixMatches(address.data(), ip.data() + 12, prefix_length);
    }
    return false;
  }
  if (address.size() == 16 && prefix_length <= 128) {
    if (ip.size() == 16) {
      return prefixMatches(address.data(), ip.data(), prefix_length);
    }
    if (ip.size() == 4) {
      const auto lifted = mapped(ip.data());
      return prefixMatches(address.data(), lifted.data(), prefix_length);
    }
  }
  return false;
}

bool parseDuration(std::string_view text, std::chrono::milliseconds& out) {
  std::uint64_t number = 0;
  std::string_view unit;
  if (!splitNumber(text, number, unit)) {
    return false;
  }
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "s") {
    factor = 1000;
  } else if (unit == "ms") {
    factor = 1;
  } else if (unit == "m") {
    factor = 60 * 1000;
  } else if (unit == "h") {
    factor = 60 * 60 * 1000;
  } else {
    return false;
  }
  std::uint64_t ms = 0;
  if (!checkedMultiply(number, factor, ms) ||
      ms > static_cast<std::uint64_t>(std::numeric_limits<std::chrono::milliseconds::rep>::max())) {
    return false;
  }
  out = std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(ms));
  return true;
}

bool parseSize(std::string_view text, std::uint64_t& out) {
  std::uint64_t number = 0;
  std::string_view unit_text;
  if (!splitNumber(text, number, unit_text)) {
    return false;
  }
  // IEC units are powers of 1024, SI units powers of 1000 (as in Kubernetes quantities), so
  // "64KB" is 64000 bytes; units are case-insensitive.
  const std::string unit = lowered(unit_text);
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "b") {
    factor = 1;
  } else if (unit == "kib") {
    factor = kKiB;
  } else if (unit == "mib") {
    factor = kKiB * kKiB;
  } else if (unit == "gib") {
    factor = kKiB * kKiB * kKiB;
  } else if (unit == "tib") {
    factor = kKiB * kKiB * kKiB * kKiB;
  } else if (unit == "kb") {
    factor = 1000;
  } else if (unit == "mb") {
    factor = 1000 * 1000;
  } else if (unit == "gb") {
    factor = 1000 * 1000 * 1000;
  } else if (unit == "tb") {
    factor = 1000ULL * 1000 * 1000 * 1000;
  } else {
    return false;
  }
  return checkedMultiply(number, factor, out);
}

bool parseRateLimit(std::string_view text, RateLimit& out) {
  text = detail::trim(text);
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return false;
  }
  std::uint64_t count = 0;
  std::string_view rest;
  if (!splitNumber(text.substr(0, slash), count, rest) || !rest.empty() || count == 0 ||
      count > 1'000'000'000) {
    return false;
  }
  const std::string_view unit = detail::trim(text.substr(slash + 1));
  double seconds = 0;
  if (unit == "s") {
    seconds = 1;
  } else if (unit == "m") {
    seconds = 60;
  } else if (unit == "h") {
    seconds = 3600;
  } else {
    return false;
  }
  out.tokens_per_second = static_cast<double>(count) / seconds;
  // One second's worth of requests may arrive together; at least one, so slow rates still admit
  // a request.
  out.burst = std::max(1.0, out.tokens_per_second);
  return true;
}

bool parseIp(std::string_view text, std::vector<std::uint8_t>& out) {
  // inet_pton wants a NUL-terminated string; zone ids ("%eth0") are rejected as they name no
  // address another host could match.
  if (text.empty() || text.size() > 64 || text.find('%') != std::string_view::npos) {
    return false;
  }
  const std::string copy(text);
  std::array<std::uint8_t, 16> buffer{};
  if (inet_pton(AF_INET, copy.c_str(), buffer.data()) == 1) {
    out.assign(buffer.begin(), buffer.begin() + 4);
    return true;
  }
  if (inet_pton(AF_INET6, copy.c_str(), buffer.data()) == 1) {
    out.assign(buffer.begin(), buffer.end());
    return true;
  }
  return false;
}

bool parseCidr(std::string_view text, Cidr& out) {
  text = detail::trim(text);
  const auto slash = text.find('/');
  std::vector<std::uint8_t> address;
  if (!parseIp(text.substr(0, slash), address)) {
    return false;
  }
  const unsigned max_bits = static_cast<unsigned>(address.size() * 8);
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view length = text.substr(slash + 1);
    if (length.empty() || length.size() > 3 ||
        !std::all_of(length.begin(), length.end(), isDigit)) {
      return false;
    }
    bits = 0;
    for (char c : length) {
      bits = bits * 10 + static_cast<unsigned>(c - '0');
    }
    if (bits > max_bits) {
      return false;
    }
  }
  // Host bits after the prefix usually mean a typo ("10.0.0.1/8" for "/32"?); refuse to guess
  // which network a trust list was meant to name.
  for (unsigned bit = bits; bit < max_bits; ++bit) {
    if ((address[bit / 8] >> (7 - bit % 8)) & 1) {
      return false;
    }
  }
  out.address = std::move(address);
  out.prefix_length = bits;
  return true;
}

namespace detail {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::string quoted(std::string_view text) {
  constexpr std::size_t kMaxShown = 100;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) {
    out += "...";
  }
  out += '\'';
  return out;
}

std::string formatSize(std::uint64_t bytes) {
  static constexpr std::pair<std::uint64_t, std::string_view> kUnits[] = {
      {kKiB * kKiB * kKiB * kKiB, "TiB"},
      {kKiB * kKiB * kKiB, "GiB"},
      {kKiB * kKiB, "MiB"},
      {kKiB, "KiB"},
  };
  if (bytes != 0) {
    for (const auto& [factor, name] : kUnits) {
      if (bytes % factor == 0) {
        return std::to_string(bytes / factor) + std::string(name);
      }
    }
  }
  return std::to_string(bytes);
}

std::string formatDuration(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms != 0) {
    if (ms % 3'600'000 == 0) {
      return std::to_string(ms / 3'600'000) + "h";
    }
    if (ms % 60'000 == 0) {
      return std::to_string(ms / 60'000) + "m";
    }
    if (ms % 1000 == 0) {
      return std::to_string(ms / 1000) + "s";
    }
  }
  return std::to_string(ms) + "ms";
}

std::string formatRateLimit(const RateLimit& limit) {
  char buffer[64];
  const double per_second = limit.tokens_per_second;
  const auto whole = [](double value) { return std::abs(value - std::round(value)) < 1e-9; };
  if (whole(per_second)) {
    std::snprintf(buffer, sizeof buffer, "%.0f/s", per_second);
  } else if (whole(per_second * 60)) {
    std::snprintf(buffer, sizeof buffer, "%.0f/m", per_second * 60);
  } else if (whole(per_second * 3600)) {
    std::snprintf(buffer, sizeof buffer, "%.0f/h", per_second * 3600);
  } else {
    std::snprintf(buffer, sizeof buffer, "%g/s", per_second);
  }
  std::string out = buffer;
  if (limit.burst != std::max(1.0, per_second)) {
    std::snprintf(buffer, sizeof buffer, " (burst %g)", limit.burst);
    out += buffer;
  }
  return out;
}

std::optional<std::string> parseListen(std::string_view text, std::string& host,
                                       std::uint16_t& port) {
  text = trim(text);
  std::string_view port_text;
  bool had_colon = false;
  std::string parsed_host;
  if (auto error = splitHostPort(text, parsed_host, port_text, had_colon)) {
    return error;
  }
  if (!had_colon || port_text.empty()) {
    return "the port is missing";
  }
  if (port_text == "0") {  // the kernel picks a free port; `serve` logs the one it got
    host = std::move(parsed_host);
    port = 0;
    return std::nullopt;
  }
  const auto parsed_port = parsePort(port_text);
  if (!parsed_port) {
    return quoted(port_text) + " is not a port from 1 to 65535";
  }
  host = std::move(parsed_host);
  port = *parsed_port;
  return std::nullopt;
}

std::optional<Problem> parseUpstreamUrl(std::string_view text, UpstreamAddress& out) {
  const std::string kFix = "write http://host[:port], e.g. http://127.0.0.1:9000";
  text = trim(text);
  const std::string scheme_end = "://";
  const auto scheme_at = text.find(scheme_end);
  const std::string scheme =
      scheme_at == std::string_view::npos ? std::string() : lowered(text.substr(0, scheme_at));
  if (scheme == "https") {
    return Problem{{},
                   "https upstreams are not supported yet",
                   "use http:// to an upstream on a trusted network (TLS to upstreams is not "
                   "implemented yet)"};
  }
  if (scheme != "http") {
    return Problem{{}, "an upstream must be an http:// URL", kFix};
  }
  std::string_view rest = text.substr(scheme_at + scheme_end.size());
  const auto authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    // Not echoed: the user part may hold a password.
    return Problem{{}, "credentials in an upstream URL are not supported", kFix};
  }
  if (!tail.empty() && tail != "/") {
    return Problem{{},
                   "an upstream URL cannot have a path, query or fragment (" + quoted(tail) +
                       "); the request path is forwarded unchanged",
                   kFix};
  }
  std::string host;
  std::string_view port_text;
  bool had_colon = false;
  if (auto error = splitHostPort(authority, host, port_text, had_colon)) {
    return Problem{{}, *error, kFix};
  }
  std::uint16_t port = 80;
  if (had_colon) {
    const auto parsed_port = parsePort(port_text);
    if (!parsed_port) {
      return Problem{{}, quoted(port_text) + " is not a port from 1 to 65535", kFix};
    }
    port = *parsed_port;
  }
  out.host = std::move(host);
  out.port = port;
  return std::nullopt;
}

bool isLoopbackHost(std::string_view host) {
  std::vector<std::uint8_t> ip;
  if (!parseIp(host, ip)) {
    return false;
  }
  if (ip.size() == 4) {
    return ip[0] == 127;
  }
  if (isV4Mapped(ip.data())) {
    return ip[12] == 127;
  }
  static constexpr std::array<std::uint8_t, 16> kLoopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                          0, 0, 0, 0, 0, 0, 0, 1};
  return std::equal(kLoopback.begin(), kLoopback.end(), ip.begin());
}

std::string closestMatch(std::string_view word, const std::vector<std::string_view>& candidates) {
  // Levenshtein distance; a suggestion is worth making for one or two slips in a longer word.
  const auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
      row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        const std::size_t above = row[j];
        row[j] = std::min(
            {row[j] + 1, row[j - 1] + 1, diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1)});
        diagonal = above;
      }
    }
    return row[b.size()];
  };
  const std::size_t limit = word.size() <= 4 ? 1 : 2;
  std::string best;
  std::size_t best_distance = limit + 1;
  for (const auto candidate : candidates) {
    const std::size_t d = distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(candidate);
    }
  }
  return best;
}

}  // namespace detail
}  // namespace bulwark::core

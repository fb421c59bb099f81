#include "gateway/client_address.h"

namespace bulwark::gateway {
namespace {

bool isTrusted(std::string_view ip_text, const std::vector<core::Cidr>& trusted) {
  std::vector<std::uint8_t> ip;
  if (!core::parseIp(ip_text, ip)) return false;
  for (const auto& cidr : trusted) {
    if (cidr.contains(ip)) return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string resolveClientAddress(std::string_view peer,
                                 const std::vector<std::string_view>& forwarded_for,
                                 const std::vector<core::Cidr>& trusted) {
  if (trusted.empty() || !isTrusted(peer, trusted)) return std::string(peer);
  std::string_view client = peer;
  for (auto field = forwarded_for.rbegin(); field != forwarded_for.rend(); ++field) {
    std::string_view list = *field;
    while (!list.empty()) {
      const auto comma = list.rfind(',');
      const std::string_view entry =
          trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(0, comma);
      std::vector<std::uint8_t> ip;
      if (!core::parseIp(entry, ip)) {
        // A malformed hop means the chain is not trustworthy beyond this point.
        return std::string(client);
      }
      client = entry;
      if (!isTrusted(entry, trusted)) return std::string(client);
    }
  }
  return std::string(client);
}

}  // namespace bulwark::gateway

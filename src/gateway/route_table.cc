#include "gateway/route_table.h"

#include <algorithm>

namespace bulwark::gateway {
bool pathHasPrefix(std::string_view prefix, std::string_view path) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  if (prefix.empty() || prefix.back() == '/' || path.size() == prefix.size()) return true;
  return path[prefix.size()] == '/';
}

RouteTable::RouteTable(const std::vector<core::RouteConfig>& routes) {
  for (const auto& config : routes) {
    Route route;
    route.config = config;
    auto same = [&](const core::UpstreamAddress& u) {
      return u.host == config.upstream.host && u.port == config.upstream.port;
    };
    auto it = std::find_if(upstreams_.begin(), upstreams_.end(), same);
    route.upstream = static_cast<std::size_t>(it - upstreams_.begin());
    if (it == upstreams_.end()) upstreams_.push_back(config.upstream);
    routes_.push_back(std::move(route));
  }
  std::stable_sort(routes_.begin(), routes_.end(), [](const Route& a, const Route& b) {
    return a.config.prefix.size() > b.config.prefix.size();
  });
  for (std::size_t i = 0; i < routes_.size(); ++i) routes_[i].index = i;
}

RouteMatch RouteTable::match(std::string_view method, std::string_view target) const {
  const std::string_view path = target.substr(0, target.find('?'));
  RouteMatch result;
  for (const Route& route : routes_) {
    if (!pathHasPrefix(route.config.prefix, path)) continue;
    const auto& methods = route.config.methods;
    if (methods.empty() || std::find(methods.begin(), methods.end(), method) != methods.end()) {
      return {MatchStatus::kMatched, &route};
    }
    if (result.status == MatchStatus::kNoRoute) {
      result = {MatchStatus::kMethodNotAllowed, &route};
    }
  }
  return result;
}

}  // namespace bulwark::gateway

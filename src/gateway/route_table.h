#pragma once
// Immutable route table (SPEC F1.1): longest path prefix wins, then the method must be allowed.
// Built once from the validated settings and shared by every I/O thread without locks.

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace bulwark::gateway {

// True when `path` lies under `prefix` on whole bytes: "/api/" takes "/api/x"; a prefix without a
// trailing slash such as "/api" takes "/api" and "/api/…" but not "/apix".
bool pathHasPrefix(std::string_view prefix, std::string_view path);

struct Route {
  std::size_t index = 0;    // position in the table; indexes per-route metrics and pools
  std::size_t upstream = 0; // index into RouteTable::upstreams()
  core::RouteConfig config;
};

enum class MatchStatus { kMatched, kNoRoute, kMethodNotAllowed };

struct RouteMatch {
  MatchStatus status = MatchStatus::kNoRoute;
  const Route* route = nullptr;  // set when matched, or the prefix match on kMethodNotAllowed
};

class RouteTable {
 public:
  explicit RouteTable(const std::vector<core::RouteConfig>& routes);

  // Matches the path part of `target` (query ignored). Prefixes match on whole bytes: "/api/"
  // matches "/api/x" but not "/apix"; a prefix without a trailing slash such as "/api" matches
  // "/api", "/api/…" and "/api?…" but not "/apix".
  RouteMatch match(std::string_view method, std::string_view target) const;

  const std::vector<Route>& routes() const { return routes_; }
  // Distinct upstreams, each pooled once per I/O thread.
  const std::vector<core::UpstreamAddress>& upstreams() const { return upstreams_; }

 private:
  std::vector<Route> routes_;  // sorted by prefix length, longest first
  std::vector<core::UpstreamAddress> upstreams_;
};
using RouteTablePtr = std::shared_ptr<const RouteTable>;

}  // namespace bulwark::gateway

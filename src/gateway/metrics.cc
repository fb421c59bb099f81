#include "gateway/metrics.h"

#include <fmt/format.h>

#include "http/message_head.h"

namespace bulwark::gateway {

void WorkerMetrics::countRequest(std::size_t route_index, unsigned status,
                                 std::chrono::nanoseconds latency) {
  RouteCounters& counters = route(route_index);
  counters.requests_by_status[status < 600 ? status : 599].add();
  const double seconds = std::chrono::duration<double>(latency).count();
  std::size_t bucket = 0;
  while (bucket < kLatencyBucketsSeconds.size() && seconds > kLatencyBucketsSeconds[bucket]) {
    ++bucket;
  }
  counters.latency_buckets[bucket].add();
  counters.latency_sum_ns.add(static_cast<std::uint64_t>(latency.count()));
}

GatewayMetrics::GatewayMetrics(std::vector<std::string> route_names,
                               std::vector<std::string> upstream_names, std::size_t workers)
    : route_names_(std::move(route_names)), upstream_names_(std::move(upstream_names)) {
  route_names_.push_back("");  // requests that matched no route
  for (std::size_t i = 0; i < workers; ++i) {
    workers_.push_back(
        std::make_unique<WorkerMetrics>(route_names_.size() - 1, upstream_names_.size()));
  }
}

void GatewayMetrics::addSection(std::function<std::string()> render) {
  if (render) {
    sections_.push_back(std::move(render));
  }
}

std::uint64_t GatewayMetrics::totalRequests(unsigned status) const {
  std::uint64_t total = 0;
  for (const auto& worker : workers_) {
    for (const auto& route : worker->routes_) total += route.requests_by_status[status].value();
  }
  return total;
}

std::int64_t GatewayMetrics::openConnections() const {
  std::int64_t total = 0;
  for (const auto& worker : workers_) total += worker->connections_open.value();
  return total;
}

namespace {

// Label values are route prefixes and host:port from the validated config; escape anyway.
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string GatewayMetrics::render() const {
  std::string out;
  auto sum = [&](auto&& get) {
    std::uint64_t total = 0;
    for (const auto& worker : workers_) total += get(*worker);
    return total;
  };
  auto sumSigned = [&](auto&& get) {
    std::int64_t total = 0;
    for (const auto& worker : workers_) total += get(*worker);
    return total;
  };

  out += "# HELP bulwark_requests_total Requests answered, by route and status.\n"
         "# TYPE bulwark_requests_total counter\n";
  for (std::size_t r = 0; r < route_names_.size(); ++r) {
    for (unsigned status = 100; status < 600; ++status) {
      const auto n = sum([&](const WorkerMetrics& w) {
        return w.routes_[r].requests_by_status[status].value();
      });
      if (n == 0) continue;
      fmt::format_to(std::back_inserter(out),
                     "bulwark_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                     label(route_names_[r]), status, n);
    }
  }

  out += "# HELP bulwark_request_duration_seconds Time from request head to response end.\n"
         "# TYPE bulwark_request_duration_seconds histogram\n";
  for (std::size_t r = 0; r < route_names_.size(); ++r) {
    std::uint64_t cumulative = 0;
    const std::string name = label(route_names_[r]);
    for (std::size_t b = 0; b <= kLatencyBucketsSeconds.size(); ++b) {
      cumulative +=
          sum([&](const WorkerMetrics& w) { return w.routes_[r].latency_buckets[b].value(); });
      if (b < kLatencyBucketsSeconds.size()) {
        fmt::format_to(std::back_inserter(out),
                       "bulwark_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                       name, kLatencyBucketsSeconds[b], cumulative);
      } else {
        fmt::format_to(std::back_inserter(out),
                       "bulwark_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                       name, cumulative);
      }
    }
    const auto ns = sum([&](const WorkerMetrics& w) { return w.routes_[r].latency_sum_ns.value(); });
    fmt::format_to(std::back_inserter(out),
                   "bulwark_request_duration_seconds_sum{{route=\"{}\"}} {:.9f}\n"
                   "bulwark_request_duration_seconds_count{{route=\"{}\"}} {}\n",
                   name, static_cast<double>(ns) / 1e9, name, cumulative);
  }

  out += "# HELP bulwark_rate_limited_total Requests refused by a rate limit, by route.\n"
         "# TYPE bulwark_rate_limited_total counter\n";
  for (std::size_t r = 0; r + 1 < route_names_.size(); ++r) {
    fmt::format_to(std::back_inserter(out), "bulwark_rate_limited_total{{route=\"{}\"}} {}\n",
                   label(route_names_[r]),
                   sum([&](const WorkerMetrics& w) { return w.routes_[r].rate_limited.value(); }));
  }

  fmt::format_to(std::back_inserter(out),
                 "# HELP bulwark_connections_open Client connections open now.\n"
                 "# TYPE bulwark_connections_open gauge\n"
                 "bulwark_connections_open {}\n"
                 "# HELP bulwark_connections_accepted_total Client connections accepted.\n"
                 "# TYPE bulwark_connections_accepted_total counter\n"
                 "bulwark_connections_accepted_total {}\n"
                 "# HELP bulwark_connections_refused_total Connections refused over max_connections.\n"
                 "# TYPE bulwark_connections_refused_total counter\n"
                 "bulwark_connections_refused_total {}\n"
                 "# HELP bulwark_client_timeouts_total Client connections closed by a deadline.\n"
                 "# TYPE bulwark_client_timeouts_total counter\n"
                 "bulwark_client_timeouts_total {}\n",
                 sumSigned([](const WorkerMetrics& w) { return w.connections_open.value(); }),
                 sum([](const WorkerMetrics& w) { return w.connections_accepted.value(); }),
                 sum([](const WorkerMetrics& w) { return w.connections_refused.value(); }),
                 sum([](const WorkerMetrics& w) { return w.timeouts.value(); }));

  out += "# HELP bulwark_requests_rejected_total Malformed or hostile requests refused, by reason.\n"
         "# TYPE bulwark_requests_rejected_total counter\n";
  for (std::size_t reason = 1; reason < 32; ++reason) {
    const auto n =
        sum([&](const WorkerMetrics& w) { return w.rejected_by_reason[reason].value(); });
    if (n == 0) continue;
    fmt::format_to(std::back_inserter(out), "bulwark_requests_rejected_total{{reason=\"{}\"}} {}\n",
                   http::errorCode(static_cast<http::ParseError>(reason)), n);
  }

  struct UpstreamMetric {
    const char* name;
    const char* type;
    const char* help;
    std::int64_t (*get)(const UpstreamCounters&);
  };
  static constexpr UpstreamMetric kUpstreamMetrics[] = {
      {"bulwark_upstream_connects_total", "counter", "New upstream connections opened.",
       [](const UpstreamCounters& c) { return static_cast<std::int64_t>(c.connects.value()); }},
      {"bulwark_upstream_connect_failures_total", "counter", "Upstream connects that failed.",
       [](const UpstreamCounters& c) {
         return static_cast<std::int64_t>(c.connect_failures.value());
       }},
      {"bulwark_upstream_reused_total", "counter", "Requests sent on a pooled connection.",
       [](const UpstreamCounters& c) { return static_cast<std::int64_t>(c.reused.value()); }},
      {"bulwark_upstream_retries_total", "counter", "Requests retried after a stale connection.",
       [](const UpstreamCounters& c) { return static_cast<std::int64_t>(c.retries.value()); }},
      {"bulwark_upstream_timeouts_total", "counter", "Upstream responses that timed out (504).",
       [](const UpstreamCounters& c) { return static_cast<std::int64_t>(c.timeouts.value()); }},
      {"bulwark_upstream_pool_idle", "gauge", "Idle pooled upstream connections.",
       [](const UpstreamCounters& c) { return c.idle.value(); }},
      {"bulwark_upstream_pool_in_use", "gauge", "Upstream connections carrying a request.",
       [](const UpstreamCounters& c) { return c.in_use.value(); }},
  };
  for (const auto& metric : kUpstreamMetrics) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", metric.name,
                   metric.help, metric.name, metric.type);
    for (std::size_t u = 0; u < upstream_names_.size(); ++u) {
      fmt::format_to(std::back_inserter(out), "{}{{upstream=\"{}\"}} {}\n", metric.name,
                     label(upstream_names_[u]),
                     sumSigned([&](const WorkerMetrics& w) { return metric.get(w.upstreams_[u]); }));
    }
  }
  for (const auto& section : sections_) {
    out += section();
  }
  return out;
}

}  // namespace bulwark::gateway

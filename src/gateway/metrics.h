#pragma once
// Gateway metrics (SPEC F1.3, F6.4) as per-I/O-thread counters: each thread is the only writer of
// its own counters (a relaxed load+store, no locked instruction on the request path) and /metrics
// sums all threads when scraped, rendering the Prometheus text exposition format 0.0.4.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bulwark::gateway {

// A counter with a single writer thread and any number of readers.
class Counter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A gauge with a single writer thread.
class Gauge {
 public:
  void add(std::int64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

inline constexpr std::array<double, 14> kLatencyBucketsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct RouteCounters {
  std::array<Counter, 600> requests_by_status;  // index = HTTP status
  std::array<Counter, kLatencyBucketsSeconds.size() + 1> latency_buckets;  // last = +Inf
  Counter latency_sum_ns;
  Counter rate_limited;
};

struct UpstreamCounters {
  Counter connects;
  Counter connect_failures;
  Counter reused;
  Counter retries;
  Counter timeouts;
  Gauge idle;
  Gauge in_use;
};

// Counters written by one I/O thread.
class WorkerMetrics {
 public:
  WorkerMetrics(std::size_t routes, std::size_t upstreams)
      : routes_(routes + 1), upstreams_(upstreams) {}

  // `route` is the route index, or kNoRoute for requests answered by the gateway itself.
  static constexpr std::size_t kNoRoute = static_cast<std::size_t>(-1);
  void countRequest(std::size_t route, unsigned status, std::chrono::nanoseconds latency);
  RouteCounters& route(std::size_t route) {
    return routes_[route == kNoRoute ? routes_.size() - 1 : route];
  }
  UpstreamCounters& upstream(std::size_t index) { return upstreams_[index]; }

  Gauge connections_open;
  Counter connections_accepted;
  Counter connections_refused;  // over max_connections
  Counter timeouts;             // client-side deadlines that fired
  std::array<Counter, 32> rejected_by_reason;  // index = http::ParseError

 private:
  friend class GatewayMetrics;
  std::vector<RouteCounters> routes_;        // last entry: no route
  std::vector<UpstreamCounters> upstreams_;
};

// Owns every worker's counters and renders them.
class GatewayMetrics {
 public:
  GatewayMetrics(std::vector<std::string> route_names, std::vector<std::string> upstream_names,
                 std::size_t workers);

  WorkerMetrics& worker(std::size_t index) { return *workers_[index]; }
  std::size_t workerCount() const { return workers_.size(); }

  // Sums over threads for tests and /readyz.
  std::uint64_t totalRequests(unsigned status) const;
  std::int64_t openConnections() const;

  // Adds `render`'s text (Prometheus exposition lines) to every render(); before start only.
  void addSection(std::function<std::string()> render);

  // Returns the Prometheus text exposition of every counter.
  std::string render() const;

 private:
  std::vector<std::string> route_names_;
  std::vector<std::string> upstream_names_;
  std::vector<std::unique_ptr<WorkerMetrics>> workers_;
  std::vector<std::function<std::string()>> sections_;
};

}  // namespace bulwark::gateway

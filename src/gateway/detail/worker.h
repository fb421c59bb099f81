#pragma once
// One I/O thread of the gateway: its io_context, listener, upstream pools, deadline sweeper and
// counters. Everything here is touched only by the worker's own thread, except `Shared`.
// Private to src/gateway.

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "audit/event.h"
#include "auth/authenticator.h"
#include "http/api.h"
#include "core/config.h"
#include "detect/block_list.h"
#include "gateway/detail/io.h"
#include "gateway/metrics.h"
#include "gateway/request_id.h"
#include "gateway/route_table.h"
#include "gateway/server.h"
#include "http/message_head.h"
#include "store/rate_limit_store.h"

namespace bulwark::gateway::detail {

using SteadyTime = std::chrono::steady_clock::time_point;

// State shared by all workers; immutable after start except the documented atomics.
struct Shared {
  std::shared_ptr<const core::Settings> settings;
  RouteTablePtr routes;
  http::HeadLimits request_limits;
  http::HeadLimits response_limits;
  audit::SinkPtr audit;
  store::RateLimitStorePtr rate_limits;
  auth::AuthenticatorPtr authenticator;
  std::vector<http::ApiMount> api_mounts;
  detect::BlockListPtr blocked_addresses;
  std::vector<ReadinessCheck> readiness;
  const core::Clock* clock = nullptr;
  std::unique_ptr<asio::ssl::context> tls;  // set when the listener speaks TLS
  std::vector<std::vector<asio::ip::tcp::endpoint>> upstream_endpoints;  // per upstream
  GatewayMetrics* metrics = nullptr;
  std::chrono::milliseconds sweep_interval{250};

  // Mutable shared state, all atomics:
  std::atomic<std::size_t> open_connections{0};  // for max_connections and draining
  std::atomic<bool> draining{false};
  // Per upstream: 1 when the last connect attempt succeeded (for /readyz).
  std::unique_ptr<std::atomic<int>[]> upstream_up;
};

// Where a connection is in its life, for the sweeper (which deadline applies, what draining
// closes).
enum class Phase : std::uint8_t { kIdle, kHead, kBody, kUpstream, kResponse };

// A connection's entry in its worker's deadline list. The coroutine owning the connection sets
// the deadlines; the sweeper closes sockets whose deadline passed, which fails their pending
// operations. One coarse periodic sweep replaces a timer per operation.
struct Tracked {
  Tracked* prev = nullptr;
  Tracked* next = nullptr;
  BasicSocket* client = nullptr;
  BasicSocket* upstream = nullptr;  // set while an upstream operation is pending
  SteadyTime client_deadline = SteadyTime::max();
  SteadyTime upstream_deadline = SteadyTime::max();
  Phase phase = Phase::kIdle;
  bool client_timed_out = false;
  bool upstream_timed_out = false;
};

// An idle keep-alive connection to an upstream.
struct PooledConnection {
  Socket socket;
  SteadyTime idle_since;
};

class Worker {
 public:
  Worker(Shared& shared, std::size_t index, Acceptor::protocol_type protocol,
         const asio::ip::tcp::endpoint& endpoint);

  void start();
  // Posts the drain to this worker's thread: stop accepting, close idle connections.
  void beginDrain();
  void stop();
  void join();
  std::uint16_t port() const { return port_; }

  // Used by connections (worker thread only).
  Shared& shared() { return shared_; }
  const core::Settings& settings() const { return *shared_.settings; }
  WorkerMetrics& metrics() { return metrics_; }
  RequestIdGenerator& requestIds() { return request_ids_; }
  Executor executor() { return context_.get_executor(); }
  SteadyTime now() const { return std::chrono::steady_clock::now(); }
  void track(Tracked& entry);
  void untrack(Tracked& entry);

  // Returns an idle pooled connection to upstream `index`, or nullopt.
  std::optional<Socket> takePooled(std::size_t index);
  // Keeps `socket` for reuse if the pool has room and we are not draining.
  void returnPooled(std::size_t index, Socket socket);

 private:
  Task<void> acceptLoop();
  Task<void> sweepLoop();
  void sweep();

  Shared& shared_;
  std::size_t index_;
  WorkerMetrics& metrics_;
  RequestIdGenerator request_ids_;
  Tracked head_;  // sentinel of the deadline list; outlives the coroutines (declared first)
  // Only this worker's thread touches its sockets; other threads only post (drain) and stop, so
  // the reactor's per-descriptor locking can go while the scheduler keeps its own.
  asio::io_context context_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  Acceptor acceptor_;
  Timer sweep_timer_;
  std::uint16_t port_ = 0;
  std::vector<std::vector<PooledConnection>> pools_;  // per upstream, most recent last
  std::thread thread_;
};

// Serves one accepted client connection until it closes. Defined in connection.cc.
void spawnConnection(Worker& worker, Socket socket);

}  // namespace bulwark::gateway::detail

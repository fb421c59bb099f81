#pragma once
// The gateway server (SPEC F1): HTTP/1.1 listener(s), request limits, routing, rate limits and the
// reverse proxy with pooled keep-alive upstream connections, plus /healthz, /readyz and /metrics.
//
// One I/O thread per worker, each with its own io_context, its own SO_REUSEPORT listener, its own
// upstream pools and its own metrics, so request handling shares no locks between threads.
// Boost.Asio stays behind this header.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "audit/event.h"
#include "auth/authenticator.h"
#include "core/clock.h"
#include "core/config.h"
#include "detect/block_list.h"
#include "gateway/metrics.h"
#include "http/api.h"
#include "store/rate_limit_store.h"

namespace bulwark::gateway {

// One component /readyz reports on (a store, the audit writer). `check` runs on an I/O thread at
// each probe: it must only read a snapshot (no I/O). A component that is not ready makes /readyz
// answer 503.
struct ReadinessCheck {
  struct State {
    bool ready = true;
    std::string json;  // the component's JSON object, e.g. {"status":"ok","open":3}
  };
  std::string name;
  std::function<State()> check;
};

struct ServerDeps {
  audit::SinkPtr audit;                  // every security decision goes here
  store::RateLimitStorePtr rate_limits;  // per-route, per-client buckets
  const core::Clock* clock = &core::realClock();
  // Checks bearer tokens on routes with auth = "required". Without one, such routes answer 503
  // (fail closed).
  auth::AuthenticatorPtr authenticator;
  // The gateway's own JSON endpoints (/auth/, /admin/, /.well-known/jwks.json …), answered before
  // the route table.
  std::vector<http::ApiMount> api_mounts;
  // Client addresses refused with 403 for a while (incident responses). Optional.
  detect::BlockListPtr blocked_addresses;
  // Other components' counters (Prometheus text), appended to /metrics on each scrape.
  std::vector<std::function<std::string()>> metrics_sections;
  // Further /readyz components, after the gateway's own.
  std::vector<ReadinessCheck> readiness;
};

class Server {
 public:
  virtual ~Server() = default;

  // Binds the listeners (port 0 picks a free port shared by every worker). Throws
  // std::runtime_error naming the problem when binding or loading the TLS files fails:
  // start-up is the one place exceptions are used.
  static std::unique_ptr<Server> create(std::shared_ptr<const core::Settings> settings,
                                        ServerDeps deps);

  // Starts the I/O threads and returns.
  virtual void start() = 0;
  // Stops accepting, lets in-flight requests finish (closing idle keep-alive connections), and
  // returns once all connections are closed or shutdown_timeout has passed; then stops the
  // threads. Thread-safe; call once.
  virtual void shutdown() = 0;

  virtual std::uint16_t port() const = 0;
  virtual GatewayMetrics& metrics() = 0;
};

}  // namespace bulwark::gateway

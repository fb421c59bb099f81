#pragma once
// Starts a real gateway::Server on a loopback port chosen by the kernel, in front of a
// TestUpstream, with settings a test can adjust before start.

#include <functional>
#include <memory>

#include "core/clock.h"
#include "core/config.h"
#include "gateway/server.h"
#include "store/rate_limit_store.h"
#include "support/recording_sink.h"
#include "support/test_upstream.h"

namespace bulwark::testing {

// Returns test settings: one worker, listen 127.0.0.1:0, short but generous timeouts.
core::Settings testSettings();

// Adds a route (prefix → upstream url http://127.0.0.1:port).
core::RouteConfig testRoute(std::string prefix, std::uint16_t upstream_port);

class GatewayHarness {
 public:
  // `adjust` may add an authenticator, API mounts… before the server is created.
  explicit GatewayHarness(core::Settings settings,
                          std::function<void(gateway::ServerDeps&)> adjust = {});
  ~GatewayHarness();

  std::uint16_t port() const { return server_->port(); }
  gateway::Server& server() { return *server_; }
  RecordingSink& audit() { return *audit_; }
  core::SimulatedClock& clock() { return clock_; }
  // Drains and stops the server now (also done by the destructor).
  void shutdown();

 private:
  core::SimulatedClock clock_;
  std::shared_ptr<RecordingSink> audit_ = std::make_shared<RecordingSink>();
  std::unique_ptr<gateway::Server> server_;
  bool stopped_ = false;
};

}  // namespace bulwark::testing

#include "support/gateway_harness.h"

namespace bulwark::testing {

core::Settings testSettings() {
  core::Settings settings;
  settings.listen = "127.0.0.1:0";
  settings.workers = 1;
  settings.node_id = "test-node";
  settings.header_timeout = std::chrono::seconds(5);
  settings.idle_timeout = std::chrono::seconds(5);
  settings.request_timeout = std::chrono::seconds(10);
  settings.upstream_connect_timeout = std::chrono::seconds(2);
  settings.upstream_timeout = std::chrono::seconds(5);
  settings.shutdown_timeout = std::chrono::seconds(5);
  return settings;
}

core::RouteConfig testRoute(std::string prefix, std::uint16_t upstream_port) {
  core::RouteConfig route;
  route.prefix = prefix;
  route.name = prefix;
  route.upstream.host = "127.0.0.1";
  route.upstream.port = upstream_port;
  route.upstream_url = "http://127.0.0.1:" + std::to_string(upstream_port);
  return route;
}

GatewayHarness::GatewayHarness(core::Settings settings,
                               std::function<void(gateway::ServerDeps&)> adjust) {
  gateway::ServerDeps deps;
  deps.audit = audit_;
  deps.rate_limits = store::makeMemoryRateLimitStore(clock_);
  deps.clock = &clock_;
  if (adjust) adjust(deps);
  server_ = gateway::Server::create(std::make_shared<const core::Settings>(std::move(settings)),
                                    deps);
  server_->start();
}

GatewayHarness::~GatewayHarness() { shutdown(); }

void GatewayHarness::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  server_->shutdown();
}

}  // namespace bulwark::testing

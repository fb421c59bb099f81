#include "gateway/server.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <algorithm>
#include <stdexcept>
#include <thread>

#include "core/log.h"
#include "gateway/detail/worker.h"

namespace bulwark::gateway {
namespace {

using namespace std::chrono_literals;
namespace asio = detail::asio;

// `listen` was validated as host:port; a host name is resolved once, at start-up.
asio::ip::tcp::endpoint parseListen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port = listen.substr(colon + 1);
  asio::io_context context;
  asio::ip::tcp::resolver resolver(context);
  boost::system::error_code ec;
  auto found = resolver.resolve(host, port, asio::ip::tcp::resolver::passive, ec);
  if (ec || found.empty()) {
    throw std::runtime_error("BULWARK_LISTEN: cannot resolve '" + host + "': " + ec.message() +
                             " (fix: use an IP address such as 127.0.0.1 or [::1])");
  }
  return found.begin()->endpoint();
}

// Resolves every upstream once at start-up; an unresolvable one answers 502 at request time.
std::vector<std::vector<asio::ip::tcp::endpoint>> resolveUpstreams(const RouteTable& routes) {
  asio::io_context context;
  asio::ip::tcp::resolver resolver(context);
  std::vector<std::vector<asio::ip::tcp::endpoint>> result;
  for (const auto& upstream : routes.upstreams()) {
    boost::system::error_code ec;
    auto found = resolver.resolve(upstream.host, std::to_string(upstream.port), ec);
    std::vector<asio::ip::tcp::endpoint> endpoints;
    if (ec) {
      core::log(core::LogLevel::kError, "upstream does not resolve",
                {{"upstream", upstream.authority()}, {"error", ec.message()}});
    }
    for (const auto& entry : found) endpoints.push_back(entry.endpoint());
    result.push_back(std::move(endpoints));
  }
  return result;
}

class ServerImpl final : public Server {
 public:
  ServerImpl(std::shared_ptr<const core::Settings> settings, ServerDeps deps) {
    const auto& s = *settings;
    shared_.settings = settings;
    shared_.routes = std::make_shared<const RouteTable>(s.routes);
    shared_.request_limits = {s.max_request_line, s.max_header_bytes, s.max_header_count,
                              s.max_body_bytes};
    // Responses come from services we front, not from the Internet: a larger head budget.
    shared_.response_limits = {64 * 1024, 64 * 1024, 256, UINT64_MAX};
    shared_.audit = deps.audit;
    shared_.rate_limits = deps.rate_limits;
    shared_.authenticator = deps.authenticator;
    shared_.api_mounts = deps.api_mounts;
    shared_.blocked_addresses = deps.blocked_addresses;
    shared_.readiness = deps.readiness;
    shared_.clock = deps.clock;
    shared_.upstream_endpoints = resolveUpstreams(*shared_.routes);
    shared_.upstream_up = std::make_unique<std::atomic<int>[]>(shared_.upstream_endpoints.size());
    for (std::size_t i = 0; i < shared_.upstream_endpoints.size(); ++i) {
      shared_.upstream_up[i] = 1;
    }
    // The sweep period bounds how late a deadline fires; keep it well under the shortest one.
    const auto shortest = std::min({s.header_timeout, s.idle_timeout, s.request_timeout,
                                    s.upstream_connect_timeout, s.upstream_timeout});
    shared_.sweep_interval =
        std::clamp<std::chrono::milliseconds>(shortest / 5, 10ms, 250ms);

    if (!s.tls_cert_file.empty()) {
      auto tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
      boost::system::error_code ec;
      tls->use_certificate_chain_file(s.tls_cert_file, ec);
      if (ec) throw std::runtime_error("BULWARK_TLS_CERT_FILE: cannot load: " + ec.message());
      tls->use_private_key_file(s.tls_key_file, asio::ssl::context::pem, ec);
      if (ec) throw std::runtime_error("BULWARK_TLS_KEY_FILE: cannot load: " + ec.message());
      shared_.tls = std::move(tls);
    }

    std::vector<std::string> route_names;
    for (const auto& route : shared_.routes->routes()) route_names.push_back(route.config.name);
    std::vector<std::string> upstream_names;
    for (const auto& upstream : shared_.routes->upstreams()) {
      upstream_names.push_back(upstream.authority());
    }
    const unsigned workers =
        s.workers != 0 ? s.workers : std::max(1u, std::thread::hardware_concurrency());
    metrics_ = std::make_unique<GatewayMetrics>(route_names, upstream_names, workers);
    for (auto& section : deps.metrics_sections) metrics_->addSection(std::move(section));
    shared_.metrics = metrics_.get();

    auto endpoint = parseListen(s.listen);
    for (unsigned i = 0; i < workers; ++i) {
      workers_.push_back(
          std::make_unique<detail::Worker>(shared_, i, endpoint.protocol(), endpoint));
      endpoint.port(workers_.front()->port());  // port 0: every worker shares the first's port
    }
  }

  ~ServerImpl() override {
    for (auto& worker : workers_) worker->stop();
    for (auto& worker : workers_) worker->join();
  }

  void start() override {
    for (auto& worker : workers_) worker->start();
  }

  void shutdown() override {
    shared_.draining = true;
    for (auto& worker : workers_) worker->beginDrain();
    const auto deadline =
        std::chrono::steady_clock::now() + shared_.settings->shutdown_timeout;
    while (shared_.open_connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    const auto left = shared_.open_connections.load();
    if (left > 0) {
      core::log(core::LogLevel::kWarn, "shutdown timeout: closing connections still open",
                {{"connections", std::to_string(left)}});
    }
    for (auto& worker : workers_) worker->stop();
    for (auto& worker : workers_) worker->join();
  }

  std::uint16_t port() const override { return workers_.front()->port(); }
  GatewayMetrics& metrics() override { return *metrics_; }

 private:
  detail::Shared shared_;
  std::unique_ptr<GatewayMetrics> metrics_;
  std::vector<std::unique_ptr<detail::Worker>> workers_;
};

}  // namespace

std::unique_ptr<Server> Server::create(std::shared_ptr<const core::Settings> settings,
                                       ServerDeps deps) {
  return std::make_unique<ServerImpl>(std::move(settings), std::move(deps));
}

}  // namespace bulwark::gateway

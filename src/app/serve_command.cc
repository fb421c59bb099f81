#include "app/serve_command.h"

#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <memory>

#include "audit/event.h"
#include "core/log.h"
#include "gateway/server.h"
#include "store/rate_limit_store.h"

namespace bulwark::app {
namespace {

void recordSystemEvent(audit::Sink& sink, audit::EventType type, const core::Settings& settings) {
  audit::Event event;
  event.type = type;
  event.time = core::realClock().systemTime();
  event.target = settings.node_id;
  event.details = {{"mode", settings.mode == core::Mode::kProduction ? "production"
                                                                       : "development"},
                   {"listen", settings.listen}};
  sink.record(std::move(event));
}

}  // namespace

int runServe(const core::SettingSources& sources) {
  auto loaded = core::loadSettings(sources);
  if (!loaded.problems.empty()) {
    for (const auto& problem : loaded.problems) {
      std::cerr << problem.setting << ": " << problem.message << " (fix: " << problem.fix << ")\n";
    }
    std::cerr << "bulwark: refusing to start with " << loaded.problems.size()
              << " configuration problem(s); `bulwark config check` lists them\n";
    return 1;
  }
  auto settings = std::make_shared<const core::Settings>(std::move(loaded.settings));
  core::LogLevel level = core::LogLevel::kInfo;
  core::parseLogLevel(settings->log_level, level);
  core::setLogLevel(level);
  if (settings->routes.empty()) {
    core::log(core::LogLevel::kWarn,
              "no routes: set BULWARK_UPSTREAM or [[route]] in the config file; every proxied "
              "request will be answered 404");
  }

  // SIGTERM/SIGINT are taken synchronously by this thread; the I/O threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto audit_sink = audit::makeLoggingSink();
  gateway::ServerDeps deps;
  deps.audit = audit_sink;
  deps.rate_limits = store::makeMemoryRateLimitStore(core::realClock());
  std::unique_ptr<gateway::Server> server;
  try {
    server = gateway::Server::create(settings, deps);
  } catch (const std::exception& e) {
    std::cerr << "bulwark: cannot start: " << e.what() << "\n";
    return 1;
  }
  server->start();
  recordSystemEvent(*audit_sink, audit::EventType::kSystemStart, *settings);
  core::log(core::LogLevel::kInfo, "listening",
            {{"listen", settings->listen},
             {"port", std::to_string(server->port())},
             {"tls", settings->tls_cert_file.empty() ? "off" : "on"},
             {"routes", std::to_string(settings->routes.size())}});

  int received = 0;
  sigwait(&signals, &received);
  core::log(core::LogLevel::kInfo, "shutting down: draining connections",
            {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  server->shutdown();
  recordSystemEvent(*audit_sink, audit::EventType::kSystemStop, *settings);
  audit_sink->flush();
  core::log(core::LogLevel::kInfo, "stopped");
  core::flushLogs();
  return 0;
}

}  // namespace bulwark::app

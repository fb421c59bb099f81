#include "app/serve_command.h"

#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <memory>

#include "app/audit_setup.h"
#include "app/audit_api.h"
#include "app/auth_wiring.h"
#include "app/backend_status.h"
#include "app/backends.h"
#include "audit/event.h"
#include "audit/incident.h"
#include "audit/writer.h"
#include "detect/block_list.h"
#include "core/log.h"
#include "gateway/open_files.h"
#include "gateway/server.h"

namespace bulwark::app {
namespace {

// Takes the incident engine's "block this address" into the gateway's block list. The other
// responses are covered where the decision is made (auth locks out and revokes reused families),
// so they are logged rather than repeated.
class BlockingResponder final : public audit::IncidentResponder {
 public:
  explicit BlockingResponder(detect::BlockListPtr list) : list_(std::move(list)) {}
  void lockAccount(std::string_view account, std::chrono::seconds, std::string_view rule) override {
    core::log(core::LogLevel::kInfo, "incident: account lock left to auth's lockout",
              {{"rule", rule}});
  }
  void revokeSessions(std::string_view, std::string_view, std::string_view rule) override {
    core::log(core::LogLevel::kInfo, "incident: session revocation left to auth",
              {{"rule", rule}});
  }
  void blockAddress(std::string_view address, std::chrono::seconds duration,
                    std::string_view rule) override {
    list_->block(address, duration);
    core::log(core::LogLevel::kWarn, "incident: client address blocked",
              {{"address", address}, {"seconds", std::to_string(duration.count())},
               {"rule", rule}});
  }

 private:
  detect::BlockListPtr list_;
};

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

  // A descriptor per client and per upstream connection: take what the hard limit allows.
  const gateway::OpenFileLimit files = gateway::raiseOpenFileLimit();
  const std::uint64_t needed = gateway::descriptorsNeeded(settings->max_connections);
  if (files.soft < needed) {
    core::log(core::LogLevel::kWarn,
              "the open file limit is below what max_connections may need (a client and an "
              "upstream connection each); beyond it connections fail with EMFILE. Raise the "
              "hard limit (systemd LimitNOFILE=, ulimit -Hn) or lower max_connections",
              {{"limit", std::to_string(files.soft)},
               {"needed", std::to_string(needed)},
               {"max_connections", std::to_string(settings->max_connections)}});
  } else if (files.raised) {
    core::log(core::LogLevel::kDebug, "raised the open file limit",
              {{"limit", std::to_string(files.soft)}});
  }

  // SIGTERM/SIGINT are taken synchronously by this thread; the I/O threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // The audit trail: the file-backed, signed, group-committed writer (SPEC F3). Opened after
  // the signal mask so its thread never takes SIGTERM.
  auto audit_keys = loadAuditKeys(*settings, /*generate=*/true);
  if (!audit_keys) {
    std::cerr << "bulwark: cannot start: " << audit_keys.error().message << "\n";
    return 1;
  }
  if (audit_keys->generated) {
    core::log(core::LogLevel::kWarn,
              "audit: generated a development audit key; copy it somewhere safe to verify the "
              "trail later (production needs BULWARK_AUDIT_KEY_FILE)",
              {{"file", audit_keys->file}});
  }
  const std::string audit_kid = audit_keys->ring.active()->kid;
  // Brute force is locked out and reported by auth itself (F2.6); the engine adds the rules no
  // other component covers. Responses come with auth/detection's responders.
  audit::IncidentConfig incident_config;
  incident_config.login_failures_per_account = 0;
  incident_config.login_failures_per_address = 0;
  // Automatic response: a burst of denials from one address blocks it for a while. Account
  // locks and session revocations are done by auth itself (lockout, refresh reuse).
  auto blocked_addresses = detect::makeMemoryBlockList(core::realClock());
  auto incidents = std::make_shared<audit::IncidentEngine>(
      incident_config, core::realClock(), std::make_shared<BlockingResponder>(blocked_addresses));
  // Files, or PostgreSQL through a small pool of the trail's own (the backends' pool is opened
  // after the writer).
  auto audit_store = openAuditStore(*settings, settings->node_id);
  if (!audit_store) {
    std::cerr << "bulwark: cannot start: audit trail: " << audit_store.error().message << "\n";
    return 1;
  }
  auto writer = openAuditWriter(*settings, *audit_store, settings->node_id,
                                std::move(*audit_keys), core::realClock(), {incidents});
  if (!writer) {
    std::cerr << "bulwark: cannot start: audit trail: " << writer.error().message << "\n";
    return 1;
  }
  auto audit_sink = *writer;
  core::log(core::LogLevel::kInfo, "audit trail open",
            {{"store", (*audit_store)->describe()},
             {"kid", audit_kid},
             {"durability",
              settings->audit_durability == core::AuditDurability::kSync ? "sync" : "async"},
             {"forward_secure", settings->audit_forward_secure ? "on" : "off"},
             {"last_seq", std::to_string(audit_sink->stats().last_seq)}});
  // The stores (embedded, or PostgreSQL + Redis shared with other nodes), then auth (SPEC F2),
  // declared before the server so that they outlive it (see the shutdown below).
  Backends backends;
  try {
    backends = openBackends(*settings, core::realClock());
  } catch (const std::exception& e) {
    std::cerr << "bulwark: cannot start: " << e.what() << "\n";
    return 1;
  }
  AuthWiring auth;
  try {
    auth = buildAuth(*settings, backends, audit_sink, core::realClock());
  } catch (const std::exception& e) {
    std::cerr << "bulwark: cannot start: auth: " << e.what() << "\n";
    return 1;
  }
  gateway::ServerDeps deps;
  deps.audit = audit_sink;
  deps.rate_limits = backends.rate_limits;
  deps.authenticator = auth.authenticator;
  deps.api_mounts = auth.api_mounts;
  deps.metrics_sections.push_back(auth.metrics);
  for (auto& section : backendMetrics(backends, audit_sink)) {
    deps.metrics_sections.push_back(std::move(section));
  }
  deps.readiness = backendReadiness(backends, audit_sink);
  deps.blocked_addresses = blocked_addresses;
  // GET /admin/audit/events (F3.5), for administrators authenticated like any protected route.
  auto audit_api =
      makeAuditApi({*audit_store}, audit_sink, auth.authenticator, core::realClock());
  deps.api_mounts.push_back({"/admin/audit/", asHandler(audit_api), 4096});
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
  // Auth jobs still queued answer into the server's io_contexts: finish them while it exists.
  auth.stop();
  stopAuditApi(*audit_api);
  recordSystemEvent(*audit_sink, audit::EventType::kSystemStop, *settings);
  audit_sink->flush();
  audit_sink->close();  // a final checkpoint seals the trail
  const auto audit_stats = audit_sink->stats();
  core::log(core::LogLevel::kInfo, "stopped",
            {{"audit_last_seq", std::to_string(audit_stats.durable_seq)},
             {"audit_dropped", std::to_string(audit_stats.dropped)}});
  core::flushLogs();
  return 0;
}

}  // namespace bulwark::app

#pragma once
// What the stores and the audit writer report through the gateway's /metrics and /readyz
// (SPEC F6.1 pool metrics, F6.4): Prometheus text sections and readiness checks built from the
// components' own stats snapshots, so the gateway knows nothing about PostgreSQL or Redis.

#include <functional>
#include <string>
#include <vector>

#include "app/backends.h"
#include "audit/writer.h"
#include "gateway/server.h"

namespace bulwark::app {

// /metrics sections: the audit writer (queue, durable watermark, drops, batch latency), and when
// configured the PostgreSQL pool (open, idle, in use, waits, wait time, reconnects…) and the
// Redis client (connections, commands, errors, retries, reconnects).
std::vector<std::function<std::string()>> backendMetrics(const Backends& backends,
                                                         audit::WriterPtr writer);

// /readyz components: "audit" (not failed), and when configured "database" (a connection open
// or openable), "redis" (a connection up) and "revocations" (the shared set is current).
std::vector<gateway::ReadinessCheck> backendReadiness(const Backends& backends,
                                                      audit::WriterPtr writer);

}  // namespace bulwark::app

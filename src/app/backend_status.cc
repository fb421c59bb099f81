#include "app/backend_status.h"

#include <fmt/format.h>

#include <chrono>
#include <iterator>

namespace bulwark::app {
namespace {

// Appends one unlabelled sample with its HELP and TYPE lines.
void sample(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            double value) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name,
                 type, name, value);
}

std::string auditMetrics(const audit::Writer& writer) {
  const audit::WriterStats s = writer.stats();
  std::string out;
  sample(out, "bulwark_audit_events_total", "counter", "Audit events accepted by the writer.",
         double(s.appended));
  sample(out, "bulwark_audit_dropped_total", "counter",
         "Audit events refused (queue overflow, timeout, closed); each overflow is itself audited.",
         double(s.dropped));
  sample(out, "bulwark_audit_records_written_total", "counter",
         "Records written, the writer's own (checkpoints, overflow) included.",
         double(s.records_written));
  sample(out, "bulwark_audit_batches_total", "counter", "Group-committed batches.",
         double(s.batches));
  sample(out, "bulwark_audit_syncs_total", "counter",
         "fsyncs of the trail; records_written / syncs is the group-commit size.", double(s.syncs));
  sample(out, "bulwark_audit_sync_seconds_total", "counter",
         "Time spent in fsyncs of the trail (in sync durability, what requests wait for).",
         double(s.sync_nanos) / 1e9);
  sample(out, "bulwark_audit_write_errors_total", "counter", "Failed appends or syncs.",
         double(s.write_errors));
  sample(out, "bulwark_audit_queue_depth", "gauge", "Events waiting for the writer.",
         double(s.queue_depth));
  sample(out, "bulwark_audit_last_seq", "gauge", "Last sequence number assigned.",
         double(s.last_seq));
  sample(out, "bulwark_audit_durable_seq", "gauge", "Every record up to this one is durable.",
         double(s.durable_seq));
  sample(out, "bulwark_audit_backlog", "gauge", "Records assigned but not yet durable.",
         double(s.last_seq - std::min(s.durable_seq, s.last_seq)));
  sample(out, "bulwark_audit_last_batch_seconds", "gauge",
         "Duration of the last batch's write and sync.", double(s.last_batch_micros) / 1e6);
  sample(out, "bulwark_audit_failed", "gauge", "1 when the writer stopped on an I/O error.",
         s.failed ? 1.0 : 0.0);
  return out;
}

std::string poolMetrics(const store::PostgresPool& pool) {
  const store::PoolStats s = pool.stats();
  std::string out;
  sample(out, "bulwark_db_pool_open", "gauge", "PostgreSQL connections open (idle + in use).",
         double(s.open));
  sample(out, "bulwark_db_pool_idle", "gauge", "PostgreSQL connections idle in the pool.",
         double(s.idle));
  sample(out, "bulwark_db_pool_in_use", "gauge", "PostgreSQL connections lent to callers.",
         double(s.in_use));
  sample(out, "bulwark_db_pool_waits_total", "counter",
         "Acquisitions that waited for a free connection.", double(s.waits));
  sample(out, "bulwark_db_pool_wait_seconds_total", "counter",
         "Time spent waiting for a free connection.",
         std::chrono::duration<double>(s.wait_time).count());
  sample(out, "bulwark_db_pool_acquire_timeouts_total", "counter",
         "Waits that ended without a connection (503).", double(s.acquire_timeouts));
  sample(out, "bulwark_db_pool_connects_total", "counter", "Connections established.",
         double(s.connects));
  sample(out, "bulwark_db_pool_connect_failures_total", "counter", "Failed connection attempts.",
         double(s.connect_failures));
  sample(out, "bulwark_db_pool_reconnects_total", "counter",
         "Connections opened to replace a broken one.", double(s.reconnects));
  sample(out, "bulwark_db_pool_broken_total", "counter", "Connections found dead.",
         double(s.broken));
  sample(out, "bulwark_db_pool_health_replacements_total", "counter",
         "Dead idle connections the health check replaced.", double(s.health_replacements));
  return out;
}

std::string redisMetrics(const store::RedisClient& client) {
  const store::RedisStats s = client.stats();
  std::string out;
  sample(out, "bulwark_redis_connections_up", "gauge", "Redis command connections ready.",
         double(s.connections_up));
  sample(out, "bulwark_redis_commands_total", "counter", "Redis commands answered.",
         double(s.commands));
  sample(out, "bulwark_redis_errors_total", "counter",
         "Redis commands that failed after their retries.", double(s.errors));
  sample(out, "bulwark_redis_retries_total", "counter",
         "Redis commands sent again after a lost connection.", double(s.retries));
  sample(out, "bulwark_redis_reconnects_total", "counter", "Redis connections re-established.",
         double(s.reconnects));
  return out;
}

gateway::ReadinessCheck::State state(bool ready, std::string details) {
  std::string json = ready ? R"({"status":"ok")" : R"({"status":"unavailable")";
  json += details;
  json += '}';
  return {ready, std::move(json)};
}

}  // namespace

std::vector<std::function<std::string()>> backendMetrics(const Backends& backends,
                                                         audit::WriterPtr writer) {
  std::vector<std::function<std::string()>> sections;
  sections.emplace_back([writer] { return auditMetrics(*writer); });
  if (auto pool = backends.database) {
    sections.emplace_back([pool] { return poolMetrics(*pool); });
  }
  if (auto redis = backends.redis) {
    sections.emplace_back([redis] { return redisMetrics(*redis); });
  }
  return sections;
}

std::vector<gateway::ReadinessCheck> backendReadiness(const Backends& backends,
                                                      audit::WriterPtr writer) {
  std::vector<gateway::ReadinessCheck> checks;
  checks.push_back({"audit", [writer] {
                      const auto s = writer->stats();
                      return state(!s.failed,
                                   fmt::format(R"(,"durable_seq":{},"queue_depth":{})",
                                               s.durable_seq, s.queue_depth));
                    }});
  if (auto pool = backends.database) {
    // The health thread drops dead connections; none open means the database is unreachable.
    checks.push_back({"database", [pool] {
                        const auto s = pool->stats();
                        return state(s.open > 0, fmt::format(R"(,"open":{},"in_use":{})", s.open,
                                                             s.in_use));
                      }});
  }
  if (auto redis = backends.redis) {
    checks.push_back({"redis", [redis] {
                        const auto s = redis->stats();
                        return state(s.connections_up > 0,
                                     fmt::format(R"(,"connections_up":{})", s.connections_up));
                      }});
  }
  if (auto revocations = backends.revocations) {
    checks.push_back({"revocations", [revocations] {
                        return state(revocations->isCurrent(),
                                     fmt::format(R"(,"entries":{})", revocations->size()));
                      }});
  }
  return checks;
}

}  // namespace bulwark::app

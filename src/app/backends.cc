#include "app/backends.h"

namespace bulwark::app {

store::PostgresConfig postgresConfig(const core::Settings& settings) {
  store::PostgresConfig config;
  config.url = settings.database_url;
  config.max_open = settings.db_max_open;
  config.max_idle = settings.db_max_idle;
  config.conn_max_lifetime = settings.db_conn_max_lifetime;
  config.conn_max_idle_time = settings.db_conn_max_idle_time;
  config.health_interval = settings.db_health_interval;
  config.acquire_timeout = settings.db_acquire_timeout;
  if (!settings.node_id.empty()) {
    config.application_name = "bulwark " + settings.node_id;
  }
  return config;
}

}  // namespace bulwark::app

#include "app/audit_setup.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "app/backends.h"
#include "audit/file_store.h"
#include "audit/postgres_store.h"
#include "crypto/random.h"

namespace bulwark::app {

std::string auditTrailDirectory(const core::Settings& settings) {
  return (std::filesystem::path(settings.data_dir) / "audit" / settings.node_id).string();
}

std::string developmentAuditKeyFile(const core::Settings& settings) {
  return (std::filesystem::path(settings.data_dir) / "audit" / "audit.key").string();
}

audit::Result<AuditKeys> loadAuditKeys(const core::Settings& settings, bool generate) {
  AuditKeys keys;
  if (!settings.audit_key_file.empty()) {
    auto ring = audit::loadKeyFile(settings.audit_key_file);
    if (!ring) return ring.error();
    keys.ring = std::move(*ring);
    keys.file = settings.audit_key_file;
    return keys;
  }
  if (!settings.audit_key.empty()) {
    auto ring = audit::parseKeyRing(settings.audit_key, "BULWARK_AUDIT_KEY");
    if (!ring) return ring.error();
    keys.ring = std::move(*ring);
    return keys;
  }
  if (settings.mode == core::Mode::kProduction) {
    return audit::auditError(audit::Errc::kBadKey,
                             "production mode requires an audit key: set "
                             "BULWARK_AUDIT_KEY_FILE (mode 0600) or BULWARK_AUDIT_KEY");
  }
  keys.file = developmentAuditKeyFile(settings);
  std::error_code ec;
  if (std::filesystem::exists(keys.file, ec)) {
    auto ring = audit::loadKeyFile(keys.file);
    if (!ring) return ring.error();
    keys.ring = std::move(*ring);
    return keys;
  }
  if (!generate) {
    return audit::auditError(audit::Errc::kBadKey,
                             "no audit key: set BULWARK_AUDIT_KEY_FILE or BULWARK_AUDIT_KEY "
                             "(development mode creates " +
                                 keys.file + " at `serve`)");
  }
  const auto parent = std::filesystem::path(keys.file).parent_path();
  std::filesystem::create_directories(parent, ec);
  if (ec) return audit::systemError(ec.value(), "cannot create " + parent.string());
  ::chmod(parent.c_str(), 0700);
  auto ring = audit::generateKeyFile(keys.file, crypto::systemRandom());
  if (!ring) return ring.error();
  keys.ring = std::move(*ring);
  keys.generated = true;
  return keys;
}

audit::WriterConfig auditWriterConfig(const core::Settings& settings, const std::string& node,
                                      const std::string& key_file) {
  audit::WriterConfig config;
  config.node = node;
  config.durability = settings.audit_durability == core::AuditDurability::kSync
                          ? audit::Durability::kSync
                          : audit::Durability::kAsync;
  config.batch_interval = settings.audit_batch_interval;
  config.queue_capacity = settings.audit_queue_capacity;
  config.enqueue_timeout = settings.audit_enqueue_timeout;
  config.checkpoint_every = settings.audit_checkpoint_every;
  config.checkpoint_interval = settings.audit_checkpoint_interval;
  config.forward_secure = settings.audit_forward_secure;
  config.epoch_records = settings.audit_epoch_records;
  config.epoch_interval = settings.audit_epoch_interval;
  config.key_file = key_file;
  return config;
}

audit::Result<store::PostgresPoolPtr> openAuditPool(const core::Settings& settings) {
  if (settings.database_url.empty()) {
    return audit::auditError(audit::Errc::kBadConfig,
                             "audit_store = postgres needs BULWARK_DATABASE_URL");
  }
  store::PostgresConfig config = postgresConfig(settings);
  // The writer holds its own connection (the node's advisory lock) outside the pool; the pool
  // serves reads (the admin API's one thread, `audit` commands) and the tail checks.
  config.application_name += "/audit";
  config.max_open = std::min<std::size_t>(config.max_open, 4);
  config.max_idle = std::min<std::size_t>(config.max_idle, 2);
  std::string reason;
  auto pool = store::openPostgresPool(config, &reason);
  if (!pool) {
    return audit::auditError(audit::Errc::kWriterFailed,
                             "cannot open the audit trail's database (BULWARK_DATABASE_URL): " +
                                 (reason.empty() ? pool.error().message() : reason));
  }
  return std::move(*pool);
}

audit::Result<audit::StorePtr> openAuditStore(const core::Settings& settings,
                                              const std::string& node,
                                              store::PostgresPoolPtr pool) {
  if (settings.audit_store == core::AuditStore::kFiles) {
    const auto directory = std::filesystem::path(settings.data_dir) / "audit" / node;
    // In sync durability every request waits for an fsync: preallocate so that it is cheap.
    return audit::makeFileStore(
        {.directory = directory.string(),
         .segment_size = settings.audit_segment_size,
         .preallocate = settings.audit_durability == core::AuditDurability::kSync});
  }
  if (!pool) {
    auto opened = openAuditPool(settings);
    if (!opened) return opened.error();
    pool = std::move(*opened);
  }
  return audit::makePostgresStore(std::move(pool), node);
}

audit::Result<audit::WriterPtr> openAuditWriter(
    const core::Settings& settings, audit::StorePtr store, const std::string& node, AuditKeys keys,
    core::Clock& clock, std::vector<std::shared_ptr<audit::RecordObserver>> observers) {
  audit::WriterDeps deps;
  deps.store = std::move(store);
  deps.keys = std::move(keys.ring);
  deps.clock = &clock;
  deps.random = &crypto::systemRandom();
  deps.observers = std::move(observers);
  return audit::Writer::open(auditWriterConfig(settings, node, keys.file), std::move(deps));
}

audit::Result<audit::WriterPtr> openCommandAuditTrail(const core::Settings& settings,
                                                      core::Clock& clock) {
  auto keys = loadAuditKeys(settings, /*generate=*/true);
  if (!keys) return keys.error();
  auto own_store = openAuditStore(settings, settings.node_id);
  if (!own_store) return own_store.error();
  auto own = openAuditWriter(settings, *own_store, settings.node_id, std::move(*keys), clock);
  if (own || own.error().code != audit::Errc::kLocked) return own;
  if (settings.audit_forward_secure) {
    // The running server evolves (rewrites) the key file each epoch; a second writer on it
    // would break the server's key state.
    return audit::auditError(
        audit::Errc::kLocked,
        "a running server owns the audit trail and its forward-secure key; use the admin API "
        "(POST /admin/users/NAME/lock) or stop the server");
  }
  core::Settings command = settings;
  command.node_id = settings.node_id + "-cli";
  auto command_keys = loadAuditKeys(command, /*generate=*/false);
  if (!command_keys) return command_keys.error();
  auto command_store = openAuditStore(command, command.node_id);
  if (!command_store) return command_store.error();
  return openAuditWriter(command, *command_store, command.node_id, std::move(*command_keys), clock);
}

}  // namespace bulwark::app

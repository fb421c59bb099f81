#pragma once
// Wiring of the audit trail from settings, shared by `serve` and the `audit`/`users` commands:
// where the trail lives, which key signs it, and a Writer over its store.
//
// audit_store = files: <data_dir>/audit/<node_id>/segment-*.ndjson (see audit/file_store.h);
// audit_store = postgres: the node's rows of audit_records at database_url (postgres_store.h),
// through a small pool of the trail's own. In development mode without a configured key, the
// key is <data_dir>/audit/audit.key (generated, mode 0600) either way.

#include <memory>
#include <string>
#include <vector>

#include "audit/writer.h"
#include "core/clock.h"
#include "core/config.h"
#include "store/postgres.h"

namespace bulwark::app {

// <data_dir>/audit/<node_id>
std::string auditTrailDirectory(const core::Settings& settings);
// <data_dir>/audit/audit.key: the development key's place.
std::string developmentAuditKeyFile(const core::Settings& settings);

struct AuditKeys {
  audit::KeyRing ring;
  std::string file;        // the key file in use ("" when from BULWARK_AUDIT_KEY)
  bool generated = false;  // created just now (development)
};

// Loads the audit keys: BULWARK_AUDIT_KEY_FILE, else BULWARK_AUDIT_KEY, else (development only)
// the development key file, generated when `generate` is true and it does not exist.
audit::Result<AuditKeys> loadAuditKeys(const core::Settings& settings, bool generate);

// The writer configuration the settings describe, for `node` (normally settings.node_id).
audit::WriterConfig auditWriterConfig(const core::Settings& settings, const std::string& node,
                                      const std::string& key_file);

// Opens the pool the PostgreSQL trail is read and written through (database_url, the db_*
// settings, at most a few connections; migrates the database). Start-up and commands only:
// connecting retries. Errors name BULWARK_DATABASE_URL, never the password.
audit::Result<store::PostgresPoolPtr> openAuditPool(const core::Settings& settings);

// Returns the store of `node`'s trail that audit_store chooses: the file store of
// <data_dir>/audit/<node> (nothing touched yet), or the node's PostgreSQL rows through `pool`,
// else through a pool opened by openAuditPool().
audit::Result<audit::StorePtr> openAuditStore(const core::Settings& settings,
                                              const std::string& node,
                                              store::PostgresPoolPtr pool = nullptr);

// Opens a Writer on `store` (the node's trail; open() is called by the writer).
audit::Result<audit::WriterPtr> openAuditWriter(
    const core::Settings& settings, audit::StorePtr store, const std::string& node,
    AuditKeys keys, core::Clock& clock,
    std::vector<std::shared_ptr<audit::RecordObserver>> observers = {});

// The trail a one-shot command (`users add|lock|unlock`) records its events in: the node's own
// when no server holds it, else — a running `serve` owns that chain — the command trail of node
// "<node_id>-cli" beside it (its own chain: `audit verify --node-id <node_id>-cli`). Events are
// durable once the returned writer is closed.
audit::Result<audit::WriterPtr> openCommandAuditTrail(const core::Settings& settings,
                                                      core::Clock& clock);

}  // namespace bulwark::app

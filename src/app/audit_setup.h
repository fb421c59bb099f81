#pragma once
// Wiring of the audit trail from settings, shared by `serve` and the `audit`/`users` commands:
// where the trail lives, which key signs it, and a Writer over the file store.
//
// Layout under data_dir: audit/<node_id>/segment-*.ndjson (the trail, see audit/file_store.h)
// and, in development mode without a configured key, audit/audit.key (generated, mode 0600).

#include <memory>
#include <string>
#include <vector>

#include "audit/writer.h"
#include "core/clock.h"
#include "core/config.h"

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

// Opens a Writer on the file store of `directory` (the node's trail).
audit::Result<audit::WriterPtr> openAuditWriter(
    const core::Settings& settings, const std::string& directory, const std::string& node,
    AuditKeys keys, core::Clock& clock,
    std::vector<std::shared_ptr<audit::RecordObserver>> observers = {});

// The trail a one-shot command (`users add|lock|unlock`) records its events in: the node's own
// when no server holds it, else — a running `serve` owns that chain — the command trail of node
// "<node_id>-cli" beside it (its own chain: `audit verify --node-id <node_id>-cli`). Events are
// durable once the returned writer is closed.
audit::Result<audit::WriterPtr> openCommandAuditTrail(const core::Settings& settings,
                                                      core::Clock& clock);

}  // namespace bulwark::app

#pragma once
// The production audit store (SPEC F3.4, F6.1; DESIGN decisions 2, 3, 6): one node's chain as
// rows of the audit_records table, keyed by (node, seq), in the shared PostgreSQL database. Every
// node appends only its own rows, so nodes never contend; readers (SIEM cursors, query, verify)
// page through them by seq.
//
//   open()    takes a session advisory lock on the node on a connection of its own (another
//             writer of the node, on any host, gets Errc::kLocked) and reports the tail
//   append()  one COPY … FROM STDIN (binary) per batch: atomic, and committed (durable) on return
//   sync()    nothing left to do: a COPY's commit was already flushed (synchronous_commit)
//
// The exact record bytes are stored (bytea), so the MAC chain verifies as it does on files.

#include <string>

#include "audit/store.h"
#include "store/postgres.h"

namespace bulwark::audit {

// Returns the store of `node`'s trail in `pool`'s database (migrated by openPostgresPool).
// Nothing is touched until open() or read(). Thread-safety as audit::Store.
StorePtr makePostgresStore(store::PostgresPoolPtr pool, std::string node);

}  // namespace bulwark::audit

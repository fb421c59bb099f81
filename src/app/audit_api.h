#pragma once
// GET /admin/audit/events (SPEC F3.5): the audit trail queried over HTTP by an administrator.
// Query parameters: type (comma-separated, repeatable), actor, request_id, since, until (as for
// `bulwark audit export`), limit (default 1000, at most 10000), format (ndjson | json). The
// stored lines are returned unchanged, so an export still verifies. Every read is itself audited
// (DATA_EXPORT, with the query and the count). Reads run on a one-thread pool of their own, never
// on an I/O thread.

#include <memory>
#include <string>

#include "audit/event.h"
#include "audit/store.h"
#include "auth/authenticator.h"
#include "core/clock.h"
#include "http/api.h"

namespace bulwark::app {

class AuditApi;

struct AuditApiConfig {
  audit::StorePtr trail;  // the node's trail (openAuditStore), read through its cursors
  std::string admin_role = "admin";
};

// Returns the handler (mount it at "/admin/audit/"). Call stopAuditApi() after the gateway's
// shutdown and before it is destroyed.
std::shared_ptr<AuditApi> makeAuditApi(AuditApiConfig config, audit::SinkPtr trail,
                                       auth::AuthenticatorPtr authenticator,
                                       const core::Clock& clock);
http::ApiHandlerPtr asHandler(const std::shared_ptr<AuditApi>& api);
void stopAuditApi(AuditApi& api);

}  // namespace bulwark::app

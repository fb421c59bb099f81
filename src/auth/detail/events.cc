#include "auth/detail/events.h"

namespace bulwark::auth::detail {

void record(audit::Sink* sink, const core::Clock& clock, const RequestContext& context,
            EventFields fields) {
  if (sink == nullptr) {
    return;
  }
  audit::Event event;
  event.type = fields.type;
  event.severity = fields.severity;
  event.outcome = fields.outcome;
  event.time = clock.systemTime();
  event.actor = std::move(fields.actor);
  event.client_address = context.client_address;
  event.request_id = context.request_id;
  event.target = std::move(fields.target);
  event.details = std::move(fields.details);
  sink->record(std::move(event));
}

}  // namespace bulwark::auth::detail

#pragma once
// Which address a request comes from, for rate limits, lockouts and audit events.
// X-Forwarded-For is believed only as far as it was written by trusted proxies: walking the list
// from the right (the hop closest to us), each entry added by a trusted proxy is skipped and the
// first untrusted one is the client. A client cannot spoof its address by sending the header.

#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace bulwark::gateway {

// `peer` is the socket peer's textual IP. `forwarded_for` is every X-Forwarded-For value in
// order (possibly several fields). Returns the client address text.
std::string resolveClientAddress(std::string_view peer,
                                 const std::vector<std::string_view>& forwarded_for,
                                 const std::vector<core::Cidr>& trusted);

}  // namespace bulwark::gateway

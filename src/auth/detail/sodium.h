#pragma once
// libsodium must be initialised once before use (it picks implementations for this CPU).

namespace bulwark::auth::detail {

// Calls sodium_init() once per process; throws std::runtime_error if it fails.
void ensureSodium();

}  // namespace bulwark::auth::detail

#pragma once
// The auth components' configurations, derived from the program's validated settings (so the
// HTTP wiring and `bulwark users` build them the same way).

#include "auth/account_service.h"
#include "auth/lockout.h"
#include "auth/password_hasher.h"
#include "auth/session_service.h"
#include "auth/worker_pool.h"
#include "core/config.h"

namespace bulwark::auth {

struct AuthConfigs {
  AccountConfig accounts;
  SessionConfig sessions;
  LockoutConfig lockout;
  PasswordHashConfig password_hash;
  WorkerPoolConfig workers;
};

// Maps `settings` (already validated by core::loadSettings) to the auth configurations. Sign-up
// "auto" is open in development and closed in production; 0 workers means one per CPU core.
AuthConfigs authConfigs(const core::Settings& settings);

}  // namespace bulwark::auth

#include "auth/settings.h"

#include <algorithm>
#include <thread>

namespace bulwark::auth {

AuthConfigs authConfigs(const core::Settings& settings) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  AuthConfigs out;
  switch (settings.sign_up) {
    case core::SignUp::kAuto:
      out.accounts.open_sign_up = settings.mode == core::Mode::kDevelopment;
      break;
    case core::SignUp::kOpen:
      out.accounts.open_sign_up = true;
      break;
    case core::SignUp::kClosed:
      out.accounts.open_sign_up = false;
      break;
  }
  // Token lifetimes are whole seconds (JWT exp/iat); settings allow at least a minute.
  out.sessions.access_ttl = duration_cast<seconds>(settings.access_token_ttl);
  out.sessions.refresh_ttl = duration_cast<seconds>(settings.refresh_token_ttl);
  out.sessions.session_lifetime = duration_cast<seconds>(settings.session_lifetime);
  out.sessions.reuse_leeway = settings.refresh_reuse_leeway;

  out.lockout.account_threshold = settings.lockout_account_threshold;
  out.lockout.address_threshold = settings.lockout_address_threshold;
  out.lockout.base_delay = settings.lockout_base_delay;
  out.lockout.max_delay = settings.lockout_max_delay;
  // A counter outlives its longest lockout, or the doubling would restart at every lockout.
  out.lockout.forget_after = std::max(out.lockout.forget_after, 2 * settings.lockout_max_delay);

  out.password_hash.memory_bytes = settings.argon2_memory;
  out.password_hash.iterations = settings.argon2_iterations;

  out.workers.threads = settings.auth_workers != 0
                            ? settings.auth_workers
                            : std::max(1u, std::thread::hardware_concurrency());
  out.workers.queue_capacity = settings.auth_queue;
  return out;
}

}  // namespace bulwark::auth

#pragma once
// Accounts (SPEC F2.1, F2.6): registration, login, roles, lock and unlock.
//
// Login does the same work whether or not the account exists: an unknown (or impossible)
// username is verified against a dummy argon2id hash made with the same parameters, so the
// answer takes as long and is the same (kInvalidCredentials) for an unknown user, a wrong
// password and an administrator-locked account. A locked account is answered like a wrong
// password, not like a brute-force lockout: a 429 would tell an attacker the account exists.
// The audit trail records the real reason (LOGIN_FAILED with "unknown_user", "bad_password",
// "account_locked" or "locked_out").
//
// Brute force (Lockout): checked before any password is hashed; while an account or client
// address is locked the answer is kLockedOut with Retry-After, and LOGIN_FAILED is written. The
// failure that starts a lockout also writes SECURITY_INCIDENT ("brute_force").
//
// Locking an account revokes all its sessions and access tokens (logout-all). Admin actions
// write PERMISSION_CHANGE; account creation writes DATA_MODIFY ("user_created").
//
// Passwords, hashes and tokens never appear in events, logs or errors. All methods are
// thread-safe and block (argon2id, stores): run them on the auth WorkerPool.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event.h"
#include "auth/context.h"
#include "auth/error.h"
#include "auth/lockout.h"
#include "auth/password_hasher.h"
#include "auth/session_service.h"
#include "core/clock.h"
#include "crypto/random.h"
#include "store/user_store.h"

namespace bulwark::auth {

struct AccountConfig {
  bool open_sign_up = false;                       // POST /auth/register for anyone
  std::vector<std::string> default_roles{"user"};  // given to registered accounts
  std::size_t min_password_length = 8;             // NIST SP 800-63B minimum
  std::size_t max_password_length = 1024;          // bounds the hashing input
};

// Decision counters (STYLE habit 7), for /metrics. Monotonic since creation.
struct AccountStats {
  std::uint64_t registered = 0;        // accounts created (sign-up, CLI, administrators)
  std::uint64_t logins = 0;            // successful
  std::uint64_t login_failures = 0;    // kInvalidCredentials
  std::uint64_t locked_out = 0;        // refused with kLockedOut
  std::uint64_t lockouts_started = 0;  // account or address lockouts begun (incidents)
  std::uint64_t rehashed = 0;          // hashes upgraded to the current parameters
};

struct AccountDeps {
  store::UserStorePtr users;
  PasswordHasherPtr hasher;
  LockoutPtr lockout;
  SessionServicePtr sessions;  // login starts one; lock revokes them
  audit::SinkPtr audit;        // may be null (no events)
};

class AccountService {
 public:
  virtual ~AccountService() = default;

  // Open sign-up (POST /auth/register): kSignUpClosed when it is off; otherwise as createUser
  // with the default roles. Returns the new user (its id is the answer's `id`).
  [[nodiscard]] virtual AuthResult<store::User> registerUser(std::string_view username,
                                                             std::string_view password,
                                                             const RequestContext& context) = 0;

  // Creates an account whatever the sign-up setting (CLI, administrators). kInvalidUsername,
  // kInvalidPassword, kInvalidRole, kUsernameTaken, kUnavailable. `actor` names who did it.
  [[nodiscard]] virtual AuthResult<store::User> createUser(std::string_view username,
                                                           std::string_view password,
                                                           const std::vector<std::string>& roles,
                                                           std::string_view actor,
                                                           const RequestContext& context) = 0;

  // Checks the password and starts a session. kLockedOut (retry_after set) while the account or
  // the client address is locked out; kInvalidCredentials for every other refusal; kUnavailable
  // when a store or the signer fails. Upgrades the stored hash when its parameters are outdated.
  [[nodiscard]] virtual AuthResult<TokenGrant> login(std::string_view username,
                                                     std::string_view password,
                                                     const RequestContext& context) = 0;

  // Returns whether a login attempt would be refused for lockout right now, without hashing
  // anything: lets the caller answer 429 before queueing work on the pool.
  virtual LockoutStatus checkLockout(std::string_view username,
                                     const RequestContext& context) const = 0;

  // Locks or unlocks `username` (administrators, CLI). Locking revokes every session and access
  // token of the account; unlocking also clears its brute-force lockout. kNotFound, kUnavailable.
  [[nodiscard]] virtual AuthResult<void> setLocked(std::string_view username, bool locked,
                                                   std::string_view actor,
                                                   const RequestContext& context) = 0;

  // Replaces the roles of `username`; they reach tokens at the next refresh. kInvalidRole,
  // kNotFound, kUnavailable.
  [[nodiscard]] virtual AuthResult<void> setRoles(std::string_view username,
                                                  const std::vector<std::string>& roles,
                                                  std::string_view actor,
                                                  const RequestContext& context) = 0;

  // Counters of the decisions taken so far. Thread-safe.
  virtual AccountStats stats() const = 0;

  // Creates the service; computes the dummy hash (one argon2id run). Throws
  // std::invalid_argument for a missing dependency or invalid default roles (start-up only).
  static std::shared_ptr<AccountService> create(const AccountConfig& config, AccountDeps deps,
                                                const core::Clock& clock, crypto::Random& random);
};
using AccountServicePtr = std::shared_ptr<AccountService>;

}  // namespace bulwark::auth

#pragma once
// Accounts (SPEC F2.1): username, password hash, roles, locked flag and the per-user not-before
// that logout-all raises. Backend-neutral: embedded SQLite or in-process memory (factories below),
// PostgreSQL in production. Every implementation passes tests/unit/store/user_store_suite.h.
//
// Usernames are stored in normal form and unique in it (see normalizeUsername), so "Alice" and
// "alice" are one account. Times are kept with millisecond precision.
//
// All methods are thread-safe and may block on I/O (a database round trip, a busy lock): call them
// from the auth worker pool, never from an I/O thread.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "store/error.h"
#include "store/sqlite_config.h"

namespace bulwark::store {

// Returns the normal form of `username`, or nullopt when it is not acceptable. Rules: 1 to 64
// characters of ASCII letters, digits, '.', '_', '-' and '@', starting with a letter or a digit;
// ASCII letters are lowercased. Anything else (spaces, control characters, non-ASCII) is refused
// rather than folded: Unicode case folding and look-alike letters ("аdmin" with a Cyrillic а)
// would let two different strings name one account or one string look like another.
std::optional<std::string> normalizeUsername(std::string_view username);

// True for a role name: 1 to 64 characters of ASCII letters, digits, '_', '-', '.', ':'. Roles
// are compared exactly (case-sensitive), as the route table and the `roles` claim do.
bool isValidRole(std::string_view role);

struct User {
  std::string id;             // opaque, chosen by the caller (random), never reused; the JWT `sub`
  std::string username;       // normal form
  std::string password_hash;  // encoded argon2id string (secret: never logged)
  std::vector<std::string> roles;  // sorted, without duplicates
  bool locked = false;             // an administrator locked the account
  core::SystemTime created{};
  // Tokens issued before this instant are void (logout-all). The epoch means "none".
  core::SystemTime not_before{};
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  // Adds `user`. kInvalidArgument when the id is empty, the username is not in normal form or a
  // role is invalid; kAlreadyExists when the username or the id is taken. Roles are sorted and
  // deduplicated on the way in.
  [[nodiscard]] virtual Result<void> create(const User& user) = 0;
  // Returns the user whose username is `username` after normalisation; kNotFound otherwise (also
  // for a string that cannot be a username).
  [[nodiscard]] virtual Result<User> findByName(std::string_view username) = 0;
  // Returns the user with id `id`; kNotFound otherwise.
  [[nodiscard]] virtual Result<User> findById(std::string_view id) = 0;
  // Sets or clears the locked flag. kNotFound for an unknown id.
  [[nodiscard]] virtual Result<void> setLocked(std::string_view id, bool locked) = 0;
  // Replaces the roles. kInvalidArgument for an invalid role; kNotFound for an unknown id.
  [[nodiscard]] virtual Result<void> setRoles(std::string_view id,
                                              const std::vector<std::string>& roles) = 0;
  // Replaces the password hash (a password change, or a rehash with stronger parameters).
  [[nodiscard]] virtual Result<void> setPasswordHash(std::string_view id,
                                                     std::string_view password_hash) = 0;
  // Raises the user's not-before to `not_before`; never lowers it (a later logout-all wins).
  [[nodiscard]] virtual Result<void> raiseNotBefore(std::string_view id,
                                                    core::SystemTime not_before) = 0;
};
using UserStorePtr = std::shared_ptr<UserStore>;

// In-process store (tests, and a gateway run without a data directory). Nothing survives the
// process.
UserStorePtr makeMemoryUserStore();

// SQLite store in the file `config.path` (created with its schema when missing; migrated when
// older). Errors: kUnavailable when the file cannot be opened, kCorrupt for a newer schema.
[[nodiscard]] Result<UserStorePtr> openSqliteUserStore(const SqliteConfig& config);

}  // namespace bulwark::store

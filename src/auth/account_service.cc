#include "auth/account_service.h"

#include <atomic>
#include <stdexcept>

#include "auth/detail/events.h"
#include "core/log.h"

namespace bulwark::auth {
namespace {

using audit::EventType;
using audit::Outcome;
using audit::Severity;
using store::StoreError;

constexpr std::size_t kUserIdBytes = 16;  // 128 random bits

AuthFailure failure(AuthError error, std::chrono::seconds retry_after = {}) {
  return AuthFailure{error, retry_after};
}

// Unicode code points in UTF-8 text (NIST counts characters, not bytes). Invalid UTF-8 is
// counted byte by byte; the password is hashed as given either way.
std::size_t characters(std::string_view text) {
  std::size_t count = 0;
  for (unsigned char c : text) {
    count += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return count;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ",") + item;
  }
  return out;
}

std::string_view scopeName(LockoutScope scope) {
  return scope == LockoutScope::kAccount ? "account" : "address";
}

class AccountServiceImpl final : public AccountService {
 public:
  AccountServiceImpl(const AccountConfig& config, AccountDeps deps, const core::Clock& clock,
                     crypto::Random& random, std::string dummy_hash)
      : config_(config),
        deps_(std::move(deps)),
        clock_(clock),
        random_(random),
        dummy_hash_(std::move(dummy_hash)) {}

  AuthResult<store::User> registerUser(std::string_view username, std::string_view password,
                                       const RequestContext& context) override {
    if (!config_.open_sign_up) {
      return failure(AuthError::kSignUpClosed);
    }
    return createUser(username, password, config_.default_roles, "", context);
  }

  AuthResult<store::User> createUser(std::string_view username, std::string_view password,
                                     const std::vector<std::string>& roles, std::string_view actor,
                                     const RequestContext& context) override {
    const auto normal = store::normalizeUsername(username);
    if (!normal) {
      return failure(AuthError::kInvalidUsername);
    }
    if (!passwordAcceptable(password)) {
      return failure(AuthError::kInvalidPassword);
    }
    for (const auto& role : roles) {
      if (!store::isValidRole(role)) {
        return failure(AuthError::kInvalidRole);
      }
    }
    // Registration answers "taken" anyway; checking first spares an argon2 run per attempt.
    if (auto existing = deps_.users->findByName(*normal); existing) {
      return failure(AuthError::kUsernameTaken);
    } else if (existing.error() != StoreError::kNotFound) {
      return storeFailure("user lookup", existing.error());
    }
    auto hash = deps_.hasher->hash(password);
    if (!hash) {
      return hash.error();
    }
    store::User user;
    user.id = crypto::randomToken(random_, kUserIdBytes);
    user.username = *normal;
    user.password_hash = std::move(*hash);
    user.roles = roles;
    user.created = clock_.systemTime();
    if (auto created = deps_.users->create(user); !created) {
      if (created.error() == StoreError::kAlreadyExists) {
        return failure(AuthError::kUsernameTaken);  // a concurrent registration won
      }
      return storeFailure("user create", created.error());
    }
    ++counters_.registered;
    auto stored = deps_.users->findById(user.id);  // roles as the store keeps them
    if (stored) {
      user = std::move(*stored);
    }
    detail::record(
        deps_.audit.get(), clock_, context,
        {EventType::kDataModify,
         Severity::kInfo,
         Outcome::kSuccess,
         std::string(actor),
         user.username,
         {{"action", "user_created"}, {"user_id", user.id}, {"roles", joined(user.roles)}}});
    return user;
  }

  AuthResult<TokenGrant> login(std::string_view username, std::string_view password,
                               const RequestContext& context) override {
    const auto normal = store::normalizeUsername(username);
    const std::string account = normal.value_or("");
    const std::string target = normal ? *normal : "(invalid username)";

    // Every node's failures count (a shared store); if it cannot answer, fail closed rather
    // than let guesses through unlimited.
    const auto shared_status = deps_.lockout->checkShared(account, context.client_address);
    if (!shared_status) {
      return storeFailure("lockout counters", shared_status.error());
    }
    if (const auto status = *shared_status; status.locked()) {
      detail::record(deps_.audit.get(), clock_, context,
                     {EventType::kLoginFailed,
                      Severity::kMedium,
                      Outcome::kDenied,
                      "",
                      target,
                      {{"reason", "locked_out"},
                       {"scope", std::string(scopeName(status.scope))},
                       {"retry_after_s", std::to_string(status.retry_after.count())}}});
      ++counters_.locked_out;
      return failure(AuthError::kLockedOut, status.retry_after);
    }

    AuthResult<store::User> user = failure(AuthError::kInvalidCredentials);
    if (normal) {
      auto found = deps_.users->findByName(*normal);
      if (found) {
        user = std::move(*found);
      } else if (found.error() != StoreError::kNotFound) {
        return storeFailure("user lookup", found.error());
      }
    }
    // One argon2id verification on every path: against the account's hash, or the dummy one.
    const bool length_ok = password.size() <= config_.max_password_length;
    const std::string_view checked = length_ok ? password : std::string_view();
    const bool verified =
        deps_.hasher->verify(user ? std::string_view(user->password_hash) : dummy_hash_, checked);

    if (!user || !verified || !length_ok || user->locked) {
      const char* reason = !user          ? "unknown_user"
                           : user->locked ? "account_locked"
                                          : "bad_password";
      failedLogin(context, user ? user->id : "", target, account, reason);
      ++counters_.login_failures;
      return failure(AuthError::kInvalidCredentials);
    }

    deps_.lockout->recordSuccess(account);
    if (deps_.hasher->needsRehash(user->password_hash)) {
      rehash(*user, password);
    }
    auto grant = deps_.sessions->start(*user, context);
    if (!grant) {
      return grant.error();
    }
    ++counters_.logins;
    detail::record(deps_.audit.get(), clock_, context,
                   {EventType::kLogin,
                    Severity::kInfo,
                    Outcome::kSuccess,
                    user->id,
                    user->username,
                    {{"sid", grant->session_id}}});
    return grant;
  }

  AccountStats stats() const override {
    AccountStats out;
    out.registered = counters_.registered.load();
    out.logins = counters_.logins.load();
    out.login_failures = counters_.login_failures.load();
    out.locked_out = counters_.locked_out.load();
    out.lockouts_started = counters_.lockouts_started.load();
    out.rehashed = counters_.rehashed.load();
    return out;
  }

  LockoutStatus checkLockout(std::string_view username,
                             const RequestContext& context) const override {
    const auto normal = store::normalizeUsername(username);
    return deps_.lockout->check(normal.value_or(""), context.client_address);
  }

  AuthResult<void> setLocked(std::string_view username, bool locked, std::string_view actor,
                             const RequestContext& context) override {
    auto user = find(username);
    if (!user) {
      return user.error();
    }
    if (auto set = deps_.users->setLocked(user->id, locked); !set) {
      return storeFailure("user lock", set.error());
    }
    AuthResult<void> outcome;
    std::string sessions = "0";
    if (locked) {
      auto revoked = deps_.sessions->logoutAll(user->id, actor, "account_locked", context);
      if (revoked) {
        sessions = std::to_string(*revoked);
      } else {
        outcome = revoked.error();  // locked, but not every revocation persisted: retry
      }
    } else {
      deps_.lockout->clearAccount(user->username);
    }
    detail::record(deps_.audit.get(), clock_, context,
                   {EventType::kPermissionChange,
                    Severity::kMedium,
                    Outcome::kSuccess,
                    std::string(actor),
                    user->username,
                    {{"action", locked ? "lock" : "unlock"},
                     {"user_id", user->id},
                     {"sessions_revoked", sessions}}});
    return outcome;
  }

  AuthResult<void> setRoles(std::string_view username, const std::vector<std::string>& roles,
                            std::string_view actor, const RequestContext& context) override {
    for (const auto& role : roles) {
      if (!store::isValidRole(role)) {
        return failure(AuthError::kInvalidRole);
      }
    }
    auto user = find(username);
    if (!user) {
      return user.error();
    }
    if (auto set = deps_.users->setRoles(user->id, roles); !set) {
      return storeFailure("user roles", set.error());
    }
    detail::record(deps_.audit.get(), clock_, context,
                   {EventType::kPermissionChange,
                    Severity::kMedium,
                    Outcome::kSuccess,
                    std::string(actor),
                    user->username,
                    {{"action", "set_roles"},
                     {"user_id", user->id},
                     {"before", joined(user->roles)},
                     {"after", joined(roles)}}});
    return {};
  }

 private:
  bool passwordAcceptable(std::string_view password) const {
    return password.size() <= config_.max_password_length &&
           characters(password) >= config_.min_password_length;
  }

  AuthResult<store::User> find(std::string_view username) {
    const auto normal = store::normalizeUsername(username);
    if (!normal) {
      return failure(AuthError::kNotFound);
    }
    auto user = deps_.users->findByName(*normal);
    if (!user) {
      if (user.error() == StoreError::kNotFound) {
        return failure(AuthError::kNotFound);
      }
      return storeFailure("user lookup", user.error());
    }
    return std::move(*user);
  }

  void failedLogin(const RequestContext& context, const std::string& user_id,
                   const std::string& target, const std::string& account, const char* reason) {
    const auto counted = deps_.lockout->recordFailure(account, context.client_address);
    detail::record(deps_.audit.get(), clock_, context,
                   {EventType::kLoginFailed,
                    Severity::kLow,
                    Outcome::kFailure,
                    user_id,
                    target,
                    {{"reason", reason},
                     {"account_failures", std::to_string(counted.account_failures)},
                     {"address_failures", std::to_string(counted.address_failures)}}});
    const auto incident = [&](std::string_view scope, const std::string& on, std::uint32_t failures,
                              std::chrono::milliseconds locked_for) {
      detail::record(deps_.audit.get(), clock_, context,
                     {EventType::kSecurityIncident,
                      Severity::kHigh,
                      Outcome::kBlocked,
                      user_id,
                      on,
                      {{"reason", "brute_force"},
                       {"scope", std::string(scope)},
                       {"failures", std::to_string(failures)},
                       {"locked_for_ms", std::to_string(locked_for.count())}}});
    };
    if (counted.account_locked_for.count() > 0) {
      ++counters_.lockouts_started;
      incident("account", target, counted.account_failures, counted.account_locked_for);
    }
    if (counted.address_locked_for.count() > 0) {
      ++counters_.lockouts_started;
      incident("address", context.client_address, counted.address_failures,
               counted.address_locked_for);
    }
  }

  // Stores a hash with the current parameters; a failure only postpones the upgrade.
  void rehash(const store::User& user, std::string_view password) {
    auto hash = deps_.hasher->hash(password);
    if (!hash) {
      return;
    }
    if (auto set = deps_.users->setPasswordHash(user.id, *hash); !set) {
      core::log(core::LogLevel::kWarn, "password rehash not stored",
                {{"user_id", user.id}, {"error", set.error().message()}});
      return;
    }
    ++counters_.rehashed;
  }

  static AuthFailure storeFailure(std::string_view operation,
                                  const boost::system::error_code& error) {
    core::log(core::LogLevel::kError, "auth store operation failed",
              {{"operation", operation}, {"error", error.message()}});
    return failure(AuthError::kUnavailable);
  }

  struct Counters {
    std::atomic<std::uint64_t> registered{0};
    std::atomic<std::uint64_t> logins{0};
    std::atomic<std::uint64_t> login_failures{0};
    std::atomic<std::uint64_t> locked_out{0};
    std::atomic<std::uint64_t> lockouts_started{0};
    std::atomic<std::uint64_t> rehashed{0};
  };

  Counters counters_;
  const AccountConfig config_;
  const AccountDeps deps_;
  const core::Clock& clock_;
  crypto::Random& random_;
  const std::string dummy_hash_;
};

}  // namespace

std::shared_ptr<AccountService> AccountService::create(const AccountConfig& config,
                                                       AccountDeps deps, const core::Clock& clock,
                                                       crypto::Random& random) {
  if (!deps.users || !deps.hasher || !deps.lockout || !deps.sessions) {
    throw std::invalid_argument(
        "account service needs a user store, a password hasher, a lockout and sessions");
  }
  for (const auto& role : config.default_roles) {
    if (!store::isValidRole(role)) {
      throw std::invalid_argument("invalid default role");
    }
  }
  // The dummy hash has the configured parameters, so verifying against it costs what verifying
  // a real account costs. Its password is random and forgotten.
  auto dummy = deps.hasher->hash(crypto::randomToken(random, 32));
  if (!dummy) {
    throw std::runtime_error("cannot compute the dummy password hash");
  }
  return std::make_shared<AccountServiceImpl>(config, std::move(deps), clock, random,
                                              std::move(*dummy));
}

}  // namespace bulwark::auth

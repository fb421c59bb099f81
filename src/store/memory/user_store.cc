#include "store/user_store.h"

#include <map>
#include <mutex>

#include "store/detail/records.h"

namespace bulwark::store {
namespace {

class MemoryUserStore final : public UserStore {
 public:
  Result<void> create(const User& user) override {
    auto roles = detail::checkNewUser(user);
    if (!roles) {
      return roles.error();
    }
    std::lock_guard lock(mutex_);
    if (users_.count(user.id) != 0 || ids_by_name_.count(user.username) != 0) {
      return StoreError::kAlreadyExists;
    }
    User stored = user;
    stored.roles = std::move(*roles);
    ids_by_name_.emplace(stored.username, stored.id);
    users_.emplace(stored.id, std::move(stored));
    return {};
  }

  Result<User> findByName(std::string_view username) override {
    const auto normal = normalizeUsername(username);
    if (!normal) {
      return StoreError::kNotFound;
    }
    std::lock_guard lock(mutex_);
    const auto id = ids_by_name_.find(*normal);
    if (id == ids_by_name_.end()) {
      return StoreError::kNotFound;
    }
    return users_.at(id->second);
  }

  Result<User> findById(std::string_view id) override {
    std::lock_guard lock(mutex_);
    const auto it = users_.find(id);
    if (it == users_.end()) {
      return StoreError::kNotFound;
    }
    return it->second;
  }

  Result<void> setLocked(std::string_view id, bool locked) override {
    return update(id, [&](User& user) { user.locked = locked; });
  }

  Result<void> setRoles(std::string_view id, const std::vector<std::string>& roles) override {
    auto canonical = detail::canonicalRoles(roles);
    if (!canonical) {
      return canonical.error();
    }
    return update(id, [&](User& user) { user.roles = std::move(*canonical); });
  }

  Result<void> setPasswordHash(std::string_view id, std::string_view password_hash) override {
    return update(id, [&](User& user) { user.password_hash = std::string(password_hash); });
  }

  Result<void> raiseNotBefore(std::string_view id, core::SystemTime not_before) override {
    return update(id, [&](User& user) { user.not_before = std::max(user.not_before, not_before); });
  }

 private:
  template <class F>
  Result<void> update(std::string_view id, F&& change) {
    std::lock_guard lock(mutex_);
    const auto it = users_.find(id);
    if (it == users_.end()) {
      return StoreError::kNotFound;
    }
    change(it->second);
    return {};
  }

  std::mutex mutex_;
  std::map<std::string, User, std::less<>> users_;               // by id
  std::map<std::string, std::string, std::less<>> ids_by_name_;  // normal username -> id
};

}  // namespace

UserStorePtr makeMemoryUserStore() { return std::make_shared<MemoryUserStore>(); }

}  // namespace bulwark::store

#pragma once
// The backends the shared store suites run against. A backend is created per test and owns
// whatever the stores need (a temporary database file). A production backend (PostgreSQL,
// Redis) adds a class like these and an instantiation file in tests/integration/.
//
//   users(), sessions(), revocations(now)  fresh handles on the backend's data
//   secondSessions()   another handle on the SAME data (another connection for databases), to
//                      race two store instances; the memory backend returns the same instance
//   kPersistent        whether revocations()/secondRevocations() reopen the same data

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "store/revocation_store.h"
#include "store/session_store.h"
#include "store/user_store.h"

namespace bulwark::store::testing {

class MemoryBackend {
 public:
  static constexpr bool kPersistent = false;
  UserStorePtr users() { return users_; }
  SessionStorePtr sessions() { return sessions_; }
  SessionStorePtr secondSessions() { return sessions_; }
  RevocationStorePtr revocations(core::SystemTime) { return revocations_; }

 private:
  UserStorePtr users_ = makeMemoryUserStore();
  SessionStorePtr sessions_ = makeMemorySessionStore();
  RevocationStorePtr revocations_ = makeMemoryRevocationStore();
};

// A database file in a fresh temporary directory, removed with the backend.
class SqliteBackend {
 public:
  static constexpr bool kPersistent = true;

  SqliteBackend() {
    static std::atomic<int> counter{0};
    directory_ = std::filesystem::path(::testing::TempDir()) /
                 ("bulwark_store_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(directory_);
    config_.path = (directory_ / "bulwark.db").string();
  }
  ~SqliteBackend() {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  SqliteBackend(const SqliteBackend&) = delete;
  SqliteBackend& operator=(const SqliteBackend&) = delete;

  const SqliteConfig& config() const { return config_; }
  UserStorePtr users() { return open(openSqliteUserStore(config_)); }
  SessionStorePtr sessions() { return open(openSqliteSessionStore(config_)); }
  SessionStorePtr secondSessions() { return open(openSqliteSessionStore(config_)); }
  RevocationStorePtr revocations(core::SystemTime now) {
    return open(openSqliteRevocationStore(config_, now));
  }

 private:
  template <class T>
  static T open(Result<T> opened) {
    EXPECT_TRUE(opened.has_value()) << opened.error().message();
    return opened.has_value() ? *opened : nullptr;
  }

  std::filesystem::path directory_;
  SqliteConfig config_;
};

}  // namespace bulwark::store::testing

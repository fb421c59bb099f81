#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "store/user_store.h"

namespace bulwark::store {
namespace {

namespace fs = std::filesystem;

class SqliteFile : public ::testing::Test {
 protected:
  SqliteFile()
      : dir_(fs::temp_directory_path() /
             ("bulwark-sqlite-mode-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        path_(defaultSqlitePath(dir_.string())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~SqliteFile() override { fs::remove_all(dir_); }

  // Opens the store and writes a user, so the -wal and -shm files exist too while it is open.
  UserStorePtr openAndWrite() {
    auto users = openSqliteUserStore({path_});
    EXPECT_TRUE(users);
    if (!users) {
      return nullptr;
    }
    User user;
    user.id = "u-1";
    user.username = "alice";
    user.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    user.roles = {"user"};
    EXPECT_TRUE((*users)->create(user));
    return *users;
  }

  static unsigned mode(const fs::path& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
    return info.st_mode & 0777;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(SqliteFile, TheDatabaseHoldingHashesIsOwnerOnly) {
  const mode_t previous = ::umask(022);  // the usual umask, under which files are 0644
  const UserStorePtr users = openAndWrite();
  ::umask(previous);
  ASSERT_NE(users, nullptr);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(mode(entry.path()) & 077, 0u)
        << entry.path() << " " << std::oct << mode(entry.path());
    ++files;
  }
  EXPECT_GE(files, 2);  // the database and its write-ahead log
}

TEST_F(SqliteFile, AnExistingWorldReadableDatabaseIsNarrowed) {
  std::ofstream(path_).close();
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  ASSERT_NE(openAndWrite(), nullptr);
  EXPECT_EQ(mode(path_), 0600u) << std::oct << mode(path_);
}

}  // namespace
}  // namespace bulwark::store

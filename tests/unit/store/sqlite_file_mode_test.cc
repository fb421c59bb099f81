#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "store/user_store.h"

namespace bulwark::store {
namespace {

TEST(SqliteFile, TheDatabaseHoldingHashesIsOwnerOnly) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("bulwark-sqlite-mode-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = defaultSqlitePath(dir.string());
  {
    auto users = openSqliteUserStore({path});
    ASSERT_TRUE(users);
  }
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0077, 0u) << std::oct << (info.st_mode & 0777);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bulwark::store

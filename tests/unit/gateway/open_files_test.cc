#include "gateway/open_files.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace bulwark::gateway {
namespace {

// Restores the test process's limit whatever the test does.
class OpenFileLimitTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved_), 0); }
  void TearDown() override { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  rlimit saved_{};
};

TEST_F(OpenFileLimitTest, RaisesALowSoftLimitToTheHardLimit) {
  if (saved_.rlim_max <= 256) GTEST_SKIP() << "hard limit too low to test";
  rlimit low{256, saved_.rlim_max};
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const OpenFileLimit limit = raiseOpenFileLimit();
  EXPECT_TRUE(limit.raised);
  EXPECT_GT(limit.soft, 256u);
  EXPECT_EQ(limit.hard, saved_.rlim_max);
  rlimit now{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, limit.soft) << "reported a limit that is not in effect";
}

TEST_F(OpenFileLimitTest, LeavesALimitAlreadyAtTheHardLimit) {
  rlimit full{saved_.rlim_max, saved_.rlim_max};
  if (::setrlimit(RLIMIT_NOFILE, &full) != 0) GTEST_SKIP() << "cannot set soft = hard here";
  const OpenFileLimit limit = raiseOpenFileLimit();
  EXPECT_FALSE(limit.raised);
  EXPECT_EQ(limit.soft, saved_.rlim_max);
}

TEST(OpenFiles, EveryClientMayHoldAnUpstreamConnection) {
  EXPECT_GE(descriptorsNeeded(10000), 20000u);
  EXPECT_LT(descriptorsNeeded(10000), 21000u);
}

}  // namespace
}  // namespace bulwark::gateway

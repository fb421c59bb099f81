#include "auth/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>

namespace bulwark::auth {
namespace {

TEST(WorkerPool, RunsJobsOffTheCallersThread) {
  WorkerPool pool({.threads = 2, .queue_capacity = 8});
  std::promise<std::thread::id> ran;
  ASSERT_TRUE(pool.submit([&] { ran.set_value(std::this_thread::get_id()); }));
  EXPECT_NE(ran.get_future().get(), std::this_thread::get_id());
  EXPECT_EQ(pool.threads(), 2u);
}

TEST(WorkerPool, RefusesWhenTheQueueIsFull) {
  WorkerPool pool({.threads = 1, .queue_capacity = 2});
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  // Occupies the only thread until released (no sleeping: futures).
  ASSERT_TRUE(pool.submit([&] {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();
  std::atomic<int> ran{0};
  EXPECT_TRUE(pool.submit([&] { ran++; }));
  EXPECT_TRUE(pool.submit([&] { ran++; }));
  EXPECT_FALSE(pool.submit([&] { ran++; }));  // queue holds 2 already
  auto stats = pool.stats();
  EXPECT_EQ(stats.queued, 2u);
  EXPECT_EQ(stats.rejected, 1u);
  release.set_value();
  pool.stop();  // runs what was queued
  EXPECT_EQ(ran.load(), 2);
  stats = pool.stats();
  EXPECT_EQ(stats.accepted, 3u);
  EXPECT_EQ(stats.completed, 3u);
  EXPECT_EQ(stats.queued, 0u);
}

TEST(WorkerPool, RefusesAfterStop) {
  WorkerPool pool({.threads = 1, .queue_capacity = 4});
  pool.stop();
  EXPECT_FALSE(pool.submit([] {}));
  pool.stop();  // idempotent
}

TEST(WorkerPool, SurvivesAThrowingJob) {
  WorkerPool pool({.threads = 1, .queue_capacity = 4});
  ASSERT_TRUE(pool.submit([] { throw std::runtime_error("boom"); }));
  std::promise<void> after;
  ASSERT_TRUE(pool.submit([&] { after.set_value(); }));
  after.get_future().wait();
  pool.stop();
  EXPECT_EQ(pool.stats().failed, 1u);
  EXPECT_EQ(pool.stats().completed, 1u);
}

}  // namespace
}  // namespace bulwark::auth

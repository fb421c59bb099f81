#include "detect/block_list.h"

#include <gtest/gtest.h>

namespace bulwark::detect {
namespace {

using namespace std::chrono_literals;

TEST(MemoryBlockList, BlocksUntilTheDurationPasses) {
  core::SimulatedClock clock;
  auto list = makeMemoryBlockList(clock);
  EXPECT_FALSE(list->isBlocked("203.0.113.7"));
  list->block("203.0.113.7", 60s);
  EXPECT_TRUE(list->isBlocked("203.0.113.7"));
  EXPECT_FALSE(list->isBlocked("203.0.113.8"));
  clock.advance(59s);
  EXPECT_TRUE(list->isBlocked("203.0.113.7"));
  clock.advance(1s);
  EXPECT_FALSE(list->isBlocked("203.0.113.7"));
}

TEST(MemoryBlockList, AShorterBlockNeverShortensALongerOne) {
  core::SimulatedClock clock;
  auto list = makeMemoryBlockList(clock);
  list->block("a", 600s);
  list->block("a", 10s);
  clock.advance(300s);
  EXPECT_TRUE(list->isBlocked("a"));
}

TEST(MemoryBlockList, StaysBoundedUnderAFlood) {
  core::SimulatedClock clock;
  auto list = makeMemoryBlockList(clock, 100);
  for (int i = 0; i < 5000; ++i) list->block("10.0." + std::to_string(i), 60s);
  EXPECT_LE(list->size(), 100u);
}

}  // namespace
}  // namespace bulwark::detect

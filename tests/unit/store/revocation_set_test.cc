#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/revocation_store.h"

namespace bulwark::store {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const core::SystemTime kT0{std::chrono::seconds{1'800'000'000}};

TEST(RevocationSet, EmptySetRevokesNothing) {
  RevocationSet set;
  EXPECT_EQ(set.size(), 0u);
  EXPECT_FALSE(set.isRevoked("j", "s", "u", kT0));
}

TEST(RevocationSet, IgnoresEmptyKeys) {
  RevocationSet set;
  set.add({RevocationKind::kToken, "", {}, kT0 + minutes(1)});
  EXPECT_EQ(set.size(), 0u);
  set.add({RevocationKind::kToken, "j", {}, kT0 + minutes(1)});
  EXPECT_FALSE(set.isRevoked("", "", "", kT0));
}

TEST(RevocationSet, AddingTwiceKeepsOneEntry) {
  RevocationSet set(4);
  set.add({RevocationKind::kSession, "s", {}, kT0 + minutes(1)});
  set.add({RevocationKind::kSession, "s", {}, kT0 + minutes(5)});
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(set.purge(kT0 + minutes(2)), 0u);  // the later expiry won
  EXPECT_EQ(set.purge(kT0 + minutes(6)), 1u);
  EXPECT_EQ(set.size(), 0u);
}

TEST(RevocationSet, ReadersSeeEveryRevocationOnceAdded) {
  RevocationSet set(8);
  std::atomic<int> published{-1};
  std::atomic<bool> stop{false};
  std::atomic<int> misses{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const int upto = published.load();
        for (int i = 0; i <= upto; i += 97) {
          if (!set.isRevoked("j" + std::to_string(i), "", "", kT0)) {
            misses++;
          }
        }
      }
    });
  }
  for (int i = 0; i < 2000; ++i) {
    set.add({RevocationKind::kToken, "j" + std::to_string(i), {}, kT0 + minutes(15)});
    published.store(i);
  }
  stop.store(true);
  for (auto& reader : readers) {
    reader.join();
  }
  EXPECT_EQ(misses.load(), 0);
  EXPECT_EQ(set.size(), 2000u);
}

}  // namespace
}  // namespace bulwark::store

#pragma once
// The RevocationStore contract, run against every backend (instantiated in *_stores_test.cc).

#include <gtest/gtest.h>

#include "store/revocation_store.h"

namespace bulwark::store::testing {

template <class Backend>
class RevocationStoreSuite : public ::testing::Test {
 protected:
  const core::SystemTime t0_{std::chrono::milliseconds{1'800'000'000'000}};
  Backend backend_;
  RevocationStorePtr store_ = backend_.revocations(t0_);
};

TYPED_TEST_SUITE_P(RevocationStoreSuite);

TYPED_TEST_P(RevocationStoreSuite, RevokesByTokenSessionAndUserNotBefore) {
  using std::chrono::minutes;
  const auto t0 = this->t0_;
  EXPECT_FALSE(this->store_->isRevoked("j1", "s1", "u1", t0));
  ASSERT_TRUE(this->store_->revoke({RevocationKind::kToken, "j1", {}, t0 + minutes(15)}));
  EXPECT_TRUE(this->store_->isRevoked("j1", "s9", "u9", t0));
  EXPECT_FALSE(this->store_->isRevoked("j2", "s9", "u9", t0));

  ASSERT_TRUE(this->store_->revoke({RevocationKind::kSession, "s1", {}, t0 + minutes(15)}));
  EXPECT_TRUE(this->store_->isRevoked("j2", "s1", "u9", t0));
  EXPECT_FALSE(this->store_->isRevoked("j2", "s2", "u9", t0));

  ASSERT_TRUE(this->store_->revoke({RevocationKind::kUser, "u1", t0, t0 + minutes(15)}));
  EXPECT_TRUE(this->store_->isRevoked("j3", "s3", "u1", t0 - std::chrono::seconds(1)));
  EXPECT_FALSE(this->store_->isRevoked("j3", "s3", "u1", t0));  // issued at not-before: valid
  EXPECT_FALSE(this->store_->isRevoked("j3", "s3", "u2", t0 - std::chrono::seconds(1)));
  // Keys are matched by kind: a jti equal to a revoked sid is not revoked.
  EXPECT_FALSE(this->store_->isRevoked("s1", "", "", t0));
  EXPECT_EQ(this->store_->size(), 3u);
}

TYPED_TEST_P(RevocationStoreSuite, RefusesEmptyKeys) {
  const auto revoked = this->store_->revoke({RevocationKind::kSession, "", {}, this->t0_});
  ASSERT_FALSE(revoked);
  EXPECT_EQ(revoked.error(), StoreError::kInvalidArgument);
  EXPECT_FALSE(this->store_->isRevoked("", "", "", this->t0_));
}

TYPED_TEST_P(RevocationStoreSuite, LaterNotBeforeWins) {
  const auto t0 = this->t0_;
  using std::chrono::seconds;
  ASSERT_TRUE(
      this->store_->revoke({RevocationKind::kUser, "u1", t0 + seconds(10), t0 + seconds(100)}));
  ASSERT_TRUE(this->store_->revoke({RevocationKind::kUser, "u1", t0, t0 + seconds(50)}));
  EXPECT_TRUE(this->store_->isRevoked("", "", "u1", t0 + seconds(5)));
  ASSERT_TRUE(this->store_->sync(t0 + seconds(60)));
  EXPECT_TRUE(this->store_->isRevoked("", "", "u1", t0 + seconds(5)));  // the later expiry too
}

TYPED_TEST_P(RevocationStoreSuite, EntriesExpireWithTheirTokens) {
  using std::chrono::minutes;
  const auto t0 = this->t0_;
  ASSERT_TRUE(this->store_->revoke({RevocationKind::kToken, "short", {}, t0 + minutes(1)}));
  ASSERT_TRUE(this->store_->revoke({RevocationKind::kSession, "long", {}, t0 + minutes(60)}));
  ASSERT_TRUE(this->store_->sync(t0 + minutes(2)));
  EXPECT_FALSE(this->store_->isRevoked("short", "", "", t0));
  EXPECT_TRUE(this->store_->isRevoked("", "long", "", t0));
  EXPECT_EQ(this->store_->size(), 1u);
}

TYPED_TEST_P(RevocationStoreSuite, SurvivesAReopenAndReachesOtherInstances) {
  if (!TypeParam::kPersistent) {
    GTEST_SKIP() << "an in-process store is neither persistent nor shared";
  }
  using std::chrono::minutes;
  const auto t0 = this->t0_;
  auto other = this->backend_.revocations(t0);
  ASSERT_TRUE(this->store_->revoke({RevocationKind::kSession, "s1", {}, t0 + minutes(15)}));
  ASSERT_TRUE(this->store_->revoke({RevocationKind::kToken, "gone", {}, t0 + minutes(1)}));
  // A backend that pushes revocations (Redis pub/sub) may apply them before sync() is called.
  constexpr bool kPushed = requires { requires TypeParam::kPushesRevocations; };
  if (!kPushed) {
    EXPECT_FALSE(other->isRevoked("", "s1", "", t0));  // until it syncs
  }
  auto taken = other->sync(t0);
  ASSERT_TRUE(taken);
  EXPECT_EQ(*taken, 2u);
  EXPECT_TRUE(other->isRevoked("", "s1", "", t0));
  EXPECT_EQ(*other->sync(t0), 0u);  // nothing new

  auto reopened = this->backend_.revocations(t0 + minutes(5));  // "gone" has expired by then
  EXPECT_TRUE(reopened->isRevoked("", "s1", "", t0));
  EXPECT_FALSE(reopened->isRevoked("gone", "", "", t0));
}

REGISTER_TYPED_TEST_SUITE_P(RevocationStoreSuite, RevokesByTokenSessionAndUserNotBefore,
                            RefusesEmptyKeys, LaterNotBeforeWins, EntriesExpireWithTheirTokens,
                            SurvivesAReopenAndReachesOtherInstances);

}  // namespace bulwark::store::testing

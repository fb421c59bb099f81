#pragma once
// The UserStore contract, run against every backend (instantiated in *_stores_test.cc).

#include <gtest/gtest.h>

#include "store/user_store.h"

namespace bulwark::store::testing {

inline User makeUser(std::string id, std::string username) {
  User user;
  user.id = std::move(id);
  user.username = std::move(username);
  user.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
  user.roles = {"user"};
  // Whole milliseconds: stores keep millisecond precision.
  user.created = core::SystemTime{std::chrono::milliseconds{1'800'000'000'123}};
  return user;
}

template <class Backend>
class UserStoreSuite : public ::testing::Test {
 protected:
  Backend backend_;
  UserStorePtr store_ = backend_.users();
};

TYPED_TEST_SUITE_P(UserStoreSuite);

TYPED_TEST_P(UserStoreSuite, CreatesAndFindsByNameAndId) {
  User user = makeUser("u1", "alice");
  user.roles = {"user", "admin", "user"};
  ASSERT_TRUE(this->store_->create(user));

  auto by_name = this->store_->findByName("alice");
  ASSERT_TRUE(by_name) << by_name.error().message();
  EXPECT_EQ(by_name->id, "u1");
  EXPECT_EQ(by_name->username, "alice");
  EXPECT_EQ(by_name->password_hash, user.password_hash);
  EXPECT_EQ(by_name->roles, (std::vector<std::string>{"admin", "user"}));  // sorted, unique
  EXPECT_FALSE(by_name->locked);
  EXPECT_EQ(by_name->created, user.created);
  EXPECT_EQ(by_name->not_before, core::SystemTime{});

  auto by_id = this->store_->findById("u1");
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->username, "alice");
  EXPECT_EQ(by_id->roles, by_name->roles);
}

TYPED_TEST_P(UserStoreSuite, FindsByNameCaseInsensitively) {
  ASSERT_TRUE(this->store_->create(makeUser("u1", "alice.smith@example.org")));
  auto found = this->store_->findByName("Alice.Smith@EXAMPLE.org");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, "u1");
}

TYPED_TEST_P(UserStoreSuite, UsernameIsUniqueInNormalForm) {
  ASSERT_TRUE(this->store_->create(makeUser("u1", "bob")));
  const auto again = this->store_->create(makeUser("u2", "bob"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), StoreError::kAlreadyExists);
  // The taken name is not half-written: the second id does not exist.
  EXPECT_EQ(this->store_->findById("u2").error(), StoreError::kNotFound);
}

TYPED_TEST_P(UserStoreSuite, IdIsUnique) {
  ASSERT_TRUE(this->store_->create(makeUser("u1", "bob")));
  const auto again = this->store_->create(makeUser("u1", "carol"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), StoreError::kAlreadyExists);
  EXPECT_EQ(this->store_->findByName("carol").error(), StoreError::kNotFound);
}

TYPED_TEST_P(UserStoreSuite, RefusesWhatIsNotInNormalForm) {
  for (const char* name : {"Bob", "", "a b", "-bob", "bob\n", "b\xc3\xb6"}) {
    const auto created = this->store_->create(makeUser("u1", name));
    ASSERT_FALSE(created) << name;
    EXPECT_EQ(created.error(), StoreError::kInvalidArgument) << name;
  }
  User no_id = makeUser("", "bob");
  EXPECT_EQ(this->store_->create(no_id).error(), StoreError::kInvalidArgument);
  User bad_role = makeUser("u1", "bob");
  bad_role.roles = {"user", "ad min"};
  EXPECT_EQ(this->store_->create(bad_role).error(), StoreError::kInvalidArgument);
  EXPECT_EQ(this->store_->findByName("bob").error(), StoreError::kNotFound);
}

TYPED_TEST_P(UserStoreSuite, UnknownUsersAreNotFound) {
  EXPECT_EQ(this->store_->findByName("nobody").error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->findByName("not a name").error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->findById("nope").error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->setLocked("nope", true).error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->setRoles("nope", {"user"}).error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->setPasswordHash("nope", "x").error(), StoreError::kNotFound);
  EXPECT_EQ(this->store_->raiseNotBefore("nope", core::SystemTime{}).error(),
            StoreError::kNotFound);
}

TYPED_TEST_P(UserStoreSuite, UpdatesLockRolesAndHash) {
  ASSERT_TRUE(this->store_->create(makeUser("u1", "alice")));
  ASSERT_TRUE(this->store_->setLocked("u1", true));
  EXPECT_TRUE(this->store_->findById("u1")->locked);
  ASSERT_TRUE(this->store_->setLocked("u1", false));
  EXPECT_FALSE(this->store_->findById("u1")->locked);

  ASSERT_TRUE(this->store_->setRoles("u1", {"ops", "admin", "ops"}));
  EXPECT_EQ(this->store_->findById("u1")->roles, (std::vector<std::string>{"admin", "ops"}));
  EXPECT_EQ(this->store_->setRoles("u1", {"bad role"}).error(), StoreError::kInvalidArgument);
  EXPECT_EQ(this->store_->findById("u1")->roles, (std::vector<std::string>{"admin", "ops"}));
  ASSERT_TRUE(this->store_->setRoles("u1", {}));
  EXPECT_TRUE(this->store_->findById("u1")->roles.empty());

  ASSERT_TRUE(this->store_->setPasswordHash("u1", "$argon2id$new"));
  EXPECT_EQ(this->store_->findById("u1")->password_hash, "$argon2id$new");
}

TYPED_TEST_P(UserStoreSuite, NotBeforeOnlyRises) {
  ASSERT_TRUE(this->store_->create(makeUser("u1", "alice")));
  const core::SystemTime later{std::chrono::milliseconds{1'900'000'000'000}};
  const core::SystemTime earlier{std::chrono::milliseconds{1'850'000'000'000}};
  ASSERT_TRUE(this->store_->raiseNotBefore("u1", later));
  EXPECT_EQ(this->store_->findById("u1")->not_before, later);
  ASSERT_TRUE(this->store_->raiseNotBefore("u1", earlier));
  EXPECT_EQ(this->store_->findById("u1")->not_before, later);
}

REGISTER_TYPED_TEST_SUITE_P(UserStoreSuite, CreatesAndFindsByNameAndId,
                            FindsByNameCaseInsensitively, UsernameIsUniqueInNormalForm, IdIsUnique,
                            RefusesWhatIsNotInNormalForm, UnknownUsersAreNotFound,
                            UpdatesLockRolesAndHash, NotBeforeOnlyRises);

}  // namespace bulwark::store::testing

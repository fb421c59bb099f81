#include "auth/account_service.h"

#include <gtest/gtest.h>

#include "fakes.h"
#include "support/recording_sink.h"

namespace bulwark::auth {
namespace {

using audit::EventType;
using std::chrono::seconds;

class AccountServiceTest : public ::testing::Test {
 protected:
  AccountServiceTest() {
    lockout_config_.account_threshold = 3;
    lockout_config_.address_threshold = 10;
    lockout_config_.base_delay = seconds(30);
    lockout_config_.max_delay = seconds(300);
  }

  AccountServicePtr service(AccountConfig config = {}) {
    lockout_ = std::make_shared<Lockout>(lockout_config_, clock_);
    sessions_ = SessionService::create({}, {session_store_, users_, revocations_, issuer_, audit_},
                                       clock_, random_);
    return AccountService::create(config, {users_, hasher_, lockout_, sessions_, audit_}, clock_,
                                  random_);
  }

  AccountServicePtr withAlice(AccountConfig config = {}) {
    auto accounts = service(config);
    auto created = accounts->createUser("Alice", "correct horse", {"user"}, "admin", context_);
    EXPECT_TRUE(created);
    return accounts;
  }

  core::SimulatedClock clock_;
  testing::SequenceRandom random_;
  LockoutConfig lockout_config_;
  store::UserStorePtr users_ = store::makeMemoryUserStore();
  store::SessionStorePtr session_store_ = store::makeMemorySessionStore();
  store::RevocationStorePtr revocations_ = store::makeMemoryRevocationStore();
  std::shared_ptr<testing::FakeIssuer> issuer_ = std::make_shared<testing::FakeIssuer>();
  std::shared_ptr<testing::CountingHasher> hasher_ = std::make_shared<testing::CountingHasher>();
  std::shared_ptr<bulwark::testing::RecordingSink> audit_ =
      std::make_shared<bulwark::testing::RecordingSink>();
  LockoutPtr lockout_;
  SessionServicePtr sessions_;
  const RequestContext context_{"203.0.113.7", "req-1"};
};

TEST_F(AccountServiceTest, RegistersOnlyWhenSignUpIsOpen) {
  auto closed = service();
  auto refused = closed->registerUser("bob", "long enough", context_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error, AuthError::kSignUpClosed);

  auto open = service({.open_sign_up = true});
  auto created = open->registerUser("Bob", "long enough", context_);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->username, "bob");
  EXPECT_EQ(created->roles, std::vector<std::string>{"user"});
  EXPECT_EQ(created->id.size(), 22u);  // 128 random bits, base64url
  EXPECT_EQ(created->password_hash.rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(audit_->count(EventType::kDataModify, "user_created"), 1);
  for (const auto& event : audit_->events()) {
    for (const auto& [key, value] : event.details) {
      EXPECT_EQ(value.find("long enough"), std::string::npos);
      EXPECT_EQ(value.find("$argon2id$"), std::string::npos);
    }
  }
}

TEST_F(AccountServiceTest, ValidatesNamesPasswordsAndRoles) {
  auto accounts = service({.open_sign_up = true});
  EXPECT_EQ(accounts->registerUser("no spaces", "long enough", context_).error().error,
            AuthError::kInvalidUsername);
  EXPECT_EQ(accounts->registerUser("bob", "short", context_).error().error,
            AuthError::kInvalidPassword);
  EXPECT_EQ(accounts->registerUser("bob", std::string(2000, 'x'), context_).error().error,
            AuthError::kInvalidPassword);
  // Eight characters, not eight bytes: "pässwörd" is 10 bytes, "ääää" is 8 bytes but 4 chars.
  EXPECT_TRUE(accounts->registerUser("carol", "pässwörd", context_));
  EXPECT_EQ(accounts->registerUser("dave", "ääää", context_).error().error,
            AuthError::kInvalidPassword);
  EXPECT_EQ(
      accounts->createUser("erin", "long enough", {"bad role"}, "admin", context_).error().error,
      AuthError::kInvalidRole);
  ASSERT_TRUE(accounts->registerUser("bob", "long enough", context_));
  EXPECT_EQ(accounts->registerUser("BOB", "long enough", context_).error().error,
            AuthError::kUsernameTaken);
}

TEST_F(AccountServiceTest, LoginIssuesTokensAndWritesLogin) {
  auto accounts = withAlice();
  auto grant = accounts->login("ALICE", "correct horse", context_);
  ASSERT_TRUE(grant);
  EXPECT_FALSE(grant->access_token.empty());
  EXPECT_FALSE(grant->refresh_token.empty());
  EXPECT_EQ(audit_->count(EventType::kLogin), 1);
  const auto login = audit_->events().back();
  EXPECT_EQ(login.type, EventType::kLogin);
  EXPECT_EQ(login.actor, grant->user_id);
  EXPECT_EQ(login.target, "alice");
  EXPECT_EQ(login.client_address, "203.0.113.7");
}

TEST_F(AccountServiceTest, EveryRefusalLooksTheSameAndCostsOneVerification) {
  auto accounts = withAlice();
  ASSERT_TRUE(users_->setLocked(users_->findByName("alice")->id, false));
  struct Case {
    const char* username;
    const char* password;
    const char* reason;
  };
  ASSERT_TRUE(accounts->createUser("bob", "bobs password", {}, "admin", context_));
  ASSERT_TRUE(users_->setLocked(users_->findByName("bob")->id, true));
  for (const Case& c : {Case{"alice", "wrong password", "bad_password"},
                        Case{"nobody", "correct horse", "unknown_user"},
                        Case{"not a valid name!", "x", "unknown_user"},
                        Case{"bob", "bobs password", "account_locked"}}) {
    const int before = hasher_->verifications.load();
    auto refused =
        accounts->login(c.username, c.password,
                        {"198.51.100." + std::to_string(hasher_->verifications.load()), "r"});
    ASSERT_FALSE(refused) << c.username;
    EXPECT_EQ(refused.error().error, AuthError::kInvalidCredentials) << c.username;
    EXPECT_EQ(refused.error().retry_after, seconds(0));
    EXPECT_EQ(hasher_->verifications.load() - before, 1) << c.username;  // constant work
    EXPECT_EQ(audit_->count(EventType::kLoginFailed, c.reason), 1) << c.reason;
    audit_ = std::make_shared<bulwark::testing::RecordingSink>();
    accounts =
        AccountService::create({}, {users_, hasher_, lockout_, sessions_, audit_}, clock_, random_);
  }
}

TEST_F(AccountServiceTest, BruteForceLocksTheAccountWith429AndAnIncident) {
  auto accounts = withAlice();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(accounts->login("alice", "guess" + std::to_string(i), context_).error().error,
              AuthError::kInvalidCredentials);
  }
  EXPECT_EQ(audit_->count(EventType::kSecurityIncident, "brute_force"), 1);
  const int verifications = hasher_->verifications.load();
  // Locked: even the right password is refused, without hashing anything.
  auto locked = accounts->login("alice", "correct horse", context_);
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().error, AuthError::kLockedOut);
  EXPECT_EQ(locked.error().retry_after, seconds(30));
  EXPECT_EQ(hasher_->verifications.load(), verifications);
  EXPECT_EQ(audit_->count(EventType::kLoginFailed, "locked_out"), 1);
  EXPECT_TRUE(accounts->checkLockout("Alice", context_).locked());

  auto stats = accounts->stats();
  EXPECT_EQ(stats.login_failures, 3u);
  EXPECT_EQ(stats.locked_out, 1u);
  EXPECT_EQ(stats.lockouts_started, 1u);
  clock_.advance(seconds(30));
  EXPECT_TRUE(accounts->login("alice", "correct horse", context_));
  EXPECT_EQ(accounts->stats().logins, 1u);
  // The success reset the account's counter.
  EXPECT_FALSE(accounts->login("alice", "wrong", context_));
  EXPECT_FALSE(accounts->checkLockout("alice", context_).locked());
}

TEST_F(AccountServiceTest, UnknownAccountsLockOutToo) {
  auto accounts = service();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(accounts->login("ghost", "guess", context_).error().error,
              AuthError::kInvalidCredentials);
  }
  // Indistinguishable from an existing account.
  EXPECT_EQ(accounts->login("ghost", "guess", context_).error().error, AuthError::kLockedOut);
}

TEST_F(AccountServiceTest, ClientAddressLocksAcrossAccounts) {
  auto accounts = withAlice();
  const RequestContext attacker{"198.51.100.66", "r"};
  for (int i = 0; i < 10; ++i) {
    (void)accounts->login("user" + std::to_string(i), "guess", attacker);
  }
  auto locked = accounts->login("alice", "correct horse", attacker);
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().error, AuthError::kLockedOut);
  EXPECT_TRUE(accounts->login("alice", "correct horse", context_));  // another address
}

TEST_F(AccountServiceTest, LockingRevokesSessionsAndUnlockingRestoresLogin) {
  auto accounts = withAlice();
  auto grant = accounts->login("alice", "correct horse", context_);
  ASSERT_TRUE(grant);
  const auto subject = issuer_->last();
  ASSERT_TRUE(accounts->setLocked("alice", true, "admin-1", context_));
  EXPECT_TRUE(users_->findByName("alice")->locked);
  EXPECT_TRUE(sessions_->isRevoked({subject.subject, subject.session_id, subject.token_id,
                                    subject.issued_at, subject.expires_at}));
  EXPECT_FALSE(sessions_->refresh(grant->refresh_token, context_));
  EXPECT_EQ(accounts->login("alice", "correct horse", context_).error().error,
            AuthError::kInvalidCredentials);
  EXPECT_EQ(audit_->count(EventType::kPermissionChange, "lock"), 1);

  ASSERT_TRUE(accounts->setLocked("alice", false, "admin-1", context_));
  EXPECT_TRUE(accounts->login("alice", "correct horse", context_));
  EXPECT_EQ(accounts->setLocked("nobody", true, "admin-1", context_).error().error,
            AuthError::kNotFound);
}

TEST_F(AccountServiceTest, SetsRoles) {
  auto accounts = withAlice();
  ASSERT_TRUE(accounts->setRoles("alice", {"admin", "user"}, "admin-1", context_));
  EXPECT_EQ(users_->findByName("alice")->roles, (std::vector<std::string>{"admin", "user"}));
  EXPECT_EQ(audit_->count(EventType::kPermissionChange, "set_roles"), 1);
  EXPECT_EQ(accounts->setRoles("alice", {"no spaces please"}, "admin-1", context_).error().error,
            AuthError::kInvalidRole);
  EXPECT_EQ(accounts->setRoles("nobody", {"user"}, "admin-1", context_).error().error,
            AuthError::kNotFound);
}

TEST_F(AccountServiceTest, UpgradesOutdatedHashesAtLogin) {
  auto accounts = withAlice();
  const auto old_hash = users_->findByName("alice")->password_hash;
  auto stronger = testing::fastHashConfig();
  stronger.iterations = 2;
  auto upgraded_hasher = std::make_shared<testing::CountingHasher>(stronger);
  auto upgraded = AccountService::create({}, {users_, upgraded_hasher, lockout_, sessions_, audit_},
                                         clock_, random_);
  ASSERT_TRUE(upgraded->login("alice", "correct horse", context_));
  const auto new_hash = users_->findByName("alice")->password_hash;
  EXPECT_NE(new_hash, old_hash);
  EXPECT_NE(new_hash.find("t=2"), std::string::npos);
  EXPECT_TRUE(upgraded->login("alice", "correct horse", context_));
  EXPECT_EQ(upgraded->stats().rehashed, 1u);  // once: the new hash is current
}

TEST_F(AccountServiceTest, StoreFailuresAreUnavailableNotCredentialErrors) {
  class BrokenUsers final : public store::UserStore {
   public:
    store::Result<void> create(const store::User&) override {
      return store::StoreError::kUnavailable;
    }
    store::Result<store::User> findByName(std::string_view) override {
      return store::StoreError::kUnavailable;
    }
    store::Result<store::User> findById(std::string_view) override {
      return store::StoreError::kUnavailable;
    }
    store::Result<void> setLocked(std::string_view, bool) override {
      return store::StoreError::kUnavailable;
    }
    store::Result<void> setRoles(std::string_view, const std::vector<std::string>&) override {
      return store::StoreError::kUnavailable;
    }
    store::Result<void> setPasswordHash(std::string_view, std::string_view) override {
      return store::StoreError::kUnavailable;
    }
    store::Result<void> raiseNotBefore(std::string_view, core::SystemTime) override {
      return store::StoreError::kUnavailable;
    }
  };
  users_ = std::make_shared<BrokenUsers>();
  auto accounts = service({.open_sign_up = true});
  EXPECT_EQ(accounts->login("alice", "correct horse", context_).error().error,
            AuthError::kUnavailable);
  EXPECT_EQ(accounts->registerUser("alice", "correct horse", context_).error().error,
            AuthError::kUnavailable);
  EXPECT_EQ(lockout_->size(), 0u);  // an outage is not a failed login
}

}  // namespace
}  // namespace bulwark::auth

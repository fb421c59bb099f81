#include "auth/settings.h"

#include <gtest/gtest.h>

namespace bulwark::auth {
namespace {

TEST(AuthConfigs, SignUpAutoIsOpenOnlyInDevelopment) {
  core::Settings settings;
  EXPECT_TRUE(authConfigs(settings).accounts.open_sign_up);
  settings.mode = core::Mode::kProduction;
  EXPECT_FALSE(authConfigs(settings).accounts.open_sign_up);
  settings.sign_up = core::SignUp::kOpen;
  EXPECT_TRUE(authConfigs(settings).accounts.open_sign_up);
  settings.mode = core::Mode::kDevelopment;
  settings.sign_up = core::SignUp::kClosed;
  EXPECT_FALSE(authConfigs(settings).accounts.open_sign_up);
}

TEST(AuthConfigs, DefaultsMapToTheComponentDefaults) {
  const auto configs = authConfigs(core::Settings{});
  EXPECT_EQ(configs.sessions.access_ttl, SessionConfig{}.access_ttl);
  EXPECT_EQ(configs.sessions.refresh_ttl, SessionConfig{}.refresh_ttl);
  EXPECT_EQ(configs.sessions.session_lifetime, SessionConfig{}.session_lifetime);
  EXPECT_EQ(configs.sessions.reuse_leeway, SessionConfig{}.reuse_leeway);
  EXPECT_EQ(configs.password_hash.memory_bytes, PasswordHashConfig{}.memory_bytes);
  EXPECT_EQ(configs.password_hash.iterations, PasswordHashConfig{}.iterations);
  EXPECT_EQ(configs.lockout.account_threshold, LockoutConfig{}.account_threshold);
  EXPECT_EQ(configs.lockout.base_delay, LockoutConfig{}.base_delay);
  EXPECT_EQ(configs.lockout.max_delay, LockoutConfig{}.max_delay);
  EXPECT_GE(configs.workers.threads, 1u);
  EXPECT_FALSE(validateSessionConfig(configs.sessions).has_value());
  EXPECT_FALSE(validatePasswordHashConfig(configs.password_hash).has_value());
}

}  // namespace
}  // namespace bulwark::auth

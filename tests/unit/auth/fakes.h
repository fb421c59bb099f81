#pragma once
// Test doubles for the auth services: an access-token issuer that records what it was asked, a
// hasher that counts verifications around the real argon2id one (small parameters for speed), a
// repeatable CSPRNG, and the stores wired together.

#include <atomic>
#include <mutex>
#include <vector>

#include "auth/access_token_issuer.h"
#include "auth/password_hasher.h"
#include "crypto/random.h"

namespace bulwark::auth::testing {

// Small but real argon2id parameters, so tests stay fast (the defaults are asserted separately).
inline PasswordHashConfig fastHashConfig() {
  PasswordHashConfig config;
  config.memory_bytes = 8 * 1024 * 1024;
  config.iterations = 1;
  return config;
}

// Returns "at.<jti>" and remembers every subject; fails while `fail` is set.
class FakeIssuer final : public AccessTokenIssuer {
 public:
  boost::system::result<IssuedToken> issue(const TokenSubject& subject) override {
    std::lock_guard lock(mutex_);
    if (fail) {
      return boost::system::error_code(EIO, boost::system::generic_category());
    }
    subjects_.push_back(subject);
    return IssuedToken{"at." + subject.token_id};
  }
  std::vector<TokenSubject> subjects() const {
    std::lock_guard lock(mutex_);
    return subjects_;
  }
  TokenSubject last() const {
    std::lock_guard lock(mutex_);
    return subjects_.back();
  }
  std::atomic<bool> fail{false};

 private:
  mutable std::mutex mutex_;
  std::vector<TokenSubject> subjects_;
};

// The real argon2id hasher, counting what is asked of it.
class CountingHasher final : public PasswordHasher {
 public:
  explicit CountingHasher(PasswordHashConfig config = fastHashConfig())
      : inner_(makeArgon2idHasher(config)) {}
  AuthResult<std::string> hash(std::string_view password) const override {
    ++hashes;
    return inner_->hash(password);
  }
  bool verify(std::string_view encoded, std::string_view password) const override {
    ++verifications;
    return inner_->verify(encoded, password);
  }
  bool needsRehash(std::string_view encoded) const override { return inner_->needsRehash(encoded); }
  mutable std::atomic<int> hashes{0};
  mutable std::atomic<int> verifications{0};

 private:
  PasswordHasherPtr inner_;
};

// A repeatable byte stream (splitmix64); not random, which is the point in tests.
class SequenceRandom final : public crypto::Random {
 public:
  void fill(std::span<std::uint8_t> out) override {
    std::lock_guard lock(mutex_);
    for (auto& byte : out) {
      if (available_ == 0) {
        state_ += 0x9e3779b97f4a7c15ULL;
        std::uint64_t z = state_;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        word_ = z ^ (z >> 31);
        available_ = 8;
      }
      byte = static_cast<std::uint8_t>(word_ >> (8 * --available_));
    }
  }

 private:
  std::mutex mutex_;
  std::uint64_t state_ = 42;
  std::uint64_t word_ = 0;
  int available_ = 0;
};

}  // namespace bulwark::auth::testing

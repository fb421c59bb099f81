#include "auth/password_hasher.h"

#include <sodium.h>

#include <stdexcept>

#include "auth/detail/sodium.h"

namespace bulwark::auth {
namespace {

class Argon2idHasher final : public PasswordHasher {
 public:
  explicit Argon2idHasher(const PasswordHashConfig& config)
      : opslimit_(config.iterations), memlimit_(static_cast<std::size_t>(config.memory_bytes)) {}

  AuthResult<std::string> hash(std::string_view password) const override {
    char out[crypto_pwhash_STRBYTES] = {};
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), opslimit_, memlimit_,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
      return AuthFailure{AuthError::kUnavailable};
    }
    return std::string(out);
  }

  bool verify(std::string_view encoded, std::string_view password) const override {
    // libsodium wants a NUL-terminated string of at most crypto_pwhash_STRBYTES - 1 characters.
    if (encoded.empty() || encoded.size() >= crypto_pwhash_STRBYTES) {
      return false;
    }
    char buffer[crypto_pwhash_STRBYTES] = {};
    encoded.copy(buffer, encoded.size());
    return crypto_pwhash_str_verify(buffer, password.data(), password.size()) == 0;
  }

  bool needsRehash(std::string_view encoded) const override {
    if (encoded.empty() || encoded.size() >= crypto_pwhash_STRBYTES) {
      return true;
    }
    char buffer[crypto_pwhash_STRBYTES] = {};
    encoded.copy(buffer, encoded.size());
    // 0: current; 1: other parameters; -1: not an argon2id string (e.g. argon2i): rehash too.
    return crypto_pwhash_str_needs_rehash(buffer, opslimit_, memlimit_) != 0;
  }

 private:
  unsigned long long opslimit_;
  std::size_t memlimit_;
};

}  // namespace

std::optional<std::string> validatePasswordHashConfig(const PasswordHashConfig& config) {
  if (config.parallelism != 1) {
    return "argon2 parallelism must be 1 (libsodium computes with one lane)";
  }
  if (config.iterations < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
      config.iterations > crypto_pwhash_argon2id_OPSLIMIT_MAX) {
    return "argon2 iterations must be at least 1";
  }
  if (config.memory_bytes < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
      config.memory_bytes > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
    return "argon2 memory must be between 8 KiB and 4 TiB";
  }
  return std::nullopt;
}

PasswordHasherPtr makeArgon2idHasher(const PasswordHashConfig& config) {
  if (auto problem = validatePasswordHashConfig(config)) {
    throw std::invalid_argument(*problem);
  }
  detail::ensureSodium();
  return std::make_shared<Argon2idHasher>(config);
}

}  // namespace bulwark::auth

#include "jwt/key_ring.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "core/json.h"
#include "core/log.h"
#include "jwt/claims.h"
#include "jwt/detail/strict_json.h"

namespace bulwark::jwt {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr std::string_view kManifest = "keyring.json";
constexpr std::string_view kLockFile = ".lock";
constexpr std::size_t kKidRandomBytes = 12;  // 16 base64url characters

std::string errnoText() { return std::strerror(errno); }

std::string modeText(mode_t mode) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%04o", static_cast<unsigned>(mode & 07777));
  return buffer;
}

// Kids name files, so only base64url characters are accepted from the manifest.
bool safeKid(std::string_view kid) {
  if (kid.empty() || kid.size() > 64) {
    return false;
  }
  for (char c : kid) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Writes `content` to `path` through a temporary file, fsync and rename, with mode 0600.
KeyResult<void> writeFileAtomic(const fs::path& path, std::string_view content) {
  const fs::path temp = path.string() + ".tmp";
  ::unlink(temp.c_str());
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    return KeyError{temp.string() + ": cannot create: " + errnoText()};
  }
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const std::string reason = errnoText();
      ::unlink(temp.c_str());
      return KeyError{temp.string() + ": write failed: " + reason};
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || ::close(fd.release()) != 0) {
    const std::string reason = errnoText();
    ::unlink(temp.c_str());
    return KeyError{temp.string() + ": fsync failed: " + reason};
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = errnoText();
    ::unlink(temp.c_str());
    return KeyError{path.string() + ": rename failed: " + reason};
  }
  Fd dir(::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) {
    ::fsync(dir.get());
  }
  return {};
}

// Reads a private key file, refusing one that group or others may access.
KeyResult<std::string> readPrivateFile(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    return KeyError{path.string() + ": cannot open: " + errnoText()};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return KeyError{path.string() + ": not a regular file"};
  }
  if ((st.st_mode & 077) != 0) {
    return KeyError{path.string() + " has mode " + modeText(st.st_mode) +
                    "; a private key file must be accessible to its owner only (fix: chmod 600 " +
                    path.string() + ")"};
  }
  if (st.st_size > 64 * 1024) {
    return KeyError{path.string() + ": too large for a key file"};
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return KeyError{path.string() + ": read failed"};
    }
    done += static_cast<std::size_t>(n);
  }
  return KeyResult<std::string>(boost::system::in_place_value, std::move(text));
}

// flock() on <directory>/.lock for the lifetime of the object.
class DirectoryLock {
 public:
  static KeyResult<std::unique_ptr<DirectoryLock>> acquire(const fs::path& directory,
                                                           bool exclusive) {
    const fs::path path = directory / kLockFile;
    Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0) {
      return KeyError{path.string() + ": cannot open: " + errnoText()};
    }
    while (::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH) != 0) {
      if (errno != EINTR) {
        return KeyError{path.string() + ": flock failed: " + errnoText()};
      }
    }
    return std::unique_ptr<DirectoryLock>(new DirectoryLock(fd.release()));
  }
  ~DirectoryLock() { ::close(fd_); }  // closing releases the lock

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

std::optional<core::SystemTime> optionalDate(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  // Out of system_clock's range (or not a date): treated as absent.
  if (v == nullptr || !v->is_int64() || v->get_int64() < 0 || v->get_int64() > 9'000'000'000) {
    return std::nullopt;
  }
  return fromNumericDate(v->get_int64());
}

class KeyRingImpl final : public KeyRing {
 public:
  KeyRingImpl(KeyRingConfig config, core::Clock& clock, crypto::Random& random)
      : config_(std::move(config)), clock_(clock), random_(random), keys_(KeySet::empty()) {}

  KeySetPtr keys() const override { return keys_.load(std::memory_order_acquire); }

  KeyResult<void> openDirectory() {
    const fs::path& dir = config_.directory;
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
      if (dir.has_parent_path() && !dir.parent_path().empty()) {
        fs::create_directories(dir.parent_path(), ec);
      }
      if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return KeyError{dir.string() + ": cannot create key directory: " + errnoText()};
      }
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return KeyError{dir.string() + ": not a directory"};
    }
    if ((st.st_mode & 022) != 0) {
      return KeyError{dir.string() + " has mode " + modeText(st.st_mode) +
                      "; the key directory must not be writable by group or others (fix: chmod "
                      "700 " +
                      dir.string() + ")"};
    }
    {
      auto lock = DirectoryLock::acquire(dir, false);
      if (!lock) {
        return lock.error();
      }
      auto entries = loadEntries();
      if (!entries) {
        return entries.error();
      }
      if (auto published = publish(std::move(*entries)); !published) {
        return published.error();
      }
    }
    if (keys()->signingKey() == nullptr && config_.create_if_empty) {
      auto kid = rotate(std::nullopt);
      if (!kid) {
        return kid.error();
      }
    }
    return {};
  }

  KeyResult<std::string> rotate(std::optional<crypto::Algorithm> algorithm) override {
    std::lock_guard guard(mutex_);
    auto lock = DirectoryLock::acquire(config_.directory, true);
    if (!lock) {
      return lock.error();
    }
    auto entries = loadEntries();
    if (!entries) {
      return entries.error();
    }
    const crypto::Algorithm alg = algorithm.value_or(config_.algorithm);
    auto key = crypto::SignatureKey::generate(alg, random_);
    if (!key) {
      return key.error();
    }
    const core::SystemTime now = nowSeconds();
    KeyEntry fresh;
    fresh.kid = crypto::randomToken(random_, kKidRandomBytes);
    fresh.key = std::move(*key);
    fresh.status = KeyStatus::kActive;
    fresh.created = now;
    std::optional<std::string> jwk = toJwk(fresh.kid, *fresh.key, true);
    if (!jwk) {
      return KeyError{"cannot serialise the new key"};
    }
    auto written = writeFileAtomic(keyPath(fresh.kid), *jwk);
    OPENSSL_cleanse(jwk->data(), jwk->size());
    if (!written) {
      return written.error();
    }
    for (KeyEntry& entry : *entries) {
      if (entry.status == KeyStatus::kActive) {
        entry.status = KeyStatus::kRetired;
        entry.retired = now;
        entry.verify_until = now + config_.max_token_ttl + config_.leeway;
      }
    }
    entries->push_back(std::move(fresh));
    std::vector<std::string> removed = dropExpired(*entries, now);
    if (auto saved = saveManifest(*entries); !saved) {
      return saved.error();
    }
    const std::string kid = entries->back().kid;
    if (auto published = publish(std::move(*entries)); !published) {
      return published.error();
    }
    deleteKeyFiles(removed);
    core::log(core::LogLevel::kInfo, "signing key rotated",
              {{"kid", kid}, {"alg", crypto::algorithmName(alg)}});
    return KeyResult<std::string>(boost::system::in_place_value, kid);
  }

  KeyResult<std::size_t> prune() override {
    std::lock_guard guard(mutex_);
    auto lock = DirectoryLock::acquire(config_.directory, true);
    if (!lock) {
      return lock.error();
    }
    auto entries = loadEntries();
    if (!entries) {
      return entries.error();
    }
    std::vector<std::string> removed = dropExpired(*entries, nowSeconds());
    if (!removed.empty()) {
      if (auto saved = saveManifest(*entries); !saved) {
        return saved.error();
      }
    }
    if (auto published = publish(std::move(*entries)); !published) {
      return published.error();
    }
    deleteKeyFiles(removed);
    return removed.size();
  }

  KeyResult<void> remove(std::string_view kid) override {
    std::lock_guard guard(mutex_);
    auto lock = DirectoryLock::acquire(config_.directory, true);
    if (!lock) {
      return lock.error();
    }
    auto entries = loadEntries();
    if (!entries) {
      return entries.error();
    }
    auto it = std::find_if(entries->begin(), entries->end(),
                           [&](const KeyEntry& e) { return e.kid == kid; });
    if (it == entries->end()) {
      return KeyError{"no key with kid " + core::jsonString(kid)};
    }
    if (it->status == KeyStatus::kActive) {
      return KeyError{"kid " + core::jsonString(kid) + " is the active key; rotate first"};
    }
    const std::string removed = it->kid;
    entries->erase(it);
    if (auto saved = saveManifest(*entries); !saved) {
      return saved.error();
    }
    if (auto published = publish(std::move(*entries)); !published) {
      return published.error();
    }
    deleteKeyFiles({removed});
    core::log(core::LogLevel::kWarn, "signing key removed before its tokens expired",
              {{"kid", removed}});
    return {};
  }

  KeyResult<void> reload() override {
    std::lock_guard guard(mutex_);
    auto lock = DirectoryLock::acquire(config_.directory, false);
    if (!lock) {
      return lock.error();
    }
    auto entries = loadEntries();
    if (!entries) {
      return entries.error();
    }
    return publish(std::move(*entries));
  }

 private:
  fs::path keyPath(std::string_view kid) const {
    return config_.directory / (std::string(kid) + ".jwk");
  }

  core::SystemTime nowSeconds() const {
    return fromNumericDate(toNumericDate(clock_.systemTime()));
  }

  // Reads the manifest and every key file it names. A missing manifest is an empty ring.
  KeyResult<std::vector<KeyEntry>> loadEntries() const {
    const fs::path manifest_path = config_.directory / kManifest;
    std::vector<KeyEntry> entries;
    if (!fs::exists(manifest_path)) {
      return entries;
    }
    auto text = readSmallFile(manifest_path);
    if (!text) {
      return text.error();
    }
    auto manifest = detail::parseStrictObject(*text);
    const json::value* keys = manifest ? manifest->if_contains("keys") : nullptr;
    if (keys == nullptr || !keys->is_array()) {
      return KeyError{manifest_path.string() + ": not a key ring manifest"};
    }
    for (const json::value& item : keys->get_array()) {
      const json::object* o = item.if_object();
      const json::value* kid = o != nullptr ? o->if_contains("kid") : nullptr;
      const json::value* alg = o != nullptr ? o->if_contains("alg") : nullptr;
      const json::value* status = o != nullptr ? o->if_contains("status") : nullptr;
      if (kid == nullptr || !kid->is_string() || alg == nullptr || !alg->is_string() ||
          status == nullptr || !status->is_string() ||
          !safeKid({kid->get_string().data(), kid->get_string().size()})) {
        return KeyError{manifest_path.string() + ": malformed key entry"};
      }
      KeyEntry entry;
      entry.kid.assign(kid->get_string().data(), kid->get_string().size());
      const auto algorithm =
          crypto::algorithmFromName({alg->get_string().data(), alg->get_string().size()});
      if (!algorithm) {
        return KeyError{manifest_path.string() + ": kid " + entry.kid + " has unknown alg"};
      }
      if (status->get_string() == "active") {
        entry.status = KeyStatus::kActive;
      } else if (status->get_string() == "retired") {
        entry.status = KeyStatus::kRetired;
      } else {
        return KeyError{manifest_path.string() + ": kid " + entry.kid + " has unknown status"};
      }
      entry.created = optionalDate(*o, "created").value_or(core::SystemTime{});
      entry.retired = optionalDate(*o, "retired");
      entry.verify_until = optionalDate(*o, "verify_until");
      auto key_text = readPrivateFile(keyPath(entry.kid));
      if (!key_text) {
        return key_text.error();
      }
      auto key = parsePrivateJwk(*key_text, entry.kid);
      OPENSSL_cleanse(key_text->data(), key_text->size());
      if (!key) {
        return KeyError{keyPath(entry.kid).string() + ": " + key.error().message};
      }
      if ((*key)->algorithm() != *algorithm) {
        return KeyError{keyPath(entry.kid).string() + ": algorithm differs from the manifest"};
      }
      entry.key = std::move(*key);
      entries.push_back(std::move(entry));
    }
    return entries;
  }

  KeyResult<void> saveManifest(const std::vector<KeyEntry>& entries) const {
    std::string out = "{\"keys\":[";
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const KeyEntry& e = entries[i];
      out += i == 0 ? "\n  {" : ",\n  {";
      out += "\"kid\":" + core::jsonString(e.kid);
      out += ",\"alg\":" + core::jsonString(crypto::algorithmName(e.key->algorithm()));
      out += ",\"status\":" + core::jsonString(keyStatusName(e.status));
      out += ",\"created\":" + std::to_string(toNumericDate(e.created));
      if (e.retired) {
        out += ",\"retired\":" + std::to_string(toNumericDate(*e.retired));
      }
      if (e.verify_until) {
        out += ",\"verify_until\":" + std::to_string(toNumericDate(*e.verify_until));
      }
      out += '}';
    }
    out += "\n]}\n";
    return writeFileAtomic(config_.directory / kManifest, out);
  }

  static std::vector<std::string> dropExpired(std::vector<KeyEntry>& entries,
                                              core::SystemTime now) {
    std::vector<std::string> removed;
    std::erase_if(entries, [&](const KeyEntry& e) {
      if (e.status == KeyStatus::kRetired && !e.verifiesAt(now)) {
        removed.push_back(e.kid);
        return true;
      }
      return false;
    });
    return removed;
  }

  void deleteKeyFiles(const std::vector<std::string>& kids) const {
    for (const std::string& kid : kids) {
      ::unlink(keyPath(kid).c_str());
    }
  }

  KeyResult<void> publish(std::vector<KeyEntry> entries) {
    auto set = KeySet::create(std::move(entries));
    if (!set) {
      return set.error();
    }
    keys_.store(std::move(*set), std::memory_order_release);
    return {};
  }

  const KeyRingConfig config_;
  core::Clock& clock_;
  crypto::Random& random_;
  std::mutex mutex_;  // serialises rotate/prune/remove/reload within the process
  std::atomic<KeySetPtr> keys_;
};

}  // namespace

KeyResult<std::shared_ptr<KeyRing>> KeyRing::open(KeyRingConfig config, core::Clock& clock,
                                                  crypto::Random& random) {
  switch (config.algorithm) {
    case crypto::Algorithm::kEdDSA:
    case crypto::Algorithm::kES256:
    case crypto::Algorithm::kHS256:
      break;
    default:
      return KeyError{"key ring algorithm must be EdDSA, ES256 or HS256"};
  }
  auto ring = std::make_shared<KeyRingImpl>(std::move(config), clock, random);
  if (auto opened = ring->openDirectory(); !opened) {
    return opened.error();
  }
  return std::shared_ptr<KeyRing>(std::move(ring));
}

}  // namespace bulwark::jwt

#include "jwt/key_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>

#include "core/log.h"

namespace bulwark::jwt {
namespace {

class StaticKeySource final : public KeySource {
 public:
  explicit StaticKeySource(KeySetPtr keys) : keys_(std::move(keys)) {}
  KeySetPtr keys() const override { return keys_; }
  bool onUnknownKid(std::string_view) override { return false; }

 private:
  const KeySetPtr keys_;
};

class FileJwksSourceImpl final : public FileJwksSource {
 public:
  FileJwksSourceImpl(FileJwksConfig config, core::Clock& clock, KeySetPtr initial)
      : config_(std::move(config)), clock_(clock), keys_(std::move(initial)) {
    last_read_ = clock_.monotonicTime().time_since_epoch().count();
  }

  KeySetPtr keys() const override { return keys_.load(std::memory_order_acquire); }

  bool onUnknownKid(std::string_view) override {
    const auto now = clock_.monotonicTime().time_since_epoch().count();
    auto last = last_read_.load(std::memory_order_relaxed);
    const auto interval =
        std::chrono::duration_cast<core::MonotonicTime::duration>(config_.min_refresh_interval)
            .count();
    // One caller per interval wins the compare-exchange and reads; the others return at once.
    if (now - last < interval || !last_read_.compare_exchange_strong(last, now)) {
      return false;
    }
    return reload().has_value();
  }

  KeyResult<void> reload() override {
    std::lock_guard lock(reload_mutex_);
    auto keys = load(config_);
    if (!keys) {
      core::log(core::LogLevel::kWarn, "JWKS reload failed; keeping the previous keys",
                {{"path", config_.path.string()}, {"reason", keys.error().message}});
      return keys.error();
    }
    keys_.store(std::move(*keys), std::memory_order_release);
    return {};
  }

  static KeyResult<KeySetPtr> load(const FileJwksConfig& config) {
    std::vector<std::string> skipped;
    auto keys = loadJwksFile(config.path, config.jwks, &skipped);
    if (!keys) {
      return keys.error();
    }
    for (const std::string& reason : skipped) {
      core::log(core::LogLevel::kWarn, "JWKS key skipped",
                {{"path", config.path.string()}, {"reason", reason}});
    }
    return keys;
  }

 private:
  const FileJwksConfig config_;
  core::Clock& clock_;
  std::atomic<KeySetPtr> keys_;
  std::atomic<core::MonotonicTime::rep> last_read_{0};
  std::mutex reload_mutex_;
};

}  // namespace

KeySourcePtr staticKeySource(KeySetPtr keys) {
  return std::make_shared<StaticKeySource>(keys ? std::move(keys) : KeySet::empty());
}

KeyResult<std::shared_ptr<FileJwksSource>> FileJwksSource::create(FileJwksConfig config,
                                                                  core::Clock& clock) {
  auto keys = FileJwksSourceImpl::load(config);
  if (!keys) {
    return keys.error();
  }
  return std::shared_ptr<FileJwksSource>(
      std::make_shared<FileJwksSourceImpl>(std::move(config), clock, std::move(*keys)));
}

KeyResult<KeySetPtr> loadJwksFile(const std::filesystem::path& path, const JwksOptions& options,
                                  std::vector<std::string>* skipped) {
  auto text = readSmallFile(path);
  if (!text) {
    return text.error();
  }
  auto keys = parseJwks(*text, options, skipped);
  if (!keys) {
    return KeyError{path.string() + ": " + keys.error().message};
  }
  const auto& entries = (*keys)->entries();
  const bool secret = std::any_of(entries.begin(), entries.end(), [](const KeyEntry& e) {
    return e.key->algorithm() == crypto::Algorithm::kHS256;
  });
  struct stat st {};
  if (secret && ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return KeyError{path.string() + " has mode " + mode +
                    " and holds an HS256 secret; it must be accessible to its owner only (fix: "
                    "chmod 600 " +
                    path.string() + ")"};
  }
  return keys;
}

KeyResult<std::string> readSmallFile(const std::filesystem::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return KeyError{path.string() + ": cannot open: " + std::strerror(errno)};
  }
  std::string text;
  char buffer[4096];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      return KeyError{path.string() + ": larger than " + std::to_string(max_bytes) + " bytes"};
    }
  }
  if (in.bad()) {
    return KeyError{path.string() + ": read error"};
  }
  return KeyResult<std::string>(boost::system::in_place_value, std::move(text));
}

}  // namespace bulwark::jwt

#include "jwt/remote_jwks_source.h"

#include <atomic>
#include <mutex>

#include "core/log.h"

namespace bulwark::jwt {
namespace {

using Monotonic = core::MonotonicTime;

bool samePublicKey(const crypto::SignatureKey& a, const crypto::SignatureKey& b) {
  const crypto::KeyMaterial x = a.publicMaterial();
  const crypto::KeyMaterial y = b.publicMaterial();
  return x.algorithm == y.algorithm && x.x == y.x && x.y == y.y && x.n == y.n && x.e == y.e;
}

class RemoteJwksSourceImpl final : public RemoteJwksSource {
 public:
  RemoteJwksSourceImpl(RemoteJwksConfig config, JwksFetcher fetch, std::function<void()> wake,
                       core::Clock& clock)
      : config_(std::move(config)),
        fetch_(std::move(fetch)),
        wake_(std::move(wake)),
        clock_(clock),
        keys_(KeySet::empty()),
        next_due_(clock.monotonicTime()) {}

  KeySetPtr keys() const override { return keys_.load(std::memory_order_acquire); }

  // Lock-free: an atomic timestamp is the rate limiter, an atomic flag the single request.
  bool onUnknownKid(std::string_view) override {
    const Monotonic::rep now = clock_.monotonicTime().time_since_epoch().count();
    const Monotonic::rep last = last_attempt_.load(std::memory_order_relaxed);
    if (last != kNever && now - last < interval(config_.refetch_interval)) {
      unknown_kid_throttled_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    bool expected = false;
    if (wanted_.compare_exchange_strong(expected, true)) {
      unknown_kid_fetches_.fetch_add(1, std::memory_order_relaxed);
      wake_();
    }
    return false;
  }

  KeyResult<void> refresh() override {
    std::lock_guard lock(refresh_mutex_);
    const Monotonic now = clock_.monotonicTime();
    last_attempt_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    wanted_.store(false, std::memory_order_relaxed);
    fetches_.fetch_add(1, std::memory_order_relaxed);
    auto published = fetchAndPublish();
    if (!published) {
      fetch_failures_.fetch_add(1, std::memory_order_relaxed);
      next_due_ = now + config_.refetch_interval;
      core::log(core::LogLevel::kWarn, "JWKS fetch failed; keeping the previous keys",
                {{"url", config_.url},
                 {"reason", published.error().message},
                 {"keys", std::to_string(keys()->entries().size())}});
      return published.error();
    }
    next_due_ = now + config_.refresh_interval;
    last_success_.store(clock_.systemTime().time_since_epoch().count(), std::memory_order_relaxed);
    return {};
  }

  bool refreshIfDue() override {
    {
      std::lock_guard lock(refresh_mutex_);
      if (!wanted_.load(std::memory_order_relaxed) && clock_.monotonicTime() < next_due_) {
        return false;
      }
    }
    (void)refresh();  // a failure is logged and counted there
    return true;
  }

  Monotonic::duration untilDue() const override {
    std::lock_guard lock(refresh_mutex_);
    const Monotonic now = clock_.monotonicTime();
    return next_due_ > now ? next_due_ - now : Monotonic::duration::zero();
  }

  const RemoteJwksConfig& config() const override { return config_; }

  RemoteJwksStats stats() const override {
    RemoteJwksStats out;
    out.fetches = fetches_.load(std::memory_order_relaxed);
    out.fetch_failures = fetch_failures_.load(std::memory_order_relaxed);
    out.key_set_changes = key_set_changes_.load(std::memory_order_relaxed);
    out.unknown_kid_fetches = unknown_kid_fetches_.load(std::memory_order_relaxed);
    out.unknown_kid_throttled = unknown_kid_throttled_.load(std::memory_order_relaxed);
    out.keys = keys()->entries().size();
    if (const auto last = last_success_.load(std::memory_order_relaxed); last != kNever) {
      out.last_success = core::SystemTime{core::SystemTime::duration{last}};
    }
    return out;
  }

 private:
  static constexpr Monotonic::rep kNever = INT64_MIN;

  static Monotonic::rep interval(std::chrono::seconds seconds) {
    return std::chrono::duration_cast<Monotonic::duration>(seconds).count();
  }

  // Called with refresh_mutex_ held.
  KeyResult<void> fetchAndPublish() {
    auto text = fetch_();
    if (!text) {
      return text.error();
    }
    if (*text == last_text_) {
      return {};  // unchanged: keep the snapshot (and the verifier's cached tokens)
    }
    std::vector<std::string> skipped;
    auto parsed = parseJwks(*text, config_.jwks, &skipped);
    if (!parsed) {
      return parsed.error();
    }
    const KeySetPtr previous = keys();
    std::vector<KeyEntry> entries;
    for (const KeyEntry& entry : (*parsed)->entries()) {
      if (entry.key->algorithm() == crypto::Algorithm::kHS256) {
        skipped.push_back("JWK kid " + entry.kid +
                          ": a symmetric key published at a URL is no secret; not used");
        continue;
      }
      KeyEntry kept = entry;
      if (const KeyEntry* old = previous->find(entry.kid);
          old != nullptr && samePublicKey(*old->key, *entry.key)) {
        kept.key = old->key;  // same object: tokens the verifier cached with it stay valid
      }
      entries.push_back(std::move(kept));
    }
    for (const std::string& reason : skipped) {
      core::log(core::LogLevel::kWarn, "JWKS key skipped",
                {{"url", config_.url}, {"reason", reason}});
    }
    if (entries.empty()) {
      return KeyError{"the JWKS holds no usable signature key"};
    }
    auto created = KeySet::create(std::move(entries));
    if (!created) {
      return created.error();
    }
    keys_.store(std::move(*created), std::memory_order_release);
    last_text_ = std::move(*text);
    key_set_changes_.fetch_add(1, std::memory_order_relaxed);
    core::log(core::LogLevel::kInfo, "JWKS keys updated",
              {{"url", config_.url}, {"keys", std::to_string(keys()->entries().size())}});
    return {};
  }

  const RemoteJwksConfig config_;
  const JwksFetcher fetch_;
  const std::function<void()> wake_;
  core::Clock& clock_;
  std::atomic<KeySetPtr> keys_;

  // Shared mutable state read by I/O threads: the rate limiter and the request flag.
  std::atomic<Monotonic::rep> last_attempt_{kNever};
  std::atomic<bool> wanted_{false};

  mutable std::mutex refresh_mutex_;  // serialises refreshes; guards next_due_ and last_text_
  Monotonic next_due_;
  std::string last_text_;

  std::atomic<std::uint64_t> fetches_{0};
  std::atomic<std::uint64_t> fetch_failures_{0};
  std::atomic<std::uint64_t> key_set_changes_{0};
  std::atomic<std::uint64_t> unknown_kid_fetches_{0};
  std::atomic<std::uint64_t> unknown_kid_throttled_{0};
  std::atomic<core::SystemTime::rep> last_success_{kNever};
};

}  // namespace

std::shared_ptr<RemoteJwksSource> RemoteJwksSource::create(RemoteJwksConfig config,
                                                           JwksFetcher fetch,
                                                           std::function<void()> wake,
                                                           core::Clock& clock) {
  return std::make_shared<RemoteJwksSourceImpl>(std::move(config), std::move(fetch),
                                                std::move(wake), clock);
}

}  // namespace bulwark::jwt

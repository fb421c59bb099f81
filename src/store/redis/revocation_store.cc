// The revocation set shared through Redis (DESIGN decision 5).
//
// Each entry is one key, "<prefix>rev:<t|s|u>:<jti, sid or user>", holding "<not_before_ms>
// <expires_ms>" and expiring at expires_ms (PXAT), so Redis forgets it with the tokens it revokes.
// A script merges a new entry with the stored one (later not-before, later expiry: the same rule
// as RevocationSet::add), writes it and publishes it in one atomic step; running it twice changes
// nothing, so it may be retried. Every node's subscriber applies published entries at once; the
// periodic full reload (SCAN) heals a message lost while a subscriber was reconnecting.

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <mutex>

#include "core/log.h"
#include "store/redis.h"
#include "store/redis/script.h"

namespace bulwark::store {
namespace {

using std::chrono::milliseconds;

// Keys scanned per SCAN step (and read per MGET).
constexpr int kScanBatch = 500;
// Upper bound on SCAN steps in one reload, so a misbehaving server cannot keep us looping.
constexpr int kMaxScanSteps = 1'000'000;

const redis::Script& mergeScript() {
  // KEYS[1] entry; ARGV: not_before_ms, expires_ms, channel, kind tag, key.
  static const redis::Script script(R"lua(
local nb = tonumber(ARGV[1])
local exp = tonumber(ARGV[2])
local old = redis.call('GET', KEYS[1])
if old then
  local onb, oexp = string.match(old, '^(%-?%d+) (%-?%d+)$')
  if onb then
    nb = math.max(nb, tonumber(onb))
    exp = math.max(exp, tonumber(oexp))
  end
end
local value = string.format('%d %d', nb, exp)
redis.call('SET', KEYS[1], value, 'PXAT', string.format('%d', exp))
redis.call('PUBLISH', ARGV[3], ARGV[4] .. ' ' .. value .. ' ' .. ARGV[5])
return 1
)lua");
  return script;
}

std::int64_t toMillis(core::SystemTime t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}
core::SystemTime fromMillis(std::int64_t ms) { return core::SystemTime{milliseconds{ms}}; }

char tagOf(RevocationKind kind) {
  switch (kind) {
    case RevocationKind::kToken:
      return 't';
    case RevocationKind::kSession:
      return 's';
    case RevocationKind::kUser:
      break;
  }
  return 'u';
}

std::optional<RevocationKind> kindOf(char tag) {
  switch (tag) {
    case 't':
      return RevocationKind::kToken;
    case 's':
      return RevocationKind::kSession;
    case 'u':
      return RevocationKind::kUser;
    default:
      return std::nullopt;
  }
}

// Reads "<integer> " from the front of `text`.
std::optional<std::int64_t> takeNumber(std::string_view& text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return value;
}

// "<not_before_ms> <expires_ms>" into `revocation`.
bool parseValue(std::string_view value, Revocation& revocation) {
  const auto not_before = takeNumber(value);
  if (!not_before || !value.starts_with(' ')) return false;
  value.remove_prefix(1);
  const auto expires = takeNumber(value);
  if (!expires || !value.empty()) return false;
  revocation.not_before = fromMillis(*not_before);
  revocation.expires = fromMillis(*expires);
  return true;
}

// A published message: "<tag> <not_before_ms> <expires_ms> <key>".
std::optional<Revocation> parseMessage(std::string_view message) {
  if (message.size() < 2 || message[1] != ' ') return std::nullopt;
  const auto kind = kindOf(message[0]);
  message.remove_prefix(2);
  const auto not_before = takeNumber(message);
  if (!kind || !not_before || !message.starts_with(' ')) return std::nullopt;
  message.remove_prefix(1);
  const auto expires = takeNumber(message);
  if (!expires || !message.starts_with(' ') || message.size() < 2) return std::nullopt;
  message.remove_prefix(1);
  return Revocation{*kind, std::string(message), fromMillis(*not_before), fromMillis(*expires)};
}

// `text` with the glob characters of SCAN MATCH escaped.
std::string globEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// What the subscription's handlers share with the store; they may outlive it briefly.
struct Feed {
  RevocationSet set;
  std::atomic<bool> current{false};
  std::atomic<bool> needs_reload{true};
  std::atomic<std::uint64_t> losses{0};     // subscriptions lost so far
  std::atomic<std::size_t> received{0};     // entries taken in from messages since the last sync
  std::atomic<std::uint64_t> malformed{0};  // messages that were not ours to read
  std::mutex mutex;
  std::condition_variable subscribed;
};

class RedisRevocationStore final : public RevocationStore {
 public:
  RedisRevocationStore(RedisClientPtr client, milliseconds resync_interval)
      : client_(std::move(client)),
        resync_interval_(resync_interval),
        entry_prefix_(client_->config().key_prefix + "rev:"),
        channel_(client_->config().key_prefix + "revocations"),
        feed_(std::make_shared<Feed>()) {}

  // Subscribes, then loads the set (in that order, so nothing published in between is lost).
  Result<void> open(core::SystemTime now) {
    subscription_ = client_->subscribe(
        channel_,
        [feed = feed_](std::string_view, std::string_view message) {
          if (auto revocation = parseMessage(message)) {
            feed->set.add(*revocation);
            feed->received.fetch_add(1, std::memory_order_relaxed);
          } else {
            feed->malformed.fetch_add(1, std::memory_order_relaxed);
          }
        },
        [feed = feed_](bool subscribed) {
          if (!subscribed) {
            // Messages may be missed from now on: refuse to vouch until a reload succeeded.
            feed->current.store(false, std::memory_order_release);
            feed->needs_reload.store(true, std::memory_order_release);
            feed->losses.fetch_add(1, std::memory_order_acq_rel);
          }
          std::lock_guard lock(feed->mutex);
          feed->subscribed.notify_all();
        });
    const auto& config = client_->config();
    const auto bound = config.attempts * (config.connect_timeout + config.reconnect_backoff_max);
    {
      std::unique_lock lock(feed_->mutex);
      feed_->subscribed.wait_for(lock, bound, [&] { return subscription_->isSubscribed(); });
    }
    if (!subscription_->isSubscribed()) {
      core::log(core::LogLevel::kError, "redis revocation feed: cannot subscribe",
                {{"error", client_->lastError()}});
      return StoreError::kUnavailable;
    }
    auto loaded = reload(now);
    if (!loaded) return loaded.error();
    feed_->received.store(0);  // what open() loaded is not news to the first sync()
    return {};
  }

  Result<void> revoke(const Revocation& revocation) override {
    if (revocation.key.empty()) {
      return StoreError::kInvalidArgument;
    }
    feed_->set.add(revocation);  // first, so this node rejects the token even if Redis is down
    // PXAT needs a positive time; an entry expiring at the epoch has expired anyway.
    const std::int64_t expires = std::max<std::int64_t>(1, toMillis(revocation.expires));
    const char tag = tagOf(revocation.kind);
    auto written = mergeScript().runSync(
        *client_, {entry_prefix_ + tag + ':' + revocation.key},
        {std::to_string(toMillis(revocation.not_before)), std::to_string(expires), channel_,
         std::string(1, tag), revocation.key},
        /*idempotent=*/true);
    if (!written || written->isError()) {
      core::log(core::LogLevel::kWarn, "redis revocation not shared; this node applies it",
                {{"error", written ? written->text : client_->lastError()}});
      return StoreError::kUnavailable;
    }
    return {};
  }

  bool isRevoked(std::string_view jti, std::string_view sid, std::string_view user,
                 core::SystemTime issued_at) const override {
    return feed_->set.isRevoked(jti, sid, user, issued_at);
  }

  Result<std::size_t> sync(core::SystemTime now) override {
    std::lock_guard lock(sync_mutex_);
    std::size_t taken = 0;
    Result<void> outcome;
    if (subscription_->isSubscribed()) {
      // Everything published before this point has been applied once the PING comes back; a
      // silent connection (half-open TCP) is noticed here and replaced.
      outcome = subscription_->barrier();
    } else {
      outcome = StoreError::kUnavailable;
    }
    taken += feed_->received.exchange(0, std::memory_order_acq_rel);
    const bool due = feed_->needs_reload.load(std::memory_order_acquire) ||
                     now - last_reload_ >= resync_interval_;
    if (outcome && due) {
      auto loaded = reload(now);
      if (loaded) {
        taken += *loaded;
      } else {
        outcome = loaded.error();
      }
    }
    feed_->set.purge(now);
    if (!outcome) {
      return outcome.error();
    }
    return taken;
  }

  std::size_t size() const override { return feed_->set.size(); }

  bool isCurrent() const override { return feed_->current.load(std::memory_order_acquire); }

 private:
  // Loads every entry not expired at `now`; the feed is current again when no subscription was
  // lost meanwhile. Returns the number of entries read.
  Result<std::size_t> reload(core::SystemTime now) {
    const auto losses = feed_->losses.load(std::memory_order_acquire);
    feed_->needs_reload.store(false, std::memory_order_release);
    const std::string pattern = globEscape(entry_prefix_) + "*";
    std::string cursor = "0";
    std::size_t loaded = 0;
    for (int step = 0; step < kMaxScanSteps; ++step) {
      auto page = client_->commandSync(
          {"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(kScanBatch)});
      if (!page || page->type != RedisReply::Type::kArray || page->elements.size() != 2 ||
          page->elements[1].type != RedisReply::Type::kArray) {
        return reloadFailed(page ? "unexpected SCAN reply" : client_->lastError());
      }
      cursor = page->elements[0].text;
      const auto& keys = page->elements[1].elements;
      if (!keys.empty()) {
        std::vector<std::string> mget{"MGET"};
        for (const auto& key : keys) mget.push_back(key.text);
        auto values = client_->commandSync(std::move(mget));
        if (!values || values->type != RedisReply::Type::kArray ||
            values->elements.size() != keys.size()) {
          return reloadFailed(values ? "unexpected MGET reply" : client_->lastError());
        }
        for (std::size_t i = 0; i < keys.size(); ++i) {
          loaded += take(keys[i].text, values->elements[i], now) ? 1 : 0;
        }
      }
      if (cursor == "0") break;
    }
    last_reload_ = now;
    if (feed_->losses.load(std::memory_order_acquire) == losses && subscription_->isSubscribed()) {
      feed_->current.store(true, std::memory_order_release);
    } else {
      feed_->needs_reload.store(true, std::memory_order_release);
    }
    return loaded;
  }

  Result<std::size_t> reloadFailed(const std::string& why) {
    feed_->needs_reload.store(true, std::memory_order_release);
    core::log(core::LogLevel::kWarn, "redis revocation reload failed", {{"error", why}});
    return StoreError::kUnavailable;
  }

  // Adds the entry stored under `name` unless it is malformed or expired at `now`.
  bool take(std::string_view name, const RedisReply& value, core::SystemTime now) {
    if (value.type != RedisReply::Type::kString || name.size() < entry_prefix_.size() + 3) {
      return false;  // expired between SCAN and MGET, or not ours
    }
    name.remove_prefix(entry_prefix_.size());
    const auto kind = kindOf(name[0]);
    if (!kind || name[1] != ':') return false;
    Revocation revocation{*kind, std::string(name.substr(2)), {}, {}};
    if (!parseValue(value.text, revocation) || revocation.expires < now) return false;
    feed_->set.add(revocation);
    return true;
  }

  RedisClientPtr client_;
  const milliseconds resync_interval_;
  const std::string entry_prefix_;
  const std::string channel_;
  std::shared_ptr<Feed> feed_;
  RedisSubscriptionPtr subscription_;  // declared last: unsubscribes first
  std::mutex sync_mutex_;              // one sync() or reload at a time
  core::SystemTime last_reload_{};     // guarded by sync_mutex_ (and open(), before sharing)
};

}  // namespace

Result<RevocationStorePtr> openRedisRevocationStore(RedisClientPtr client, core::SystemTime now,
                                                    milliseconds resync_interval) {
  if (!client || resync_interval <= milliseconds::zero()) {
    return StoreError::kInvalidArgument;
  }
  auto store = std::make_shared<RedisRevocationStore>(std::move(client), resync_interval);
  if (auto opened = store->open(now); !opened) {
    return opened.error();
  }
  return RevocationStorePtr(std::move(store));
}

}  // namespace bulwark::store

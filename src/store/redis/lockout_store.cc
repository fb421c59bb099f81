// Lockout counters in Redis. Each key is a hash {failures, locked_until (Redis ms)}; every script
// reads Redis' TIME, so the nodes' clocks do not matter. A failure sets the key's expiry to the
// longer of the quiet time and the lockout left, which is exactly when auth::Lockout forgets an
// in-process counter (no failure for forget_after, and not locked).

#include "store/redis.h"
#include "store/redis/script.h"

namespace bulwark::store {
namespace {

using std::chrono::milliseconds;

const redis::Script& failureScript() {
  // KEYS[1] counter; ARGV: threshold, base_ms, max_ms, forget_ms. Returns {failures, locked_ms}.
  static const redis::Script script(R"lua(
local threshold = tonumber(ARGV[1])
local base = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local forget = tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'failures', 'locked_until')
local failures = (tonumber(state[1]) or 0) + 1
local locked_until = tonumber(state[2]) or 0
local delay = 0
if failures >= threshold then
  delay = base
  local i = threshold
  while i < failures and delay < max do
    delay = delay * 2
    i = i + 1
  end
  if delay > max then delay = max end
  locked_until = now + delay
end
redis.call('HSET', KEYS[1], 'failures', string.format('%d', failures), 'locked_until',
           string.format('%d', locked_until))
redis.call('PEXPIRE', KEYS[1], string.format('%d', math.max(forget, locked_until - now, 1)))
return {failures, delay}
)lua");
  return script;
}

const redis::Script& lockedScript() {
  // KEYS[1] counter. Returns the lockout left in ms (0: not locked).
  static const redis::Script script(R"lua(
local until_ms = tonumber(redis.call('HGET', KEYS[1], 'locked_until'))
if not until_ms then return 0 end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
return math.max(0, until_ms - now)
)lua");
  return script;
}

const redis::Script& clearScript() {
  // KEYS[1] counter; ARGV[1] "1" to keep a counter that is locked now. Returns 1 when cleared.
  static const redis::Script script(R"lua(
if ARGV[1] == '1' then
  local until_ms = tonumber(redis.call('HGET', KEYS[1], 'locked_until'))
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  if until_ms and until_ms > now then return 0 end
end
redis.call('DEL', KEYS[1])
return 1
)lua");
  return script;
}

bool isInteger(const RedisReply& reply) { return reply.type == RedisReply::Type::kInteger; }

class RedisLockoutStore final : public LockoutStore {
 public:
  explicit RedisLockoutStore(RedisClientPtr client)
      : client_(std::move(client)), prefix_(client_->config().key_prefix + "lock:") {}

  Result<LockoutCount> recordFailure(LockoutKind kind, std::string_view key,
                                     const LockoutRule& rule) override {
    if (key.empty() || rule.threshold == 0 || rule.base_delay <= milliseconds::zero() ||
        rule.max_delay < rule.base_delay || rule.forget_after <= milliseconds::zero()) {
      return StoreError::kInvalidArgument;
    }
    // Counting twice would lock sooner: not repeated after a lost connection.
    auto reply = failureScript().runSync(
        *client_, {name(kind, key)},
        {std::to_string(rule.threshold), std::to_string(rule.base_delay.count()),
         std::to_string(rule.max_delay.count()), std::to_string(rule.forget_after.count())},
        /*idempotent=*/false);
    if (!reply || reply->type != RedisReply::Type::kArray || reply->elements.size() != 2 ||
        !isInteger(reply->elements[0]) || !isInteger(reply->elements[1])) {
      return StoreError::kUnavailable;
    }
    return LockoutCount{static_cast<std::uint32_t>(reply->elements[0].integer),
                        milliseconds{reply->elements[1].integer}};
  }

  Result<milliseconds> lockedFor(LockoutKind kind, std::string_view key) override {
    if (key.empty()) return milliseconds::zero();
    auto reply = lockedScript().runSync(*client_, {name(kind, key)}, {}, /*idempotent=*/true);
    if (!reply || !isInteger(*reply)) return StoreError::kUnavailable;
    return milliseconds{reply->integer};
  }

  Result<void> clear(LockoutKind kind, std::string_view key, bool unless_locked) override {
    if (key.empty()) return {};
    auto reply = clearScript().runSync(*client_, {name(kind, key)}, {unless_locked ? "1" : "0"},
                                       /*idempotent=*/true);
    if (!reply || !isInteger(*reply)) return StoreError::kUnavailable;
    return {};
  }

 private:
  std::string name(LockoutKind kind, std::string_view key) const {
    std::string out = prefix_;
    out += kind == LockoutKind::kAccount ? "a:" : "i:";
    out += key;
    return out;
  }

  RedisClientPtr client_;
  const std::string prefix_;
};

}  // namespace

LockoutStorePtr makeRedisLockoutStore(RedisClientPtr client) {
  return std::make_shared<RedisLockoutStore>(std::move(client));
}

}  // namespace bulwark::store

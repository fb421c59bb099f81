// Token buckets in Redis, shared by every node (SPEC F5.4).
//
// One script per decision reads the bucket, refills it by the time elapsed on Redis' own clock
// (TIME inside the script, so the nodes' clocks do not matter), takes a token or computes the
// wait, and writes the bucket back with an expiry equal to the time it takes to fill up again (a
// full bucket is indistinguishable from a missing one). The script is not idempotent (it takes a
// token), so a command lost with its connection is not repeated: the decision is "unavailable"
// and the gateway fails closed.

#include <charconv>
#include <future>

#include "core/log.h"
#include "store/redis.h"
#include "store/redis/script.h"

namespace bulwark::store {
namespace {

const redis::Script& bucketScript() {
  // KEYS[1] bucket; ARGV: tokens per second, burst. Returns {allowed (0|1), wait_ms}.
  static const redis::Script script(R"lua(
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tokens = burst
local last = now
local state = redis.call('GET', KEYS[1])
if state then
  local stored_tokens, stored_last = string.match(state, '^(%S+) (%S+)$')
  tokens = tonumber(stored_tokens) or burst
  last = tonumber(stored_last) or now
end
if now > last then
  tokens = math.min(burst, tokens + (now - last) / 1000000 * rate)
  last = now
end
local allowed = 0
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_ms = math.max(1, math.ceil((1 - tokens) / rate * 1000))
end
local refill_ms = math.max(1, math.ceil((burst - tokens) / rate * 1000))
redis.call('SET', KEYS[1], string.format('%.17g %d', tokens, last), 'PX',
           string.format('%d', refill_ms))
return {allowed, wait_ms}
)lua");
  return script;
}

std::string number(double value) {
  char digits[32];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  return std::string(digits, end);
}

constexpr RateDecision kUnavailable{false, std::chrono::milliseconds{0}, true};

class RedisRateLimitStore final : public RateLimitStore,
                                  public std::enable_shared_from_this<RedisRateLimitStore> {
 public:
  explicit RedisRateLimitStore(RedisClientPtr client)
      : client_(std::move(client)), bucket_prefix_(client_->config().key_prefix + "rl:") {}

  RateDecision consume(std::string_view key, const core::RateLimit& limit) override {
    if (client_->onClientThread()) return kUnavailable;
    std::promise<RateDecision> promise;
    auto decided = promise.get_future();
    consumeAsync(key, limit, [&promise](RateDecision decision) { promise.set_value(decision); });
    return decided.get();  // bounded by the client's command deadline
  }

  void consumeAsync(std::string_view key, const core::RateLimit& limit,
                    std::function<void(RateDecision)> done) override {
    if (limit.tokens_per_second <= 0 || limit.burst < 1) {
      done(kUnavailable);  // configuration validation keeps these out; never divide by zero
      return;
    }
    std::string bucket;
    bucket.reserve(bucket_prefix_.size() + key.size());
    bucket.append(bucket_prefix_).append(key);
    bucketScript().run(*client_, {std::move(bucket)},
                       {number(limit.tokens_per_second), number(limit.burst)},
                       /*idempotent=*/false,
                       [self = weak_from_this(), done = std::move(done)](Result<RedisReply> reply) {
                         auto decision = decide(reply);
                         if (decision.unavailable) {
                           if (auto store = self.lock()) store->noteFailure(reply);
                         }
                         done(decision);
                       });
  }

  bool isRemote() const override { return true; }

  // Buckets live in Redis, where they expire by themselves; counting them would mean a SCAN.
  std::size_t size() const override { return 0; }

 private:
  static RateDecision decide(const Result<RedisReply>& reply) {
    if (!reply || reply->type != RedisReply::Type::kArray || reply->elements.size() != 2 ||
        reply->elements[0].type != RedisReply::Type::kInteger ||
        reply->elements[1].type != RedisReply::Type::kInteger) {
      return kUnavailable;
    }
    if (reply->elements[0].integer == 1) return {true, {}};
    return {false, std::chrono::milliseconds{std::max<long long>(1, reply->elements[1].integer)}};
  }

  // Logs the first failure of a run, and then every 1024th, so an outage does not flood the log.
  void noteFailure(const Result<RedisReply>& reply) {
    const auto failures = failures_.fetch_add(1, std::memory_order_relaxed);
    if (failures % 1024 != 0) return;
    const std::string why = !reply             ? client_->lastError()
                            : reply->isError() ? reply->text
                                               : std::string("unexpected reply");
    core::log(core::LogLevel::kWarn, "redis rate limiter cannot decide; refusing requests",
              {{"error", why}});
  }

  RedisClientPtr client_;
  const std::string bucket_prefix_;
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace

RateLimitStorePtr makeRedisRateLimitStore(RedisClientPtr client) {
  return std::make_shared<RedisRateLimitStore>(std::move(client));
}

}  // namespace bulwark::store

#pragma once
// Redis for state several nodes share (SPEC F6.2, F7.3; DESIGN decisions 5, 6, 9): a client with a
// pool of pipelined connections over verified TLS, and the stores built on it (shared revocation
// set, cluster-wide rate limiter).
//
// RESP is encoded and decoded by hiredis 0.14's reader/encoder; hiredis 0.14 has no TLS, so the
// transport is ours (Boost.Asio + OpenSSL) on one I/O thread the client owns. Neither hiredis nor
// Asio appears in this header: the project keeps Asio includes inside the few components that
// need them (build time on small machines).
//
// Errors: transport problems (unreachable, TLS or AUTH refused, timeouts, a lost connection after
// the retries) are StoreError::kUnavailable; the client keeps a redacted reason for logs
// (lastError()). An error reply from Redis itself is a value (RedisReply::Type::kError).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "store/error.h"
#include "store/lockout_store.h"
#include "store/rate_limit_store.h"
#include "store/revocation_store.h"

namespace bulwark::store {

struct RedisConfig {
  // rediss://[user:]password@host[:port][/db] (TLS), or redis://… for development only. The
  // password is percent-decoded; the user defaults to Redis' "default".
  std::string url;
  std::string ca_file;        // PEM CAs that verify the server; empty = the system's CA store
  std::size_t pool_size = 4;  // command connections; commands are pipelined on each
  std::chrono::milliseconds command_timeout{1'000};  // longest wait for one reply
  std::chrono::milliseconds connect_timeout{2'000};  // TCP + TLS + AUTH, per attempt
  // Tries per command (and per connection at start-up). A command is only repeated when that is
  // safe: it was never written, or it is idempotent.
  int attempts = 3;
  std::chrono::milliseconds retry_backoff{50};             // first retry; doubles each time
  std::chrono::milliseconds reconnect_backoff_max{2'000};  // background reconnects, capped
  std::string key_prefix = "bulwark:";  // every key and channel the stores use starts with it
  std::string client_name = "bulwark";  // CLIENT SETNAME, to tell nodes apart in CLIENT LIST
};

// One RESP value. Error replies (WRONGTYPE, NOSCRIPT, …) are values, not transport errors.
struct RedisReply {
  enum class Type : std::uint8_t { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string text;                  // kString, kStatus, kError
  long long integer = 0;             // kInteger
  std::vector<RedisReply> elements;  // kArray

  bool isError() const { return type == Type::kError; }
  bool isNil() const { return type == Type::kNil; }
};

struct RedisStats {
  std::uint64_t connections_up = 0;  // command connections ready now
  std::uint64_t commands = 0;        // commands answered by Redis (error replies included)
  std::uint64_t errors = 0;          // commands that failed with kUnavailable
  std::uint64_t retries = 0;         // commands sent again after a lost connection
  std::uint64_t reconnects = 0;      // connections re-established after a loss
};

// A SUBSCRIBE on a connection of its own (reconnected and resubscribed by the client). Dropping
// the handle unsubscribes.
class RedisSubscription {
 public:
  virtual ~RedisSubscription() = default;
  // True while subscribed (between the server's confirmation and the loss of the connection).
  virtual bool isSubscribed() const = 0;
  // Waits until every message published before the call has been handed to the message handler
  // (a PING on the subscriber connection, answered in order after them). kUnavailable when not
  // subscribed or no answer within the command timeout (the connection is then replaced). Blocks:
  // never call it on the client's thread.
  [[nodiscard]] virtual Result<void> barrier() = 0;
};
using RedisSubscriptionPtr = std::unique_ptr<RedisSubscription>;

class RedisClient {
 public:
  using Callback = std::function<void(Result<RedisReply>)>;
  // Both run on the client's thread.
  using MessageHandler = std::function<void(std::string_view channel, std::string_view message)>;
  using StateHandler = std::function<void(bool subscribed)>;

  virtual ~RedisClient() = default;

  // Sends `args` (command and arguments, binary-safe) on a pooled connection without blocking;
  // `done` runs exactly once, on the client's thread, with the reply or kUnavailable (after up to
  // `attempts` tries within bounded time). `idempotent` allows repeating a command that may have
  // reached Redis before its connection was lost; well-known read-only commands are repeated
  // regardless.
  virtual void command(std::vector<std::string> args, Callback done, bool idempotent = false) = 0;
  // The same, waiting for the answer. For worker threads: never call it on an I/O thread (the
  // client's own thread gets kUnavailable at once rather than a deadlock).
  [[nodiscard]] virtual Result<RedisReply> commandSync(std::vector<std::string> args,
                                                       bool idempotent = false) = 0;
  // Subscribes to `channel` on a dedicated connection. `on_state` reports every change of
  // isSubscribed() (a lost connection, the confirmation of a resubscription).
  virtual RedisSubscriptionPtr subscribe(std::string channel, MessageHandler on_message,
                                         StateHandler on_state) = 0;

  // The configuration it was connected with (key prefix, timeouts).
  virtual const RedisConfig& config() const = 0;
  // True when called on the client's I/O thread.
  virtual bool onClientThread() const = 0;
  virtual RedisStats stats() const = 0;
  // The latest failure, for logs: host and port but never a password. Empty when none.
  virtual std::string lastError() const = 0;
};
// Shared by the stores built on it. Release the last reference on another thread than the
// client's (its destructor joins that thread).
using RedisClientPtr = std::shared_ptr<RedisClient>;

// The client settings of `settings` (redis_url, redis_ca_file, redis_pool_size, redis_timeout,
// redis_key_prefix); the rest keep RedisConfig's defaults.
RedisConfig redisConfigFrom(const core::Settings& settings);

// Connects the pool: returns once a first connection is up (TLS verified, AUTH, SELECT, CLIENT
// SETNAME done), the others connecting in the background. kInvalidArgument for a malformed URL or
// configuration, kUnavailable when no connection succeeded in `attempts` tries; `reason` (when not
// null) then says why, redacted.
[[nodiscard]] Result<RedisClientPtr> connectRedis(const RedisConfig& config,
                                                  std::string* reason = nullptr);

// Redis URLs in logs: core::redactUrl (it also hides a lone user part, which Redis reads as the
// password).

// A revocation store shared by every node on `client`'s Redis (DESIGN decision 5): revoke()
// writes the entry with its expiry (one script: merge, SET … PXAT, PUBLISH) and every node's
// subscriber applies it at once; sync() purges, confirms the feed (PING on the subscriber) and
// reloads the whole set every `resync_interval` or after the subscriber reconnected, so a missed
// message heals. isCurrent() is false from a lost subscription until that reload succeeded.
// Subscribes and loads the set before returning; kUnavailable when it cannot.
[[nodiscard]] Result<RevocationStorePtr> openRedisRevocationStore(
    RedisClientPtr client, core::SystemTime now,
    std::chrono::milliseconds resync_interval = std::chrono::seconds(30));

// A rate limiter shared by every node (SPEC F5.4): one atomic Lua token bucket per decision, timed
// by Redis' clock, each bucket expiring once it would be full again. consumeAsync() never blocks;
// consume() blocks (worker threads only). When Redis cannot answer the decision is `unavailable`.
RateLimitStorePtr makeRedisRateLimitStore(RedisClientPtr client);

// Failed-login counters shared by every node: "<prefix>lock:<a|i>:<key>" hashes, each updated by
// one script on Redis' clock and expiring when it would be forgotten (quiet time, never while
// locked).
LockoutStorePtr makeRedisLockoutStore(RedisClientPtr client);

}  // namespace bulwark::store

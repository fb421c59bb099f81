#pragma once
// A Lua script run by its SHA1 (EVALSHA), sent in full (EVAL, which also caches it) only when
// the server does not know it yet (NOSCRIPT: after a restart or SCRIPT FLUSH).

#include <string>
#include <vector>

#include "store/redis.h"

namespace bulwark::store::redis {

class Script {
 public:
  explicit Script(std::string source);

  // Runs the script with `keys` and `args`; `done` runs on the client's thread. `idempotent`
  // allows a retry after a lost connection (the script must then give the same result twice).
  void run(RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args,
           bool idempotent, RedisClient::Callback done) const;
  // The same, waiting for the answer (worker threads only).
  [[nodiscard]] Result<RedisReply> runSync(RedisClient& client, std::vector<std::string> keys,
                                           std::vector<std::string> args, bool idempotent) const;

 private:
  std::vector<std::string> command(std::string_view verb, const std::string& body,
                                   const std::vector<std::string>& keys,
                                   const std::vector<std::string>& args) const;

  std::string source_;
  std::string sha1_;  // lowercase hex, as SCRIPT LOAD answers
};

// True for the error reply that means "unknown script".
bool isNoScript(const RedisReply& reply);

}  // namespace bulwark::store::redis

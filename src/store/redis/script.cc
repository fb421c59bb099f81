#include "store/redis/script.h"

#include <openssl/sha.h>

#include <memory>

namespace bulwark::store::redis {

Script::Script(std::string source) : source_(std::move(source)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char byte : digest) {
    sha1_.push_back(kHex[byte >> 4]);
    sha1_.push_back(kHex[byte & 0xf]);
  }
}

bool isNoScript(const RedisReply& reply) {
  return reply.isError() && reply.text.starts_with("NOSCRIPT");
}

std::vector<std::string> Script::command(std::string_view verb, const std::string& body,
                                         const std::vector<std::string>& keys,
                                         const std::vector<std::string>& args) const {
  std::vector<std::string> out;
  out.reserve(3 + keys.size() + args.size());
  out.emplace_back(verb);
  out.push_back(body);
  out.push_back(std::to_string(keys.size()));
  out.insert(out.end(), keys.begin(), keys.end());
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

void Script::run(RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args,
                 bool idempotent, RedisClient::Callback done) const {
  auto by_sha = command("EVALSHA", sha1_, keys, args);
  // NOSCRIPT means the script did not run, so sending it in full cannot apply it twice. The
  // client outlives every callback it runs, so a raw pointer is enough.
  auto fallback = [this, client = &client, keys = std::move(keys), args = std::move(args),
                   idempotent, done = std::move(done)](Result<RedisReply> reply) mutable {
    if (reply && isNoScript(*reply)) {
      client->command(command("EVAL", source_, keys, args), std::move(done), idempotent);
      return;
    }
    done(std::move(reply));
  };
  client.command(std::move(by_sha), std::move(fallback), idempotent);
}

Result<RedisReply> Script::runSync(RedisClient& client, std::vector<std::string> keys,
                                   std::vector<std::string> args, bool idempotent) const {
  auto reply = client.commandSync(command("EVALSHA", sha1_, keys, args), idempotent);
  if (reply && isNoScript(*reply)) {
    return client.commandSync(command("EVAL", source_, keys, args), idempotent);
  }
  return reply;
}

}  // namespace bulwark::store::redis

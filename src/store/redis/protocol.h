#pragma once
// RESP through hiredis 0.14's reader and encoder, and the parts of the client that need no I/O:
// the URL, the redaction of reasons, which commands may be repeated. No hiredis or Asio types here.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis.h"

namespace bulwark::store::redis {

// The parts of a redis:// or rediss:// URL.
struct RedisEndpoint {
  bool tls = true;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 6379;
  std::string user;      // empty: AUTH <password> (the "default" user)
  std::string password;  // empty: no AUTH
  int db = 0;
};

// Parses "rediss://[user[:password]@]host[:port][/db]"; nullopt when malformed. The error text
// never contains the password.
std::optional<RedisEndpoint> parseRedisUrl(std::string_view url, std::string* error);

// Appends the RESP encoding of `args` (a command) to `out`.
void appendCommand(std::string& out, const std::vector<std::string>& args);

// True for commands that may be sent again after a connection was lost mid-flight (they read, or
// write the same value again).
bool isIdempotent(const std::vector<std::string>& args);

// Incremental RESP decoder: feed bytes, take complete replies.
class ReplyReader {
 public:
  ReplyReader();
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  void feed(const char* data, std::size_t size);
  // The next complete reply; nullopt when more bytes are needed. Sets `error` (and returns
  // nullopt) on a protocol error, after which the connection must be dropped.
  std::optional<RedisReply> next(std::string& error);
  // Starts over (a new connection).
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Replaces every occurrence of `secret` in `text` by "***".
std::string redact(std::string text, std::string_view secret);

}  // namespace bulwark::store::redis

#include "store/redis/protocol.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace bulwark::store::redis {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    const int high = hexValue(in[i + 1]);
    const int low = hexValue(in[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

RedisReply convert(const redisReply& raw) {
  RedisReply reply;
  switch (raw.type) {
    case REDIS_REPLY_STRING:
      reply.type = RedisReply::Type::kString;
      reply.text.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_STATUS:
      reply.type = RedisReply::Type::kStatus;
      reply.text.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_ERROR:
      reply.type = RedisReply::Type::kError;
      reply.text.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.type = RedisReply::Type::kInteger;
      reply.integer = raw.integer;
      break;
    case REDIS_REPLY_ARRAY:
      reply.type = RedisReply::Type::kArray;
      reply.elements.reserve(raw.elements);
      for (std::size_t i = 0; i < raw.elements; ++i) {
        reply.elements.push_back(convert(*raw.element[i]));
      }
      break;
    default:
      reply.type = RedisReply::Type::kNil;
      break;
  }
  return reply;
}

}  // namespace

std::optional<RedisEndpoint> parseRedisUrl(std::string_view url, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<RedisEndpoint> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  RedisEndpoint endpoint;
  if (url.starts_with("rediss://")) {
    url.remove_prefix(9);
  } else if (url.starts_with("redis://")) {
    endpoint.tls = false;
    url.remove_prefix(8);
  } else {
    return fail("the Redis URL must start with rediss:// (or redis:// without TLS)");
  }
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : url.substr(slash + 1);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percentDecode(userinfo.substr(0, colon));
    auto password = colon == std::string_view::npos ? std::optional<std::string>(std::string())
                                                    : percentDecode(userinfo.substr(colon + 1));
    if (!user || !password) return fail("the Redis URL has a malformed user or password");
    if (colon == std::string_view::npos) {
      endpoint.password = std::move(*user);  // redis://secret@host: a lone part is the password
    } else {
      endpoint.user = std::move(*user);
      endpoint.password = std::move(*password);
    }
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("the Redis URL has a malformed IPv6 host");
    endpoint.host = authority.substr(1, close - 1);
    const auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("the Redis URL has a malformed host");
      port = rest.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    endpoint.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (endpoint.host.empty()) return fail("the Redis URL has no host");
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return fail("the Redis URL has an invalid port");
    }
    endpoint.port = static_cast<std::uint16_t>(value);
  }
  if (const auto query = path.find('?'); query != std::string_view::npos) {
    return fail("the Redis URL takes no query parameters (use the redis_* settings)");
  }
  if (!path.empty()) {
    const auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), endpoint.db);
    if (ec != std::errc() || end != path.data() + path.size() || endpoint.db < 0) {
      return fail("the Redis URL's database must be a number (…/0)");
    }
  }
  return endpoint;
}

void appendCommand(std::string& out, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  char* encoded = nullptr;
  const int length =
      redisFormatCommandArgv(&encoded, static_cast<int>(args.size()), argv.data(), lengths.data());
  if (length > 0 && encoded != nullptr) out.append(encoded, static_cast<std::size_t>(length));
  redisFreeCommand(encoded);
}

bool isIdempotent(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  const std::string name = upper(args[0]);
  static constexpr std::string_view kReadOnly[] = {
      "GET",  "MGET",    "EXISTS",   "PTTL",      "TTL",  "SCAN",       "TIME",   "PING",
      "HGET", "HGETALL", "SMEMBERS", "SISMEMBER", "ECHO", "EVALSHA_RO", "EVAL_RO"};
  for (auto known : kReadOnly) {
    if (name == known) return true;
  }
  if (name == "SCRIPT" && args.size() > 1) {
    const std::string sub = upper(args[1]);
    return sub == "LOAD" || sub == "EXISTS";
  }
  if (name == "SET") {
    // SET key value [PX n | PXAT t | EX n | EXAT t]: writing it twice leaves the same state.
    for (std::size_t i = 3; i < args.size(); ++i) {
      const std::string option = upper(args[i]);
      if (option == "NX" || option == "XX" || option == "GET" || option == "KEEPTTL") {
        return false;
      }
    }
    return true;
  }
  return false;
}

struct ReplyReader::Impl {
  redisReader* reader = redisReaderCreate();
  ~Impl() { redisReaderFree(reader); }
};

ReplyReader::ReplyReader() : impl_(std::make_unique<Impl>()) {}
ReplyReader::~ReplyReader() = default;

void ReplyReader::feed(const char* data, std::size_t size) {
  redisReaderFeed(impl_->reader, data, size);
}

std::optional<RedisReply> ReplyReader::next(std::string& error) {
  void* raw = nullptr;
  if (redisReaderGetReply(impl_->reader, &raw) != REDIS_OK) {
    error = "protocol error: ";
    error += impl_->reader->errstr;
    return std::nullopt;
  }
  if (raw == nullptr) return std::nullopt;
  RedisReply reply = convert(*static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

void ReplyReader::reset() { impl_ = std::make_unique<Impl>(); }

std::string redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

}  // namespace bulwark::store::redis

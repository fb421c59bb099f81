#include "core/config.h"
#include "store/redis.h"

namespace bulwark::store {

RedisConfig redisConfigFrom(const core::Settings& settings) {
  RedisConfig config;
  config.url = settings.redis_url;
  config.ca_file = settings.redis_ca_file;
  config.pool_size = settings.redis_pool_size;
  config.command_timeout = settings.redis_timeout;
  config.key_prefix = settings.redis_key_prefix;
  return config;
}

}  // namespace bulwark::store

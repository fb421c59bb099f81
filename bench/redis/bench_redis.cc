// bench/redis: the Redis client and stores against the TLS Redis of tests/support/services.sh
// (source its env first). Prints, for the same server in the same run:
//   - PING round trips, one at a time (latency through our TLS transport)
//   - PING pipelined from several threads (throughput of one client's pool)
//   - rate-limit decisions (the Lua token bucket), async with many in flight, and one at a time
//   - revocation propagation from one node to another (pub/sub), and in-memory checks/s
// The anchor is `redis-benchmark --tls` on the same server (bench/redis/run.sh runs both).
//
//   bench_redis [--seconds N]

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/redis.h"

namespace {

using namespace bulwark;
using Clock = std::chrono::steady_clock;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : value;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Runs `issue(done)` with up to `window` operations in flight for `duration`; returns ops/s.
template <class Issue>
double throughput(Issue issue, int window, Clock::duration duration) {
  std::mutex mutex;
  std::condition_variable changed;
  int in_flight = 0;
  long completed = 0;
  const auto start = Clock::now();
  const auto end = start + duration;
  std::unique_lock lock(mutex);
  while (Clock::now() < end) {
    changed.wait(lock, [&] { return in_flight < window; });
    ++in_flight;
    lock.unlock();
    issue([&] {
      std::lock_guard inner(mutex);
      --in_flight;
      ++completed;
      changed.notify_all();
    });
    lock.lock();
  }
  changed.wait(lock, [&] { return in_flight == 0; });
  return static_cast<double>(completed) / seconds(Clock::now() - start);
}

}  // namespace

int main(int argc, char** argv) {
  int run_seconds = 3;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--seconds") run_seconds = std::max(1, std::atoi(argv[i + 1]));
  }
  const auto duration = std::chrono::seconds(run_seconds);
  store::RedisConfig config;
  config.url = env("BULWARK_TEST_REDIS_URL");
  config.ca_file = env("BULWARK_TEST_CA");
  config.key_prefix = "bulwark-bench:" + std::to_string(::getpid()) + ":";
  if (config.url.empty()) {
    std::fprintf(stderr, "source the env of tests/support/services.sh first\n");
    return 2;
  }
  std::string reason;
  auto connected = store::connectRedis(config, &reason);
  if (!connected) {
    std::fprintf(stderr, "cannot connect: %s\n", reason.c_str());
    return 1;
  }
  auto client = *connected;

  std::printf("| measurement | result |\n|---|---|\n");

  // One at a time.
  {
    const int n = 2000;
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i) (void)client->commandSync({"PING"});
    std::printf("| PING, one at a time (sync) | %.1f µs per round trip |\n",
                seconds(Clock::now() - start) / n * 1e6);
  }
  // Pipelined: 256 in flight on a pool of 4.
  {
    const double rate = throughput(
        [&](auto done) {
          client->command({"PING"}, [done](store::Result<store::RedisReply>) { done(); });
        },
        256, duration);
    std::printf("| PING, pipelined, 256 in flight, pool 4 | %.0f commands/s |\n", rate);
  }
  // Rate-limit decisions.
  auto limiter = store::makeRedisRateLimitStore(client);
  const core::RateLimit limit{1e9, 1e9};
  {
    std::atomic<long> key{0};
    const double rate = throughput(
        [&](auto done) {
          limiter->consumeAsync("client-" + std::to_string(key++ % 10'000), limit,
                                [done](store::RateDecision) { done(); });
        },
        256, duration);
    std::printf("| rate-limit decisions (Lua bucket), 256 in flight | %.0f decisions/s |\n", rate);
    const int n = 2000;
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i) (void)limiter->consume("one", limit);
    std::printf("| rate-limit decision, one at a time | %.1f µs |\n",
                seconds(Clock::now() - start) / n * 1e6);
  }
  // Revocations across two nodes.
  {
    auto other = store::connectRedis(config, &reason);
    if (!other) return 1;
    const auto now = std::chrono::system_clock::now();
    auto a = store::openRedisRevocationStore(client, now);
    auto b = store::openRedisRevocationStore(*other, now);
    if (!a || !b) return 1;
    const int n = 500;
    Clock::duration total{};
    Clock::duration worst{};
    for (int i = 0; i < n; ++i) {
      const std::string jti = "bench-" + std::to_string(i);
      const auto start = Clock::now();
      (void)(*a)->revoke({store::RevocationKind::kToken, jti, {}, now + std::chrono::minutes(2)});
      while (!(*b)->isRevoked(jti, "", "", now)) std::this_thread::yield();
      const auto took = Clock::now() - start;
      total += took;
      worst = std::max(worst, took);
    }
    std::printf("| revoke on node A until node B rejects (pub/sub) | %.0f µs mean, %.0f µs max |\n",
                seconds(total) / n * 1e6, seconds(worst) * 1e6);
    const long checks = 5'000'000;
    const auto start = Clock::now();
    long hits = 0;
    for (long i = 0; i < checks; ++i) {
      hits += (*b)->isRevoked(i % 2 ? "bench-7" : "not-revoked", "sid", "user", now) ? 1 : 0;
    }
    std::printf("| revocation checks on node B (memory, %ld hits) | %.1f M checks/s |\n", hits,
                static_cast<double>(checks) / seconds(Clock::now() - start) / 1e6);
  }
  // Clean up this run's keys.
  std::string cursor = "0";
  for (int step = 0; step < 100'000; ++step) {
    auto page =
        client->commandSync({"SCAN", cursor, "MATCH", config.key_prefix + "*", "COUNT", "1000"});
    if (!page || page->elements.size() != 2) break;
    cursor = page->elements[0].text;
    for (const auto& key : page->elements[1].elements) (void)client->commandSync({"DEL", key.text});
    if (cursor == "0") break;
  }
  auto stats = client->stats();
  std::printf("\nclient stats: %llu commands, %llu errors, %llu retries, %llu reconnects\n",
              static_cast<unsigned long long>(stats.commands),
              static_cast<unsigned long long>(stats.errors),
              static_cast<unsigned long long>(stats.retries),
              static_cast<unsigned long long>(stats.reconnects));
  if (!client->lastError().empty()) std::printf("last error: %s\n", client->lastError().c_str());
  return 0;
}

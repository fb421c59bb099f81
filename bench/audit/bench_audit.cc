// bench/audit: the audit writer and verifier against their anchors, measured in one run.
//
//   append async   one producer thread appends as fast as the queue takes events (it backs
//                  off when the queue is 3/4 full, so nothing is dropped); events/s until all
//                  are durable.
//   append sync    W requests in flight: each appends an event and waits (whenDurable) for it
//                  to be fsynced before the next is issued; events/s and events per fsync.
//   verify         bulwark's verifier over the trail written above (page cache warm), MB/s,
//                  beside raw HMAC-SHA256 (OpenSSL) over the same records, one MAC per record
//                  (the work verify cannot avoid), and over 1 MiB buffers (OpenSSL's peak).
//   PostgreSQL     the same writer, async and sync, appending to the PostgreSQL audit store
//                  (one COPY per batch, committed per batch) of the server at
//                  BULWARK_BENCH_DATABASE_URL, else BULWARK_TEST_DATABASE_URL (skipped when
//                  neither is set), in a schema of its own, dropped at the end.
//
// Usage: bench_audit [--dir DIR] [--events N] [--sync-events N] [--pg-events N]
//                    [--pg-sync-events N]
// DIR (default: the current directory) must be on the disk to measure; fsync is real.

#include <fcntl.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/detail/line_reader.h"
#include "audit/file_store.h"
#include "audit/postgres_store.h"
#include "audit/record.h"
#include "audit/verifier.h"
#include "audit/writer.h"
#include "core/clock.h"
#include "crypto/hmac.h"
#include "crypto/random.h"
#include "store/postgres.h"

namespace {

using namespace bulwark;
using Clock = std::chrono::steady_clock;

constexpr const char* kKey = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

double seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of the calling thread: unlike wall time, not inflated while other work on this
// shared machine holds the core.
double threadCpuSeconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

audit::Event requestEvent(std::uint64_t i) {
  audit::Event event;
  event.type = audit::EventType::kRequest;
  event.outcome = audit::Outcome::kSuccess;
  event.time = core::realClock().systemTime();
  event.actor = "user-" + std::to_string(i % 5000);
  event.client_address = "203.0.113." + std::to_string(i % 250);
  event.request_id = "9f1c2e4b7a3d5f60" + std::to_string(1000000000 + i);
  event.target = "api";
  event.details = {{"method", "GET"},
                   {"path", "/api/v1/orders/" + std::to_string(i % 100000)},
                   {"status", "200"},
                   {"upstream_ms", "3"},
                   {"bytes", "512"}};
  return event;
}

audit::KeyRing keys() { return std::move(*audit::parseKeyRing(kKey, "bench")); }

audit::WriterPtr openWriter(audit::StorePtr store, const std::string& node,
                            audit::Durability durability) {
  audit::WriterConfig config;
  config.node = node;
  config.durability = durability;
  config.checkpoint_every = 10000;
  config.checkpoint_interval = std::chrono::seconds(60);
  audit::WriterDeps deps;
  deps.store = std::move(store);
  deps.keys = keys();
  deps.clock = &core::realClock();
  deps.random = &crypto::systemRandom();
  auto writer = audit::Writer::open(config, std::move(deps));
  if (!writer) {
    std::cerr << "bench_audit: " << writer.error().message << "\n";
    std::exit(2);
  }
  return *writer;
}

struct AppendResult {
  double events_per_second = 0;    // wall clock, until every event is durable
  double producer_cpu_micros = 0;  // producer thread CPU per event (building + append)
  double writer_cpu_micros = 0;    // writer thread CPU per event (user + system)
  double events_per_sync = 0;
  std::uint64_t dropped = 0;
};

AppendResult finish(audit::Writer& writer, std::uint64_t events, double elapsed,
                    std::uint64_t syncs_before, std::uint64_t cpu_before) {
  const auto stats = writer.stats();
  AppendResult result;
  result.events_per_second = static_cast<double>(events) / elapsed;
  result.writer_cpu_micros =
      static_cast<double>(stats.cpu_micros - cpu_before) / static_cast<double>(events);
  result.events_per_sync =
      static_cast<double>(events) / static_cast<double>(stats.syncs - syncs_before);
  result.dropped = stats.dropped;
  return result;
}

AppendResult appendAsync(audit::StorePtr store, const std::string& node, std::uint64_t events) {
  auto writer = openWriter(std::move(store), node, audit::Durability::kAsync);
  const std::uint64_t high_water = 65536 * 3 / 4;
  const auto before = writer->stats();
  const double producer_start = threadCpuSeconds();
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < events; ++i) {
    // Back off (without spinning on the writer's core) when the queue fills: async overflow
    // would drop, and a drop is not throughput.
    if (i % 256 == 0) {
      while (writer->stats().queue_depth > high_water) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    }
    writer->append(requestEvent(i));
  }
  const double producer_cpu = threadCpuSeconds() - producer_start;
  writer->flush();
  const double elapsed = seconds(start);
  auto result = finish(*writer, events, elapsed, before.syncs, before.cpu_micros);
  result.producer_cpu_micros = producer_cpu * 1e6 / static_cast<double>(events);
  writer->close();
  return result;
}

AppendResult appendSync(audit::StorePtr store, const std::string& node, std::uint64_t events,
                        std::uint64_t in_flight) {
  auto writer = openWriter(std::move(store), node, audit::Durability::kSync);
  std::mutex mutex;
  std::condition_variable room;
  std::uint64_t outstanding = 0;
  std::uint64_t completed = 0;
  const auto before = writer->stats();
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < events; ++i) {
    {
      std::unique_lock lock(mutex);
      room.wait(lock, [&] { return outstanding < in_flight; });
      ++outstanding;
    }
    const std::uint64_t seq = writer->append(requestEvent(i));
    // The gateway posts this back to its io_context and answers the request; here the
    // "request" frees its slot.
    writer->whenDurable(seq, [&](boost::system::error_code) {
      std::lock_guard lock(mutex);
      --outstanding;
      ++completed;
      room.notify_one();
    });
  }
  {
    std::unique_lock lock(mutex);
    room.wait(lock, [&] { return completed == events; });
  }
  const double elapsed = seconds(start);
  auto result = finish(*writer, events, elapsed, before.syncs, before.cpu_micros);
  writer->close();
  return result;
}

// Plain write()s of 1 MiB, no fsync, of `bytes` bytes: what this disk and kernel take.
double rawWrite(const std::string& dir, std::uint64_t bytes, double& cpu_mb_per_second) {
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/raw-write.bin";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  std::string block(1 << 20, 'x');
  const double cpu_start = threadCpuSeconds();
  const auto start = Clock::now();
  for (std::uint64_t written = 0; written < bytes; written += block.size()) {
    if (::write(fd, block.data(), block.size()) < 0) break;
  }
  const double elapsed = seconds(start);
  cpu_mb_per_second = static_cast<double>(bytes) / (threadCpuSeconds() - cpu_start) / 1e6;
  ::close(fd);
  std::filesystem::remove(path);
  return static_cast<double>(bytes) / elapsed / 1e6;
}

struct Throughput {
  double wall_mb_per_second = 0;
  double cpu_mb_per_second = 0;  // bytes per second of the measuring thread's CPU time
  double records_per_cpu_second = 0;
};

void keepBest(Throughput& best, const Throughput& candidate) {
  best.wall_mb_per_second = std::max(best.wall_mb_per_second, candidate.wall_mb_per_second);
  if (candidate.cpu_mb_per_second > best.cpu_mb_per_second) {
    best.cpu_mb_per_second = candidate.cpu_mb_per_second;
    best.records_per_cpu_second = candidate.records_per_cpu_second;
  }
}

Throughput verify(const std::string& dir, std::uint64_t& records, std::uint64_t& bytes) {
  const auto ring = keys();
  audit::VerifyOptions options;
  options.directory = dir;
  options.keys = &ring;
  const double cpu_start = threadCpuSeconds();
  const auto start = Clock::now();
  auto report = audit::verifyTrail(options);
  const double elapsed = seconds(start);
  const double cpu = threadCpuSeconds() - cpu_start;
  if (!report || !report->intact()) {
    std::cerr << "bench_audit: the trail does not verify\n";
    std::exit(2);
  }
  records = report->records;
  bytes = report->bytes;
  return {static_cast<double>(bytes) / elapsed / 1e6, static_cast<double>(bytes) / cpu / 1e6,
          static_cast<double>(records) / cpu};
}

// The lines of the trail, in memory.
std::vector<std::string> trailLines(const std::string& dir) {
  std::vector<std::string> lines;
  for (const auto& segment : *audit::detail::listSegments(dir)) {
    audit::detail::LineReader reader;
    (void)reader.open(segment.path);
    while (auto line = reader.next()) {
      if (!*line) break;
      lines.emplace_back(**line);
    }
  }
  return lines;
}

// HMAC-SHA256 of every record (prev ‖ seq ‖ bytes), records already in memory: the part of
// verification no implementation can skip.
Throughput rawHmacPerRecord(const std::vector<std::string>& lines) {
  std::string raw;
  (void)crypto::fromHex(std::string_view(kKey).substr(3), raw);
  crypto::HmacSha256 mac(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
  crypto::Digest256 prev{};
  std::uint64_t bytes = 0;
  const double cpu_start = threadCpuSeconds();
  const auto start = Clock::now();
  std::uint64_t seq = 0;
  for (const auto& line : lines) {
    const std::string_view bytes_i(line.data(), line.size() - audit::kMacSuffixSize);
    prev = audit::recordMac(mac, prev, ++seq, bytes_i);
    bytes += line.size() + 1;
  }
  const double elapsed = seconds(start);
  const double cpu = threadCpuSeconds() - cpu_start;
  if (prev[0] == 1 && prev[1] == 2 && prev[2] == 3) std::cerr << " ";  // keep the result alive
  return {static_cast<double>(bytes) / elapsed / 1e6, static_cast<double>(bytes) / cpu / 1e6,
          static_cast<double>(lines.size()) / cpu};
}

Throughput rawHmacBulk() {
  std::vector<std::uint8_t> key(32, 7);
  std::string buffer(1 << 20, 'x');
  crypto::HmacSha256 mac(key);
  const int rounds = 256;
  const double cpu_start = threadCpuSeconds();
  const auto start = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    mac.update(buffer);
    buffer[0] = static_cast<char>(mac.finish()[0]);
  }
  const double bytes = rounds * static_cast<double>(buffer.size());
  return {bytes / seconds(start) / 1e6, bytes / (threadCpuSeconds() - cpu_start) / 1e6, 0};
}

std::string freshDir(const std::string& base, const char* name) {
  const std::string dir = base + "/bench-audit-" + std::to_string(::getpid()) + "-" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

const char* verdict(bool met) { return met ? "met" : "NOT met"; }

// The PostgreSQL server to append to: BULWARK_BENCH_DATABASE_URL, else the test server's
// BULWARK_TEST_DATABASE_URL; empty when neither is set.
std::string benchDatabaseUrl() {
  for (const char* name : {"BULWARK_BENCH_DATABASE_URL", "BULWARK_TEST_DATABASE_URL"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return {};
}

// Drops this run's schema on a connection of its own (the pool is closed by then).
void dropSchema(const std::string& url, const std::string& schema) {
  PGconn* admin = PQconnectdb(url.c_str());
  if (PQstatus(admin) != CONNECTION_OK) {
    std::cerr << "bench_audit: cannot connect to drop schema " << schema << ": "
              << PQerrorMessage(admin);
  } else {
    // Without the NOTICE listing every table the CASCADE drops.
    PQclear(PQexec(admin, "SET client_min_messages = warning"));
    PGresult* result = PQexec(admin, ("DROP SCHEMA IF EXISTS " + schema + " CASCADE").c_str());
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      std::cerr << "bench_audit: DROP SCHEMA " << schema << ": " << PQerrorMessage(admin);
    }
    PQclear(result);
  }
  PQfinish(admin);
}

struct PostgresResults {
  bool ran = false;
  AppendResult async;
  std::vector<std::pair<std::uint64_t, AppendResult>> sync;
};

// The append cases against the PostgreSQL store: one trail (node) per case, all in a schema
// of this run's own, dropped at the end.
PostgresResults appendPostgres(const std::vector<std::uint64_t>& in_flights, std::uint64_t events,
                               std::uint64_t sync_events) {
  PostgresResults results;
  const std::string url = benchDatabaseUrl();
  if (url.empty()) {
    std::cerr << "bench_audit: neither BULWARK_BENCH_DATABASE_URL nor BULWARK_TEST_DATABASE_URL "
                 "is set: skipping the PostgreSQL cases (source the env of "
                 "tests/support/services.sh)\n";
    return results;
  }
  store::PostgresConfig config;
  config.url = url;
  config.schema = "bench_audit_" + std::to_string(::getpid());
  config.application_name = "bulwark/bench-audit";
  config.max_open = 4;  // as the app's audit pool (src/app/audit_setup.cc)
  config.max_idle = 2;
  std::string reason;
  auto opened = store::openPostgresPool(config, &reason);
  if (!opened) {
    std::cerr << "bench_audit: cannot open the PostgreSQL pool: "
              << (reason.empty() ? opened.error().message() : reason) << "\n";
    dropSchema(url, config.schema);
    std::exit(2);
  }
  store::PostgresPoolPtr pool = std::move(*opened);
  results.async = appendAsync(audit::makePostgresStore(pool, "bench-async"), "bench-async", events);
  for (std::uint64_t in_flight : in_flights) {
    const std::string node = "bench-sync-" + std::to_string(in_flight);
    results.sync.emplace_back(
        in_flight, appendSync(audit::makePostgresStore(pool, node), node, sync_events, in_flight));
  }
  pool.reset();
  dropSchema(url, config.schema);
  results.ran = true;
  return results;
}

}  // namespace

int main(int argc, char** argv) {
  std::string base = ".";
  std::uint64_t events = 500000;
  std::uint64_t sync_events = 200000;
  std::uint64_t pg_events = 200000;
  std::uint64_t pg_sync_events = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir") {
      base = argv[i + 1];
    } else if (flag == "--events") {
      events = std::stoull(argv[i + 1]);
    } else if (flag == "--sync-events") {
      sync_events = std::stoull(argv[i + 1]);
    } else if (flag == "--pg-events") {
      pg_events = std::stoull(argv[i + 1]);
    } else if (flag == "--pg-sync-events") {
      pg_sync_events = std::stoull(argv[i + 1]);
    } else {
      std::cerr << "usage: bench_audit [--dir DIR] [--events N] [--sync-events N] "
                   "[--pg-events N] [--pg-sync-events N]\n";
      return 2;
    }
  }

  const std::vector<std::uint64_t> in_flights = {16, 256, 1024, 4096};
  const std::string async_dir = freshDir(base, "async");
  const AppendResult async = appendAsync(audit::makeFileStore({async_dir}), "bench-node", events);
  std::vector<std::pair<std::uint64_t, AppendResult>> sync_results;
  for (std::uint64_t in_flight : in_flights) {
    const std::string dir = freshDir(base, "sync");
    sync_results.emplace_back(
        in_flight,
        appendSync(audit::makeFileStore({.directory = dir, .preallocate = true}),  // as `serve`
                   "bench-node", sync_events, in_flight));
    std::filesystem::remove_all(dir);
  }
  const PostgresResults pg = appendPostgres(in_flights, pg_events, pg_sync_events);
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  // Interleaved rounds, best of each (the machine is shared: see the CPU-time columns).
  Throughput verified{}, per_record{}, bulk{};
  const auto lines = trailLines(async_dir);
  for (int round = 0; round < 5; ++round) {
    keepBest(verified, verify(async_dir, records, bytes));
    keepBest(per_record, rawHmacPerRecord(lines));
    keepBest(bulk, rawHmacBulk());
  }
  double write_cpu = 0;
  const double write_wall = rawWrite(freshDir(base, "raw"), bytes, write_cpu);
  std::filesystem::remove_all(freshDir(base, "raw"));
  std::filesystem::remove_all(async_dir);

  const double record_bytes = static_cast<double>(bytes) / static_cast<double>(records);
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  double load = 0;
  ::getloadavg(&load, 1);
  std::printf(
      "bench/audit: %s, %u CPUs (load average %.1f), %llu records of %.0f bytes, "
      "trail under %s\n\n",
      date, std::thread::hardware_concurrency(), load, static_cast<unsigned long long>(records),
      record_bytes, base.c_str());
  std::printf(
      "| append, one writer thread     | events/s (wall) | writer CPU µs/event | "
      "events per writer CPU-s | events per fsync | dropped |\n");
  std::printf(
      "|-------------------------------|----------------:|--------------------:|"
      "------------------------:|-----------------:|--------:|\n");
  const auto row = [](const char* name, const AppendResult& r) {
    std::printf("| %-29s | %15.0f | %19.2f | %23.0f | %16.1f | %7llu |\n", name,
                r.events_per_second, r.writer_cpu_micros, 1e6 / r.writer_cpu_micros,
                r.events_per_sync, static_cast<unsigned long long>(r.dropped));
  };
  row("async, 1 producer", async);
  for (const auto& [in_flight, result] : sync_results) {
    const std::string name = "sync, " + std::to_string(in_flight) + " requests in flight";
    row(name.c_str(), result);
  }
  std::printf(
      "| anchor: write() 1 MiB, no fsync | %13.0f MB/s = %.0f records/s of %.0f bytes "
      "(CPU: %.0f MB/s) |\n",
      write_wall, write_wall * 1e6 / record_bytes, record_bytes, write_cpu);
  std::printf(
      "\n| verification                       | MB/s (wall) | MB/s per CPU-s | "
      "records per CPU-s |\n");
  std::printf(
      "|------------------------------------|------------:|---------------:|"
      "------------------:|\n");
  std::printf("| bulwark audit verify (whole trail) | %11.0f | %14.0f | %17.0f |\n",
              verified.wall_mb_per_second, verified.cpu_mb_per_second,
              verified.records_per_cpu_second);
  std::printf("| raw HMAC-SHA256, one per record    | %11.0f | %14.0f | %17.0f |\n",
              per_record.wall_mb_per_second, per_record.cpu_mb_per_second,
              per_record.records_per_cpu_second);
  std::printf("| raw HMAC-SHA256, 1 MiB buffers     | %11.0f | %14.0f |                   |\n",
              bulk.wall_mb_per_second, bulk.cpu_mb_per_second);
  if (pg.ran) {
    std::printf(
        "\n| append to PostgreSQL          | events/s (wall) | writer CPU µs/event | "
        "events per writer CPU-s | events per sync() | dropped |\n");
    std::printf(
        "|-------------------------------|----------------:|--------------------:|"
        "------------------------:|------------------:|--------:|\n");
    const auto pg_row = [](const std::string& name, const AppendResult& r) {
      std::printf("| %-29s | %15.0f | %19.2f | %23.0f | %17.1f | %7llu |\n", name.c_str(),
                  r.events_per_second, r.writer_cpu_micros, 1e6 / r.writer_cpu_micros,
                  r.events_per_sync, static_cast<unsigned long long>(r.dropped));
    };
    pg_row("async, 1 producer", pg.async);
    for (const auto& [in_flight, result] : pg.sync) {
      pg_row("sync, " + std::to_string(in_flight) + " requests in flight", result);
    }
    std::printf("\n| events/s (wall)               |   files | PostgreSQL |\n");
    std::printf("|-------------------------------|--------:|-----------:|\n");
    std::printf("| async, 1 producer             | %7.0f | %10.0f |\n", async.events_per_second,
                pg.async.events_per_second);
    for (std::size_t i = 0; i < in_flights.size(); ++i) {
      const std::string name = "sync, " + std::to_string(in_flights[i]) + " requests in flight";
      std::printf("| %-29s | %7.0f | %10.0f |\n", name.c_str(),
                  sync_results[i].second.events_per_second, pg.sync[i].second.events_per_second);
    }
  } else {
    std::printf(
        "\nPostgreSQL: skipped (no BULWARK_BENCH_DATABASE_URL / BULWARK_TEST_DATABASE_URL)\n");
  }
  std::printf("\nasync producer (builds each event, then append()): %.2f µs CPU per event\n",
              async.producer_cpu_micros);
  const double async_capacity = 1e6 / async.writer_cpu_micros;
  std::printf(
      "\n- async: %.0f events/s wall, %.0f per writer CPU-second (goal >= 300000: %s "
      "by wall, %s by CPU)\n",
      async.events_per_second, async_capacity, verdict(async.events_per_second >= 300000),
      verdict(async_capacity >= 300000));
  const auto& sync_best = sync_results[2].second;  // 1024 in flight
  std::printf(
      "- sync, 1024 in flight: %.0f events/s wall, %.0f per writer CPU-second (goal >= "
      "100000: %s by wall, %s by CPU)\n",
      sync_best.events_per_second, 1e6 / sync_best.writer_cpu_micros,
      verdict(sync_best.events_per_second >= 100000),
      verdict(1e6 / sync_best.writer_cpu_micros >= 100000));
  const double cpu_ratio = verified.cpu_mb_per_second / per_record.cpu_mb_per_second;
  const double wall_ratio = verified.wall_mb_per_second / per_record.wall_mb_per_second;
  std::printf(
      "- verify / raw HMAC per record: %.2fx by CPU time, %.2fx by wall time (goal >= "
      "0.7x: %s); verify / raw HMAC on 1 MiB buffers: %.2fx by CPU time\n",
      cpu_ratio, wall_ratio, verdict(cpu_ratio >= 0.7),
      verified.cpu_mb_per_second / bulk.cpu_mb_per_second);
  return 0;
}

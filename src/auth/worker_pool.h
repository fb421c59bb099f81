#pragma once
// A fixed set of threads with a bounded queue for work that must never run on an I/O thread
// (DESIGN decision 1): argon2id hashing and verification, SQLite, synchronous database clients.
// When the queue is full submit() refuses at once, so an overload turns into fast 503s instead of
// unbounded memory and latency. Completions are the job's business: the gateway's jobs post their
// result back to the connection's io_context.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace bulwark::auth {

struct WorkerPoolConfig {
  std::size_t threads = 2;           // at least 1
  std::size_t queue_capacity = 256;  // jobs waiting (not yet running); at least 1
  std::string name = "auth";         // thread name prefix (at most 11 characters are kept)
};

class WorkerPool {
 public:
  // Starts the threads.
  explicit WorkerPool(WorkerPoolConfig config);
  // stop(), then returns.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job` to run on one of the pool's threads. Returns false, without running it, when
  // the queue holds queue_capacity jobs already or the pool is stopping. Thread-safe. A job that
  // throws is logged and counted as failed; the thread carries on.
  [[nodiscard]] bool submit(std::function<void()> job);

  // Refuses new jobs, runs every job already queued, and joins the threads. Idempotent.
  void stop();

  struct Stats {
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;  // refused by submit()
    std::uint64_t completed = 0;
    std::uint64_t failed = 0;  // threw
    std::size_t queued = 0;    // waiting now
  };
  Stats stats() const;

  std::size_t threads() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bulwark::auth

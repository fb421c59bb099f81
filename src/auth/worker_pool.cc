#include "auth/worker_pool.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/log.h"

namespace bulwark::auth {

struct WorkerPool::State {
  WorkerPoolConfig config;
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> queue;
  bool stopping = false;
  Stats stats;
  std::vector<std::thread> threads;

  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) {
          return;  // stopping and drained
        }
        job = std::move(queue.front());
        queue.pop_front();
      }
      bool ok = true;
      try {
        job();
      } catch (const std::exception& error) {
        ok = false;
        core::log(core::LogLevel::kError, "worker job failed", {{"error", error.what()}});
      } catch (...) {
        ok = false;
        core::log(core::LogLevel::kError, "worker job failed", {{"error", "unknown exception"}});
      }
      std::lock_guard lock(mutex);
      ++(ok ? stats.completed : stats.failed);
    }
  }
};

WorkerPool::WorkerPool(WorkerPoolConfig config) : state_(std::make_unique<State>()) {
  config.threads = std::max<std::size_t>(1, config.threads);
  config.queue_capacity = std::max<std::size_t>(1, config.queue_capacity);
  state_->config = std::move(config);
  for (std::size_t i = 0; i < state_->config.threads; ++i) {
    state_->threads.emplace_back([state = state_.get()] { state->run(); });
    // Linux limits thread names to 15 characters.
    const std::string name = state_->config.name.substr(0, 11) + "-" + std::to_string(i % 1000);
    pthread_setname_np(state_->threads.back().native_handle(), name.c_str());
  }
}

WorkerPool::~WorkerPool() { stop(); }

bool WorkerPool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping || state_->queue.size() >= state_->config.queue_capacity) {
      ++state_->stats.rejected;
      return false;
    }
    state_->queue.push_back(std::move(job));
    ++state_->stats.accepted;
  }
  state_->wake.notify_one();
  return true;
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_all();
  for (auto& thread : state_->threads) {
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) {
      thread.join();
    }
  }
}

WorkerPool::Stats WorkerPool::stats() const {
  std::lock_guard lock(state_->mutex);
  Stats out = state_->stats;
  out.queued = state_->queue.size();
  return out;
}

std::size_t WorkerPool::threads() const { return state_->config.threads; }

}  // namespace bulwark::auth

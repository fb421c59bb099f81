#pragma once
// Time source injected everywhere a TTL, timeout, backoff or timestamp is computed, so tests move
// time by hand instead of sleeping (STYLE habit 2).

#include <atomic>
#include <chrono>

namespace bulwark::core {

using SystemTime = std::chrono::system_clock::time_point;
using MonotonicTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time for token exp/iat and audit timestamps.
  virtual SystemTime systemTime() const = 0;
  // Never goes backwards; for TTLs, rate-limit buckets, timeouts and backoff.
  virtual MonotonicTime monotonicTime() const = 0;
};

// The real clocks. Thread-safe, stateless.
class RealClock final : public Clock {
 public:
  SystemTime systemTime() const override { return std::chrono::system_clock::now(); }
  MonotonicTime monotonicTime() const override { return std::chrono::steady_clock::now(); }
};

// Returns a process-wide RealClock.
Clock& realClock();

// A clock that only moves when told to. Thread-safe (readers may run on other threads).
class SimulatedClock final : public Clock {
 public:
  SimulatedClock()
      : system_(std::chrono::system_clock::time_point{std::chrono::seconds{1'800'000'000}}
                    .time_since_epoch()
                    .count()),
        monotonic_(0) {}
  SystemTime systemTime() const override {
    return SystemTime{SystemTime::duration{system_.load()}};
  }
  MonotonicTime monotonicTime() const override {
    return MonotonicTime{MonotonicTime::duration{monotonic_.load()}};
  }
  // Moves both clocks forward by `d`.
  template <class Rep, class Period>
  void advance(std::chrono::duration<Rep, Period> d) {
    system_ += std::chrono::duration_cast<SystemTime::duration>(d).count();
    monotonic_ += std::chrono::duration_cast<MonotonicTime::duration>(d).count();
  }

 private:
  std::atomic<SystemTime::rep> system_;
  std::atomic<MonotonicTime::rep> monotonic_;
};

}  // namespace bulwark::core

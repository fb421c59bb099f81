// The writer thread, its queue and its syncer. Locking: `mutex` guards the queue, sequence
// assignment and the checkpoint/epoch schedule (so sequence order == queue order == file
// order); `sync_mutex` the sync requests; `durable_mutex` the durable watermark and the waiters.
// Chain state (head MAC, signing key) belongs to the writer thread alone once it runs.

#include "audit/writer.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <mutex>
#include <thread>

#include "audit/detail/record_mac.h"
#include "audit/record.h"
#include "core/log.h"
#include "crypto/hmac.h"

namespace bulwark::audit {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

enum class ItemKind : std::uint8_t { kEvent, kOverflow, kCheckpoint, kEpoch, kRotate };

struct Item {
  std::uint64_t seq = 0;  // 0 for kEpoch, which writes no record
  ItemKind kind = ItemKind::kEvent;
  bool internal = false;  // written by the writer itself
  Event event;
  std::unique_ptr<AuditKey> key;  // kRotate
  const char* reason = "";        // kCheckpoint
};

std::string_view hex16(std::uint64_t value, char (&out)[16]) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[value & 0xf];
    value >>= 4;
  }
  return {out, 16};
}

Event internalEvent(EventType type, Severity severity, Outcome outcome, const std::string& node,
                    std::vector<std::pair<std::string, std::string>> details) {
  Event event;
  event.type = type;
  event.severity = severity;
  event.outcome = outcome;
  event.actor = "bulwark";
  event.target = node;
  event.details = std::move(details);
  return event;
}

// What the start-up check of the tail found.
struct TailCheck {
  std::uint64_t checked = 0;
  std::uint64_t unverifiable = 0;  // no key at hand (older kid or epoch)
  std::string problem;             // first problem, empty when none
  std::string location;
  std::uint64_t seq = 0;
};

}  // namespace

struct Writer::State {
  State(WriterConfig config_in, WriterDeps& deps)
      : config(std::move(config_in)),
        store(deps.store),
        clock(*deps.clock),
        random(*deps.random),
        observers(std::move(deps.observers)) {}

  // ---- configuration and collaborators (immutable after open) ----
  const WriterConfig config;
  StorePtr store;
  core::Clock& clock;
  crypto::Random& random;
  std::vector<std::shared_ptr<RecordObserver>> observers;
  Sink* self = nullptr;
  std::string id_prefix;

  // ---- writer thread only ----
  AuditKey signing;
  std::unique_ptr<detail::RecordMacKey> mac;
  crypto::Digest256 head{};
  std::uint64_t records_since_checkpoint = 0;
  std::string buffer;
  std::string id_buffer;
  struct Range {
    std::uint64_t seq;
    std::size_t offset;
    std::size_t size;
  };
  std::vector<Range> ranges;
  std::vector<BatchRecord> records;

  // ---- queue, guarded by `mutex` ----
  std::mutex mutex;
  std::condition_variable work_cv;
  // Async coalescing (guarded by mutex): an event waits up to coalesce() of real time for
  // company before the writer takes it, so a steady stream wakes the writer about once per
  // interval instead of once per event (each a futex wake and a context switch). The loss window
  // is unchanged (the fsync deadline counts from the oldest event's arrival). Real time, not the
  // injected clock: this is scheduling, and a simulated clock in tests must not hold events back.
  Clock::time_point first_pending_at{};
  Clock::time_point writer_wakes_at{};  // when the sleeping writer looks again
  static constexpr std::size_t kWakeBatch = 256;
  // Four milliseconds: a busy stream (50k requests/s) wakes the writer every ~200 events, where
  // one millisecond cost ~0.4 µs more writer CPU per event in wake-ups and context switches
  // (bench/audit/gateway.sh's audit-thread column); short enough that readers of the trail and
  // the incident rules (which see records as they are written) lag by no more than that.
  Clock::duration coalesce() const {
    return std::min<Clock::duration>(std::chrono::milliseconds(4), config.batch_interval / 2);
  }
  std::condition_variable room_cv;
  std::vector<Item> pending;
  std::uint64_t last_assigned = 0;
  std::uint64_t since_checkpoint = 0;
  core::MonotonicTime last_checkpoint{};
  std::uint64_t epoch_count = 0;
  core::MonotonicTime epoch_started{};
  std::uint64_t dropped_unreported = 0;
  bool flush_requested = false;
  bool closing = false;
  bool refusing = false;  // closed or failed: appends are dropped

  // ---- syncer, guarded by `sync_mutex` ----
  std::mutex sync_mutex;
  std::condition_variable sync_cv;
  std::uint64_t sync_requested = 0;
  bool sync_stop = false;
  std::atomic<std::uint64_t> written_seq{0};  // last seq appended to the store

  // ---- durability, guarded by `durable_mutex` ----
  std::mutex durable_mutex;
  std::condition_variable durable_cv;
  // Sorted by seq. Tickets arrive almost in order, so inserting from the back is O(1).
  std::deque<std::pair<std::uint64_t, DurableCallback>> waiters;
  bool finished = false;  // thread done: waiters beyond durable_seq will never be served
  bool failed = false;

  // ---- counters ----
  std::atomic<std::uint64_t> appended{0}, dropped{0}, overflow_events{0}, records_written{0},
      batches{0}, syncs{0}, sync_nanos{0}, bytes{0}, checkpoints{0}, write_errors{0}, queue_depth{0},
      durable_seq{0}, epoch{0}, last_batch_micros{0}, last_seq{0}, cpu_micros{0};
  std::atomic<bool> failed_flag{false};

  std::atomic<std::thread::id> thread_id{};
  std::atomic<std::thread::id> syncer_id{};
  std::thread thread;

  bool onWriterThread() const { return std::this_thread::get_id() == thread_id.load(); }
  bool onSyncerThread() const { return std::this_thread::get_id() == syncer_id.load(); }

  // ---- queue side (caller holds `mutex`) ----

  std::uint64_t pushLocked(Item&& item) {
    item.seq = ++last_assigned;
    last_seq.store(item.seq, std::memory_order_relaxed);
    const std::uint64_t seq = item.seq;
    const bool counts = !item.internal;
    pending.push_back(std::move(item));
    if (counts) {
      ++since_checkpoint;
      if (config.checkpoint_every != 0 && since_checkpoint >= config.checkpoint_every) {
        pushCheckpointLocked("count", clock.monotonicTime());
      }
      if (config.forward_secure && ++epoch_count >= config.epoch_records) {
        pushEpochLocked(clock.monotonicTime());
      }
    }
    queue_depth.store(pending.size(), std::memory_order_relaxed);
    return seq;
  }

  std::uint64_t pushCheckpointLocked(const char* reason, core::MonotonicTime now) {
    Item item;
    item.kind = ItemKind::kCheckpoint;
    item.internal = true;
    item.reason = reason;
    since_checkpoint = 0;
    last_checkpoint = now;
    return pushLocked(std::move(item));
  }

  void pushEpochLocked(core::MonotonicTime now) {
    Item item;
    item.kind = ItemKind::kEpoch;
    item.internal = true;
    pending.push_back(std::move(item));  // no sequence number: no record
    epoch_count = 0;
    epoch_started = now;
  }

  // Time-based work and the overflow report, due at `now`.
  void scheduleLocked(core::MonotonicTime now) {
    if (!closing && config.checkpoint_interval.count() > 0 &&
        now - last_checkpoint >= config.checkpoint_interval) {
      pushCheckpointLocked("interval", now);
    }
    if (!closing && config.forward_secure && config.epoch_interval.count() > 0 &&
        now - epoch_started >= config.epoch_interval) {
      pushEpochLocked(now);
    }
    // Even while closing: a loss must be on record before the writer stops.
    if (dropped_unreported > 0 && pending.size() < config.queue_capacity) pushOverflowLocked();
  }

  void pushOverflowLocked() {
    Item item;
    item.kind = ItemKind::kOverflow;
    item.internal = true;
    item.event =
        internalEvent(EventType::kAuditOverflow, Severity::kHigh, Outcome::kFailure, config.node,
                      {{"dropped", std::to_string(dropped_unreported)},
                       {"queue_capacity", std::to_string(config.queue_capacity)},
                       {"durability", config.durability == Durability::kSync ? "sync" : "async"}});
    dropped_unreported = 0;
    pushLocked(std::move(item));
  }

  core::MonotonicTime nextDueLocked(core::MonotonicTime now, bool unsynced,
                                    core::MonotonicTime sync_deadline) const {
    core::MonotonicTime due = now + std::chrono::hours(24);
    if (config.checkpoint_interval.count() > 0) {
      due = std::min(due, last_checkpoint + config.checkpoint_interval);
    }
    if (config.forward_secure && config.epoch_interval.count() > 0) {
      due = std::min(due, epoch_started + config.epoch_interval);
    }
    if (unsynced) due = std::min(due, sync_deadline);
    return due;
  }

  // Takes `event` by reference and moves it once, into the queue: an event is some 200 bytes of
  // strings and vector, moved per request.
  std::uint64_t enqueue(Event&& event, bool may_wait) {
    // The writer thread (observers, callbacks) may still add events while closing: the
    // thread writes until its queue is empty.
    const bool from_writer = onWriterThread();
    may_wait = may_wait && !from_writer && !onSyncerThread();  // callbacks never wait
    std::unique_lock lock(mutex);
    if (refusing || (closing && !from_writer)) {
      dropped.fetch_add(1, std::memory_order_relaxed);
      return kNotRecorded;
    }
    if (pending.size() >= config.queue_capacity) {
      if (may_wait && config.durability == Durability::kSync &&
          config.enqueue_timeout.count() > 0) {
        room_cv.wait_for(lock, config.enqueue_timeout, [&] {
          return pending.size() < config.queue_capacity || refusing || closing;
        });
      }
      if (pending.size() >= config.queue_capacity || refusing || (closing && !from_writer)) {
        dropped.fetch_add(1, std::memory_order_relaxed);
        if (!refusing && !closing) ++dropped_unreported;
        return kNotRecorded;
      }
    }
    Item item{.event = std::move(event), .key = nullptr, .reason = ""};
    const bool was_empty = pending.empty();
    bool wake = false;
    if (config.durability == Durability::kSync) {
      wake = was_empty;  // a request waits on this event: no coalescing
    } else if (was_empty) {
      first_pending_at = Clock::now();
      wake = writer_wakes_at > first_pending_at + coalesce();
    }
    const std::uint64_t seq = pushLocked(std::move(item));
    wake = wake || pending.size() == kWakeBatch;
    appended.fetch_add(1, std::memory_order_relaxed);
    lock.unlock();
    if (wake) work_cv.notify_one();
    return seq;
  }

  // ---- durability side ----

  // Called by whichever thread fsynced (the syncer, or the writer in sync mode): the watermark
  // only ever advances.
  void publishDurable(std::uint64_t seq) {
    std::vector<DurableCallback> ready;
    {
      std::lock_guard lock(durable_mutex);
      if (seq <= durable_seq.load(std::memory_order_relaxed)) return;
      durable_seq.store(seq, std::memory_order_release);
      while (!waiters.empty() && waiters.front().first <= seq) {
        ready.push_back(std::move(waiters.front().second));
        waiters.pop_front();
      }
    }
    durable_cv.notify_all();
    for (auto& callback : ready) callback({});
  }

  // Fails every waiter and stops taking events (fsync failed, or closing with work left).
  void failAll(Errc why) {
    {
      std::lock_guard lock(mutex);
      refusing = true;
      dropped.fetch_add(pending.size(), std::memory_order_relaxed);
    }
    room_cv.notify_all();
    std::deque<std::pair<std::uint64_t, DurableCallback>> failed_waiters;
    {
      std::lock_guard lock(durable_mutex);
      if (why == Errc::kWriterFailed) {
        failed = true;
        failed_flag = true;
      }
      failed_waiters.swap(waiters);
    }
    durable_cv.notify_all();
    for (auto& [seq, callback] : failed_waiters) callback(make_error_code(why));
  }

  // ---- writer thread ----

  void setSigningKey(AuditKey key) {
    mac.reset();  // frees (and wipes) the previous key's states
    signing = std::move(key);
    mac = std::make_unique<detail::RecordMacKey>(signing.key.bytes());
    epoch.store(signing.epoch, std::memory_order_relaxed);
  }

  void advanceEpoch() {
    AuditKey next{signing.kid, signing.epoch + 1, std::move(signing.key)};
    advanceEpochKey(next.key);  // in place: epoch e's key is overwritten
    setSigningKey(std::move(next));
    persistSigningKey();
  }

  // Forward security: the key file holds the current key only, so the previous epoch's key is
  // no longer on disk either.
  void persistSigningKey() {
    if (!config.forward_secure || config.key_file.empty()) return;
    KeyRing ring;
    ring.add(signing.clone());
    if (auto written = writeKeyFile(config.key_file, ring); !written) {
      write_errors.fetch_add(1, std::memory_order_relaxed);
      core::log(core::LogLevel::kError,
                "audit: cannot persist the evolved key; the previous epoch's key file is still "
                "on disk",
                {{"error", written.error().message}});
    }
  }

  void serialise(Item& item) {
    Event* event = &item.event;
    Event made;
    switch (item.kind) {
      case ItemKind::kEvent:
      case ItemKind::kOverflow:
        break;
      case ItemKind::kEpoch:
        advanceEpoch();
        return;
      case ItemKind::kCheckpoint: {
        std::string head_hex;
        appendDigestHex(head_hex, head);
        made = internalEvent(EventType::kAuditCheckpoint, Severity::kInfo, Outcome::kSuccess,
                             config.node,
                             {{"checkpoint_seq", std::to_string(item.seq - 1)},
                              {"head_mac", std::move(head_hex)},
                              {"records", std::to_string(records_since_checkpoint)},
                              {"reason", item.reason}});
        event = &made;
        records_since_checkpoint = 0;
        checkpoints.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      case ItemKind::kRotate: {
        const std::string from = signing.kid;
        setSigningKey(std::move(*item.key));
        persistSigningKey();
        made = internalEvent(EventType::kAuditKeyRotate, Severity::kMedium, Outcome::kSuccess,
                             config.node,
                             {{"from_kid", from},
                              {"to_kid", signing.kid},
                              {"epoch", std::to_string(signing.epoch)}});
        event = &made;
        break;
      }
    }
    if (event->time == core::SystemTime{}) event->time = clock.systemTime();
    const std::size_t start = buffer.size();
    const RecordPrefix prefix{item.seq, config.node, signing.kid, signing.epoch, &head};
    if (event->id.empty()) {
      id_buffer.assign(id_prefix);
      char digits[16];
      id_buffer += hex16(item.seq, digits);
      appendSignedBytes(buffer, prefix, *event, id_buffer, config.max_field_bytes);
    } else {
      appendSignedBytes(buffer, prefix, *event, event->id, config.max_field_bytes);
    }
    head = mac->mac(head, item.seq, std::string_view(buffer).substr(start, buffer.size() - start));
    appendMacSuffix(buffer, head);
    buffer += '\n';
    if (item.kind != ItemKind::kCheckpoint) ++records_since_checkpoint;
    if (item.kind == ItemKind::kOverflow) overflow_events.fetch_add(1, std::memory_order_relaxed);
    if (event == &made) item.event = std::move(made);  // observers see what was written
  }

  // Writes `batch` in pieces of about max_append_bytes (whole records): each piece is
  // serialised and appended while its bytes are still in cache, and segments rotate near their
  // size even under a large backlog; one sync afterwards covers them all. Retries a failed
  // append until it succeeds or the writer closes (then false).
  bool writeBatch(std::vector<Item>& batch) {
    const bool keep_events = !observers.empty();
    std::size_t next = 0;
    while (next < batch.size()) {
      buffer.clear();
      ranges.clear();
      for (; next < batch.size() && buffer.size() < config.max_append_bytes; ++next) {
        Item& item = batch[next];
        const std::size_t start = buffer.size();
        serialise(item);
        if (buffer.size() != start) {
          ranges.push_back({item.seq, start, buffer.size() - start - 1});
        }
        if (!keep_events) item.event = Event();  // free the strings while they are hot
      }
      if (ranges.empty()) continue;
      records.clear();
      for (const auto& range : ranges) {
        records.push_back({range.seq, std::string_view(buffer).substr(range.offset, range.size)});
      }
      const Batch out{buffer, records};
      for (;;) {
        auto appended_ok = store->append(out);
        if (appended_ok) break;
        write_errors.fetch_add(1, std::memory_order_relaxed);
        core::log(core::LogLevel::kError, "audit: cannot append to the trail; retrying",
                  {{"store", store->describe()}, {"error", appended_ok.error().message}});
        std::unique_lock lock(mutex);
        work_cv.wait_for(lock, config.retry_interval, [&] { return closing; });
        if (closing) {
          lock.unlock();
          core::log(core::LogLevel::kError, "audit: giving up on a batch at close",
                    {{"records", std::to_string(batch.size() - next + records.size())}});
          return false;
        }
      }
      written_seq.store(records.back().seq, std::memory_order_release);
      records_written.fetch_add(records.size(), std::memory_order_relaxed);
      bytes.fetch_add(buffer.size(), std::memory_order_relaxed);
    }
    batches.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  void notifyObservers(std::vector<Item>& batch) {
    if (observers.empty()) return;
    for (auto& item : batch) {
      if (item.kind == ItemKind::kEpoch) continue;
      for (auto& observer : observers) {
        try {
          observer->onRecord(item.event, item.seq, *self);
        } catch (const std::exception& e) {
          core::log(core::LogLevel::kError, "audit: record observer failed", {{"error", e.what()}});
        }
      }
    }
  }

  // ---- syncer thread: fsyncs what the writer thread has appended ----
  //
  // The writer thread asks for an fsync and goes on serialising the next batch while the
  // syncer's fdatasync runs (pipelined group commit); in sync mode it fsyncs small batches
  // itself (run()). A sync covers every append that returned before it started, so the syncer
  // reads the written watermark first.

  void requestSync(std::uint64_t up_to) {
    {
      std::lock_guard lock(sync_mutex);
      sync_requested = std::max(sync_requested, up_to);
    }
    sync_cv.notify_one();
  }

  void syncLoop() {
    syncer_id.store(std::this_thread::get_id());
    pthread_setname_np(pthread_self(), "audit-syncer");  // for top -H and profiles
    std::uint64_t done = durable_seq.load();
    for (;;) {
      {
        std::unique_lock lock(sync_mutex);
        sync_cv.wait(lock, [&] { return sync_requested > done || sync_stop; });
        if (sync_requested <= done) break;  // stopping, nothing left to sync
      }
      const std::uint64_t target = written_seq.load(std::memory_order_acquire);
      if (!syncAndPublish(target)) return;
      done = target;
    }
  }

  // fsyncs the store and publishes `target` (written before the call) as durable. After a
  // failed fsync the page cache cannot be trusted (its dirty pages may be dropped): the writer
  // stops, loudly, rather than report durability it does not have; returns false then.
  bool syncAndPublish(std::uint64_t target) {
    const auto started = Clock::now();
    auto synced = store->sync();
    sync_nanos.fetch_add(static_cast<std::uint64_t>(
                             duration_cast<std::chrono::nanoseconds>(Clock::now() - started).count()),
                         std::memory_order_relaxed);
    if (!synced) {
      write_errors.fetch_add(1, std::memory_order_relaxed);
      core::log(core::LogLevel::kError, "audit: fsync failed; the audit writer stops",
                {{"store", store->describe()}, {"error", synced.error().message}});
      failAll(Errc::kWriterFailed);
      work_cv.notify_all();
      return false;
    }
    syncs.fetch_add(1, std::memory_order_relaxed);
    publishDurable(target);
    return true;
  }

  // Durability `async`: the syncer thread fsyncs by deadline while this thread serialises the
  // next batches (pipelined). Durability `sync`: a batch of up to kInlineSyncRecords is fsynced
  // by this thread itself when the syncer is idle, and what queues meanwhile is the next batch;
  // larger batches go to the syncer so that the next one's serialisation overlaps the fsync.
  // With few requests waiting, the hand-over to the syncer and back (two thread wake-ups per
  // fsync) took longer than the fsync; with many, serialising while fsyncing wins
  // (bench/RESULTS.md, bench_audit sync at 16 and 256 requests in flight).
  static constexpr std::size_t kInlineSyncRecords = 64;

  void run() {
    thread_id.store(std::this_thread::get_id());
    pthread_setname_np(pthread_self(), "audit-writer");
    std::thread syncer([this] { syncLoop(); });
    std::vector<Item> batch;
    Clock::time_point batch_first_at{};
    std::uint64_t requested = durable_seq.load();  // highest seq a sync was asked for
    core::MonotonicTime sync_deadline{};
    for (;;) {
      bool flush_now = false;
      bool closing_now = false;
      {
        std::unique_lock lock(mutex);
        for (;;) {
          const auto now = clock.monotonicTime();
          scheduleLocked(now);
          closing_now = closing;
          const bool unsynced = written_seq.load(std::memory_order_relaxed) > requested;
          const bool sync_due =
              unsynced && (flush_requested || closing_now ||
                           config.durability == Durability::kSync || now >= sync_deadline);
          const auto real_now = Clock::now();
          const bool take = !pending.empty() && (config.durability == Durability::kSync ||
                                                 flush_requested || pending.size() >= kWakeBatch ||
                                                 real_now >= first_pending_at + coalesce());
          if (take || sync_due || closing_now || refusing) break;
          const auto due = nextDueLocked(now, unsynced, sync_deadline);
          // Real-time wait, capped, so a clock that jumps (or a simulated one) is re-read.
          auto wait = duration_cast<milliseconds>(due - now) + milliseconds(1);
          wait = std::clamp(wait, milliseconds(1), milliseconds(1000));
          if (!pending.empty()) {
            wait =
                std::clamp(duration_cast<milliseconds>(first_pending_at + coalesce() - real_now) +
                               milliseconds(1),
                           milliseconds(1), wait);
          }
          writer_wakes_at = real_now + wait;
          work_cv.wait_for(lock, wait);
        }
        if (refusing) break;  // the syncer failed
        batch_first_at = first_pending_at;
        batch.swap(pending);
        queue_depth.store(0, std::memory_order_relaxed);
        flush_now = flush_requested;
        flush_requested = false;
      }
      room_cv.notify_all();

      const auto started = Clock::now();
      const bool had_unsynced = written_seq.load(std::memory_order_relaxed) > requested;
      bool wrote = false;
      if (!batch.empty()) {
        if (!writeBatch(batch)) {
          failAll(Errc::kClosed);
          break;
        }
        wrote = true;
        if (!had_unsynced) {
          // The loss window counts from the oldest event's arrival, coalescing wait included.
          const auto waited = std::clamp<Clock::duration>(
              Clock::now() - batch_first_at, Clock::duration::zero(), config.batch_interval);
          sync_deadline = clock.monotonicTime() + config.batch_interval -
                          duration_cast<core::MonotonicTime::duration>(waited);
        }
      }
      const std::uint64_t written = written_seq.load(std::memory_order_relaxed);
      if (written > requested && config.durability == Durability::kSync) {
        // The syncer is idle once every sync asked of it is published.
        const bool syncer_idle = durable_seq.load(std::memory_order_acquire) >= requested;
        if (syncer_idle && batch.size() <= kInlineSyncRecords) {
          if (!syncAndPublish(written)) break;
        } else {
          requestSync(written);
        }
        requested = written;
      } else if (written > requested &&
                 (flush_now || closing_now || clock.monotonicTime() >= sync_deadline)) {
        requestSync(written);
        requested = written;
      }
      timespec cpu{};
      if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
        cpu_micros.store(static_cast<std::uint64_t>(cpu.tv_sec) * 1'000'000 +
                             static_cast<std::uint64_t>(cpu.tv_nsec) / 1000,
                         std::memory_order_relaxed);
      }
      if (wrote) {
        last_batch_micros.store(
            static_cast<std::uint64_t>(duration_cast<microseconds>(Clock::now() - started).count()),
            std::memory_order_relaxed);
        notifyObservers(batch);
      }
      batch.clear();
      if (closing_now) {
        std::lock_guard lock(mutex);
        if (pending.empty() && written_seq.load(std::memory_order_relaxed) <= requested) break;
      }
    }
    // The syncer finishes the last requested sync, then stops.
    {
      std::lock_guard lock(sync_mutex);
      sync_stop = true;
    }
    sync_cv.notify_one();
    syncer.join();
    // Anything still waiting can no longer become durable.
    {
      std::lock_guard lock(mutex);
      refusing = true;
    }
    room_cv.notify_all();
    std::deque<std::pair<std::uint64_t, DurableCallback>> left;
    {
      std::lock_guard lock(durable_mutex);
      finished = true;
      left.swap(waiters);
    }
    durable_cv.notify_all();
    for (auto& [seq, callback] : left) callback(make_error_code(Errc::kClosed));
  }

  // ---- start-up ----

  // Re-verifies the records from `from` on: sequence, prev links and, where a key is at hand,
  // MACs. Reports the first problem; repairs nothing.
  TailCheck checkTail(std::uint64_t from, const KeyRing& keys) {
    TailCheck check;
    auto cursor = store->read(from);
    if (!cursor) {
      check.problem = cursor.error().message;
      return check;
    }
    std::uint64_t expected = 0;
    std::string previous_mac;
    std::string cached_kid;
    std::uint64_t cached_epoch = 0;
    std::unique_ptr<detail::RecordMacKey> cached_mac;
    for (;;) {
      auto next = (*cursor)->next();
      if (!next) {
        check.problem = next.error().message;
        return check;
      }
      if (!*next) break;
      const StoredRecord& stored = **next;
      const std::string location =
          std::string(stored.location) + ":" + std::to_string(stored.line_number);
      RecordHeader header;
      auto report = [&](std::string problem, std::uint64_t seq) {
        if (check.problem.empty()) {
          check.problem = std::move(problem);
          check.location = location;
          check.seq = seq;
        }
      };
      if (!parseRecordHeader(stored.line, header)) {
        report("a line that is not a record", 0);
        continue;
      }
      ++check.checked;
      if (expected != 0 && header.seq != expected) {
        report("seq " + std::to_string(header.seq) + " where " + std::to_string(expected) +
                   " was expected",
               header.seq);
      } else if (!previous_mac.empty() && header.prev_hex != previous_mac) {
        report("prev does not match the previous record's mac", header.seq);
      }
      expected = header.seq + 1;
      previous_mac.assign(header.mac_hex);
      if (header.kid != cached_kid || header.epoch != cached_epoch || !cached_mac) {
        cached_mac.reset();
        cached_kid.assign(header.kid);
        cached_epoch = header.epoch;
        if (const AuditKey* base = keys.find(header.kid)) {
          if (auto derived = deriveEpochKey(*base, header.epoch, 1'000'000)) {
            cached_mac = std::make_unique<detail::RecordMacKey>(derived->bytes());
          }
        }
      }
      if (!cached_mac) {
        ++check.unverifiable;
        continue;
      }
      crypto::Digest256 prev{};
      crypto::Digest256 expected_mac{};
      if (!parseDigestHex(header.prev_hex, prev) || !parseDigestHex(header.mac_hex, expected_mac)) {
        report("bad hex", header.seq);
        continue;
      }
      const auto actual = cached_mac->mac(prev, header.seq, header.signed_bytes);
      if (!crypto::constantTimeEqual(actual, expected_mac)) {
        report("MAC mismatch (modified, or signed with another key)", header.seq);
      }
    }
    return check;
  }
};

Writer::Writer(WriterConfig config, StorePtr store, std::unique_ptr<State> state)
    : config_(std::move(config)), store_(std::move(store)), state_(std::move(state)) {}

Writer::~Writer() { close(); }

Result<std::shared_ptr<Writer>> Writer::open(WriterConfig config, WriterDeps deps) {
  if (!isValidId(config.node)) {
    return auditError(Errc::kBadConfig, "audit node id '" + config.node +
                                            "' is not 1-64 letters, digits, '.', '_' or '-'");
  }
  if (config.queue_capacity == 0) {
    return auditError(Errc::kBadConfig, "audit queue capacity must be positive");
  }
  if (!deps.store || deps.clock == nullptr || deps.random == nullptr) {
    return auditError(Errc::kBadConfig, "audit writer needs a store, a clock and a CSPRNG");
  }
  if (deps.keys.empty()) {
    return auditError(Errc::kBadKey, "no audit key configured");
  }
  if (config.forward_secure && config.key_file.empty()) {
    return auditError(Errc::kBadConfig,
                      "forward-secure audit keys need a key file, which bulwark rewrites at "
                      "every epoch");
  }
  if (config.forward_secure && config.epoch_records == 0) {
    return auditError(Errc::kBadConfig, "audit epoch_records must be positive");
  }

  auto tail = deps.store->open();
  if (!tail) return tail.error();

  auto state = std::make_unique<State>(config, deps);
  State& s = *state;
  RecordHeader last;
  const bool has_last = !tail->last_line.empty() && parseRecordHeader(tail->last_line, last);
  if (has_last && !parseDigestHex(last.mac_hex, s.head)) s.head = {};

  std::vector<Event> startup_events;
  if (tail->torn) {
    startup_events.push_back(internalEvent(EventType::kAuditRecovery, Severity::kHigh,
                                           Outcome::kSuccess, config.node,
                                           {{"reason", "torn last line after a crash, cut off"},
                                            {"file", tail->torn->file},
                                            {"offset", std::to_string(tail->torn->offset)},
                                            {"bytes", std::to_string(tail->torn->length)},
                                            {"kept_in", tail->torn->quarantine},
                                            {"last_good_seq", std::to_string(tail->last_seq)}}));
    core::log(core::LogLevel::kWarn, "audit: cut a torn last line off the trail (crash)",
              {{"file", tail->torn->file},
               {"bytes", std::to_string(tail->torn->length)},
               {"kept_in", tail->torn->quarantine}});
    if (tail->torn->beyond_nul) {
      // Out-of-order writes after a power loss look like this, and so do records an attacker
      // hid behind NUL bytes: kept aside either way, and reported as damage, not as a crash.
      startup_events.push_back(internalEvent(
          EventType::kSecurityIncident, Severity::kCritical, Outcome::kFailure, config.node,
          {{"rule", "audit_trail_damaged"},
           {"problem", "bytes after NUL bytes at the end of the trail (cut off and kept)"},
           {"at", tail->torn->file + "@" + std::to_string(tail->torn->offset)},
           {"kept_in", tail->torn->quarantine},
           {"hint", "compare the kept bytes with the SIEM's copy of the trail"}}));
      core::log(core::LogLevel::kError, "audit: bytes after NUL bytes at the end of the trail",
                {{"file", tail->torn->file}, {"kept_in", tail->torn->quarantine}});
    }
  }
  if (tail->last_seq != 0) {
    const TailCheck check = s.checkTail(tail->check_from, deps.keys);
    if (!check.problem.empty() || tail->unparseable_tail_lines > 0) {
      const std::string problem =
          check.problem.empty() ? "unparseable lines after the last record" : check.problem;
      startup_events.push_back(internalEvent(EventType::kSecurityIncident, Severity::kCritical,
                                             Outcome::kFailure, config.node,
                                             {{"rule", "audit_trail_damaged"},
                                              {"problem", problem},
                                              {"at", check.location},
                                              {"seq", std::to_string(check.seq)},
                                              {"hint", "run `bulwark audit verify`"}}));
      core::log(core::LogLevel::kError, "audit: the trail's tail is damaged",
                {{"problem", problem}, {"at", check.location}});
    }
  }

  // The signing key: the ring's active key, moved forward to the trail's epoch if the trail is
  // already further (a key file not yet rewritten when the process stopped).
  AuditKey active = deps.keys.active()->clone();
  if (has_last && last.kid == active.kid && last.epoch > active.epoch) {
    auto derived = deriveEpochKey(active, last.epoch);
    if (!derived) return derived.error();
    active.key = std::move(*derived);
    active.epoch = last.epoch;
    if (config.forward_secure) {
      KeyRing ring;
      ring.add(active.clone());
      if (auto written = writeKeyFile(config.key_file, ring); !written) return written.error();
    }
  }
  if (active.key.size() < kMinKeyBytes) {
    return auditError(Errc::kBadKey, "the active audit key is shorter than 32 bytes");
  }
  const std::string last_kid = has_last ? std::string(last.kid) : std::string();
  if (!last_kid.empty() && last_kid != active.kid) {
    startup_events.push_back(internalEvent(
        EventType::kAuditKeyRotate, Severity::kMedium, Outcome::kSuccess, config.node,
        {{"from_kid", last_kid}, {"to_kid", active.kid}, {"epoch", std::to_string(active.epoch)}}));
  }
  s.setSigningKey(std::move(active));
  deps.keys = KeyRing();  // only the signing key stays in memory

  std::uint8_t nonce[8];
  s.random.fill(nonce);
  s.id_prefix = crypto::toHex(nonce);
  s.last_assigned = tail->last_seq;
  s.last_seq = tail->last_seq;
  s.durable_seq = tail->last_seq;
  s.written_seq = tail->last_seq;
  s.sync_requested = tail->last_seq;
  s.last_checkpoint = s.clock.monotonicTime();
  s.epoch_started = s.last_checkpoint;
  {
    std::lock_guard lock(s.mutex);
    for (auto& event : startup_events) {
      Item item;
      item.internal = true;
      item.event = std::move(event);
      s.pushLocked(std::move(item));
    }
  }

  auto writer = std::shared_ptr<Writer>(new Writer(config, deps.store, std::move(state)));
  writer->state_->self = writer.get();
  writer->state_->thread = std::thread([state = writer->state_.get()] { state->run(); });
  return writer;
}

void Writer::record(Event event) { append(std::move(event)); }

std::uint64_t Writer::append(Event event) { return state_->enqueue(std::move(event), true); }

std::uint64_t Writer::tryAppend(Event event) { return state_->enqueue(std::move(event), false); }

void Writer::whenDurable(std::uint64_t seq, DurableCallback callback) {
  if (seq == kNotRecorded) {
    callback(make_error_code(Errc::kNotRecorded));
    return;
  }
  State& s = *state_;
  std::unique_lock lock(s.durable_mutex);
  if (seq == kUnsequenced || seq <= s.durable_seq.load()) {
    lock.unlock();
    callback({});
    return;
  }
  if (s.failed || s.finished) {
    const Errc why = s.failed ? Errc::kWriterFailed : Errc::kClosed;
    lock.unlock();
    callback(make_error_code(why));
    return;
  }
  auto at = s.waiters.end();
  while (at != s.waiters.begin() && std::prev(at)->first > seq) --at;
  s.waiters.emplace(at, seq, std::move(callback));
}

bool Writer::waitDurable(std::uint64_t seq, std::chrono::milliseconds timeout) {
  if (seq == kNotRecorded) return false;
  State& s = *state_;
  if (s.onWriterThread() || s.onSyncerThread()) return s.durable_seq.load() >= seq;
  {
    std::lock_guard lock(s.mutex);
    s.flush_requested = true;
  }
  s.work_cv.notify_one();
  std::unique_lock lock(s.durable_mutex);
  const auto done = [&] { return s.durable_seq.load() >= seq || s.failed || s.finished; };
  if (timeout == std::chrono::milliseconds::max()) {
    s.durable_cv.wait(lock, done);
  } else {
    s.durable_cv.wait_for(lock, timeout, done);
  }
  return s.durable_seq.load() >= seq;
}

void Writer::flush() {
  std::uint64_t target = 0;
  {
    std::lock_guard lock(state_->mutex);
    target = state_->last_assigned;
  }
  if (state_->onWriterThread() || state_->onSyncerThread()) return;  // would wait for itself
  waitDurable(target);
}

std::uint64_t Writer::tick() {
  State& s = *state_;
  std::uint64_t last = 0;
  {
    std::lock_guard lock(s.mutex);
    s.scheduleLocked(s.clock.monotonicTime());
    last = s.last_assigned;
  }
  s.work_cv.notify_one();
  return last;
}

std::uint64_t Writer::checkpointNow() {
  State& s = *state_;
  std::uint64_t seq = kNotRecorded;
  {
    std::lock_guard lock(s.mutex);
    if (s.closing || s.refusing) return kNotRecorded;
    seq = s.pushCheckpointLocked("requested", s.clock.monotonicTime());
  }
  s.work_cv.notify_one();
  return seq;
}

std::uint64_t Writer::rotateKey(AuditKey key) {
  if (!isValidId(key.kid) || key.key.size() < kMinKeyBytes) return kNotRecorded;
  State& s = *state_;
  std::uint64_t seq = kNotRecorded;
  {
    std::lock_guard lock(s.mutex);
    if (s.closing || s.refusing) return kNotRecorded;
    Item item;
    item.kind = ItemKind::kRotate;
    item.internal = true;
    item.key = std::make_unique<AuditKey>(std::move(key));
    seq = s.pushLocked(std::move(item));
  }
  s.work_cv.notify_one();
  return seq;
}

void Writer::close() {
  State& s = *state_;
  if (!s.thread.joinable()) return;
  if (s.onWriterThread() || s.onSyncerThread()) return;  // cannot join itself; the owner closes
  {
    std::lock_guard lock(s.mutex);
    if (!s.closing && !s.refusing && s.dropped_unreported > 0) s.pushOverflowLocked();
    if (!s.closing && !s.refusing && config_.checkpoint_on_close) {
      s.pushCheckpointLocked("close", s.clock.monotonicTime());
    }
    s.closing = true;
  }
  s.work_cv.notify_all();
  s.room_cv.notify_all();
  s.thread.join();
  store_->close();
}

WriterStats Writer::stats() const {
  const State& s = *state_;
  WriterStats stats;
  stats.appended = s.appended.load();
  stats.dropped = s.dropped.load();
  stats.overflow_events = s.overflow_events.load();
  stats.records_written = s.records_written.load();
  stats.batches = s.batches.load();
  stats.syncs = s.syncs.load();
  stats.sync_nanos = s.sync_nanos.load();
  stats.bytes = s.bytes.load();
  stats.checkpoints = s.checkpoints.load();
  stats.write_errors = s.write_errors.load();
  stats.queue_depth = s.queue_depth.load();
  stats.last_seq = s.last_seq.load();
  stats.durable_seq = s.durable_seq.load();
  stats.epoch = s.epoch.load();
  stats.last_batch_micros = s.last_batch_micros.load();
  stats.cpu_micros = s.cpu_micros.load();
  stats.failed = s.failed_flag.load();
  return stats;
}

bool Writer::healthy() const { return !state_->failed_flag.load(); }

std::uint64_t Writer::durableSeq() const { return state_->durable_seq.load(); }

}  // namespace bulwark::audit

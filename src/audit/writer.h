#pragma once
// The audit writer (SPEC F3.2, F3.4; DESIGN decision 3): the one place per node that orders,
// signs and persists events.
//
// Producers on any thread call append()/record(): the event gets the next sequence number and
// joins a bounded in-memory queue under a short mutex; no I/O happens on the caller's thread.
// One writer thread takes everything queued, serialises each record once (record.h), chains
// mac_i = HMAC(key, mac_{i-1} ‖ seq_i ‖ bytes_i) and appends the batch to the Store (in ~1 MiB
// writes), then runs record observers (incident rules). One fsync covers everything written
// since the last (group commit); after it the durable watermark is published and whenDurable()
// callbacks run on the thread that fsynced.
//
// Durability (WriterConfig::durability):
//   kSync   every batch is fsynced before its events are reported durable (small batches by the
//           writer thread itself, large ones by the syncer while the next is serialised); the
//           gateway answers a request only after whenDurable() fired for its event.
//   kAsync  batches are written at once and fsynced at least every `batch_interval` by a syncer
//           thread, overlapping the next batches' serialisation: a crash loses at most the
//           events of the last batch_interval (plus one fsync's duration).
//
// Overflow (queue at `queue_capacity`), never silent:
//   kAsync  append() returns kNotRecorded at once and counts the event as dropped; as soon as
//           the queue has room the writer records an AUDIT_OVERFLOW event (severity high)
//           carrying the number dropped since the last such event.
//   kSync   append() waits up to `enqueue_timeout` for room (backpressure), then gives up the
//           same way. Use tryAppend() on threads that must never wait (the caller then answers
//           503). Calls made on the writer thread itself (callbacks, observers) never wait.
//
// Checkpoints: every `checkpoint_every` events, and every `checkpoint_interval` even when idle
// (a heartbeat, so silence is provable), and on close(), the writer appends an AUDIT_CHECKPOINT
// record with details checkpoint_seq / head_mac (the chain head before it), records, reason. Its
// own seq and mac are the value to keep elsewhere (the SIEMs get it as part of the trail):
// `bulwark audit verify --checkpoint` then detects a cut-off tail.
//
// Keys: records are signed with the key ring's active key; a kid different from the trail's
// last record starts with an AUDIT_KEY_ROTATE record (the chain continues across kids).
// With `forward_secure`, the key evolves every `epoch_records` records or `epoch_interval`
// (k_{e+1} = HKDF(k_e)), in place, and `key_file` is rewritten to hold only KID@e+1, so a key
// stolen later cannot sign earlier epochs; the verifier derives forward from the initial key.
//
// Start-up: the store's tail is re-verified from the start of its last segment (seq order,
// prev links, MACs where the key is at hand); a torn last line the store cut off becomes an
// AUDIT_RECOVERY event, other damage a SECURITY_INCIDENT event (nothing is rewritten).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "audit/error.h"
#include "audit/event.h"
#include "audit/keys.h"
#include "audit/store.h"
#include "core/clock.h"
#include "crypto/random.h"

namespace bulwark::audit {

enum class Durability : std::uint8_t { kAsync, kSync };

struct WriterConfig {
  std::string node;  // node id in every record (isValidId)
  Durability durability = Durability::kAsync;
  // kAsync: longest time a written batch waits for its fsync (the loss window).
  std::chrono::milliseconds batch_interval{20};
  // Most events waiting in the queue; beyond it the overflow policy above applies.
  std::size_t queue_capacity = 65536;
  // kSync: how long append() waits for room in a full queue.
  std::chrono::milliseconds enqueue_timeout{100};
  // A checkpoint after this many events (0: only by time and on close).
  std::uint64_t checkpoint_every = 10000;
  // A checkpoint after this long without one, even when idle.
  std::chrono::milliseconds checkpoint_interval{60'000};
  bool checkpoint_on_close = true;
  // Forward security: evolve the key per epoch and rewrite `key_file` (required).
  bool forward_secure = false;
  std::uint64_t epoch_records = 100000;
  std::chrono::milliseconds epoch_interval{3'600'000};
  std::string key_file;
  // Event strings longer than this are cut (0: no limit).
  std::size_t max_field_bytes = 8192;
  // A batch goes to the store in appends of about this many bytes (whole records), so a
  // segment outgrows the store's segment size by about this much at most.
  std::size_t max_append_bytes = 1 << 20;
  // After a failed append (e.g. disk full) the batch is retried after this long.
  std::chrono::milliseconds retry_interval{1000};
};

// Counters (STYLE habit 7). A snapshot; fields are read without a common lock.
struct WriterStats {
  std::uint64_t appended = 0;         // events accepted (excluding the writer's own records)
  std::uint64_t dropped = 0;          // events not accepted (overflow, timeout, closed)
  std::uint64_t overflow_events = 0;  // AUDIT_OVERFLOW records written
  std::uint64_t records_written = 0;  // all records, the writer's own included
  std::uint64_t batches = 0;
  std::uint64_t syncs = 0;
  std::uint64_t sync_nanos = 0;  // time spent in the store's sync (fsync), all syncs
  std::uint64_t bytes = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t queue_depth = 0;
  std::uint64_t last_seq = 0;     // last sequence number assigned
  std::uint64_t durable_seq = 0;  // everything up to here is durable
  std::uint64_t epoch = 0;
  std::uint64_t last_batch_micros = 0;  // duration of the last write + sync
  std::uint64_t cpu_micros = 0;         // CPU time of the writer thread (user + system)
  bool failed = false;
};

// Sees every record after its batch is written (not yet necessarily durable), on the writer
// thread, in sequence order. May record new events through `trail` (they never block there).
// Must not block.
class RecordObserver {
 public:
  virtual ~RecordObserver() = default;
  virtual void onRecord(const Event& event, std::uint64_t seq, Sink& trail) = 0;
};

struct WriterDeps {
  StorePtr store;
  KeyRing keys;  // the active key signs; the others only check the tail at start-up
  core::Clock* clock = nullptr;
  crypto::Random* random = nullptr;
  std::vector<std::shared_ptr<RecordObserver>> observers;
};

class Writer final : public Sink {
 public:
  // Opens the store, checks its tail and starts the writer thread. Errors: the store's (e.g.
  // Errc::kLocked naming the holder's pid), kBadConfig, kBadKey.
  static Result<std::shared_ptr<Writer>> open(WriterConfig config, WriterDeps deps);
  ~Writer() override;  // close()

  // Sink. record() is append() without the ticket.
  void record(Event event) override;
  std::uint64_t append(Event event) override;
  void whenDurable(std::uint64_t seq, DurableCallback callback) override;
  bool syncDurability() const override { return config_.durability == Durability::kSync; }
  // Blocks until every event appended before the call is durable (or the writer failed).
  void flush() override;

  // Like append() but never waits: kNotRecorded (counted) when the queue is full.
  std::uint64_t tryAppend(Event event);
  // Blocks until `seq` is durable; false on timeout, failure or close. For the CLI and tests.
  bool waitDurable(std::uint64_t seq,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds::max());
  // Evaluates time-based work now (heartbeat checkpoint, epoch change) against the injected
  // clock, and returns the last assigned sequence number. The writer thread does this by
  // itself; tests with a SimulatedClock call it after advancing the clock.
  std::uint64_t tick();
  // Appends a checkpoint now and returns its sequence number.
  std::uint64_t checkpointNow();
  // Switches to signing with `key` (a new kid, epoch as given) from the next record on, which
  // is an AUDIT_KEY_ROTATE record. Returns that record's seq (kNotRecorded when closed).
  std::uint64_t rotateKey(AuditKey key);
  // Writes what is queued (and a final checkpoint), syncs, stops the thread, releases the
  // store. Idempotent. Later appends return kNotRecorded.
  void close();

  WriterStats stats() const;
  bool healthy() const;
  std::uint64_t durableSeq() const;
  const std::string& node() const { return config_.node; }
  const StorePtr& store() const { return store_; }

  struct State;  // shared with the writer thread; defined in writer.cc

 private:
  Writer(WriterConfig config, StorePtr store, std::unique_ptr<State> state);

  WriterConfig config_;
  StorePtr store_;
  std::unique_ptr<State> state_;
};
using WriterPtr = std::shared_ptr<Writer>;

}  // namespace bulwark::audit

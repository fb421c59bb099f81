#include "audit/postgres_store.h"

#include <endian.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "store/postgres/pool.h"

namespace bulwark::audit {
namespace {

using store::postgres::Connection;
using store::postgres::ConnectionPtr;
using store::postgres::Params;
using store::postgres::Retry;

constexpr std::string_view kTryLock =
    "SELECT pg_try_advisory_lock(hashtext('bulwark.audit'), hashtext($1))";
constexpr std::string_view kUnlock =
    "SELECT pg_advisory_unlock(hashtext('bulwark.audit'), hashtext($1))";
constexpr std::string_view kLastRecord =
    "SELECT seq, line FROM audit_records WHERE node = $1 ORDER BY seq DESC LIMIT 1";
// The writer re-verifies this many records before the tail when it starts.
constexpr std::uint64_t kCheckedAtOpen = 10'000;

Error unavailable(const std::string& what) {
  return auditError(Errc::kWriterFailed, "audit store (PostgreSQL): " + what);
}

void putInt16(std::string& out, std::int16_t value) {
  const std::uint16_t wire = htobe16(static_cast<std::uint16_t>(value));
  out.append(reinterpret_cast<const char*>(&wire), sizeof wire);
}
void putInt32(std::string& out, std::int32_t value) {
  const std::uint32_t wire = htobe32(static_cast<std::uint32_t>(value));
  out.append(reinterpret_cast<const char*>(&wire), sizeof wire);
}
void putField(std::string& out, std::string_view bytes) {
  putInt32(out, static_cast<std::int32_t>(bytes.size()));
  out.append(bytes);
}

// The batch in COPY's binary format: header, one (node, seq, line) tuple per record, trailer.
std::string copyPayload(const std::string& node, const Batch& batch) {
  std::string out("PGCOPY\n\377\r\n\0", 11);
  putInt32(out, 0);  // flags
  putInt32(out, 0);  // header extension length
  for (const auto& record : batch.records) {
    putInt16(out, 3);
    putField(out, node);
    const std::uint64_t seq = htobe64(record.seq);
    putField(out, std::string_view(reinterpret_cast<const char*>(&seq), sizeof seq));
    putField(out, record.line);
  }
  putInt16(out, -1);
  return out;
}

// Pages through one node's rows by seq, 1000 at a time.
class PostgresCursor final : public Cursor {
 public:
  PostgresCursor(store::PostgresPoolPtr pool, std::string node, std::uint64_t from_seq)
      : pool_(std::move(pool)),
        node_(std::move(node)),
        next_seq_(from_seq),
        location_("postgres:" + node_) {}

  Result<std::optional<StoredRecord>> next() override {
    if (index_ >= page_.size()) {
      page_.clear();
      index_ = 0;
      auto rows = pool_->impl().pool->run(Retry::kSafe, [&](Connection& db) {
        return db.exec(
            "SELECT seq, line FROM audit_records WHERE node = $1 AND seq >= $2 ORDER BY seq "
            "LIMIT 1000",
            Params().text(node_).int64(static_cast<std::int64_t>(next_seq_)));
      });
      if (!rows) {
        return unavailable("cannot read: " + pool_->lastError());
      }
      for (int row = 0; row < rows->size(); ++row) {
        const auto seq = rows->integer(row, 0);
        page_.emplace_back(seq ? static_cast<std::uint64_t>(*seq) : 0, rows->text(row, 1));
      }
      if (page_.empty()) {
        return std::optional<StoredRecord>();  // the end, for now: later calls continue
      }
    }
    const auto& [seq, line] = page_[index_++];
    next_seq_ = seq + 1;
    return std::optional<StoredRecord>(StoredRecord{seq, line, location_, seq});
  }

 private:
  store::PostgresPoolPtr pool_;
  std::string node_;
  std::uint64_t next_seq_;
  std::string location_;
  std::vector<std::pair<std::uint64_t, std::string>> page_;
  std::size_t index_ = 0;
};

class PostgresStore final : public Store {
 public:
  PostgresStore(store::PostgresPoolPtr pool, std::string node)
      : pool_(std::move(pool)), node_(std::move(node)) {}
  ~PostgresStore() override { close(); }

  Result<TailInfo> open() override {
    std::lock_guard lock(mutex_);
    if (auto owned = own(); !owned) {
      return owned.error();
    }
    auto last = owner_->exec(kLastRecord, Params().text(node_));
    if (!last) {
      return unavailable("cannot read the tail: " + pool_->impl().pool->scrub(owner_->lastError()));
    }
    TailInfo info;
    if (last->size() == 1) {
      info.last_seq = static_cast<std::uint64_t>(last->integer(0, 0).value_or(0));
      info.last_line = last->text(0, 1);
      info.check_from = info.last_seq > kCheckedAtOpen ? info.last_seq - kCheckedAtOpen + 1 : 1;
    }
    return info;
  }

  Result<void> append(const Batch& batch) override {
    if (batch.records.empty()) {
      return {};
    }
    std::lock_guard lock(mutex_);
    if (!opened_) {
      return auditError(Errc::kClosed, "audit store (PostgreSQL): not open");
    }
    const std::string payload = copyPayload(node_, batch);
    for (int attempt = 0;; ++attempt) {
      if (!owner_) {
        // The connection died (in this call, or in an earlier one whose reconnect failed: the
        // writer retries the same batch until the server is back), and with it our lock.
        auto present = reown(batch);
        if (!present) {
          return present.error();
        }
        if (*present) {
          return {};  // it had committed
        }
      }
      if (copy(payload)) {
        return {};
      }
      if (owner_->reusable()) {
        // The server refused the rows (a duplicate seq, …): nothing was written.
        return unavailable("append refused: " + pool_->impl().pool->scrub(copy_error_));
      }
      owner_.reset();
      if (attempt > 0) {
        return unavailable("append failed twice: " + pool_->impl().pool->scrub(copy_error_));
      }
    }
  }

  Result<void> sync() override { return {}; }

  void close() override {
    std::lock_guard lock(mutex_);
    if (owner_ && owner_->reusable()) {
      (void)owner_->exec(kUnlock, Params().text(node_));
    }
    owner_.reset();
    opened_ = false;
  }

  Result<CursorPtr> read(std::uint64_t from_seq) const override {
    return CursorPtr(std::make_unique<PostgresCursor>(pool_, node_, from_seq));
  }

  Result<std::uint64_t> lastSeq() const override {
    auto rows = pool_->impl().pool->run(Retry::kSafe, [&](Connection& db) {
      return db.exec("SELECT coalesce(max(seq), 0) FROM audit_records WHERE node = $1",
                     Params().text(node_));
    });
    if (!rows || rows->size() != 1) {
      return unavailable("cannot read the last seq: " + pool_->lastError());
    }
    return static_cast<std::uint64_t>(rows->integer(0, 0).value_or(0));
  }

  std::string describe() const override { return "postgres:" + node_; }

 private:
  // Takes the connection and the node's lock again, then looks at the tail: a COPY commits
  // entirely or not at all, and as the owner we can tell which. Returns true when `batch` is
  // already stored. Under mutex_; on failure owner_ stays empty (the next append tries again).
  Result<bool> reown(const Batch& batch) {
    if (auto owned = own(); !owned) {
      return owned.error();
    }
    auto last = owner_->exec(kLastRecord, Params().text(node_));
    if (!last) {
      owner_.reset();
      return unavailable("cannot read the tail after a reconnect");
    }
    const auto last_seq =
        last->size() == 1 ? static_cast<std::uint64_t>(last->integer(0, 0).value_or(0)) : 0;
    if (last_seq >= batch.records.back().seq) {
      return true;
    }
    if (last_seq >= batch.records.front().seq) {
      return unavailable("part of a batch is stored (seq " + std::to_string(last_seq) +
                         "): the table was changed by someone else");
    }
    return false;
  }

  // Opens the owning connection and takes the node's advisory lock on it. Under mutex_.
  Result<void> own() {
    if (owner_) {
      return auditError(Errc::kBadConfig, "audit store (PostgreSQL): already open");
    }
    std::string reason;
    auto connection = pool_->impl().pool->connectOnce(&reason);
    if (!connection) {
      return unavailable(reason);
    }
    auto locked = (*connection)->exec(kTryLock, Params().text(node_));
    if (!locked || locked->size() != 1) {
      return unavailable("cannot take the node lock");
    }
    if (!locked->boolean(0, 0).value_or(false)) {
      return auditError(Errc::kLocked, "audit trail of node " + node_ +
                                           " is being written by another process (PostgreSQL "
                                           "advisory lock held)");
    }
    owner_ = std::move(*connection);
    opened_ = true;
    return {};
  }

  // Sends `payload` by COPY on the owning connection; false on any failure (copy_error_ says).
  bool copy(const std::string& payload) {
    PGconn* connection = owner_->raw();
    PGresult* started =
        PQexec(connection, "COPY audit_records (node, seq, line) FROM STDIN (FORMAT binary)");
    const bool in_copy = started != nullptr && PQresultStatus(started) == PGRES_COPY_IN;
    PQclear(started);
    if (!in_copy) {
      copy_error_ = PQerrorMessage(connection);
      return false;
    }
    if (PQputCopyData(connection, payload.data(), static_cast<int>(payload.size())) != 1 ||
        PQputCopyEnd(connection, nullptr) != 1) {
      copy_error_ = PQerrorMessage(connection);
      while (PGresult* rest = PQgetResult(connection)) {
        PQclear(rest);
      }
      return false;
    }
    bool ok = true;
    while (PGresult* result = PQgetResult(connection)) {
      if (PQresultStatus(result) != PGRES_COMMAND_OK) {
        ok = false;
        copy_error_ = PQresultErrorMessage(result);
      }
      PQclear(result);
    }
    return ok;
  }

  store::PostgresPoolPtr pool_;
  std::string node_;
  std::mutex mutex_;     // guards owner_ and copy_error_ (append vs close)
  ConnectionPtr owner_;  // holds the node's advisory lock while open
  bool opened_ = false;  // open() succeeded and close() has not run: owner_ is to be retaken
  std::string copy_error_;
};

}  // namespace

StorePtr makePostgresStore(store::PostgresPoolPtr pool, std::string node) {
  return std::make_shared<PostgresStore>(std::move(pool), std::move(node));
}

}  // namespace bulwark::audit

#include "store/postgres/connection.h"

#include <endian.h>
#include <poll.h>

#include <cstring>

namespace bulwark::store::postgres {
namespace {

// Type OIDs (pg_type.h is a server header; these numbers are fixed by the wire protocol).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

// Notices would go to stderr by default. An idle connection's only notice of interest is the
// FATAL a server sends before it closes the connection (terminated backend, shutdown).
void receiveNotice(void* fatal, const PGresult* notice) {
  const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity != nullptr &&
      (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0)) {
    *static_cast<bool*>(fatal) = true;
  }
}

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::int64_t toMillis(core::SystemTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

core::SystemTime fromMillis(std::int64_t millis) {
  return core::SystemTime{std::chrono::milliseconds{millis}};
}

Params& Params::add(Oid type, std::string value, bool null) {
  types_.push_back(type);
  lengths_.push_back(static_cast<int>(value.size()));
  formats_.push_back(1);
  storage_.push_back(std::move(value));
  null_.push_back(null);
  return *this;
}

Params& Params::text(std::string_view value) { return add(kTextOid, std::string(value), false); }

Params& Params::bytes(std::span<const std::uint8_t> value) {
  return add(kByteaOid, std::string(reinterpret_cast<const char*>(value.data()), value.size()),
             false);
}

Params& Params::bytes(std::string_view value) { return add(kByteaOid, std::string(value), false); }

Params& Params::int64(std::int64_t value) {
  const std::uint64_t wire = htobe64(static_cast<std::uint64_t>(value));
  std::string bytes(sizeof wire, '\0');
  std::memcpy(bytes.data(), &wire, sizeof wire);
  return add(kInt8Oid, std::move(bytes), false);
}

Params& Params::boolean(bool value) { return add(kBoolOid, std::string(1, value ? 1 : 0), false); }

Params& Params::nullBytes() { return add(kByteaOid, std::string(), true); }

Params& Params::nullText() { return add(kTextOid, std::string(), true); }

const char* const* Params::values() const {
  pointers_.clear();
  for (std::size_t i = 0; i < storage_.size(); ++i) {
    pointers_.push_back(null_[i] ? nullptr : storage_[i].data());
  }
  return pointers_.data();
}

std::uint64_t Rows::affected() const {
  const char* tuples = PQcmdTuples(result_.get());
  return tuples == nullptr || *tuples == '\0' ? 0 : std::strtoull(tuples, nullptr, 10);
}

std::string Rows::text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::optional<std::int64_t> Rows::integer(int row, int column) const {
  if (isNull(row, column)) {
    return std::nullopt;
  }
  const char* data = PQgetvalue(result_.get(), row, column);
  switch (PQgetlength(result_.get(), row, column)) {
    case 8: {
      std::uint64_t wire = 0;
      std::memcpy(&wire, data, sizeof wire);
      return static_cast<std::int64_t>(be64toh(wire));
    }
    case 4: {
      std::uint32_t wire = 0;
      std::memcpy(&wire, data, sizeof wire);
      return static_cast<std::int32_t>(be32toh(wire));
    }
    case 2: {
      std::uint16_t wire = 0;
      std::memcpy(&wire, data, sizeof wire);
      return static_cast<std::int16_t>(be16toh(wire));
    }
    default:
      return std::nullopt;
  }
}

std::optional<bool> Rows::boolean(int row, int column) const {
  if (isNull(row, column) || PQgetlength(result_.get(), row, column) != 1) {
    return std::nullopt;
  }
  return *PQgetvalue(result_.get(), row, column) != 0;
}

Connection::Connection(PGconn* connection, core::MonotonicTime now)
    : connection_(connection), created_(now), last_used_(now) {
  PQsetNoticeReceiver(connection_, &receiveNotice, &fatal_notice_);
}

Connection::~Connection() { PQfinish(connection_); }

Result<void> Connection::fail(const PGresult* result, const char* what) {
  last_error_ = what;
  last_error_ += ": ";
  const char* message =
      result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(connection_);
  last_error_ += message != nullptr ? message : "";
  while (!last_error_.empty() && (last_error_.back() == '\n' || last_error_.back() == ' ')) {
    last_error_.pop_back();
  }
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view sqlstate = state != nullptr ? state : "";
  // 57P0x: the server is shutting down or terminated us; 08: connection exceptions. Either way
  // the connection is (about to be) gone.
  if (PQstatus(connection_) == CONNECTION_BAD || startsWith(sqlstate, "57P0") ||
      startsWith(sqlstate, "08")) {
    failure_ = Failure::kConnectionLost;
    return StoreError::kUnavailable;
  }
  if (sqlstate == "40001" || sqlstate == "40P01") {
    failure_ = Failure::kRetryable;
    return StoreError::kUnavailable;
  }
  failure_ = Failure::kStatement;
  if (sqlstate == "23505") {
    failure_ = Failure::kRefused;
    return StoreError::kAlreadyExists;
  }
  if (startsWith(sqlstate, "22") || startsWith(sqlstate, "23")) {
    failure_ = Failure::kRefused;
    return StoreError::kInvalidArgument;
  }
  return StoreError::kUnavailable;
}

Result<Rows> Connection::exec(std::string_view sql, const Params& params) {
  failure_ = Failure::kNone;
  std::string key(sql);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    // Prepared once per connection: later calls skip parsing and planning.
    std::string name = "bulwark_" + std::to_string(prepared_.size() + 1);
    const ResultPtr prepared(
        PQprepare(connection_, name.c_str(), key.c_str(), params.size(), params.types()));
    if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      return fail(prepared.get(), "prepare").error();
    }
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  ResultPtr result(PQexecPrepared(connection_, it->second.c_str(), params.size(), params.values(),
                                  params.lengths(), params.formats(),
                                  /*resultFormat=*/1));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    return Rows(result.release());
  }
  return fail(result.get(), "statement").error();
}

Result<void> Connection::script(const char* sql) {
  failure_ = Failure::kNone;
  const ResultPtr result(PQexec(connection_, sql));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    return {};
  }
  return fail(result.get(), "statement");
}

bool Connection::reusable() const {
  return !fatal_notice_ && PQstatus(connection_) == CONNECTION_OK &&
         PQtransactionStatus(connection_) == PQTRANS_IDLE;
}

bool Connection::closedWhileIdle() {
  // A terminated backend sends a FATAL message, then closes: consuming the message and noticing
  // the end of the stream are two reads, so read until nothing more is waiting (bounded: an
  // idle connection receives little besides notices).
  for (int round = 0; round < 4 && !fatal_notice_; ++round) {
    pollfd descriptor{};
    descriptor.fd = PQsocket(connection_);
    descriptor.events = POLLIN;
    if (descriptor.fd < 0) {
      return true;
    }
    if (::poll(&descriptor, 1, 0) <= 0) {
      break;  // nothing (more) arrived while idle: as alive as we can tell without a round trip
    }
    if (PQconsumeInput(connection_) == 0 || PQstatus(connection_) == CONNECTION_BAD) {
      return true;
    }
    while (PGnotify* notify = PQnotifies(connection_)) {
      PQfreemem(notify);
    }
  }
  return fatal_notice_ || PQstatus(connection_) == CONNECTION_BAD;
}

bool Connection::ping() { return script("SELECT 1").has_value() && reusable(); }

}  // namespace bulwark::store::postgres

#include "store/postgres/pool.h"

#include <algorithm>
#include <cmath>

#include "core/log.h"
#include "store/postgres/migrations.h"

namespace bulwark::store::postgres {
namespace {

using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

bool validSchemaName(const std::string& name) {
  if (name.empty() || name.size() > 63 || (name[0] >= '0' && name[0] <= '9')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// libpq messages end in newlines and may span lines ("…failed: FATAL: …\n"); one line reads
// better in a log field or an error message.
std::string oneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      c = ' ';
    }
  }
  while (!text.empty() && text.back() == ' ') {
    text.pop_back();
  }
  return text;
}

}  // namespace

Result<std::unique_ptr<Pool>> Pool::create(const PostgresConfig& config, core::Clock& clock,
                                           std::string* reason) {
  auto refuse = [&](std::string why) -> Result<std::unique_ptr<Pool>> {
    if (reason != nullptr) {
      *reason = std::move(why);
    }
    return StoreError::kInvalidArgument;
  };
  if (config.url.empty()) {
    return refuse("no database URL");
  }
  if (!config.schema.empty() && !validSchemaName(config.schema)) {
    return refuse(
        "schema must be 1-63 lowercase letters, digits or '_', not starting with a digit");
  }
  if (config.max_open == 0 || config.connect_attempts < 1) {
    return refuse("max_open and connect_attempts must be at least 1");
  }
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(config.url.c_str(), &parse_error);
  if (parsed == nullptr) {
    // libpq's parse errors quote syntax, never values; still, say only what kind it is.
    PQfreemem(parse_error);
    return refuse("the database URL is not a valid postgresql:// URL or key=value string");
  }
  std::unique_ptr<Pool> pool(new Pool(config, clock));
  std::string options;
  for (const PQconninfoOption* option = parsed; option->keyword != nullptr; ++option) {
    if (option->val == nullptr) {
      continue;
    }
    const std::string_view keyword = option->keyword;
    if (keyword == "password") {
      pool->password_ = option->val;
    }
    if (keyword == "options") {
      options = option->val;
    } else if (keyword != "application_name" && keyword != "connect_timeout") {
      pool->parameters_.emplace_back(option->keyword, option->val);
    }
  }
  PQconninfoFree(parsed);
  if (!config.schema.empty()) {
    options += " -csearch_path=" + config.schema;
  }
  if (config.statement_timeout.count() > 0) {
    options += " -cstatement_timeout=" + std::to_string(config.statement_timeout.count());
  }
  if (!options.empty()) {
    pool->parameters_.emplace_back("options", options);
  }
  pool->parameters_.emplace_back("application_name", config.application_name);
  const auto timeout_seconds = std::max<long long>(
      1, (config.connect_timeout.count() + 999) / 1000);  // libpq takes whole seconds
  pool->parameters_.emplace_back("connect_timeout", std::to_string(timeout_seconds));
  return pool;
}

Pool::~Pool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  health_wakeup_.notify_all();
  if (health_thread_.joinable()) {
    health_thread_.join();
  }
}

std::string Pool::scrub(std::string message) const {
  if (password_.empty()) {
    return message;
  }
  for (std::size_t at = message.find(password_); at != std::string::npos;
       at = message.find(password_, at)) {
    message.replace(at, password_.size(), "<redacted>");
  }
  return message;
}

void Pool::noteError(std::string message) {
  message = scrub(oneLine(std::move(message)));
  if (message.empty()) {
    return;
  }
  core::log(core::LogLevel::kWarn, "postgresql", {{"error", message}});
  std::lock_guard lock(mutex_);
  last_error_ = std::move(message);
}

Result<ConnectionPtr> Pool::connect(SteadyTime deadline, std::string* reason) {
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const auto& [keyword, value] : parameters_) {
    keywords.push_back(keyword.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  std::string error;
  for (int attempt = 1;; ++attempt) {
    PGconn* raw = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/0);
    if (raw != nullptr && PQstatus(raw) == CONNECTION_OK) {
      auto connection = std::make_unique<Connection>(raw, clock_.monotonicTime());
      std::lock_guard lock(mutex_);
      ++counters_.connects;
      if (awaiting_replacement_ > 0) {
        --awaiting_replacement_;
        ++counters_.reconnects;
      }
      return connection;
    }
    error = scrub(oneLine(raw != nullptr ? PQerrorMessage(raw) : "out of memory"));
    PQfinish(raw);
    {
      std::lock_guard lock(mutex_);
      ++counters_.connect_failures;
    }
    if (attempt >= config_.connect_attempts) {
      break;
    }
    // Exponential backoff with jitter (half fixed, half random) so nodes that lost the server
    // together do not reconnect in lockstep.
    const double base = static_cast<double>(config_.backoff_base.count()) *
                        std::pow(2.0, static_cast<double>(attempt - 1));
    const auto cap = static_cast<double>(config_.backoff_max.count());
    const double delay = std::min(base, cap);
    double jitter = 0;
    {
      std::lock_guard lock(mutex_);
      jitter = std::uniform_real_distribution<double>(0.0, delay / 2)(jitter_);
    }
    const auto pause = milliseconds(static_cast<long long>(delay / 2 + jitter));
    if (std::chrono::steady_clock::now() + pause >= deadline) {
      break;
    }
    std::this_thread::sleep_for(pause);
  }
  const std::string message = "cannot connect to PostgreSQL: " + error;
  noteError(message);
  if (reason != nullptr) {
    *reason = message;
  }
  return StoreError::kUnavailable;
}

Result<ConnectionPtr> Pool::connectOnce(std::string* reason) {
  return connect(SteadyTime::max(), reason);
}

void Pool::adopt(ConnectionPtr connection) {
  {
    std::lock_guard lock(mutex_);
    ++open_;
    ++lent_;
  }
  release(std::move(connection), false);
}

void Pool::startHealthThread() {
  if (config_.health_interval.count() > 0) {
    health_thread_ = std::thread([this] { healthLoop(); });
  }
}

bool Pool::expired(const Connection& connection, core::MonotonicTime now) const {
  const bool too_old = config_.conn_max_lifetime.count() > 0 &&
                       now - connection.created() >= config_.conn_max_lifetime;
  const bool idle_too_long = config_.conn_max_idle_time.count() > 0 &&
                             now - connection.lastUsed() >= config_.conn_max_idle_time;
  return too_old || idle_too_long;
}

Result<ConnectionPtr> Pool::acquire() {
  // Waits use the real steady clock: the injected clock only ages connections (a simulated one
  // never moves by itself, and a wait must end).
  const SteadyTime start = std::chrono::steady_clock::now();
  const SteadyTime deadline = start + config_.acquire_timeout;
  std::vector<ConnectionPtr> to_close;  // closed after the lock is released (declared first)
  std::unique_lock lock(mutex_);
  bool waited = false;
  auto noteWait = [&] {
    if (waited) {
      ++counters_.waits;
      counters_.wait_time += std::chrono::steady_clock::now() - start;
    }
  };
  for (;;) {
    while (!idle_.empty()) {
      ConnectionPtr connection = std::move(idle_.back());
      idle_.pop_back();
      if (expired(*connection, clock_.monotonicTime())) {
        ++counters_.recycled;
        --open_;
        to_close.push_back(std::move(connection));
        continue;
      }
      if (connection->closedWhileIdle()) {
        ++counters_.broken;
        ++awaiting_replacement_;
        --open_;
        to_close.push_back(std::move(connection));
        continue;
      }
      ++lent_;
      noteWait();
      return connection;
    }
    if (open_ < config_.max_open) {
      ++open_;
      ++lent_;
      noteWait();
      lock.unlock();
      to_close.clear();
      auto connection = connect(deadline, nullptr);
      if (!connection) {
        lock.lock();
        --open_;
        --lent_;
        available_.notify_one();
      }
      return connection;
    }
    waited = true;
    if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= config_.max_open) {
      noteWait();
      ++counters_.acquire_timeouts;
      last_error_ = "no free database connection within the acquire timeout";
      return StoreError::kUnavailable;
    }
  }
}

void Pool::release(ConnectionPtr connection, bool broken) {
  const auto now = clock_.monotonicTime();
  connection->touch(now);
  ConnectionPtr to_close;  // closed after the lock is released (declared first)
  std::lock_guard lock(mutex_);
  --lent_;
  if (broken || !connection->reusable()) {
    ++counters_.broken;
    ++awaiting_replacement_;
    --open_;
    to_close = std::move(connection);
  } else if (expired(*connection, now)) {
    ++counters_.recycled;
    --open_;
    to_close = std::move(connection);
  } else if (idle_.size() >= config_.max_idle) {
    --open_;
    to_close = std::move(connection);
  } else {
    idle_.push_back(std::move(connection));
  }
  available_.notify_one();
}

std::size_t Pool::checkHealth() {
  std::vector<ConnectionPtr> checking;
  {
    std::lock_guard lock(mutex_);
    checking.swap(idle_);  // they stay counted in open_ while we check them
  }
  std::vector<ConnectionPtr> healthy;
  std::size_t dead = 0;
  std::size_t closed = 0;
  for (auto& connection : checking) {
    if (expired(*connection, clock_.monotonicTime())) {
      std::lock_guard lock(mutex_);
      ++counters_.recycled;
      ++closed;
    } else if (connection->closedWhileIdle() || !connection->ping()) {
      noteError("health check: " + (connection->lastError().empty()
                                        ? std::string("the server closed an idle connection")
                                        : connection->lastError()));
      ++dead;
      ++closed;
    } else {
      healthy.push_back(std::move(connection));
      continue;
    }
    connection.reset();
  }
  {
    std::lock_guard lock(mutex_);
    open_ -= closed;
    counters_.broken += dead;
    counters_.health_replacements += dead;
    awaiting_replacement_ += dead;
  }
  // Replace the dead ones now, so the next caller does not pay for the connect.
  for (std::size_t i = 0; i < dead; ++i) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || open_ >= config_.max_open) {
        break;
      }
      ++open_;
    }
    auto fresh = connect(std::chrono::steady_clock::now() + config_.connect_timeout, nullptr);
    std::lock_guard lock(mutex_);
    if (!fresh) {
      --open_;
      break;
    }
    healthy.push_back(std::move(*fresh));
  }
  std::vector<ConnectionPtr> surplus;  // closed after the lock is released (declared first)
  std::lock_guard lock(mutex_);
  for (auto& connection : healthy) {
    if (idle_.size() < config_.max_idle) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;
      surplus.push_back(std::move(connection));
    }
  }
  available_.notify_all();
  return dead;
}

void Pool::healthLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    health_wakeup_.wait_for(lock, config_.health_interval, [&] { return stopping_; });
    if (stopping_) {
      break;
    }
    lock.unlock();
    (void)checkHealth();
    lock.lock();
  }
}

PoolStats Pool::stats() const {
  std::lock_guard lock(mutex_);
  PoolStats out = counters_;
  out.open = open_;
  out.idle = idle_.size();
  out.in_use = lent_;
  return out;
}

std::string Pool::lastError() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

}  // namespace bulwark::store::postgres

namespace bulwark::store {

PostgresPool::PostgresPool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresPool::~PostgresPool() = default;
PoolStats PostgresPool::stats() const { return impl_->pool->stats(); }
std::size_t PostgresPool::checkHealth() { return impl_->pool->checkHealth(); }
std::string PostgresPool::lastError() const { return impl_->pool->lastError(); }
int PostgresPool::schemaVersion() const { return impl_->pool->schemaVersion(); }

int postgresSchemaVersion() { return static_cast<int>(postgres::migrations().size()); }

Result<PostgresPoolPtr> openPostgresPool(const PostgresConfig& config, std::string* reason,
                                         core::Clock& clock) {
  auto pool = postgres::Pool::create(config, clock, reason);
  if (!pool) {
    return pool.error();
  }
  auto connection = (*pool)->connectOnce(reason);
  if (!connection) {
    return connection.error();
  }
  auto version = postgres::migrate(**connection, config.schema, reason);
  if (!version) {
    if (reason != nullptr) {
      *reason = (*pool)->scrub(std::move(*reason));
    }
    return version.error();
  }
  (*pool)->setSchemaVersion(*version);
  (*pool)->adopt(std::move(*connection));  // the first connection serves callers too
  (*pool)->startHealthThread();
  auto impl = std::make_unique<PostgresPool::Impl>();
  impl->pool = std::move(*pool);
  return std::make_shared<PostgresPool>(std::move(impl));
}

Result<int> migratePostgres(const PostgresConfig& config, std::string* reason) {
  auto pool = postgres::Pool::create(config, core::realClock(), reason);
  if (!pool) {
    return pool.error();
  }
  auto connection = (*pool)->connectOnce(reason);
  if (!connection) {
    return connection.error();
  }
  auto version = postgres::migrate(**connection, config.schema, reason);
  if (!version && reason != nullptr) {
    *reason = (*pool)->scrub(std::move(*reason));
  }
  return version;
}

}  // namespace bulwark::store

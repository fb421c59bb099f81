// The Redis transport: Boost.Asio + OpenSSL on one I/O thread the client owns, because hiredis
// 0.14 has no TLS. Asio is included here and nowhere else in the store component (build time).
//
// Everything below runs on that thread, so connection and queue state needs no locks; other
// threads only post work to it. Each connection is one coroutine: connect, verify TLS, AUTH,
// SELECT, CLIENT SETNAME, then a reader and a writer side by side until the connection is lost,
// then back off and start over. Commands are pipelined: the writer sends everything queued in one
// write, and replies arrive in order, matched against the FIFO of commands in flight.
//
// One sweep timer enforces every deadline (reply timeouts, connect timeouts, commands waiting for
// a connection), so each callback runs within bounded time whatever the network does.

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "core/log.h"
#include "store/redis/protocol.h"

namespace bulwark::store {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using asio::experimental::awaitable_operators::operator||;
using redis::RedisEndpoint;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;

struct Command {
  std::vector<std::string> args;  // kept until answered, to send it again after a loss
  RedisClient::Callback done;
  bool idempotent = false;
  int tries = 0;                     // times handed to a connection's writer
  SteadyClock::time_point deadline;  // gives up waiting for a connection after this
  SteadyClock::time_point sent_at;   // when last written (reply timeout)
};
using CommandPtr = std::unique_ptr<Command>;

class ClientImpl;

// One connection: a pooled command connection or a subscriber. Lives on the client's thread.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class Kind { kCommands, kSubscriber };
  enum class State { kConnecting, kReady, kDown, kStopped };

  Connection(ClientImpl& client, Kind kind, std::size_t index);

  void start();
  // Closes the connection for good; pending work is handed back to the client.
  void stop();
  bool ready() const { return state_ == State::kReady; }
  std::size_t load() const { return outbox_.size() + inflight_.size(); }
  std::size_t index() const { return index_; }
  bool isSubscriber() const { return kind_ == Kind::kSubscriber; }
  // Consecutive failed attempts to (re)connect; zero once up.
  int failures() const { return failures_; }
  // Queues a command on a ready command connection.
  void send(CommandPtr command);
  // Enforces this connection's deadlines.
  void sweep(SteadyClock::time_point now);

  // Subscriber side.
  void setSubscription(std::string channel, RedisClient::MessageHandler on_message,
                       RedisClient::StateHandler on_state);
  bool subscribed() const { return subscribed_.load(std::memory_order_acquire); }
  void ping(std::function<void(bool)> done);

 private:
  asio::awaitable<void> run();
  asio::awaitable<std::string> establish();
  asio::awaitable<std::string> readLoop();
  asio::awaitable<std::string> writeLoop();
  asio::awaitable<std::pair<boost::system::error_code, std::size_t>> readSome();
  asio::awaitable<boost::system::error_code> writeAll(const std::string& bytes);
  void close(std::string reason);
  void handOver(std::string_view reason);
  void handleReply(RedisReply reply, std::string& error);
  void handlePush(RedisReply reply, std::string& error);
  void setSubscribed(bool subscribed);
  std::string describe(const boost::system::error_code& ec) const;
  std::string where() const;

  ClientImpl& client_;
  const Kind kind_;
  const std::size_t index_;
  State state_ = State::kDown;
  bool ever_up_ = false;
  int failures_ = 0;  // consecutive failed attempts, for the backoff
  std::optional<ssl::stream<tcp::socket>> stream_;
  tcp::resolver resolver_;
  asio::steady_timer wake_;     // wakes the writer when something is queued
  asio::steady_timer backoff_;  // between reconnection attempts
  redis::ReplyReader reader_;
  std::array<char, kReadChunk> read_buffer_{};
  std::string write_buffer_;
  std::deque<CommandPtr> outbox_;           // queued, not yet written
  std::deque<CommandPtr> inflight_;         // written (or being written), awaiting replies in order
  std::optional<std::string> lost_reason_;  // why close() was called, kept over "aborted"
  SteadyClock::time_point connect_deadline_{};

  // Subscriber state.
  std::string channel_;
  RedisClient::MessageHandler on_message_;
  RedisClient::StateHandler on_state_;
  std::atomic<bool> subscribed_{false};
  std::deque<std::string> raw_outbox_;  // SUBSCRIBE, PING
  struct PingWaiter {
    std::function<void(bool)> done;
    SteadyClock::time_point sent_at;
  };
  std::deque<PingWaiter> pings_;
};
using ConnectionPtr = std::shared_ptr<Connection>;

class SubscriptionImpl;

class ClientImpl final : public RedisClient, public std::enable_shared_from_this<ClientImpl> {
 public:
  ClientImpl(RedisConfig config, RedisEndpoint endpoint)
      : config_(std::move(config)),
        endpoint_(std::move(endpoint)),
        ssl_(ssl::context::tls_client),
        sweep_(io_),
        work_(asio::make_work_guard(io_)),
        jitter_(std::random_device{}()) {
    client_name_ = config_.client_name.empty() ? "bulwark" : config_.client_name;
    std::replace_if(
        client_name_.begin(), client_name_.end(),
        [](unsigned char c) { return c <= ' ' || c >= 0x7f; }, '-');
  }

  ~ClientImpl() override {
    asio::post(io_, [this] {
      stopping_ = true;
      sweep_.cancel();
      for (auto& connection : connections_) connection->stop();
      for (auto& connection : subscribers_) connection->stop();
      takeSubmitted();  // fails them: stopping_ is set
      failWaiting("the Redis client is shutting down");
    });
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }

  // Prepares TLS; false (with the reason) when the CA file cannot be used.
  bool prepare(std::string& reason) {
    SSL_CTX_set_min_proto_version(ssl_.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (config_.ca_file.empty()) {
      ssl_.set_default_verify_paths(ec);
    } else {
      ssl_.load_verify_file(config_.ca_file, ec);
    }
    if (ec) {
      reason = "cannot load the Redis CA certificates" +
               (config_.ca_file.empty() ? std::string() : " from " + config_.ca_file) + ": " +
               ec.message();
      return false;
    }
    ssl_.set_verify_mode(ssl::verify_peer);
    return true;
  }

  void start() {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, config_.pool_size); ++i) {
      connections_.push_back(std::make_shared<Connection>(*this, Connection::Kind::kCommands, i));
    }
    thread_ = std::thread([this] {
      thread_id_.store(std::this_thread::get_id());
      io_.run();
    });
    asio::post(io_, [this] {
      for (auto& connection : connections_) connection->start();
      scheduleSweep();
    });
  }

  // Waits for the first connection, or for every pooled connection to fail `attempts` times.
  bool awaitFirstConnection(std::string& reason) {
    std::unique_lock lock(startup_mutex_);
    const auto bound =
        config_.attempts * (config_.connect_timeout + config_.reconnect_backoff_max) + 1s;
    const bool settled = startup_changed_.wait_for(lock, bound, [this] {
      return first_ready_ || startup_failures_ >= std::max(1, config_.attempts);
    });
    if (first_ready_) return true;
    reason = settled ? last_startup_error_ : "timed out connecting to " + where();
    return false;
  }

  // ---- RedisClient -------------------------------------------------------------------------

  void command(std::vector<std::string> args, Callback done, bool idempotent) override {
    auto cmd = std::make_unique<Command>();
    cmd->idempotent = idempotent || redis::isIdempotent(args);
    cmd->args = std::move(args);
    cmd->done = std::move(done);
    cmd->deadline = SteadyClock::now() + commandBudget();
    // One post per batch rather than per command: under load the client thread takes many
    // commands per wake-up (and writes them in one go).
    bool first = false;
    {
      std::lock_guard lock(submit_mutex_);
      first = submitted_.empty();
      submitted_.push_back(std::move(cmd));
    }
    if (first) {
      asio::post(io_, [this] { takeSubmitted(); });
    }
  }

  Result<RedisReply> commandSync(std::vector<std::string> args, bool idempotent) override {
    if (onClientThread()) {
      return StoreError::kUnavailable;  // waiting here would stop the thread that answers
    }
    auto promise = std::make_shared<std::promise<Result<RedisReply>>>();
    auto answer = promise->get_future();
    command(
        std::move(args),
        [promise](Result<RedisReply> reply) { promise->set_value(std::move(reply)); }, idempotent);
    return answer.get();  // bounded: the sweep fails every command past its deadline
  }

  RedisSubscriptionPtr subscribe(std::string channel, MessageHandler on_message,
                                 StateHandler on_state) override;

  bool onClientThread() const override { return thread_id_.load() == std::this_thread::get_id(); }

  RedisStats stats() const override {
    RedisStats s;
    s.connections_up = connections_up_.load(std::memory_order_relaxed);
    s.commands = commands_.load(std::memory_order_relaxed);
    s.errors = errors_.load(std::memory_order_relaxed);
    s.retries = retries_.load(std::memory_order_relaxed);
    s.reconnects = reconnects_.load(std::memory_order_relaxed);
    return s;
  }

  std::string lastError() const override {
    std::lock_guard lock(error_mutex_);
    return last_error_;
  }

  // ---- for connections (client thread) -------------------------------------------------------

  asio::io_context& io() { return io_; }
  ssl::context& sslContext() { return ssl_; }
  const RedisConfig& config() const override { return config_; }
  const RedisEndpoint& endpoint() const { return endpoint_; }
  const std::string& clientName() const { return client_name_; }
  bool stopping() const { return stopping_; }
  std::string where() const { return endpoint_.host + ":" + std::to_string(endpoint_.port); }

  void noteError(std::string reason) {
    reason = redis::redact(std::move(reason), endpoint_.password);
    std::lock_guard lock(error_mutex_);
    last_error_ = std::move(reason);
  }

  void answered() { commands_.fetch_add(1, std::memory_order_relaxed); }

  void fail(CommandPtr cmd, std::string_view reason) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    noteError(std::string(reason));
    auto done = std::move(cmd->done);
    cmd.reset();
    done(StoreError::kUnavailable);
  }

  // Sends on the least loaded ready connection, or waits for one until the command's deadline.
  void dispatch(CommandPtr cmd) {
    if (stopping_) {
      fail(std::move(cmd), "the Redis client is shutting down");
      return;
    }
    Connection* best = nullptr;
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      auto& candidate = connections_[(next_ + i) % connections_.size()];
      if (candidate->ready() && (best == nullptr || candidate->load() < best->load())) {
        best = candidate.get();
      }
    }
    if (best == nullptr) {
      if (unreachable()) {
        fail(std::move(cmd), lastError());
        return;
      }
      waiting_.push_back(std::move(cmd));
      return;
    }
    next_ = (best->index() + 1) % connections_.size();
    best->send(std::move(cmd));
  }

  // A connection lost a command: send it again after a backoff when that is safe.
  void retry(CommandPtr cmd, bool maybe_written, std::string_view reason) {
    if ((maybe_written && !cmd->idempotent) || cmd->tries >= config_.attempts || stopping_ ||
        SteadyClock::now() >= cmd->deadline) {
      fail(std::move(cmd), reason);
      return;
    }
    retries_.fetch_add(1, std::memory_order_relaxed);
    const auto delay = backoff(std::max(0, cmd->tries - 1), config_.retry_backoff);
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    timer->async_wait([this, timer, cmd = std::move(cmd)](boost::system::error_code) mutable {
      dispatch(std::move(cmd));
    });
  }

  void connectionReady(Connection& connection, bool reconnected) {
    if (reconnected) reconnects_.fetch_add(1, std::memory_order_relaxed);
    if (connection.isSubscriber()) return;
    connections_up_.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(startup_mutex_);
      first_ready_ = true;
    }
    startup_changed_.notify_all();
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& cmd : waiting) dispatch(std::move(cmd));
  }

  // A connection closed on purpose (shutdown, unsubscribe): not an error.
  void connectionStopped(Connection& connection) {
    if (!connection.isSubscriber()) connections_up_.fetch_sub(1, std::memory_order_relaxed);
  }

  void connectionDown(Connection& connection, bool was_ready, const std::string& reason) {
    noteError(reason);
    if (connection.isSubscriber()) return;
    if (was_ready) connections_up_.fetch_sub(1, std::memory_order_relaxed);
    if (unreachable()) failWaiting(reason);
    if (connection.index() != 0) return;  // start-up counts the attempts of one connection
    {
      std::lock_guard lock(startup_mutex_);
      ++startup_failures_;
      last_startup_error_ = redis::redact(reason, endpoint_.password);
    }
    startup_changed_.notify_all();
  }

  // Exponential backoff from `base`, capped, with jitter (so nodes do not reconnect in step).
  SteadyClock::duration backoff(int step, std::chrono::milliseconds base) {
    const auto capped = std::min<std::int64_t>(config_.reconnect_backoff_max.count(),
                                               base.count() << std::min(step, 16));
    std::uniform_int_distribution<std::int64_t> spread(capped / 2,
                                                       std::max<std::int64_t>(1, capped));
    return std::chrono::milliseconds(spread(jitter_));
  }

  void addSubscriber(ConnectionPtr connection) {
    subscribers_.push_back(connection);
    connection->start();
  }
  void removeSubscriber(const Connection* connection) {
    std::erase_if(subscribers_, [&](const ConnectionPtr& c) {
      if (c.get() != connection) return false;
      c->stop();
      return true;
    });
  }

 private:
  // True when no pooled connection is up and each has failed to reconnect at least once: Redis
  // is down, so commands fail at once (the gateway answers 503 without holding requests for the
  // whole retry budget) until a connection is back. A brief loss is still ridden out: commands
  // wait while the first reconnection attempts are running.
  bool unreachable() const {
    for (const auto& connection : connections_) {
      if (connection->ready() || connection->failures() == 0) return false;
    }
    return true;
  }

  // How long a command may take in all: every attempt's timeout plus the backoffs between them.
  SteadyClock::duration commandBudget() const {
    const int attempts = std::max(1, config_.attempts);
    return attempts * config_.command_timeout +
           config_.retry_backoff * ((1 << std::min(attempts, 16)) - 1);
  }

  void takeSubmitted() {
    std::vector<CommandPtr> batch;
    {
      std::lock_guard lock(submit_mutex_);
      batch.swap(submitted_);
    }
    for (auto& cmd : batch) dispatch(std::move(cmd));
  }

  void failWaiting(std::string_view reason) {
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& cmd : waiting) fail(std::move(cmd), reason);
  }

  void scheduleSweep() {
    const auto tick = std::clamp<SteadyClock::duration>(config_.command_timeout / 10, 5ms, 100ms);
    sweep_.expires_after(tick);
    sweep_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      const auto now = SteadyClock::now();
      for (auto& connection : connections_) connection->sweep(now);
      for (auto& connection : subscribers_) connection->sweep(now);
      // Retries re-enter waiting_ out of deadline order: check every command.
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if ((*it)->deadline <= now) {
          auto cmd = std::move(*it);
          it = waiting_.erase(it);
          fail(std::move(cmd), "no Redis connection to " + where() + " within the command's time");
        } else {
          ++it;
        }
      }
      scheduleSweep();
    });
  }

  const RedisConfig config_;
  const RedisEndpoint endpoint_;
  std::string client_name_;
  asio::io_context io_{1};
  ssl::context ssl_;
  asio::steady_timer sweep_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
  bool stopping_ = false;  // client thread only
  std::vector<ConnectionPtr> connections_;
  std::vector<ConnectionPtr> subscribers_;
  std::deque<CommandPtr> waiting_;  // no connection ready yet
  std::mutex submit_mutex_;         // commands handed over by other threads, not yet taken
  std::vector<CommandPtr> submitted_;
  std::size_t next_ = 0;
  std::mt19937_64 jitter_;

  std::atomic<std::uint64_t> connections_up_{0}, commands_{0}, errors_{0}, retries_{0},
      reconnects_{0};
  mutable std::mutex error_mutex_;
  std::string last_error_;

  std::mutex startup_mutex_;
  std::condition_variable startup_changed_;
  bool first_ready_ = false;
  int startup_failures_ = 0;
  std::string last_startup_error_;
};

// ---- Connection ----------------------------------------------------------------------------

Connection::Connection(ClientImpl& client, Kind kind, std::size_t index)
    : client_(client),
      kind_(kind),
      index_(index),
      resolver_(client.io()),
      wake_(client.io()),
      backoff_(client.io()) {}

void Connection::start() {
  asio::co_spawn(
      client_.io(), [self = shared_from_this()] { return self->run(); },
      [](std::exception_ptr error) {
        if (error) {
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            core::log(core::LogLevel::kError, "redis connection stopped", {{"error", e.what()}});
          }
        }
      });
}

void Connection::stop() {
  const bool was_ready = state_ == State::kReady;
  state_ = State::kStopped;
  close("the Redis client is shutting down");
  backoff_.cancel();
  handOver("the Redis client is shutting down");
  if (was_ready) client_.connectionStopped(*this);
  setSubscribed(false);
}

std::string Connection::where() const { return client_.where(); }

void Connection::close(std::string reason) {
  if (!lost_reason_) lost_reason_ = std::move(reason);
  boost::system::error_code ignored;
  if (stream_) {
    stream_->next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_->next_layer().close(ignored);
  }
  resolver_.cancel();
  wake_.cancel();
}

std::string Connection::describe(const boost::system::error_code& ec) const {
  if (lost_reason_) return *lost_reason_;
  if (ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == ssl::error::stream_truncated) {
    std::string text = "the Redis server at " + where() + " closed the connection";
    if (!client_.endpoint().tls) text += " (a TLS-only server answering a redis:// URL?)";
    return text;
  }
  return "Redis connection to " + where() + ": " + ec.message();
}

asio::awaitable<std::pair<boost::system::error_code, std::size_t>> Connection::readSome() {
  auto buffer = asio::buffer(read_buffer_);
  if (client_.endpoint().tls) {
    auto [ec, n] = co_await stream_->async_read_some(buffer, kAwait);
    co_return std::pair{ec, n};
  }
  auto [ec, n] = co_await stream_->next_layer().async_read_some(buffer, kAwait);
  co_return std::pair{ec, n};
}

asio::awaitable<boost::system::error_code> Connection::writeAll(const std::string& bytes) {
  if (client_.endpoint().tls) {
    auto [ec, n] = co_await asio::async_write(*stream_, asio::buffer(bytes), kAwait);
    co_return ec;
  }
  auto [ec, n] = co_await asio::async_write(stream_->next_layer(), asio::buffer(bytes), kAwait);
  co_return ec;
}

asio::awaitable<void> Connection::run() {
  auto self = shared_from_this();  // alive until the coroutine ends
  while (state_ != State::kStopped && !client_.stopping()) {
    lost_reason_.reset();
    state_ = State::kConnecting;
    connect_deadline_ = SteadyClock::now() + client_.config().connect_timeout;
    std::string failure = co_await establish();
    bool was_ready = false;
    if (failure.empty() && state_ == State::kConnecting) {
      state_ = State::kReady;
      was_ready = true;
      failures_ = 0;
      client_.connectionReady(*this, ever_up_);
      ever_up_ = true;
      if (kind_ == Kind::kSubscriber) {
        std::string subscribe;
        redis::appendCommand(subscribe, {"SUBSCRIBE", channel_});
        raw_outbox_.push_front(std::move(subscribe));
      }
      auto ended = co_await (readLoop() || writeLoop());
      failure = ended.index() == 0 ? std::get<0>(ended) : std::get<1>(ended);
    } else {
      ++failures_;
    }
    if (failure.empty())
      failure = lost_reason_.value_or("Redis connection to " + where() + " lost");
    close(failure);
    if (state_ == State::kStopped) break;
    state_ = State::kDown;
    client_.connectionDown(*this, was_ready, failure);
    handOver(failure);
    setSubscribed(false);
    backoff_.expires_after(client_.backoff(failures_, client_.config().retry_backoff));
    co_await backoff_.async_wait(kAwait);
  }
}

asio::awaitable<std::string> Connection::establish() {
  const auto& endpoint = client_.endpoint();
  stream_.emplace(client_.io(), client_.sslContext());
  reader_.reset();
  auto [resolve_ec, results] =
      co_await resolver_.async_resolve(endpoint.host, std::to_string(endpoint.port), kAwait);
  if (resolve_ec) {
    co_return lost_reason_.value_or("cannot resolve the Redis host " + endpoint.host + ": " +
                                    resolve_ec.message());
  }
  auto [connect_ec, connected] =
      co_await asio::async_connect(stream_->next_layer(), results, kAwait);
  if (connect_ec) {
    co_return lost_reason_.value_or("cannot connect to Redis at " + where() + ": " +
                                    connect_ec.message());
  }
  boost::system::error_code ignored;
  stream_->next_layer().set_option(tcp::no_delay(true), ignored);
  stream_->next_layer().set_option(asio::socket_base::keep_alive(true), ignored);

  if (endpoint.tls) {
    SSL* ssl = stream_->native_handle();
    boost::system::error_code address_ec;
    asio::ip::make_address(endpoint.host, address_ec);
    if (address_ec) {
      // A name: send it (SNI) and require it in the certificate.
      SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());
      SSL_set1_host(ssl, endpoint.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), endpoint.host.c_str());
    }
    auto [handshake_ec] = co_await stream_->async_handshake(ssl::stream_base::client, kAwait);
    if (handshake_ec) {
      if (lost_reason_) co_return *lost_reason_;
      std::string reason = "TLS handshake with Redis at " + where() + " failed: ";
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        reason += "the server certificate is not trusted (";
        reason += X509_verify_cert_error_string(verify);
        reason += "); check redis_ca_file and the host name";
      } else {
        reason += handshake_ec.message();
      }
      co_return reason;
    }
  }

  // AUTH, SELECT and CLIENT SETNAME pipelined; their replies in order.
  std::string hello;
  std::vector<std::string> names;
  if (!endpoint.password.empty()) {
    if (endpoint.user.empty()) {
      redis::appendCommand(hello, {"AUTH", endpoint.password});
    } else {
      redis::appendCommand(hello, {"AUTH", endpoint.user, endpoint.password});
    }
    names.push_back("AUTH");
  }
  redis::appendCommand(hello, {"SELECT", std::to_string(endpoint.db)});
  names.push_back("SELECT");
  redis::appendCommand(hello, {"CLIENT", "SETNAME", client_.clientName()});
  names.push_back("CLIENT SETNAME");
  if (auto ec = co_await writeAll(hello)) co_return describe(ec);
  std::size_t answered = 0;
  while (answered < names.size()) {
    auto [ec, n] = co_await readSome();
    if (ec) co_return describe(ec);
    reader_.feed(read_buffer_.data(), n);
    std::string error;
    while (answered < names.size()) {
      auto reply = reader_.next(error);
      if (!reply) break;
      if (reply->isError()) {
        // The server's text (e.g. WRONGPASS …) names no secret; redacted all the same.
        co_return redis::redact(
            "Redis at " + where() + " refused " + names[answered] + ": " + reply->text,
            endpoint.password);
      }
      ++answered;
    }
    if (!error.empty()) co_return "Redis at " + where() + ": " + error;
  }
  if (lost_reason_) co_return *lost_reason_;
  co_return std::string();
}

asio::awaitable<std::string> Connection::readLoop() {
  for (;;) {
    auto [ec, n] = co_await readSome();
    if (ec) {
      auto reason = describe(ec);
      close(reason);
      co_return reason;
    }
    reader_.feed(read_buffer_.data(), n);
    std::string error;
    while (auto reply = reader_.next(error)) {
      if (kind_ == Kind::kCommands) {
        handleReply(std::move(*reply), error);
      } else {
        handlePush(std::move(*reply), error);
      }
      if (!error.empty()) break;
    }
    if (!error.empty()) {
      auto reason = "Redis connection to " + where() + ": " + error;
      close(reason);
      co_return reason;
    }
  }
}

asio::awaitable<std::string> Connection::writeLoop() {
  for (;;) {
    while (outbox_.empty() && raw_outbox_.empty()) {
      if (state_ != State::kReady) co_return lost_reason_.value_or(std::string());
      wake_.expires_at(SteadyClock::time_point::max());
      co_await wake_.async_wait(kAwait);
    }
    if (state_ != State::kReady) co_return lost_reason_.value_or(std::string());
    write_buffer_.clear();
    const auto now = SteadyClock::now();
    for (auto& raw : raw_outbox_) write_buffer_ += raw;
    raw_outbox_.clear();
    while (!outbox_.empty()) {
      auto cmd = std::move(outbox_.front());
      outbox_.pop_front();
      redis::appendCommand(write_buffer_, cmd->args);
      ++cmd->tries;
      cmd->sent_at = now;
      inflight_.push_back(std::move(cmd));  // before the write: a reply may beat its completion
    }
    if (auto ec = co_await writeAll(write_buffer_)) {
      auto reason = describe(ec);
      close(reason);
      co_return reason;
    }
  }
}

void Connection::handleReply(RedisReply reply, std::string& error) {
  if (inflight_.empty()) {
    error = "a reply to no command";
    return;
  }
  auto cmd = std::move(inflight_.front());
  inflight_.pop_front();
  client_.answered();
  auto done = std::move(cmd->done);
  cmd.reset();
  done(std::move(reply));
}

void Connection::handlePush(RedisReply reply, std::string& error) {
  if (reply.type != RedisReply::Type::kArray || reply.elements.empty()) {
    error = "unexpected reply on the subscriber connection";
    return;
  }
  const auto& kind = reply.elements[0].text;
  if (kind == "message" && reply.elements.size() == 3) {
    if (on_message_) on_message_(reply.elements[1].text, reply.elements[2].text);
  } else if (kind == "subscribe") {
    setSubscribed(true);
  } else if (kind == "pong") {
    if (!pings_.empty()) {
      auto waiter = std::move(pings_.front());
      pings_.pop_front();
      waiter.done(true);
    }
  } else {
    error = "unexpected push '" + kind + "' on the subscriber connection";
  }
}

void Connection::setSubscribed(bool subscribed) {
  if (subscribed_.exchange(subscribed, std::memory_order_acq_rel) != subscribed && on_state_) {
    on_state_(subscribed);
  }
}

void Connection::send(CommandPtr command) {
  outbox_.push_back(std::move(command));
  wake_.cancel();
}

void Connection::ping(std::function<void(bool)> done) {
  if (state_ != State::kReady || !subscribed()) {
    done(false);
    return;
  }
  std::string encoded;
  redis::appendCommand(encoded, {"PING"});
  raw_outbox_.push_back(std::move(encoded));
  pings_.push_back({std::move(done), SteadyClock::now()});
  wake_.cancel();
}

void Connection::setSubscription(std::string channel, RedisClient::MessageHandler on_message,
                                 RedisClient::StateHandler on_state) {
  channel_ = std::move(channel);
  on_message_ = std::move(on_message);
  on_state_ = std::move(on_state);
}

// Hands queued and in-flight commands back to the client: sent again when safe, failed otherwise.
void Connection::handOver(std::string_view reason) {
  auto outbox = std::move(outbox_);
  auto inflight = std::move(inflight_);
  outbox_.clear();
  inflight_.clear();
  raw_outbox_.clear();
  for (auto& cmd : inflight) client_.retry(std::move(cmd), true, reason);
  for (auto& cmd : outbox) client_.retry(std::move(cmd), false, reason);
  auto pings = std::move(pings_);
  pings_.clear();
  for (auto& waiter : pings) waiter.done(false);
}

void Connection::sweep(SteadyClock::time_point now) {
  const auto timeout = client_.config().command_timeout;
  if (state_ == State::kConnecting && now >= connect_deadline_) {
    close("timed out connecting to Redis at " + where() + " (after " +
          std::to_string(client_.config().connect_timeout.count()) + " ms)");
  } else if (state_ == State::kReady) {
    const bool reply_late = !inflight_.empty() && now - inflight_.front()->sent_at >= timeout;
    // The subscriber's PING only proves the feed is alive (a closed connection is seen at once):
    // declaring it lost fails every protected route closed, so a merely slow answer on a busy
    // host gets more time than a command (bench/cluster saw 503 storms with the plain timeout).
    const std::chrono::milliseconds ping_timeout =
        kind_ == Kind::kSubscriber
            ? std::max<std::chrono::milliseconds>(timeout * 5, std::chrono::seconds(5))
            : timeout;
    const bool pong_late = !pings_.empty() && now - pings_.front().sent_at >= ping_timeout;
    if (reply_late || pong_late) {
      close("no reply from Redis at " + where() + " within " + std::to_string(timeout.count()) +
            " ms");
    }
  }
}

// ---- subscriptions -------------------------------------------------------------------------

class SubscriptionImpl final : public RedisSubscription {
 public:
  SubscriptionImpl(std::shared_ptr<ClientImpl> client, ConnectionPtr connection)
      : client_(std::move(client)), connection_(std::move(connection)) {}
  ~SubscriptionImpl() override {
    // A raw pointer: the client outlives this posted call (its destructor posts after it and
    // joins), and holding a reference here could make the client thread destroy its own client.
    asio::post(client_->io(), [client = client_.get(), connection = connection_] {
      client->removeSubscriber(connection.get());
    });
  }

  bool isSubscribed() const override { return connection_->subscribed(); }

  Result<void> barrier() override {
    if (client_->onClientThread()) return StoreError::kUnavailable;
    auto promise = std::make_shared<std::promise<bool>>();
    auto answered = promise->get_future();
    asio::post(client_->io(), [connection = connection_, promise] {
      connection->ping([promise](bool ok) { promise->set_value(ok); });
    });
    // Bounded: the sweep closes the connection when the PONG is late, which fails the waiter.
    if (!answered.get()) return StoreError::kUnavailable;
    return {};
  }

 private:
  std::shared_ptr<ClientImpl> client_;
  ConnectionPtr connection_;
};

RedisSubscriptionPtr ClientImpl::subscribe(std::string channel, MessageHandler on_message,
                                           StateHandler on_state) {
  auto connection = std::make_shared<Connection>(*this, Connection::Kind::kSubscriber, 0);
  connection->setSubscription(std::move(channel), std::move(on_message), std::move(on_state));
  asio::post(io_, [this, connection] { addSubscriber(connection); });
  return std::make_unique<SubscriptionImpl>(shared_from_this(), connection);
}

}  // namespace

Result<RedisClientPtr> connectRedis(const RedisConfig& config, std::string* reason) {
  auto report = [&](std::string text) {
    if (reason != nullptr) *reason = std::move(text);
  };
  std::string error;
  auto endpoint = redis::parseRedisUrl(config.url, &error);
  if (!endpoint) {
    report(error);
    return StoreError::kInvalidArgument;
  }
  if (config.attempts < 1 || config.command_timeout <= 0ms || config.connect_timeout <= 0ms ||
      config.retry_backoff <= 0ms || config.reconnect_backoff_max < config.retry_backoff) {
    report("invalid Redis client settings (attempts, timeouts or backoff)");
    return StoreError::kInvalidArgument;
  }
  auto client = std::make_shared<ClientImpl>(config, std::move(*endpoint));
  if (!client->prepare(error)) {
    report(error);
    return StoreError::kInvalidArgument;
  }
  client->start();
  if (!client->awaitFirstConnection(error)) {
    report(error);
    return StoreError::kUnavailable;
  }
  return RedisClientPtr(std::move(client));
}

}  // namespace bulwark::store

#include "gateway/detail/worker.h"

#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <stdexcept>

#include "core/log.h"

namespace bulwark::gateway::detail {
namespace {

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// Runs a coroutine whose failure must not pass silently: an escaped exception is logged.
void spawnLogged(Executor executor, Task<void> task, const char* what) {
  asio::co_spawn(executor, std::move(task), [what](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      core::log(core::LogLevel::kError, "coroutine failed", {{"task", what}, {"error", e.what()}});
    }
  });
}

}  // namespace

Worker::Worker(Shared& shared, std::size_t index, Acceptor::protocol_type protocol,
               const asio::ip::tcp::endpoint& endpoint)
    : shared_(shared),
      index_(index),
      metrics_(shared.metrics->worker(index)),
      acceptor_(context_.get_executor()),
      sweep_timer_(context_.get_executor()),
      pools_(shared.routes->upstreams().size()) {
  head_.prev = head_.next = &head_;
  boost::system::error_code ec;
  acceptor_.open(protocol, ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.set_option(ReusePort(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" +
                             std::to_string(endpoint.port()) + ": " + ec.message() +
                             " (fix: BULWARK_LISTEN)");
  }
  port_ = acceptor_.local_endpoint().port();
}

void Worker::start() {
  spawnLogged(context_.get_executor(), acceptLoop(), "accept");
  spawnLogged(context_.get_executor(), sweepLoop(), "sweep");
  thread_ = std::thread([this] { context_.run(); });
}

void Worker::beginDrain() {
  asio::post(context_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    sweep();  // closes idle keep-alive connections now rather than at the next tick
  });
}

void Worker::stop() { context_.stop(); }

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::track(Tracked& entry) {
  entry.next = head_.next;
  entry.prev = &head_;
  head_.next->prev = &entry;
  head_.next = &entry;
}

void Worker::untrack(Tracked& entry) {
  entry.prev->next = entry.next;
  entry.next->prev = entry.prev;
  entry.prev = entry.next = nullptr;
}

std::optional<Socket> Worker::takePooled(std::size_t index) {
  auto& pool = pools_[index];
  if (pool.empty()) return std::nullopt;
  Socket socket = std::move(pool.back().socket);
  pool.pop_back();
  metrics_.upstream(index).idle.add(-1);
  return socket;
}

void Worker::returnPooled(std::size_t index, Socket socket) {
  auto& pool = pools_[index];
  if (pool.size() >= settings().upstream_max_idle ||
      shared_.draining.load(std::memory_order_relaxed)) {
    return;  // the socket closes here
  }
  pool.push_back({std::move(socket), now()});
  metrics_.upstream(index).idle.add(1);
}

Task<void> Worker::acceptLoop() {
  const auto& settings = this->settings();
  for (;;) {
    Socket socket(context_.get_executor());
    auto [ec] = co_await acceptor_.async_accept(socket, kAwait);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on a listener we cannot serve.
      core::log(core::LogLevel::kWarn, "accept failed", {{"error", ec.message()}});
      Timer pause(context_.get_executor());
      pause.expires_after(std::chrono::milliseconds(50));
      co_await pause.async_wait(kAwait);
      continue;
    }
    if (shared_.open_connections.load(std::memory_order_relaxed) >= settings.max_connections) {
      metrics_.connections_refused.add();
      // A best-effort, non-blocking answer; the connection closes either way.
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Content-Length: 71\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
          "{\"error\":\"overloaded\",\"error_description\":\"too many open connections\"}";
      boost::system::error_code ignored;
      socket.non_blocking(true, ignored);
      socket.write_some(asio::buffer(kBusy), ignored);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    spawnConnection(*this, std::move(socket));
  }
}

Task<void> Worker::sweepLoop() {
  for (;;) {
    sweep_timer_.expires_after(shared_.sweep_interval);
    auto [ec] = co_await sweep_timer_.async_wait(kAwait);
    if (ec == asio::error::operation_aborted && context_.stopped()) co_return;
    sweep();
  }
}

void Worker::sweep() {
  const SteadyTime current = now();
  const bool draining = shared_.draining.load(std::memory_order_relaxed);
  boost::system::error_code ignored;
  for (Tracked* entry = head_.next; entry != &head_; entry = entry->next) {
    if (entry->upstream != nullptr && current >= entry->upstream_deadline) {
      entry->upstream_timed_out = true;
      entry->upstream->close(ignored);
      entry->upstream = nullptr;
    } else if (current >= entry->client_deadline ||
               (draining && entry->phase == Phase::kIdle)) {
      entry->client_timed_out = current >= entry->client_deadline;
      if (entry->client != nullptr) entry->client->close(ignored);
      if (entry->upstream != nullptr) entry->upstream->close(ignored);
      entry->client_deadline = SteadyTime::max();
      if (entry->client_timed_out) metrics_.timeouts.add();
    }
  }
  // Idle upstream connections past their idle timeout, and all of them while draining.
  const auto idle_limit = settings().upstream_idle_timeout;
  for (std::size_t u = 0; u < pools_.size(); ++u) {
    auto& pool = pools_[u];
    const auto before = pool.size();
    std::erase_if(pool, [&](const PooledConnection& c) {
      return draining || current - c.idle_since >= idle_limit;
    });
    metrics_.upstream(u).idle.add(static_cast<std::int64_t>(pool.size()) -
                                  static_cast<std::int64_t>(before));
  }
}

}  // namespace bulwark::gateway::detail

#pragma once
// Asio vocabulary of the gateway: concrete executor types everywhere (no any_io_executor, whose
// type erasure costs ~11% instructions per proxied request) and error-code returning awaits.
// Private to src/gateway.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace bulwark::gateway::detail {

namespace asio = boost::asio;
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<asio::ip::tcp, Executor>;
using BasicSocket = asio::basic_socket<asio::ip::tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<asio::ip::tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;
template <class T>
using Task = asio::awaitable<T, Executor>;

// Completion token: `auto [ec, n] = co_await s.async_read_some(b, kAwait);` never throws.
inline constexpr auto kAwait = asio::as_tuple(asio::use_awaitable_t<Executor>{});

}  // namespace bulwark::gateway::detail

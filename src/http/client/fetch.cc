// The blocking client runs one coroutine on a private io_context on the caller's thread: Beast's
// stream timeouts only apply to asynchronous operations, and run_until() bounds the whole
// exchange (resolution included) however the peer behaves.

#include "http/client.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <optional>

namespace bulwark::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using asio::as_tuple;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

class FetchCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bulwark.http.fetch"; }
  std::string message(int value) const override {
    switch (static_cast<FetchErrc>(value)) {
      case FetchErrc::kBadUrl:
        return "not an absolute http(s) URL";
      case FetchErrc::kInsecureUrl:
        return "plain http is not allowed for this URL";
      case FetchErrc::kBadRequest:
        return "the request cannot be sent";
      case FetchErrc::kResolve:
        return "host name not resolved";
      case FetchErrc::kConnect:
        return "connection refused or unreachable";
      case FetchErrc::kTls:
        return "TLS handshake failed";
      case FetchErrc::kCertificate:
        return "server certificate not trusted";
      case FetchErrc::kTimeout:
        return "timed out";
      case FetchErrc::kResponseTooLarge:
        return "response too large";
      case FetchErrc::kBadResponse:
        return "malformed HTTP response";
      case FetchErrc::kIo:
        return "connection failed";
    }
    return "unknown fetch error";
  }
};

FetchError failure(FetchErrc code, std::string detail) {
  return {make_error_code(code), std::move(detail)};
}

bool isToken(std::string_view text) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

bool isFieldValue(std::string_view text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
  });
}

struct Target {
  bool tls = true;
  std::string host;  // without brackets
  std::string port;
  std::string host_header;
  std::string path;  // origin-form: path and query
};

FetchResult<Target> parseTarget(std::string_view url, const FetchOptions& options) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || !parsed->has_authority() || parsed->encoded_host().empty() ||
      parsed->has_userinfo() || parsed->has_fragment()) {
    return failure(FetchErrc::kBadUrl,
                   "expected scheme://host[:port]/path without credentials or fragment");
  }
  Target target;
  const std::string scheme(parsed->scheme());
  if (scheme != "https" && scheme != "http") {
    return failure(FetchErrc::kBadUrl, "unsupported scheme " + scheme);
  }
  target.tls = scheme == "https";
  target.host = parsed->host_type() == boost::urls::host_type::ipv6
                    ? std::string(parsed->encoded_host_address())
                    : std::string(parsed->encoded_host());
  target.port = parsed->has_port() ? std::string(parsed->port()) : (target.tls ? "443" : "80");
  target.host_header = std::string(parsed->encoded_host_and_port());
  target.path = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
  if (parsed->has_query()) {
    target.path += "?" + std::string(parsed->encoded_query());
  }
  if (!target.tls) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(target.host, ec);
    const bool loopback =
        !ec && (address.is_loopback() ||
                (address.is_v6() && address.to_v6().is_v4_mapped() &&
                 asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback()));
    if (!options.allow_plain_http_loopback || !loopback) {
      return failure(FetchErrc::kInsecureUrl,
                     "http:// is allowed only to a loopback address, when enabled");
    }
  }
  return target;
}

FetchResult<void> checkRequest(const FetchOptions& options) {
  if (!isToken(options.method)) {
    return failure(FetchErrc::kBadRequest, "the method is not an HTTP token");
  }
  for (const auto& [name, value] : options.headers) {
    if (!isToken(name) || !isFieldValue(value)) {
      return failure(FetchErrc::kBadRequest, "a header name or value cannot be sent");
    }
  }
  return {};
}

// The TLS context for one fetch: verify the chain and the host name; TLS 1.2 at least.
FetchResult<std::unique_ptr<ssl::context>> clientContext(const FetchOptions& options) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  context->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (options.ca_file.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    context->load_verify_file(options.ca_file, ec);
  }
  if (ec) {
    return failure(FetchErrc::kTls, "cannot load CA certificates: " + ec.message());
  }
  return context;
}

using Stream = ssl::stream<beast::tcp_stream>;

class Exchange {
 public:
  Exchange(const Target& target, const FetchOptions& options, asio::io_context& io,
           ssl::context* tls, std::chrono::steady_clock::time_point deadline)
      : target_(target), options_(options), io_(io), tls_(tls), deadline_(deadline) {}

  asio::awaitable<void> run() { result_ = co_await exchange(); }

  // The outcome once run() has finished; nullopt while it has not (timeout).
  std::optional<FetchResult<FetchResponse>>& result() { return result_; }

 private:
  asio::awaitable<FetchResult<FetchResponse>> exchange() {
    tcp::resolver resolver(io_);
    auto [resolve_ec, endpoints] =
        co_await resolver.async_resolve(target_.host, target_.port, as_tuple(use_awaitable));
    if (resolve_ec) {
      co_return failure(FetchErrc::kResolve, resolve_ec.message());
    }
    if (tls_ == nullptr) {
      beast::tcp_stream stream(io_);
      if (auto connected = co_await connect(stream, endpoints); !connected) {
        co_return connected.error();
      }
      co_return co_await roundTrip(stream);
    }
    Stream stream(io_, *tls_);
    SSL* ssl = stream.native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    boost::system::error_code ip_ec;
    asio::ip::make_address(target_.host, ip_ec);
    const bool is_ip = !ip_ec;
    if (is_ip
            ? X509_VERIFY_PARAM_set1_ip_asc(param, target_.host.c_str()) != 1
            : (X509_VERIFY_PARAM_set1_host(param, target_.host.c_str(), target_.host.size()) != 1 ||
               SSL_set_tlsext_host_name(ssl, target_.host.c_str()) != 1)) {
      co_return failure(FetchErrc::kTls, "cannot set the expected host name");
    }
    if (auto connected = co_await connect(beast::get_lowest_layer(stream), endpoints); !connected) {
      co_return connected.error();
    }
    beast::get_lowest_layer(stream).expires_at(deadline_);
    auto [handshake_ec] =
        co_await stream.async_handshake(ssl::stream_base::client, as_tuple(use_awaitable));
    if (handshake_ec) {
      if (handshake_ec == beast::error::timeout) {
        co_return failure(FetchErrc::kTimeout, "during the TLS handshake");
      }
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        co_return failure(FetchErrc::kCertificate, X509_verify_cert_error_string(verify));
      }
      co_return failure(FetchErrc::kTls, handshake_ec.message());
    }
    co_return co_await roundTrip(stream);
  }

  asio::awaitable<FetchResult<void>> connect(beast::tcp_stream& stream,
                                             const tcp::resolver::results_type& endpoints) {
    stream.expires_at(deadline_);
    auto [ec, endpoint] = co_await stream.async_connect(endpoints, as_tuple(use_awaitable));
    if (ec == beast::error::timeout) {
      co_return failure(FetchErrc::kTimeout, "while connecting");
    }
    if (ec) {
      co_return failure(FetchErrc::kConnect, ec.message());
    }
    co_return FetchResult<void>{};
  }

  template <class AsyncStream>
  asio::awaitable<FetchResult<FetchResponse>> roundTrip(AsyncStream& stream) {
    namespace bhttp = beast::http;
    bhttp::request<bhttp::string_body> request(bhttp::string_to_verb(options_.method), target_.path,
                                               11);
    if (request.method() == bhttp::verb::unknown) {
      request.method_string(options_.method);
    }
    request.set(bhttp::field::host, target_.host_header);
    for (const auto& [name, value] : options_.headers) {
      request.insert(name, value);
    }
    request.set(bhttp::field::connection, "close");
    request.body() = options_.body;
    if (!options_.body.empty() || options_.method == "POST" || options_.method == "PUT") {
      request.prepare_payload();
    }
    beast::get_lowest_layer(stream).expires_at(deadline_);
    auto [write_ec, written] =
        co_await bhttp::async_write(stream, request, as_tuple(use_awaitable));
    if (write_ec) {
      co_return ioFailure(write_ec, "sending the request");
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    parser.body_limit(options_.max_response_bytes);
    auto [read_ec, read] =
        co_await bhttp::async_read(stream, buffer, parser, as_tuple(use_awaitable));
    if (read_ec == bhttp::error::body_limit || read_ec == bhttp::error::header_limit ||
        read_ec == bhttp::error::buffer_overflow) {
      co_return failure(FetchErrc::kResponseTooLarge,
                        "more than " + std::to_string(options_.max_response_bytes) + " bytes");
    }
    if (read_ec && read_ec.category() == make_error_code(bhttp::error::bad_method).category()) {
      // Beast's parser errors: a head or framing that is not HTTP/1.1.
      co_return failure(FetchErrc::kBadResponse, read_ec.message());
    }
    if (read_ec) {
      co_return ioFailure(read_ec, "reading the response");
    }
    FetchResponse response;
    const auto& message = parser.get();
    response.status = message.result_int();
    for (const auto& field : message) {
      response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    response.body = std::move(parser.release().body());
    co_return response;
  }

  static FetchError ioFailure(const boost::system::error_code& ec, std::string_view during) {
    if (ec == beast::error::timeout) {
      return failure(FetchErrc::kTimeout, std::string("while ") + std::string(during));
    }
    // A TLS peer closing without close_notify could be a truncation attack: never a success.
    return failure(FetchErrc::kIo, std::string(during) + ": " + ec.message());
  }

  const Target& target_;
  const FetchOptions& options_;
  asio::io_context& io_;
  ssl::context* tls_;
  const std::chrono::steady_clock::time_point deadline_;
  std::optional<FetchResult<FetchResponse>> result_;
};

}  // namespace

const boost::system::error_category& fetchCategory() {
  static const FetchCategory category;
  return category;
}

boost::system::error_code make_error_code(FetchErrc error) {
  return {static_cast<int>(error), fetchCategory()};
}

void throw_exception_from_error(const FetchError& error, const boost::source_location& location) {
  boost::throw_exception(boost::system::system_error(error.code, error.detail), location);
}

std::string_view FetchResponse::header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (field.size() == name.size() &&
        std::equal(field.begin(), field.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return {};
}

FetchResult<FetchResponse> fetch(std::string_view url, const FetchOptions& options) {
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  auto target = parseTarget(url, options);
  if (!target) {
    return target.error();
  }
  if (auto valid = checkRequest(options); !valid) {
    return valid.error();
  }
  std::unique_ptr<ssl::context> tls;
  if (target->tls) {
    auto context = clientContext(options);
    if (!context) {
      return context.error();
    }
    tls = std::move(*context);
  }
  asio::io_context io(1);
  Exchange exchange(*target, options, io, tls.get(), deadline);
  asio::co_spawn(io, exchange.run(), [](std::exception_ptr error) {
    if (error) {
      std::rethrow_exception(error);  // only allocation failures; surfaces from io.run_until
    }
  });
  io.run_until(deadline);
  if (!exchange.result()) {
    return failure(FetchErrc::kTimeout, "no response within the timeout");
  }
  return std::move(*exchange.result());
}

}  // namespace bulwark::http

#pragma once
// A small blocking HTTPS client for the calls bulwark makes itself: fetching an identity
// provider's JWKS, and later posting audit events to a SIEM (Elasticsearch, Splunk HEC). One
// request per connection, on the calling thread: run it on a worker or maintenance thread,
// never on a gateway I/O thread.
//
// TLS always verifies the server's certificate chain (system CAs or a given CA file) and its host
// name (RFC 6125, IP addresses against IP SANs); TLS 1.2 is the minimum. Plain http:// is refused
// unless the caller allows it, and then only to a loopback address (tests, development). Every
// phase is bounded: the whole exchange by `timeout`, the response head and body by their limits.
// Redirects are not followed (a 3xx is returned as is).

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulwark::http {

enum class FetchErrc {
  kBadUrl = 1,        // not an absolute http(s) URL with a host (or it carries credentials)
  kInsecureUrl,       // http:// without allow_plain_http_loopback, or to a non-loopback host
  kBadRequest,        // a method, header name or value that cannot be sent (CR/LF, not a token)
  kResolve,           // the host name did not resolve
  kConnect,           // no address accepted a connection
  kTls,               // the TLS handshake failed for another reason than the certificate
  kCertificate,       // the server's certificate did not verify (chain or host name)
  kTimeout,           // the exchange took longer than FetchOptions::timeout
  kResponseTooLarge,  // the body exceeded max_response_bytes (or the head its limit)
  kBadResponse,       // not a valid HTTP/1.1 response
  kIo,                // the connection failed mid-exchange
};

const boost::system::error_category& fetchCategory();
boost::system::error_code make_error_code(FetchErrc error);

// Why a fetch failed: the code to act on and a one-line detail for logs (never a header value or
// body sent, so credentials in them cannot leak).
struct FetchError {
  boost::system::error_code code;
  std::string detail;
};
// Lets result<T, FetchError>::value() throw boost::system::system_error.
[[noreturn]] void throw_exception_from_error(const FetchError& error,
                                             const boost::source_location& location);

struct FetchOptions {
  std::string method = "GET";
  // Sent as given (Host, Content-Length and Connection are set by fetch()).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Longest whole exchange: resolve, connect, handshake, request and response.
  std::chrono::milliseconds timeout{10'000};
  std::size_t max_response_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  // CA certificates (PEM) to trust instead of the system store; empty: the system store.
  std::string ca_file;
  // Allows http:// to a loopback IP literal (127.0.0.0/8, ::1). Development and tests only.
  bool allow_plain_http_loopback = false;
};

struct FetchResponse {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as received
  std::string body;

  // Returns the first header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

template <class T>
using FetchResult = boost::system::result<T, FetchError>;

// Sends one request to `url` and reads the whole response. Blocks the calling thread for at
// most options.timeout. Thread-safe (each call has its own connection and TLS context).
[[nodiscard]] FetchResult<FetchResponse> fetch(std::string_view url, const FetchOptions& options);

}  // namespace bulwark::http

template <>
struct boost::system::is_error_code_enum<bulwark::http::FetchErrc> : std::true_type {};

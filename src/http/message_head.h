#pragma once
// Strict HTTP/1.1 message-head parsing (RFC 9110 / RFC 9112) and chunked-body decoding, on plain
// bytes, with no I/O. The proxy owns the framing of every message it forwards, so ambiguity that
// enables request smuggling is refused here, before anything reaches an upstream.
//
// Parsed views point into the caller's buffer and live as long as it does.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace bulwark::http {

struct HeadLimits {
  std::size_t max_request_line = 8192;   // bytes of "METHOD target HTTP/1.1"
  std::size_t max_header_bytes = 32768;  // bytes of the whole head, request line included
  std::size_t max_header_count = 100;
  std::uint64_t max_body_bytes = 10 * 1024 * 1024;  // Content-Length / decoded chunked total
};

// Why a head or body was refused; each maps to one status (see statusFor) and a short code that
// goes to the audit event.
enum class ParseError : std::uint8_t {
  kNone = 0,
  kRequestLineTooLong,     // 414
  kHeadTooLarge,           // 431
  kTooManyHeaders,         // 431
  kBadRequestLine,         // 400: shape, method token (non-ASCII included), target chars
  kBadVersion,             // 505: anything but HTTP/1.0 and HTTP/1.1
  kBadHeaderName,          // 400: empty / non-token name, whitespace before ':'
  kBadHeaderValue,         // 400: CR, LF, NUL or other control characters in a value
  kObsoleteLineFolding,    // 400: a field line starting with SP/HTAB
  kBareLineFeed,           // 400: LF without CR anywhere in the head
  kContentLengthAndTransferEncoding,  // 400
  kDuplicateContentLength,            // 400 (even with equal values)
  kBadContentLength,                  // 400: not 1*DIGIT, overflow
  kBadTransferEncoding,               // 400: not exactly "chunked" as the final and only coding
  kUnsupportedTransferEncoding,       // 501: a coding other than chunked
  kMissingHost,                       // 400: HTTP/1.1 without exactly one Host
  kDuplicateHost,                     // 400
  kBadHost,                           // 400: invalid host syntax
  kForeignAbsoluteTarget,  // 400: absolute-form whose authority differs from Host
  kBodyTooLarge,           // 413
  kBadChunk,               // 400: bad chunk size, missing CRLF, extension / trailer abuse
  kBadStatusLine,          // 502 (responses only)
};

// Returns the HTTP status the gateway answers with for `error`.
unsigned statusFor(ParseError error);
// Returns a stable snake_case code, e.g. "content_length_and_transfer_encoding".
std::string_view errorCode(ParseError error);

struct HeaderField {
  std::string_view name;   // as received; compare case-insensitively
  std::string_view value;  // leading/trailing OWS removed
};

enum class BodyFraming : std::uint8_t {
  kNone,           // no body
  kContentLength,  // exactly content_length bytes follow
  kChunked,        // chunked transfer coding follows
  kUntilClose,     // responses only: body ends when the upstream closes
};

struct RequestHead {
  std::string_view method;
  std::string_view target;  // origin-form path?query (absolute-form is reduced to it)
  std::string_view host;    // Host header value (or the absolute-form authority)
  unsigned version_minor = 1;  // HTTP/1.<minor>
  bool keep_alive = true;      // after Connection / version rules
  bool expect_continue = false;
  BodyFraming framing = BodyFraming::kNone;
  std::uint64_t content_length = 0;
  std::vector<HeaderField> fields;  // every field in order, including Host, CL, TE
  std::size_t head_bytes = 0;       // bytes consumed, final CRLFCRLF included
};

struct ResponseHead {
  unsigned status = 0;
  std::string_view reason;
  unsigned version_minor = 1;
  bool keep_alive = true;
  BodyFraming framing = BodyFraming::kNone;
  std::uint64_t content_length = 0;
  std::vector<HeaderField> fields;
  std::size_t head_bytes = 0;
};

enum class ParseStatus : std::uint8_t { kComplete, kIncomplete, kError };

struct ParseResult {
  ParseStatus status;
  ParseError error = ParseError::kNone;
};

// Parses one request head from the start of `buffer`. kIncomplete when more bytes are needed and
// the limits are not exceeded yet (limits are checked on partial input too, so a slow or endless
// head is refused as soon as it crosses them). Leading empty lines (RFC 9112 §2.2) are refused.
[[nodiscard]] ParseResult parseRequestHead(std::string_view buffer, const HeadLimits& limits,
                                           RequestHead& out);

// Parses one response head. `request_method` and the status decide framing: HEAD, 1xx, 204 and
// 304 carry no body; neither CL nor TE means kUntilClose.
[[nodiscard]] ParseResult parseResponseHead(std::string_view buffer, const HeadLimits& limits,
                                            std::string_view request_method, ResponseHead& out);

// Returns true when `name` is a hop-by-hop field (RFC 9110 §7.6.1) that a proxy never forwards:
// Connection, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade, Trailer,
// Proxy-Authenticate, Proxy-Authorization. (Fields named in Connection are found by the caller.)
bool isHopByHop(std::string_view name);

// Returns true when the comma-separated list `connection_value` names `name` (case-insensitive).
bool connectionListHas(std::string_view connection_value, std::string_view name);

bool equalsIgnoreCase(std::string_view a, std::string_view b);

// Incremental decoder of a chunked body (RFC 9112 §7.1). Feed bytes as they arrive; it reports
// the data spans to forward and when the body (including trailers, which are consumed and
// dropped) has ended. Chunk extensions are allowed but bounded; sizes are strict hex without
// leading "0x", sign or whitespace, at most 16 digits, and the total is bounded by max_body_bytes.
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(std::uint64_t max_body_bytes,
                          std::size_t max_line_bytes = 4096,
                          std::size_t max_trailer_bytes = 8192)
      : max_body_bytes_(max_body_bytes),
        max_line_bytes_(max_line_bytes),
        max_trailer_bytes_(max_trailer_bytes) {}

  struct Step {
    std::size_t consumed = 0;  // bytes of input used by this call
    std::string_view data;     // decoded body bytes (a view into the input), may be empty
    bool done = false;         // final chunk and trailers consumed
    ParseError error = ParseError::kNone;
  };

  // Decodes from `input`. Returns after at most one data span, so callers loop until `consumed`
  // covers the input or `done`/`error`. Never reads past the end of the message.
  Step decode(std::string_view input);

  std::uint64_t totalBytes() const { return total_; }

 private:
  enum class State : std::uint8_t { kSize, kData, kDataCrlf, kTrailer, kDone };
  State state_ = State::kSize;
  std::uint64_t max_body_bytes_;
  std::size_t max_line_bytes_;
  std::size_t max_trailer_bytes_;
  std::uint64_t remaining_ = 0;  // bytes left in the current chunk
  std::uint64_t total_ = 0;
  std::size_t line_bytes_ = 0;     // bytes of the current size/trailer line seen so far
  std::size_t trailer_bytes_ = 0;
  ParseError error_ = ParseError::kNone;  // sticky: after an error every call reports it again
  // Partial line carried between calls (size lines and trailers can be split across reads).
  std::vector<char> line_;
};

}  // namespace bulwark::http

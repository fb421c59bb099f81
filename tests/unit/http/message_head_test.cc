#include "http/message_head.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <tuple>

namespace bulwark::http {
namespace {

using namespace std::string_literals;  // "...\0..."s keeps embedded NULs

// Parses `raw` as a whole request head.
ParseResult parseRequest(std::string_view raw, RequestHead& head, const HeadLimits& limits = {}) {
  return parseRequestHead(raw, limits, head);
}

ParseError requestError(std::string_view raw, const HeadLimits& limits = {}) {
  RequestHead head;
  const ParseResult result = parseRequestHead(raw, limits, head);
  EXPECT_EQ(result.status == ParseStatus::kError, result.error != ParseError::kNone) << raw;
  if (result.status == ParseStatus::kIncomplete) {
    ADD_FAILURE() << "incomplete: " << raw;
  }
  return result.error;
}

ParseError responseError(std::string_view raw, std::string_view method = "GET") {
  ResponseHead head;
  const ParseResult result = parseResponseHead(raw, HeadLimits{}, method, head);
  if (result.status == ParseStatus::kIncomplete) {
    ADD_FAILURE() << "incomplete: " << raw;
  }
  return result.error;
}

std::string_view fieldValue(const std::vector<HeaderField>& fields, std::string_view name) {
  for (const HeaderField& field : fields) {
    if (equalsIgnoreCase(field.name, name)) {
      return field.value;
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Valid requests

TEST(RequestHeadTest, ParsesSimpleGet) {
  const std::string raw =
      "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\nextra";
  RequestHead head;
  const ParseResult result = parseRequest(raw, head);
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.error, ParseError::kNone);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/index.html?q=1");
  EXPECT_EQ(head.host, "example.com");
  EXPECT_EQ(head.version_minor, 1u);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_EQ(head.head_bytes, raw.size() - 5);
  ASSERT_EQ(head.fields.size(), 2u);
  EXPECT_EQ(head.fields[0].name, "Host");
  EXPECT_EQ(head.fields[1].name, "User-Agent");
  EXPECT_EQ(head.fields[1].value, "t");
}

TEST(RequestHeadTest, TrimsOwsAndKeepsInnerWhitespaceAndObsText) {
  const std::string raw =
      "GET / HTTP/1.1\r\nHost:example.com\r\nX-A: \t a \t b \t\r\nX-B:\xC3\xA9t\xC3\xA9\r\n"
      "X-Empty:\r\nX-Long: 0123456789abcdef\t0123456789abcdef0123456789abcdef\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parseRequest(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(fieldValue(head.fields, "host"), "example.com");
  EXPECT_EQ(fieldValue(head.fields, "x-a"), "a \t b");
  EXPECT_EQ(fieldValue(head.fields, "x-b"), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(fieldValue(head.fields, "x-empty"), "");
  EXPECT_EQ(fieldValue(head.fields, "x-long"),
            "0123456789abcdef\t0123456789abcdef0123456789abcdef");
}

TEST(RequestHeadTest, ParsesPostWithContentLength) {
  RequestHead head;
  const std::string raw =
      "POST /api HTTP/1.1\r\nHost: a.example:8080\r\nContent-Length: 0012\r\n\r\nhello world!";
  ASSERT_EQ(parseRequest(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(head.content_length, 12u);
  EXPECT_EQ(raw.substr(head.head_bytes), "hello world!");
}

TEST(RequestHeadTest, ContentLengthZeroIsContentLengthFraming) {
  RequestHead head;
  ASSERT_EQ(parseRequest("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(head.content_length, 0u);
}

TEST(RequestHeadTest, ParsesChunked) {
  for (const char* te : {"chunked", "Chunked", " CHUNKED ", "chunked\t"}) {
    RequestHead head;
    const std::string raw =
        std::string("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:") + te + "\r\n\r\n";
    ASSERT_EQ(parseRequest(raw, head).status, ParseStatus::kComplete) << te;
    EXPECT_EQ(head.framing, BodyFraming::kChunked);
  }
}

TEST(RequestHeadTest, ReducesAbsoluteFormWithSameHost) {
  RequestHead head;
  ASSERT_EQ(parseRequest("GET http://Example.COM:8080/p/q?x=1 HTTP/1.1\r\n"
                         "Host: example.com:8080\r\n\r\n",
                         head)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.target, "/p/q?x=1");
  EXPECT_EQ(head.host, "example.com:8080");

  ASSERT_EQ(
      parseRequest("GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", head).status,
      ParseStatus::kComplete);
  EXPECT_EQ(head.target, "/");
}

TEST(RequestHeadTest, AbsoluteFormGivesHostForHttp10WithoutHost) {
  RequestHead head;
  ASSERT_EQ(parseRequest("GET http://[::1]:81/x HTTP/1.0\r\n\r\n", head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.host, "[::1]:81");
  EXPECT_EQ(head.target, "/x");
}

TEST(RequestHeadTest, Http10KeepAliveRules) {
  RequestHead head;
  ASSERT_EQ(parseRequest("GET / HTTP/1.0\r\n\r\n", head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.version_minor, 0u);
  EXPECT_FALSE(head.keep_alive);
  EXPECT_TRUE(head.host.empty());

  ASSERT_EQ(parseRequest("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", head).status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);

  ASSERT_EQ(parseRequest("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", head).status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
}

TEST(RequestHeadTest, Http11ConnectionClose) {
  RequestHead head;
  ASSERT_EQ(parseRequest("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\nConnection: , Close\r\n"
                         "\r\n",
                         head)
                .status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parseRequest("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", head).status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
}

TEST(RequestHeadTest, ExpectContinue) {
  RequestHead head;
  ASSERT_EQ(parseRequest("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                         "Expect: 100-Continue\r\n\r\n",
                         head)
                .status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.expect_continue);
  // RFC 9110 §10.1.1: ignored for HTTP/1.0.
  ASSERT_EQ(
      parseRequest("PUT / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", head)
          .status,
      ParseStatus::kComplete);
  EXPECT_FALSE(head.expect_continue);
}

TEST(RequestHeadTest, OptionsAsterisk) {
  RequestHead head;
  ASSERT_EQ(parseRequest("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.target, "*");
  EXPECT_EQ(requestError("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), ParseError::kBadRequestLine);
}

TEST(RequestHeadTest, AcceptsValidHostForms) {
  for (const char* host :
       {"example.com", "EXAMPLE.com.", "127.0.0.1", "127.0.0.1:65535", "[::1]", "[2001:db8::1]:443",
        "[::ffff:1.2.3.4]", "a_b-c~d", "xn--nxasmq6b", "%41bc"}) {
    RequestHead head;
    const std::string raw = std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n";
    EXPECT_EQ(parseRequest(raw, head).status, ParseStatus::kComplete) << host;
    EXPECT_EQ(head.host, host);
  }
}

TEST(RequestHeadTest, ReusesFieldCapacity) {
  RequestHead head;
  ASSERT_EQ(parseRequest("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", head).status,
            ParseStatus::kComplete);
  const auto* storage = head.fields.data();
  const std::size_t capacity = head.fields.capacity();
  ASSERT_EQ(parseRequest("GET / HTTP/1.1\r\nHost: b\r\n\r\n", head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.fields.size(), 1u);
  EXPECT_EQ(head.fields.data(), storage);
  EXPECT_EQ(head.fields.capacity(), capacity);
  EXPECT_EQ(head.host, "b");
}

TEST(RequestHeadTest, ResetsPreviousResultOnReuse) {
  RequestHead head;
  ASSERT_EQ(parseRequest("POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: x\r\n\r\n", head).status,
            ParseStatus::kComplete);
  ASSERT_EQ(parseRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_EQ(head.content_length, 0u);
  EXPECT_EQ(head.version_minor, 1u);
  EXPECT_TRUE(head.keep_alive);
}

// ---------------------------------------------------------------------------------------------
// Incremental input and limits

TEST(RequestHeadTest, ByteByByteIsIncompleteUntilTheEnd) {
  const std::string raw =
      "POST http://h.example/up?x HTTP/1.1\r\nHost: H.example\r\nTransfer-Encoding: chunked\r\n"
      "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\taaaaaaaaa\r\nConnection: close\r\n\r\n";
  RequestHead head;
  for (std::size_t n = 0; n < raw.size(); ++n) {
    const ParseResult result = parseRequest(std::string_view(raw).substr(0, n), head);
    ASSERT_EQ(result.status, ParseStatus::kIncomplete) << "prefix " << n;
    ASSERT_EQ(result.error, ParseError::kNone);
  }
  ASSERT_EQ(parseRequest(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.head_bytes, raw.size());
  EXPECT_EQ(head.target, "/up?x");
  EXPECT_EQ(head.framing, BodyFraming::kChunked);
  EXPECT_FALSE(head.keep_alive);
}

TEST(RequestHeadTest, ResponseByteByByteIsIncompleteUntilTheEnd) {
  const std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
  ResponseHead head;
  for (std::size_t n = 0; n < raw.size(); ++n) {
    ASSERT_EQ(parseResponseHead(std::string_view(raw).substr(0, n), {}, "GET", head).status,
              ParseStatus::kIncomplete)
        << n;
  }
  ASSERT_EQ(parseResponseHead(raw, {}, "GET", head).status, ParseStatus::kComplete);
}

TEST(RequestHeadTest, RequestLineTooLongWhileIncomplete) {
  HeadLimits limits;
  limits.max_request_line = 64;
  RequestHead head;
  const std::string line = "GET /" + std::string(59, 'a') + " HTTP/1.1";  // 73 bytes
  // Up to 64 bytes of line plus a possible CR it is merely incomplete.
  EXPECT_EQ(parseRequestHead(std::string_view(line).substr(0, 65), limits, head).status,
            ParseStatus::kIncomplete);
  const ParseResult result = parseRequestHead(std::string_view(line).substr(0, 66), limits, head);
  EXPECT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error, ParseError::kRequestLineTooLong);
  EXPECT_EQ(requestError(line + "\r\nHost: a\r\n\r\n", limits), ParseError::kRequestLineTooLong);

  // Exactly at the limit is fine.
  const std::string exact = "GET /" + std::string(50, 'a') + " HTTP/1.1";
  ASSERT_EQ(exact.size(), 64u);
  EXPECT_EQ(parseRequestHead(exact + "\r\nHost: a\r\n\r\n", limits, head).status,
            ParseStatus::kComplete);
}

TEST(RequestHeadTest, HeadTooLargeWhileIncomplete) {
  HeadLimits limits;
  limits.max_header_bytes = 100;
  RequestHead head;
  std::string raw = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  raw += std::string(200, 'b');  // no end of head in sight
  EXPECT_EQ(parseRequestHead(std::string_view(raw).substr(0, 100), limits, head).status,
            ParseStatus::kIncomplete);
  const ParseResult result = parseRequestHead(std::string_view(raw).substr(0, 101), limits, head);
  EXPECT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error, ParseError::kHeadTooLarge);

  // A head of exactly max_header_bytes is accepted, one more byte is not; a body after it does
  // not count.
  std::string exact = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  exact += std::string(100 - exact.size() - 4, 'c') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), 100u);
  EXPECT_EQ(parseRequestHead(exact + "body", limits, head).status, ParseStatus::kComplete);
  exact.insert(30, "c");
  EXPECT_EQ(requestError(exact, limits), ParseError::kHeadTooLarge);
}

TEST(RequestHeadTest, TooManyHeaders) {
  HeadLimits limits;
  limits.max_header_count = 3;
  RequestHead head;
  EXPECT_EQ(
      parseRequestHead("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits, head).status,
      ParseStatus::kComplete);
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits),
            ParseError::kTooManyHeaders);
  // Refused while the head is still arriving.
  const ParseResult result =
      parseRequestHead("GET / HTTP/1.1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA:", limits, head);
  EXPECT_EQ(result.error, ParseError::kTooManyHeaders);
}

TEST(RequestHeadTest, GarbageIsRefusedBeforeTheLineEnds) {
  EXPECT_EQ(requestError("\x16\x03\x01\x02\x00"s), ParseError::kBadRequestLine);  // TLS hello
  EXPECT_EQ(requestError("\r\n"), ParseError::kBadRequestLine);
  EXPECT_EQ(requestError("\r"), ParseError::kBadRequestLine);
  EXPECT_EQ(requestError("GET /a\x01"), ParseError::kBadRequestLine);
}

// ---------------------------------------------------------------------------------------------
// Request-line attacks

TEST(RequestHeadAttackTest, BadRequestLine) {
  const std::string cases[] = {
      "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",     // leading empty line
      "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",       // leading bare LF
      "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",        // double SP
      "GET /  HTTP/1.1\r\nHost: a\r\n\r\n",        // double SP before version
      "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",        // HTAB separator
      " GET / HTTP/1.1\r\nHost: a\r\n\r\n",        // leading SP
      "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",        // trailing SP
      "GET /\r\nHost: a\r\n\r\n",                  // HTTP/0.9 shape
      "GET / \r\nHost: a\r\n\r\n",                 // empty version
      "G\xC3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n",  // non-ASCII method
      "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n",        // non-tchar method
      "GET /\x7F HTTP/1.1\r\nHost: a\r\n\r\n",     // DEL in target
      "GET /\xFF HTTP/1.1\r\nHost: a\r\n\r\n",     // non-ASCII target
      "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n",     // HTAB in target
      "GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n"s,    // NUL in target
      "GET / HTTP/1.1\rHost: a\r\n\r\n",           // bare CR ends nothing
      "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n",       // bare CR before CRLF
      "GET / HTTX/1.1\r\nHost: a\r\n\r\n",         // garbage version
      "GET / http/1.1\r\nHost: a\r\n\r\n",         // HTTP-name is case-sensitive
      "GET / HTTP/1.10\r\nHost: a\r\n\r\n",
      "GET / HTTP/1\r\nHost: a\r\n\r\n",
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",  // authority-form
      "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n",          // CONNECT is never proxied
      "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n",  // authority-form without CONNECT
      "GET ftp://a/x HTTP/1.1\r\nHost: a\r\n\r\n",       // other scheme
      "GET http:/a/x HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",        // empty authority
      "GET http://user@a/x HTTP/1.1\r\nHost: a\r\n\r\n",  // userinfo
      "GET http://a?x HTTP/1.1\r\nHost: a\r\n\r\n",       // query without path
      "GET *x HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET x/ HTTP/1.1\r\nHost: a\r\n\r\n",
  };
  for (const std::string& raw : cases) {
    EXPECT_EQ(requestError(raw), ParseError::kBadRequestLine) << raw;
  }
}

TEST(RequestHeadAttackTest, BadVersion) {
  for (const char* version : {"HTTP/1.2", "HTTP/2.0", "HTTP/0.9", "HTTP/3.1", "HTTP/9.9"}) {
    const std::string raw = std::string("GET / ") + version + "\r\nHost: a\r\n\r\n";
    EXPECT_EQ(requestError(raw), ParseError::kBadVersion) << version;
  }
}

TEST(RequestHeadAttackTest, BareLineFeed) {
  const std::string cases[] = {
      "GET / HTTP/1.1\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\n\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX\n: b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\n\r\n",
  };
  for (const std::string& raw : cases) {
    EXPECT_EQ(requestError(raw), ParseError::kBareLineFeed) << raw;
  }
}

// ---------------------------------------------------------------------------------------------
// Field-line attacks

TEST(RequestHeadAttackTest, BadHeaderName) {
  const std::string cases[] = {
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n",   // SP before ':'
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 5\r\n\r\n",  // HTAB before ':'
      "GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n",              // empty name
      "GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n",       // non-tchar
      "GET / HTTP/1.1\r\nHost: a\r\nX\xC3\xA9: 1\r\n\r\n",  // non-ASCII
      "GET / HTTP/1.1\r\nHost: a\r\nX\x00Y: 1\r\n\r\n"s,    // NUL
      "GET / HTTP/1.1\r\nHost: a\r\n\"X\": 1\r\n\r\n",
  };
  for (const std::string& raw : cases) {
    EXPECT_EQ(requestError(raw), ParseError::kBadHeaderName) << raw;
  }
}

TEST(RequestHeadAttackTest, BadHeaderValue) {
  const std::string cases[] = {
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00"
      "b\r\n\r\n"s,                                     // NUL
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",   // bare CR
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n",    // CR CR LF
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7F\r\n\r\n",  // DEL
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\x1B[31m\r\n\r\n",  // terminal escape
      "GET / HTTP/1.1\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x0B\r\n\r\n",  // after SWAR
      "GET / HTTP/1.1\r\nHost: a\r\nX\ry: 1\r\n\r\n",  // bare CR in a name
      "GET / HTTP/1.1\r\nHost: a\r\n\rX: 1\r\n\r\n",   // bare CR at line start
      "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
  };
  for (const std::string& raw : cases) {
    EXPECT_EQ(requestError(raw), ParseError::kBadHeaderValue) << raw;
  }
}

TEST(RequestHeadAttackTest, ControlByteAtEveryOffsetOfALongValue) {
  // Exercises every lane of the 8-byte fast path.
  for (std::size_t at = 0; at < 40; ++at) {
    for (char bad : {'\0', '\x01', '\x1F', '\x7F'}) {
      std::string value(40, 'v');
      value[at] = bad;
      const std::string raw = "GET / HTTP/1.1\r\nHost: a\r\nX: " + value + "\r\n\r\n";
      EXPECT_EQ(requestError(raw), ParseError::kBadHeaderValue) << at << " " << int{bad};
    }
    std::string target(40, 'p');
    target[at] = '\x7F';
    EXPECT_EQ(requestError("GET /" + target + " HTTP/1.1\r\nHost: a\r\n\r\n"),
              ParseError::kBadRequestLine)
        << at;
    target[at] = '\x80';
    EXPECT_EQ(requestError("GET /" + target + " HTTP/1.1\r\nHost: a\r\n\r\n"),
              ParseError::kBadRequestLine)
        << at;
  }
}

TEST(RequestHeadAttackTest, ObsoleteLineFolding) {
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"),
            ParseError::kObsoleteLineFolding);
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n"),
            ParseError::kObsoleteLineFolding);
  // Whitespace between the request line and the first field (RFC 9112 §2.2).
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), ParseError::kObsoleteLineFolding);
  // Folded Transfer-Encoding, a classic smuggling vector.
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n"
                         "Content-Length: 3\r\n\r\n"),
            ParseError::kObsoleteLineFolding);
}

// ---------------------------------------------------------------------------------------------
// Framing attacks

TEST(RequestHeadAttackTest, ContentLengthAndTransferEncoding) {
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"),
            ParseError::kContentLengthAndTransferEncoding);
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                         "content-length: 0\r\n\r\n"),
            ParseError::kContentLengthAndTransferEncoding);
  EXPECT_EQ(requestError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
                         "Content-Length: 4\r\n\r\n"),
            ParseError::kContentLengthAndTransferEncoding);
}

TEST(RequestHeadAttackTest, DuplicateContentLength) {
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                         "Content-Length: 4\r\n\r\n"),
            ParseError::kDuplicateContentLength);
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                         "CONTENT-LENGTH: 5\r\n\r\n"),
            ParseError::kDuplicateContentLength);
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\n"),
            ParseError::kDuplicateContentLength);
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4,\r\n\r\n"),
            ParseError::kDuplicateContentLength);
}

TEST(RequestHeadAttackTest, BadContentLength) {
  for (const char* value :
       {"", "+4", "-1", "0x10", "4 4", "4\t4", "1e3", "4.0", "\xD9\xA4", "9223372036854775808",
        "18446744073709551616", "99999999999999999999999999"}) {
    const std::string raw =
        std::string("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ") + value + "\r\n\r\n";
    EXPECT_EQ(requestError(raw), ParseError::kBadContentLength) << value;
  }
}

TEST(RequestHeadAttackTest, BodyTooLarge) {
  HeadLimits limits;
  limits.max_body_bytes = 1000;
  RequestHead head;
  EXPECT_EQ(
      parseRequestHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n", limits, head)
          .status,
      ParseStatus::kComplete);
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", limits),
            ParseError::kBodyTooLarge);
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n"
                         "\r\n"),
            ParseError::kBodyTooLarge);
}

TEST(RequestHeadAttackTest, BadTransferEncoding) {
  for (const char* value :
       {"chunked, chunked", "chunked,chunked", "chunked, gzip", "", ",", "chunked,", ", chunked",
        "chunked;q=1", "chu nked", "\"chunked\"", "chunked\x01"}) {
    const std::string raw =
        std::string("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ") + value + "\r\n\r\n";
    const ParseError error = requestError(raw);
    // "chunked\x01" is caught earlier as a bad value byte.
    EXPECT_TRUE(error == ParseError::kBadTransferEncoding || error == ParseError::kBadHeaderValue)
        << value << " " << errorCode(error);
    if (std::string_view(value) != "chunked\x01") {
      EXPECT_EQ(error, ParseError::kBadTransferEncoding) << value;
    }
  }
  // Combined over two fields: chunked then another coding, or chunked twice.
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                         "Transfer-Encoding: gzip\r\n\r\n"),
            ParseError::kBadTransferEncoding);
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"),
            ParseError::kBadTransferEncoding);
  // Transfer-Encoding in HTTP/1.0 (RFC 9112 §6.1).
  EXPECT_EQ(requestError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ParseError::kBadTransferEncoding);
}

TEST(RequestHeadAttackTest, UnsupportedTransferEncoding) {
  for (const char* value : {"gzip", "gzip, chunked", "identity", "x-custom,chunked"}) {
    const std::string raw =
        std::string("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ") + value + "\r\n\r\n";
    EXPECT_EQ(requestError(raw), ParseError::kUnsupportedTransferEncoding) << value;
  }
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"),
            ParseError::kUnsupportedTransferEncoding);
}

TEST(RequestHeadAttackTest, LookalikeFramingFieldsAreNotFraming) {
  RequestHead head;
  ASSERT_EQ(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n"
                         "Content-Lengthx: 5\r\n\r\n",
                         head)
                .status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
}

// ---------------------------------------------------------------------------------------------
// Host attacks

TEST(RequestHeadAttackTest, MissingHost) {
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\n\r\n"), ParseError::kMissingHost);
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n"), ParseError::kMissingHost);
  EXPECT_EQ(requestError("GET http://a/ HTTP/1.1\r\n\r\n"), ParseError::kMissingHost);
}

TEST(RequestHeadAttackTest, DuplicateHost) {
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
            ParseError::kDuplicateHost);
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\nHost: a\r\nhOST: b\r\n\r\n"),
            ParseError::kDuplicateHost);
  EXPECT_EQ(requestError("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
            ParseError::kDuplicateHost);
}

TEST(RequestHeadAttackTest, BadHost) {
  for (const char* host :
       {"",         "a b",  "a/b",  "a@b",    "a:b",       "a:",      ":80",    "a:65536",
        "a:123456", "a:-1", "[::1", "[::1]x", "[:::1]",    "[]",      "[::1]:", "[fe80::1%25eth0]",
        "a,b\"",    "a\\b", "%4",   "%zz",    "a\xC3\xA9", "a:80:80", "a#b",    "a?b"}) {
    const std::string raw = std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n";
    EXPECT_EQ(requestError(raw), ParseError::kBadHost) << host;
  }
  EXPECT_EQ(requestError("GET / HTTP/1.0\r\nHost: a/b\r\n\r\n"), ParseError::kBadHost);
}

TEST(RequestHeadAttackTest, ForeignAbsoluteTarget) {
  EXPECT_EQ(requestError("GET http://evil.example/ HTTP/1.1\r\nHost: good.example\r\n\r\n"),
            ParseError::kForeignAbsoluteTarget);
  EXPECT_EQ(requestError("GET http://good.example:8080/ HTTP/1.1\r\nHost: good.example\r\n\r\n"),
            ParseError::kForeignAbsoluteTarget);
  EXPECT_EQ(requestError("GET http://good.example/ HTTP/1.0\r\nHost: good.example.evil\r\n\r\n"),
            ParseError::kForeignAbsoluteTarget);
}

// ---------------------------------------------------------------------------------------------
// Responses

ResponseHead parseResponseOk(std::string_view raw, std::string_view method = "GET") {
  ResponseHead head;
  const ParseResult result = parseResponseHead(raw, HeadLimits{}, method, head);
  EXPECT_EQ(result.status, ParseStatus::kComplete) << raw << " " << errorCode(result.error);
  return head;
}

TEST(ResponseHeadTest, ContentLength) {
  const std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
  const ResponseHead head = parseResponseOk(raw);
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.reason, "OK");
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(head.content_length, 5u);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_EQ(head.head_bytes, raw.size() - 5);
}

TEST(ResponseHeadTest, NoBodyLimitForResponses) {
  HeadLimits limits;
  limits.max_body_bytes = 10;
  ResponseHead head;
  const ParseResult result = parseResponseHead(
      "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n", limits, "GET", head);
  EXPECT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(head.content_length, 1000000000u);
}

TEST(ResponseHeadTest, Chunked) {
  const ResponseHead head =
      parseResponseOk("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(head.framing, BodyFraming::kChunked);
  EXPECT_TRUE(head.keep_alive);
}

TEST(ResponseHeadTest, UntilClose) {
  ResponseHead head = parseResponseOk("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
  EXPECT_EQ(head.framing, BodyFraming::kUntilClose);
  EXPECT_FALSE(head.keep_alive);
  head = parseResponseOk("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(head.framing, BodyFraming::kUntilClose);
  EXPECT_FALSE(head.keep_alive);
}

TEST(ResponseHeadTest, NoBodyResponses) {
  for (const char* raw : {"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
                          "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
                          "HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 103 Early Hints\r\n\r\n",
                          "HTTP/1.1 304 Not Modified\r\n\r\n", "HTTP/1.1 204\r\n\r\n"}) {
    const ResponseHead head = parseResponseOk(raw);
    EXPECT_EQ(head.framing, BodyFraming::kNone) << raw;
    EXPECT_TRUE(head.keep_alive) << raw;
  }
  ResponseHead head = parseResponseOk("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", "HEAD");
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_EQ(head.content_length, 42u);
  head = parseResponseOk("HTTP/1.1 200 OK\r\n\r\n", "HEAD");
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_TRUE(head.keep_alive);
}

TEST(ResponseHeadTest, StatusLineShapes) {
  ResponseHead head = parseResponseOk("HTTP/1.1 200\r\n\r\n");
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.reason, "");
  head = parseResponseOk("HTTP/1.1 404 \r\n\r\n");
  EXPECT_EQ(head.reason, "");
  head = parseResponseOk("HTTP/1.0 503 Service  Unavailable \xC3\xA9\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(head.version_minor, 0u);
  EXPECT_EQ(head.status, 503u);
  EXPECT_EQ(head.reason, "Service  Unavailable \xC3\xA9");
  EXPECT_FALSE(head.keep_alive);
}

TEST(ResponseHeadTest, ConnectionClose) {
  const ResponseHead head =
      parseResponseOk("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(head.keep_alive);
}

TEST(ResponseHeadAttackTest, BadStatusLine) {
  const std::string cases[] = {
      "HTTP/1.1 20\r\n\r\n",         "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1  200 OK\r\n\r\n",    "HTTP/1.2 200 OK\r\n\r\n",
      "HTTP/2 200 OK\r\n\r\n",       "HTTP/1.1 099 X\r\n\r\n",
      "HTTP/1.1 600 X\r\n\r\n",      "HTTP/1.1 2x0 OK\r\n\r\n",
      "http/1.1 200 OK\r\n\r\n",     "HTTP/1.1 200 O\x01K\r\n\r\n",
      "HTTP/1.1 200 O\rK\r\n\r\n",   "HTTP/1.1\t200 OK\r\n\r\n",
      "HTTP/1.1 200\tOK\r\n\r\n",    "<html>",
      "\r\nHTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 200 OK\x7F\r\n\r\n",
  };
  for (const std::string& raw : cases) {
    EXPECT_EQ(responseError(raw), ParseError::kBadStatusLine) << raw;
  }
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\n\r\n"), ParseError::kBareLineFeed);
}

TEST(ResponseHeadAttackTest, FramingAttacks) {
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n"
                          "\r\n"),
            ParseError::kContentLengthAndTransferEncoding);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"),
            ParseError::kDuplicateContentLength);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            ParseError::kBadContentLength);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
            ParseError::kBadTransferEncoding);
  EXPECT_EQ(responseError("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ParseError::kBadTransferEncoding);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
            ParseError::kUnsupportedTransferEncoding);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"),
            ParseError::kObsoleteLineFolding);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nX : a\r\n\r\n"), ParseError::kBadHeaderName);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nX: a\x00\r\n\r\n"s), ParseError::kBadHeaderValue);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nX: a\n\r\n"), ParseError::kBareLineFeed);
}

TEST(ResponseHeadAttackTest, LimitsWhileIncomplete) {
  HeadLimits limits;
  limits.max_header_bytes = 64;
  ResponseHead head;
  const std::string raw = "HTTP/1.1 200 OK\r\nX: " + std::string(100, 'a');
  EXPECT_EQ(parseResponseHead(raw, limits, "GET", head).error, ParseError::kHeadTooLarge);
  limits = HeadLimits{};
  limits.max_request_line = 20;
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200 " + std::string(30, 'r'), limits, "GET", head).error,
            ParseError::kBadStatusLine);
}

// ---------------------------------------------------------------------------------------------
// Helpers

TEST(HelpersTest, StatusAndCodeForEveryError) {
  const std::tuple<ParseError, unsigned, std::string_view> expected[] = {
      {ParseError::kNone, 200, "none"},
      {ParseError::kRequestLineTooLong, 414, "request_line_too_long"},
      {ParseError::kHeadTooLarge, 431, "head_too_large"},
      {ParseError::kTooManyHeaders, 431, "too_many_headers"},
      {ParseError::kBadRequestLine, 400, "bad_request_line"},
      {ParseError::kBadVersion, 505, "bad_version"},
      {ParseError::kBadHeaderName, 400, "bad_header_name"},
      {ParseError::kBadHeaderValue, 400, "bad_header_value"},
      {ParseError::kObsoleteLineFolding, 400, "obsolete_line_folding"},
      {ParseError::kBareLineFeed, 400, "bare_line_feed"},
      {ParseError::kContentLengthAndTransferEncoding, 400, "content_length_and_transfer_encoding"},
      {ParseError::kDuplicateContentLength, 400, "duplicate_content_length"},
      {ParseError::kBadContentLength, 400, "bad_content_length"},
      {ParseError::kBadTransferEncoding, 400, "bad_transfer_encoding"},
      {ParseError::kUnsupportedTransferEncoding, 501, "unsupported_transfer_encoding"},
      {ParseError::kMissingHost, 400, "missing_host"},
      {ParseError::kDuplicateHost, 400, "duplicate_host"},
      {ParseError::kBadHost, 400, "bad_host"},
      {ParseError::kForeignAbsoluteTarget, 400, "foreign_absolute_target"},
      {ParseError::kBodyTooLarge, 413, "body_too_large"},
      {ParseError::kBadChunk, 400, "bad_chunk"},
      {ParseError::kBadStatusLine, 502, "bad_status_line"},
  };
  for (const auto& [error, status, code] : expected) {
    EXPECT_EQ(statusFor(error), status) << code;
    EXPECT_EQ(errorCode(error), code);
  }
  EXPECT_EQ(static_cast<std::size_t>(ParseError::kBadStatusLine) + 1, std::size(expected));
}

TEST(HelpersTest, HopByHop) {
  for (const char* name :
       {"Connection", "keep-alive", "PROXY-CONNECTION", "te", "Transfer-Encoding", "Upgrade",
        "Trailer", "Proxy-Authenticate", "proxy-authorization"}) {
    EXPECT_TRUE(isHopByHop(name)) << name;
  }
  for (const char* name :
       {"Host", "Content-Length", "Trailers", "TEx", "Authorization", "Proxy-Authorization2", ""}) {
    EXPECT_FALSE(isHopByHop(name)) << name;
  }
}

TEST(HelpersTest, ConnectionListHas) {
  EXPECT_TRUE(connectionListHas("close", "close"));
  EXPECT_TRUE(connectionListHas("Keep-Alive, X-Foo", "x-foo"));
  EXPECT_TRUE(connectionListHas(" ,\tUpgrade\t, ", "upgrade"));
  EXPECT_FALSE(connectionListHas("closed", "close"));
  EXPECT_FALSE(connectionListHas("", "close"));
  EXPECT_FALSE(connectionListHas("clo se", "close"));
}

TEST(HelpersTest, EqualsIgnoreCase) {
  EXPECT_TRUE(equalsIgnoreCase("Content-Length", "content-LENGTH"));
  EXPECT_TRUE(equalsIgnoreCase("", ""));
  EXPECT_FALSE(equalsIgnoreCase("Host", "Hos"));
  EXPECT_FALSE(equalsIgnoreCase("\xC3\xA9", "\xC3\x89"));  // ASCII folding only
  EXPECT_FALSE(equalsIgnoreCase("[", "{"));                // 0x5B vs 0x7B
  EXPECT_FALSE(equalsIgnoreCase("@", "`"));
}

// ---------------------------------------------------------------------------------------------
// ChunkedDecoder

struct Decoded {
  std::string data;
  bool done = false;
  ParseError error = ParseError::kNone;
  std::size_t consumed = 0;
};

// Feeds `pieces` in order, looping over each as the contract asks.
Decoded decodePieces(ChunkedDecoder& decoder, const std::vector<std::string_view>& pieces) {
  Decoded out;
  for (std::string_view piece : pieces) {
    while (!piece.empty()) {
      const ChunkedDecoder::Step step = decoder.decode(piece);
      EXPECT_LE(step.consumed, piece.size());
      if (!step.data.empty()) {
        // The data view points into the input.
        EXPECT_GE(step.data.data(), piece.data());
        EXPECT_LE(step.data.data() + step.data.size(), piece.data() + step.consumed);
      }
      out.data.append(step.data);
      out.consumed += step.consumed;
      piece.remove_prefix(step.consumed);
      if (step.error != ParseError::kNone) {
        out.error = step.error;
        return out;
      }
      if (step.done) {
        out.done = true;
        return out;
      }
      if (step.consumed == 0) {
        ADD_FAILURE() << "no progress";
        return out;
      }
    }
  }
  return out;
}

Decoded decodeWhole(std::string_view body, std::uint64_t max_body = 1 << 20,
                    std::size_t max_line = 4096, std::size_t max_trailer = 8192) {
  ChunkedDecoder decoder(max_body, max_line, max_trailer);
  return decodePieces(decoder, {body});
}

const std::string kMultiChunkBody =
    "5;name=value;flag\r\nhello\r\n"
    "1A ; q=\"quoted \\\" ;\tstring\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
    "0000000000000001\r\n!\r\n"
    "a\r\n0123456789\r\n"
    "0;last=1\r\nX-Trailer: one\r\nX-Other:\ttwo \r\n\r\n";
const std::string kMultiChunkData = "helloabcdefghijklmnopqrstuvwxyz!0123456789";

TEST(ChunkedDecoderTest, DecodesWholeBody) {
  const std::string input = kMultiChunkBody + "GET /next";
  const Decoded decoded = decodeWhole(input);
  EXPECT_TRUE(decoded.done);
  EXPECT_EQ(decoded.error, ParseError::kNone);
  EXPECT_EQ(decoded.data, kMultiChunkData);
  EXPECT_EQ(decoded.consumed, kMultiChunkBody.size());  // never past the end of the message
}

TEST(ChunkedDecoderTest, ReturnsAtMostOneDataSpanPerCall) {
  ChunkedDecoder decoder(1 << 20);
  std::string_view input = kMultiChunkBody;
  int spans = 0;
  for (;;) {
    const ChunkedDecoder::Step step = decoder.decode(input);
    ASSERT_EQ(step.error, ParseError::kNone);
    spans += step.data.empty() ? 0 : 1;
    input.remove_prefix(step.consumed);
    if (step.done) {
      break;
    }
  }
  EXPECT_EQ(spans, 4);
  EXPECT_EQ(decoder.totalBytes(), kMultiChunkData.size());
  EXPECT_TRUE(decoder.decode("more").done);  // stays done and consumes nothing
  EXPECT_EQ(decoder.decode("more").consumed, 0u);
}

TEST(ChunkedDecoderTest, SplitAtEveryBoundaryYieldsIdenticalData) {
  const std::string& body = kMultiChunkBody;
  for (std::size_t i = 0; i <= body.size(); ++i) {
    for (std::size_t j = i; j <= body.size(); ++j) {
      ChunkedDecoder decoder(1 << 20);
      const std::string_view view = body;
      const Decoded decoded =
          decodePieces(decoder, {view.substr(0, i), view.substr(i, j - i), view.substr(j)});
      ASSERT_TRUE(decoded.done) << i << "," << j;
      ASSERT_EQ(decoded.error, ParseError::kNone) << i << "," << j;
      ASSERT_EQ(decoded.data, kMultiChunkData) << i << "," << j;
      ASSERT_EQ(decoded.consumed, body.size());
    }
  }
}

TEST(ChunkedDecoderTest, OneByteAtATime) {
  ChunkedDecoder decoder(1 << 20);
  std::vector<std::string_view> pieces;
  const std::string_view view = kMultiChunkBody;
  for (std::size_t i = 0; i < view.size(); ++i) {
    pieces.push_back(view.substr(i, 1));
  }
  const Decoded decoded = decodePieces(decoder, pieces);
  EXPECT_TRUE(decoded.done);
  EXPECT_EQ(decoded.data, kMultiChunkData);
}

TEST(ChunkedDecoderTest, AcceptsSixteenHexDigitsAndMaxBody) {
  Decoded decoded = decodeWhole("000000000000000A\r\n0123456789\r\n0\r\n\r\n", 10);
  EXPECT_TRUE(decoded.done);
  EXPECT_EQ(decoded.data, "0123456789");
  decoded = decodeWhole("0\r\n\r\n", 0);
  EXPECT_TRUE(decoded.done);
}

// Each attack is checked whole and split at every byte, so the error does not depend on reads.
void expectChunkError(std::string_view body, ParseError error, std::uint64_t max_body = 1 << 20,
                      std::size_t max_line = 4096, std::size_t max_trailer = 8192) {
  const Decoded whole = decodeWhole(body, max_body, max_line, max_trailer);
  EXPECT_EQ(whole.error, error) << body;
  EXPECT_FALSE(whole.done);
  for (std::size_t i = 1; i < body.size(); ++i) {
    ChunkedDecoder decoder(max_body, max_line, max_trailer);
    const Decoded split = decodePieces(decoder, {body.substr(0, i), body.substr(i)});
    EXPECT_EQ(split.error, error) << body << " split at " << i;
    EXPECT_EQ(split.data, whole.data);
  }
}

TEST(ChunkedDecoderAttackTest, BadChunkSizes) {
  for (const char* body : {
           "g\r\nx\r\n0\r\n\r\n",    // non-hex
           "0x1\r\nx\r\n0\r\n\r\n",  // 0x prefix
           " 1\r\nx\r\n0\r\n\r\n",   // leading SP
           "\t1\r\nx\r\n0\r\n\r\n",  // leading HTAB
           "-1\r\nx\r\n0\r\n\r\n",   // sign
           "+1\r\nx\r\n0\r\n\r\n",
           "1 \r\nx\r\n0\r\n\r\n",                 // trailing SP without an extension
           "\r\nx\r\n0\r\n\r\n",                   // empty size
           "00000000000000001\r\nx\r\n0\r\n\r\n",  // 17 digits, even as leading zeros
           "10000000000000000\r\n",                // 17 digits: would overflow 64 bits
           "1\nx\r\n0\r\n\r\n",                    // bare LF
           "1\r\r\nx\r\n0\r\n\r\n",                // bare CR
           "1;\r\nx\r\n0\r\n\r\n",                 // empty extension name
           "1;a=\r\nx\r\n0\r\n\r\n",               // empty extension value
           "1;a b\r\nx\r\n0\r\n\r\n",              // whitespace not before ';' or '='
           "1;a=\"x\r\nx\r\n0\r\n\r\n",            // unterminated quoted string
           "1;a=\"\x01\"\r\nx\r\n0\r\n\r\n",       // control in quoted string
       }) {
    expectChunkError(body, ParseError::kBadChunk);
  }
  expectChunkError("1;a=b\x00\r\nx\r\n0\r\n\r\n"s, ParseError::kBadChunk);
}

TEST(ChunkedDecoderAttackTest, MissingCrlfAfterData) {
  expectChunkError("3\r\nabcX\r\n0\r\n\r\n", ParseError::kBadChunk);  // too much data
  expectChunkError("3\r\nabc\n0\r\n\r\n", ParseError::kBadChunk);     // bare LF
  expectChunkError("3\r\nabc\r0\r\n\r\n", ParseError::kBadChunk);     // bare CR
  expectChunkError("3\r\nabc0\r\n\r\n", ParseError::kBadChunk);
}

TEST(ChunkedDecoderAttackTest, OversizedExtension) {
  const std::string body = "1;x=" + std::string(100, 'a') + "\r\nx\r\n0\r\n\r\n";
  expectChunkError(body, ParseError::kBadChunk, 1 << 20, 64);
  // The limit covers the line with its CRLF.
  const std::string fits = "1;x=" + std::string(58, 'a') + "\r\nx\r\n0\r\n\r\n";
  EXPECT_TRUE(decodeWhole(fits, 1 << 20, 64).done);
  const std::string over = "1;x=" + std::string(59, 'a') + "\r\nx\r\n0\r\n\r\n";
  EXPECT_EQ(decodeWhole(over, 1 << 20, 64).error, ParseError::kBadChunk);
  // Refused while the line is still arriving.
  ChunkedDecoder decoder(1 << 20, 64);
  EXPECT_EQ(decoder.decode("1;x=" + std::string(60, 'a')).error, ParseError::kBadChunk);
  EXPECT_EQ(decoder.decode("\r\n").error, ParseError::kBadChunk);  // sticky
}

TEST(ChunkedDecoderAttackTest, BadTrailers) {
  expectChunkError("0\r\nX: a\r\n b\r\n\r\n", ParseError::kBadChunk);  // obs-fold
  expectChunkError("0\r\nX : a\r\n\r\n", ParseError::kBadChunk);
  expectChunkError("0\r\nno colon\r\n\r\n", ParseError::kBadChunk);
  expectChunkError("0\r\nX: a\x01\r\n\r\n", ParseError::kBadChunk);
  expectChunkError("0\r\nX: a\n\r\n", ParseError::kBadChunk);
  expectChunkError("0\r\nX: a\r\n\n", ParseError::kBadChunk);
  expectChunkError("0\r\n\rX: a\r\n\r\n", ParseError::kBadChunk);
}

TEST(ChunkedDecoderAttackTest, OversizedTrailer) {
  std::string body = "0\r\n";
  for (int i = 0; i < 20; ++i) {
    body += "X-T: 0123456789\r\n";  // 17 bytes each
  }
  body += "\r\n";
  expectChunkError(body, ParseError::kBadChunk, 1 << 20, 4096, 100);
  EXPECT_TRUE(decodeWhole(body, 1 << 20, 4096, 17 * 20 + 2).done);
  EXPECT_EQ(decodeWhole(body, 1 << 20, 4096, 17 * 20 + 1).error, ParseError::kBadChunk);
  // An endless trailer line is refused before it ends.
  ChunkedDecoder decoder(1 << 20, 4096, 100);
  EXPECT_EQ(decoder.decode("0\r\nX: " + std::string(200, 'a')).error, ParseError::kBadChunk);
}

TEST(ChunkedDecoderAttackTest, TotalOverMax) {
  expectChunkError("5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", ParseError::kBodyTooLarge, 10);
  expectChunkError("ffffffffffffffff\r\n", ParseError::kBodyTooLarge, 10);
  const Decoded decoded = decodeWhole("5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", 10);
  EXPECT_EQ(decoded.data, "hello");  // the first chunk was within the limit
  EXPECT_TRUE(decodeWhole("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 10).done);
}

}  // namespace
}  // namespace bulwark::http

// libFuzzer target for the request-head parser and the chunked decoder.
//
// Besides looking for crashes and sanitizer reports it checks properties the gateway relies on:
// - a complete head is kIncomplete for every shorter prefix (no early "complete" and no error a
//   longer read would not also give), and parsing is deterministic;
// - parsed views lie inside the input and values carry no CR, LF or NUL;
// - a chunked body decodes to the same bytes, end and error whether fed whole or in random pieces,
//   and never consumes past the end of the message.
// The same bytes also go through parseResponseHead.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/message_head.h"

namespace {

using bulwark::http::ChunkedDecoder;
using bulwark::http::ParseError;
using bulwark::http::ParseStatus;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// Small deterministic PRNG (xorshift64*) seeded from the input, so a crash reproduces.
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ULL;
  }
};

struct Outcome {
  std::string data;
  bool done = false;
  ParseError error = ParseError::kNone;
  std::size_t consumed = 0;
};

// Feeds `body` in pieces of 1..max_piece bytes (max_piece 0: whole).
Outcome decode(std::string_view body, std::uint64_t max_body, std::size_t max_piece, Rng& rng) {
  ChunkedDecoder decoder(max_body, 256, 512);
  Outcome out;
  std::size_t offset = 0;
  while (offset < body.size()) {
    std::size_t piece = body.size() - offset;
    if (max_piece != 0) {
      piece = std::min<std::size_t>(piece, 1 + rng.next() % max_piece);
    }
    std::string_view input = body.substr(offset, piece);
    while (!input.empty()) {
      const ChunkedDecoder::Step step = decoder.decode(input);
      check(step.consumed <= input.size());
      check(inside(step.data, input.substr(0, step.consumed)));
      out.data.append(step.data);
      out.consumed += step.consumed;
      offset += step.consumed;
      input.remove_prefix(step.consumed);
      if (step.error != ParseError::kNone) {
        check(!step.done);
        out.error = step.error;
        check(decoder.decode(input).error == step.error);  // sticky
        return out;
      }
      if (step.done) {
        out.done = true;
        return out;
      }
      check(step.consumed > 0);  // progress on non-empty input
    }
  }
  check(decoder.totalBytes() == out.data.size());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  bulwark::http::HeadLimits limits;
  limits.max_request_line = 512;
  limits.max_header_bytes = 2048;
  limits.max_header_count = 20;
  limits.max_body_bytes = 4096;

  bulwark::http::ResponseHead response;
  (void)bulwark::http::parseResponseHead(input, limits, "GET", response);

  bulwark::http::RequestHead head;
  const bulwark::http::ParseResult result = bulwark::http::parseRequestHead(input, limits, head);
  check((result.status == ParseStatus::kError) == (result.error != ParseError::kNone));
  if (result.status != ParseStatus::kComplete) {
    return 0;
  }
  check(head.head_bytes >= 4 && head.head_bytes <= input.size());
  check(head.head_bytes <= limits.max_header_bytes);
  check(input.substr(head.head_bytes - 4, 4) == "\r\n\r\n");
  check(inside(head.method, input) && inside(head.host, input));
  check(head.target == "/" || inside(head.target, input));
  check(!head.target.empty() && (head.target[0] == '/' || head.target == "*"));
  check(head.fields.size() <= limits.max_header_count);
  for (const bulwark::http::HeaderField& field : head.fields) {
    check(!field.name.empty() && inside(field.name, input) && inside(field.value, input));
    check(field.value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
  }

  Rng rng{0x9E3779B97F4A7C15ULL ^ size};
  for (std::size_t i = 0; i < size; ++i) {
    rng.state = (rng.state ^ bytes[i]) * 0x100000001B3ULL;
  }
  rng.state |= 1;

  // Every strict prefix of a complete head is incomplete. Checking all prefixes is quadratic, so
  // take the last one and a few random ones.
  const std::size_t head_bytes = head.head_bytes;
  bulwark::http::RequestHead again;
  check(bulwark::http::parseRequestHead(input.substr(0, head_bytes - 1), limits, again).status ==
        ParseStatus::kIncomplete);
  for (int i = 0; i < 4; ++i) {
    const std::size_t n = rng.next() % head_bytes;
    check(bulwark::http::parseRequestHead(input.substr(0, n), limits, again).status ==
          ParseStatus::kIncomplete);
  }
  // Only the head is looked at: cutting the input after it changes nothing.
  check(bulwark::http::parseRequestHead(input.substr(0, head_bytes), limits, again).status ==
        ParseStatus::kComplete);
  check(again.head_bytes == head_bytes && again.fields.size() == head.fields.size() &&
        again.framing == head.framing && again.content_length == head.content_length &&
        again.keep_alive == head.keep_alive && again.target == head.target);

  if (head.framing == bulwark::http::BodyFraming::kChunked) {
    const std::string_view body = input.substr(head_bytes);
    const Outcome whole = decode(body, limits.max_body_bytes, 0, rng);
    check(whole.data.size() <= limits.max_body_bytes);
    check(whole.consumed <= body.size());
    for (std::size_t max_piece : {std::size_t{1}, std::size_t{3}, std::size_t{17}}) {
      const Outcome split = decode(body, limits.max_body_bytes, max_piece, rng);
      check(split.done == whole.done);
      check(split.error == whole.error);
      check(split.data == whole.data);
      if (whole.error == ParseError::kNone) {
        check(split.consumed == whole.consumed);
      }
    }
  }
  return 0;
}

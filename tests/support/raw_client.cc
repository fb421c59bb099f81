#include "support/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace bulwark::testing {

RawClient::RawClient(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("raw client: cannot connect");
  }
}

RawClient::~RawClient() { ::close(fd_); }

bool RawClient::send(std::string_view bytes) {
  if (bytes.rfind("HEAD ", 0) == 0) ++pending_heads_;
  while (!bytes.empty()) {
    const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd pfd{fd_, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
  char chunk[65536];
  const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

RawResponse RawClient::read(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  RawResponse response;
  std::size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(deadline)) {
      response.closed = eof_;
      return response;
    }
  }
  response.head = buffer_.substr(0, end + 4);
  buffer_.erase(0, end + 4);
  if (response.head.rfind("HTTP/1.", 0) == 0 && response.head.size() > 12) {
    response.status = std::stoi(response.head.substr(9, 3));
  }
  std::size_t pos = response.head.find("\r\n") + 2;
  while (pos < response.head.size() - 2) {
    const auto eol = response.head.find("\r\n", pos);
    const auto line = response.head.substr(pos, eol - pos);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      response.headers[name] = value;
    }
    pos = eol + 2;
  }
  const bool interim = response.status >= 100 && response.status < 200;
  const bool head_answer = !interim && pending_heads_ > 0;
  if (head_answer) --pending_heads_;
  const bool no_body = response.status == 204 || response.status == 304 || interim || head_answer;
  if (no_body) {
  } else if (response.headers.count("content-length")) {
    const auto length = std::stoull(response.headers["content-length"]);
    while (buffer_.size() < length && fill(deadline)) {
    }
    response.body = buffer_.substr(0, std::min<std::size_t>(length, buffer_.size()));
    buffer_.erase(0, response.body.size());
  } else if (response.headers.count("transfer-encoding")) {
    for (;;) {
      std::size_t eol;
      while ((eol = buffer_.find("\r\n")) == std::string::npos) {
        if (!fill(deadline)) return response;
      }
      const auto size = std::stoull(buffer_.substr(0, eol), nullptr, 16);
      while (buffer_.size() < eol + 2 + size + 2) {
        if (!fill(deadline)) return response;
      }
      response.body += buffer_.substr(eol + 2, size);
      buffer_.erase(0, eol + 2 + size + 2);
      if (size == 0) break;
    }
  } else {
    while (fill(deadline)) {
    }
    response.body = buffer_;
    buffer_.clear();
  }
  if (response.headers["connection"] == "close") {
    response.closed = waitClosed(std::chrono::milliseconds(2000));
  }
  return response;
}

RawResponse RawClient::roundTrip(std::string_view bytes, std::chrono::milliseconds timeout) {
  send(bytes);
  return read(timeout);
}

bool RawClient::waitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    if (!fill(deadline) && !eof_) return false;
  }
  return true;
}

}  // namespace bulwark::testing

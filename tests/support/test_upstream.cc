#include "support/test_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace bulwark::testing {
namespace {

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Reads into `buffer` until it holds `needed` bytes; false on EOF/error.
bool fill(int fd, std::string& buffer, std::size_t needed) {
  char chunk[65536];
  while (buffer.size() < needed) {
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  return true;
}

bool readLine(int fd, std::string& buffer, std::string& line) {
  for (;;) {
    const auto eol = buffer.find("\r\n");
    if (eol != std::string::npos) {
      line = buffer.substr(0, eol);
      buffer.erase(0, eol + 2);
      return true;
    }
    if (!fill(fd, buffer, buffer.size() + 1)) return false;
  }
}

std::string queryValue(const std::string& target, const std::string& key) {
  const auto at = target.find(key + "=");
  if (at == std::string::npos) return "";
  auto end = target.find('&', at);
  return target.substr(at + key.size() + 1, end == std::string::npos ? end : end - at - key.size() - 1);
}

}  // namespace

TestUpstream::TestUpstream() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 128) != 0) {
    throw std::runtime_error("test upstream: cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

TestUpstream::~TestUpstream() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();
  {
    std::lock_guard lock(mutex_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& worker : workers_) worker.join();
}

std::string TestUpstream::lastHead() const {
  std::lock_guard lock(head_mutex_);
  return last_head_;
}

void TestUpstream::acceptLoop() {
  while (!stopping_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    connections_++;
    std::lock_guard lock(mutex_);
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void TestUpstream::serve(int fd) {
  std::string buffer;
  for (;;) {
    // Head.
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(fd, buffer, buffer.size() + 1)) {
        ::close(fd);
        return;
      }
    }
    std::string head = buffer.substr(0, end + 4);
    buffer.erase(0, end + 4);
    requests_++;
    {
      std::lock_guard lock(head_mutex_);
      last_head_ = head;
    }
    const std::string target = head.substr(head.find(' ') + 1,
                                           head.find(' ', head.find(' ') + 1) - head.find(' ') - 1);
    const std::string method = head.substr(0, head.find(' '));
    const std::string lowered = lower(head);
    std::string body;
    if (auto at = lowered.find("\r\ncontent-length:"); at != std::string::npos) {
      const auto length = std::stoull(head.substr(at + 17));
      fill(fd, buffer, length);
      body = buffer.substr(0, length);
      buffer.erase(0, length);
    } else if (lowered.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
      std::string line;
      for (;;) {
        if (!readLine(fd, buffer, line)) return (void)::close(fd);
        const auto size = std::stoull(line, nullptr, 16);
        if (size == 0) {
          readLine(fd, buffer, line);  // end of trailers
          break;
        }
        fill(fd, buffer, size + 2);
        body += buffer.substr(0, size);
        buffer.erase(0, size + 2);
      }
    }

    std::string response;
    auto fixed = [&](std::string_view content) {
      response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                 std::to_string(content.size()) + "\r\nX-Upstream: test\r\n\r\n";
      if (method != "HEAD") response += content;
    };
    if (target.rfind("/echo", 0) == 0) {
      fixed(head + body);
    } else if (target == "/chunked") {
      response =
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "6\r\npart1-\r\n6\r\npart2-\r\n5\r\npart3\r\n0\r\n\r\n";
    } else if (target == "/until-close") {
      sendAll(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nstreamed until close");
      ::close(fd);
      return;
    } else if (target.rfind("/slow", 0) == 0) {
      const auto ms = std::stoi(queryValue(target, "ms"));
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      fixed("slow");
    } else if (target.rfind("/big", 0) == 0) {
      fixed(std::string(std::stoull(queryValue(target, "n")), 'x'));
    } else if (target == "/no-response") {
      ::close(fd);
      return;
    } else if (target == "/garbage") {
      sendAll(fd, "NOT HTTP\r\n\r\n");
      ::close(fd);
      return;
    } else if (target == "/hop-by-hop") {
      response =
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: X-Secret-Hop\r\n"
          "X-Secret-Hop: internal\r\nKeep-Alive: timeout=5\r\nX-Kept: yes\r\n\r\nok";
    } else {
      fixed("ok");
    }
    if (!sendAll(fd, response)) return (void)::close(fd);
  }
}

}  // namespace bulwark::testing

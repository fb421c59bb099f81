#include "support/test_https_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <stdexcept>

namespace bulwark::testing {
namespace {

// One connection's byte stream, TLS or not.
class Channel {
 public:
  Channel(int fd, SSL_CTX* tls) : fd_(fd) {
    if (tls != nullptr) {
      ssl_ = SSL_new(tls);
      SSL_set_fd(ssl_, fd);
    }
  }
  ~Channel() {
    if (ssl_ != nullptr) {
      SSL_free(ssl_);
    }
  }
  bool handshake() { return ssl_ == nullptr || SSL_accept(ssl_) == 1; }
  long read(char* data, std::size_t size) {
    return ssl_ != nullptr ? SSL_read(ssl_, data, static_cast<int>(size))
                           : ::recv(fd_, data, size, 0);
  }
  bool write(std::string_view data) {
    while (!data.empty()) {
      const long n = ssl_ != nullptr ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                                     : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void close() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);
    }
  }

 private:
  int fd_;
  SSL* ssl_ = nullptr;
};

// Reads a request head and, when Content-Length says so, its body.
bool readRequest(Channel& channel, std::string& request) {
  char chunk[16384];
  std::size_t head_end = std::string::npos;
  while ((head_end = request.find("\r\n\r\n")) == std::string::npos) {
    const long n = channel.read(chunk, sizeof chunk);
    if (n <= 0 || request.size() > 1 << 20) {
      return false;
    }
    request.append(chunk, static_cast<std::size_t>(n));
  }
  std::size_t length = 0;
  for (const char* name : {"Content-Length: ", "content-length: "}) {
    if (const auto at = request.find(name); at != std::string::npos && at < head_end) {
      length = std::stoul(request.substr(at + std::strlen(name)));
    }
  }
  while (request.size() < head_end + 4 + length) {
    const long n = channel.read(chunk, sizeof chunk);
    if (n <= 0) {
      return false;
    }
    request.append(chunk, static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

TestHttpsServer::TestHttpsServer(const std::string& cert_file, const std::string& key_file) {
  // SSL_write uses write(2), not send(MSG_NOSIGNAL): a client that hung up must not kill the test.
  std::signal(SIGPIPE, SIG_IGN);
  if (!cert_file.empty()) {
    tls_ = SSL_CTX_new(TLS_server_method());
    if (tls_ == nullptr || SSL_CTX_use_certificate_chain_file(tls_, cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(tls_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      throw std::runtime_error("test HTTPS server: cannot load " + cert_file);
    }
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("test HTTPS server: cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  setResponse({});
  acceptor_ = std::thread([this] { acceptLoop(); });
}

TestHttpsServer::~TestHttpsServer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  for (auto& worker : workers_) {
    worker.join();
  }
  ::close(listen_fd_);
  if (tls_ != nullptr) {
    SSL_CTX_free(tls_);
  }
}

void TestHttpsServer::setHandler(std::function<TestResponse(const std::string&)> respond) {
  std::lock_guard lock(mutex_);
  respond_ = std::move(respond);
}

void TestHttpsServer::setResponse(TestResponse response) {
  setHandler([response](const std::string&) { return response; });
}

std::string TestHttpsServer::url(const std::string& path) const {
  return (tls_ != nullptr ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_) +
         path;
}

std::string TestHttpsServer::lastRequest() const {
  std::lock_guard lock(mutex_);
  return last_request_;
}

bool TestHttpsServer::waitForRequests(int count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return requests_.load() >= count; });
}

void TestHttpsServer::acceptLoop() {
  for (;;) {
    pollfd waiting{listen_fd_, POLLIN, 0};
    if (::poll(&waiting, 1, 50) < 0) {
      return;
    }
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        return;
      }
    }
    if ((waiting.revents & POLLIN) == 0) {
      continue;
    }
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    std::lock_guard lock(mutex_);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void TestHttpsServer::serve(int fd) {
  timeval timeout{5, 0};  // a client that never finishes its request cannot hold the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  Channel channel(fd, tls_);
  std::string request;
  if (!channel.handshake() || !readRequest(channel, request)) {
    ::close(fd);
    return;
  }
  TestResponse response;
  {
    std::unique_lock lock(mutex_);
    response = respond_(request);
    last_request_ = request;
    if (response.delay.count() > 0) {
      changed_.wait_for(lock, response.delay, [this] { return stopping_; });
    }
  }
  std::string out = "HTTP/1.1 " + std::to_string(response.status) +
                    " Test\r\nContent-Type: " + response.content_type + "\r\nConnection: close\r\n";
  if (!response.close_delimited) {
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  }
  out += "\r\n" + response.body;
  channel.write(out);
  channel.close();
  ::close(fd);
  {
    std::lock_guard lock(mutex_);
    requests_.fetch_add(1);
  }
  changed_.notify_all();
}

}  // namespace bulwark::testing

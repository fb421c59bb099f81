#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <stdexcept>
#include <thread>

namespace bulwark::testing {
namespace {

std::vector<std::string> environment(const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  if (const char* path = std::getenv("PATH")) out.push_back(std::string("PATH=") + path);
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

pid_t spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
            int out_fd, int err_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const auto env_strings = environment(env);
  std::vector<char*> envp;
  for (const auto& entry : env_strings) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), envp.data()) != 0) {
    throw std::runtime_error("cannot spawn " + argv[0]);
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

}  // namespace

ProcessResult runProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         std::chrono::milliseconds timeout) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe");
  }
  const pid_t pid = spawn(argv, env, out_pipe[1], err_pipe[1]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ProcessResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0 && std::chrono::steady_clock::now() < deadline) {
    if (::poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char chunk[4096];
      const auto n = ::read(fds[i].fd, chunk, sizeof chunk);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(chunk, static_cast<std::size_t>(n));
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  if (open_fds > 0) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env) {
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  pid_ = spawn(argv, env, null_fd, err_pipe[1]);
  ::close(null_fd);
  ::close(err_pipe[1]);
  err_fd_ = err_pipe[0];
}

ChildProcess::~ChildProcess() {
  if (!exited_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
  if (err_fd_ >= 0) ::close(err_fd_);
}

void ChildProcess::drain(int timeout_ms) {
  if (err_fd_ < 0) return;
  pollfd fd{err_fd_, POLLIN, 0};
  if (::poll(&fd, 1, timeout_ms) <= 0) return;
  char chunk[4096];
  const auto n = ::read(err_fd_, chunk, sizeof chunk);
  if (n <= 0) {
    ::close(err_fd_);
    err_fd_ = -1;
    return;
  }
  err_.append(chunk, static_cast<std::size_t>(n));
}

std::string ChildProcess::waitForStderr(const std::string& text,
                                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (err_.find(text) == std::string::npos) {
    if (err_fd_ < 0 || std::chrono::steady_clock::now() >= deadline) return "";
    drain(50);
  }
  return err_;
}

void ChildProcess::signal(int signo) { ::kill(pid_, signo); }

int ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    drain(20);
    const pid_t done = ::waitpid(pid_, &status_, WNOHANG);
    if (done == pid_) {
      exited_ = true;
      while (err_fd_ >= 0) drain(100);
      return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
    }
  }
  return -1;
}

std::string ChildProcess::stderrText() {
  drain(0);
  return err_;
}

std::uint16_t listeningPort(const std::string& log) {
  std::smatch match;
  if (!std::regex_search(log, match, std::regex("\"port\":\"([0-9]+)\""))) return 0;
  return static_cast<std::uint16_t>(std::stoi(match[1]));
}

}  // namespace bulwark::testing

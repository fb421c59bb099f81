#pragma once
// Runs the real `bulwark` binary (or any program) as a child process with its own environment,
// for end-to-end tests of the command line, signals and exit codes.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bulwark::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs `argv` to completion (killed after `timeout`), with `env` as the whole environment plus
// PATH. Returns its exit code and output.
ProcessResult runProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A long-running child whose stderr is collected in the background.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env);
  ~ChildProcess();
  // Waits until stderr contains `text`; returns the stderr so far, or "" on timeout/exit.
  std::string waitForStderr(const std::string& text, std::chrono::milliseconds timeout);
  void signal(int signo);
  // Waits for exit; returns the exit code, or -1 (signal / timeout, then the child is killed).
  int wait(std::chrono::milliseconds timeout);
  std::string stderrText();

 private:
  void drain(int timeout_ms);
  pid_t pid_ = -1;
  int err_fd_ = -1;
  std::string err_;
  bool exited_ = false;
  int status_ = 0;
};

// The port a `bulwark serve` logged it listens on (its start-up log line's "port" field), from
// the stderr collected so far; 0 when there is none yet.
std::uint16_t listeningPort(const std::string& log);

}  // namespace bulwark::testing

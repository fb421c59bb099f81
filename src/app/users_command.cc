#include "app/users_command.h"

#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include "app/audit_setup.h"
#include "app/backends.h"
#include "audit/writer.h"
#include "auth/account_service.h"
#include "auth/settings.h"

namespace bulwark::app {
namespace {

// Everything the commands need, opened from the settings.
struct Accounts {
  auth::AccountServicePtr service;
  audit::WriterPtr trail;  // the events of this command; closed (made durable) on exit

  ~Accounts() {
    if (trail) trail->close();
  }
};

// Wipes a password from memory when it goes out of scope.
class Secret {
 public:
  ~Secret() { sodium_memzero(text.data(), text.size()); }
  std::string text;
};

std::unique_ptr<Accounts> open(const core::SettingSources& sources, std::ostream& err) {
  auto loaded = core::loadSettings(sources);
  if (!loaded.problems.empty()) {
    for (const auto& problem : loaded.problems) {
      err << problem.setting << ": " << problem.message << " (fix: " << problem.fix << ")\n";
    }
    return nullptr;
  }
  const core::Settings& settings = loaded.settings;
  Backends backends;
  try {
    backends = openBackends(settings, core::realClock());
  } catch (const std::exception& e) {
    err << "bulwark users: " << e.what() << "\n";
    return nullptr;
  }
  auto trail = openCommandAuditTrail(settings, core::realClock());
  if (!trail) {
    err << "bulwark users: audit trail: " << trail.error().message << "\n";
    return nullptr;
  }
  audit::SinkPtr audit = *trail;
  auto accounts = std::make_unique<Accounts>();
  accounts->trail = *trail;
  const auto configs = auth::authConfigs(settings);
  try {
    // No issuer: this tool never mints tokens, it only creates accounts and revokes.
    auto session_service = auth::SessionService::create(
        configs.sessions, {backends.sessions, backends.users, backends.revocations, nullptr, audit}, core::realClock(),
        crypto::systemRandom());
    auto lockout = std::make_shared<auth::Lockout>(configs.lockout, core::realClock(),
                                                  backends.lockouts);
    auto service = auth::AccountService::create(
        configs.accounts,
        {backends.users, auth::makeArgon2idHasher(configs.password_hash), lockout, session_service,
         audit},
        core::realClock(), crypto::systemRandom());
    accounts->service = std::move(service);
    return accounts;
  } catch (const std::exception& e) {
    err << "bulwark users: " << e.what() << "\n";
    return nullptr;
  }
}

bool readLine(std::istream& in, std::string& line) {
  if (!std::getline(in, line)) {
    return false;
  }
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return true;
}

// Reads the password: prompted twice with echo off on a terminal, else the first line of `in`.
std::optional<std::string> readPassword(std::istream& in, std::ostream& err) {
  const bool terminal = &in == &std::cin && ::isatty(STDIN_FILENO) == 1;
  if (!terminal) {
    Secret line;
    if (!readLine(in, line.text)) {
      err << "bulwark users add: no password on stdin\n";
      return std::nullopt;
    }
    return std::move(line.text);
  }
  termios saved{};
  ::tcgetattr(STDIN_FILENO, &saved);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  Secret first;
  Secret second;
  err << "Password: " << std::flush;
  const bool got_first = readLine(in, first.text);
  err << "\nRepeat password: " << std::flush;
  const bool got_second = got_first && readLine(in, second.text);
  err << "\n";
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (!got_second) {
    err << "bulwark users add: no password given\n";
    return std::nullopt;
  }
  if (first.text != second.text) {
    err << "bulwark users add: the passwords differ\n";
    return std::nullopt;
  }
  return std::move(first.text);
}

const auth::RequestContext kCli{"", ""};

}  // namespace

int runUsersAdd(const core::SettingSources& sources, const UsersOptions& options, std::istream& in,
                std::ostream& out, std::ostream& err) {
  auto accounts = open(sources, err);
  if (!accounts) {
    return 2;
  }
  auto password = readPassword(in, err);
  if (!password) {
    return 1;
  }
  Secret secret{std::move(*password)};
  const std::vector<std::string> roles =
      options.roles.empty() ? std::vector<std::string>{"user"} : options.roles;
  auto created = accounts->service->createUser(options.username, secret.text, roles, "cli", kCli);
  if (!created) {
    err << "bulwark users add: " << auth::errorDescription(created.error().error) << "\n";
    return created.error().error == auth::AuthError::kUnavailable ? 2 : 1;
  }
  out << "created user " << created->username << " (id " << created->id << ")\n";
  return 0;
}

int runUsersLock(const core::SettingSources& sources, const UsersOptions& options, bool locked,
                 std::ostream& out, std::ostream& err) {
  auto accounts = open(sources, err);
  if (!accounts) {
    return 2;
  }
  auto done = accounts->service->setLocked(options.username, locked, "cli", kCli);
  const char* command = locked ? "lock" : "unlock";
  if (!done) {
    err << "bulwark users " << command << ": " << auth::errorDescription(done.error().error)
        << "\n";
    return done.error().error == auth::AuthError::kNotFound ? 1 : 2;
  }
  out << (locked ? "locked user " : "unlocked user ") << options.username << "\n";
  return 0;
}

}  // namespace bulwark::app

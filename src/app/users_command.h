#pragma once
// `bulwark users add NAME [--role R]...` and `bulwark users lock|unlock NAME` (SPEC F7.1): account
// administration on the configured store (backends.h: SQLite or PostgreSQL), through the same
// account service the gateway uses (same username rules, argon2id parameters, audit events, and
// locking revokes every session and access token of the account).

#include <iosfwd>
#include <string>
#include <vector>

#include "core/config.h"

namespace bulwark::app {

struct UsersOptions {
  std::string username;
  std::vector<std::string> roles;  // add: empty means {"user"}
};

// `users add`: reads the password from `in` (one line; when `in` is an interactive terminal,
// prompts twice on `err` with echo off) and creates the account. Writes "created user NAME (id
// ID)" to `out` and returns 0. Refused (invalid or taken name, password outside the policy,
// invalid role): the reason on `err`, returns 1. Configuration or store problems: on `err`,
// returns 2. The password is never echoed or logged. Events go to the audit trail
// (openCommandAuditTrail: the node's own, or "<node_id>-cli" while a server holds it).
int runUsersAdd(const core::SettingSources& sources, const UsersOptions& options, std::istream& in,
                std::ostream& out, std::ostream& err);

// `users lock` / `users unlock`: sets the locked flag (locking also revokes every session and,
// through the revocation store, the account's access tokens). Returns 0, 1 for an unknown user,
// 2 for configuration or store problems.
int runUsersLock(const core::SettingSources& sources, const UsersOptions& options, bool locked,
                 std::ostream& out, std::ostream& err);

}  // namespace bulwark::app

#pragma once
// Rules every SessionStore and UserStore backend shares, so a decision never depends on which
// database answered: what a presented refresh token is worth, and how a user record is checked
// and canonicalised before it is written.

#include <string>
#include <vector>

#include "store/session_store.h"
#include "store/user_store.h"

namespace bulwark::store::detail {

// Decides what presenting a token of generation `presented_generation` of `session` does (see
// RotateOutcome). Never kUnknown: the caller found the family.
RotateOutcome decideRotation(const Session& session, std::uint64_t presented_generation,
                             const RotateRequest& request);

// Applies kRotated to `session`: the successor becomes current.
void applyRotation(Session& session, const RotateRequest& request);

// Applies a revocation (first reason wins).
void applyRevocation(Session& session, std::string_view reason, core::SystemTime now);

// True when `session` can no longer be used at `now` (purgeable).
bool isDead(const Session& session, core::SystemTime now);

// Returns `roles` sorted and deduplicated, or kInvalidArgument when one is invalid.
Result<std::vector<std::string>> canonicalRoles(const std::vector<std::string>& roles);

// Checks a user before create(): id present, username in normal form, roles valid. Returns the
// canonical roles.
Result<std::vector<std::string>> checkNewUser(const User& user);

// Checks a new session: sid and user id present, token_expires <= expires.
Result<void> checkNewSession(const NewSession& session);

}  // namespace bulwark::store::detail

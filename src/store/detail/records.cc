#include "store/detail/records.h"

#include <algorithm>

namespace bulwark::store::detail {

RotateOutcome decideRotation(const Session& session, std::uint64_t presented_generation,
                             const RotateRequest& request) {
  if (session.revoked) {
    return RotateOutcome::kRevoked;
  }
  if (request.now >= session.expires) {
    return RotateOutcome::kExpired;
  }
  if (presented_generation == session.generation) {
    return request.now >= session.token_expires ? RotateOutcome::kExpired : RotateOutcome::kRotated;
  }
  // Generations, not timestamps, decide what "immediately previous" means: a token two rotations
  // old is reuse however recent those rotations were.
  const bool previous = presented_generation + 1 == session.generation;
  if (previous && request.reuse_leeway.count() > 0 && !session.successor_sealed.empty() &&
      request.now >= session.rotated && request.now - session.rotated <= request.reuse_leeway) {
    return RotateOutcome::kRetry;
  }
  return RotateOutcome::kReuse;
}

void applyRotation(Session& session, const RotateRequest& request) {
  session.previous_hash = session.token_hash;
  session.token_hash = request.next;
  session.generation += 1;
  session.rotated = request.now;
  session.token_expires = std::min(request.next_expires, session.expires);
  session.successor_sealed = request.next_sealed;
}

void applyRevocation(Session& session, std::string_view reason, core::SystemTime now) {
  if (session.revoked) {
    return;
  }
  session.revoked = true;
  session.revoked_reason = std::string(reason);
  session.revoked_at = now;
  // Nothing may be retried from a revoked family; drop the sealed successor with it.
  session.successor_sealed.clear();
}

bool isDead(const Session& session, core::SystemTime now) {
  return now >= session.expires || now >= session.token_expires;
}

Result<std::vector<std::string>> canonicalRoles(const std::vector<std::string>& roles) {
  std::vector<std::string> out;
  for (const auto& role : roles) {
    if (!isValidRole(role)) {
      return StoreError::kInvalidArgument;
    }
    out.push_back(role);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::vector<std::string>> checkNewUser(const User& user) {
  const auto normal = normalizeUsername(user.username);
  if (user.id.empty() || !normal || *normal != user.username) {
    return StoreError::kInvalidArgument;
  }
  return canonicalRoles(user.roles);
}

Result<void> checkNewSession(const NewSession& session) {
  if (session.sid.empty() || session.user_id.empty() || session.token_expires > session.expires) {
    return StoreError::kInvalidArgument;
  }
  return {};
}

}  // namespace bulwark::store::detail

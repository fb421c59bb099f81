#include "store/session_store.h"

#include <map>
#include <mutex>

#include "store/detail/records.h"

namespace bulwark::store {
namespace {

// One mutex over the whole store: rotation must see and change a family and its token index
// together, and the embedded memory store serves tests and single-node development, not load.
class MemorySessionStore final : public SessionStore {
 public:
  Result<void> create(const NewSession& fresh) override {
    if (auto checked = detail::checkNewSession(fresh); !checked) {
      return checked;
    }
    std::lock_guard lock(mutex_);
    if (families_.count(fresh.sid) != 0 || tokens_.count(fresh.token_hash) != 0) {
      return StoreError::kAlreadyExists;
    }
    Family family;
    family.session.sid = fresh.sid;
    family.session.user_id = fresh.user_id;
    family.session.created = fresh.created;
    family.session.expires = fresh.expires;
    family.session.token_expires = fresh.token_expires;
    family.session.rotated = fresh.created;
    family.session.generation = 1;
    family.session.token_hash = fresh.token_hash;
    family.hashes.push_back(fresh.token_hash);
    tokens_.emplace(fresh.token_hash, TokenEntry{fresh.sid, 1});
    families_.emplace(fresh.sid, std::move(family));
    return {};
  }

  Result<RotateResult> rotate(const RotateRequest& request) override {
    std::lock_guard lock(mutex_);
    RotateResult result;
    const auto token = tokens_.find(request.presented);
    if (token == tokens_.end()) {
      return result;  // kUnknown
    }
    Family& family = families_.at(token->second.sid);
    result.presented_generation = token->second.generation;
    result.outcome = detail::decideRotation(family.session, token->second.generation, request);
    switch (result.outcome) {
      case RotateOutcome::kRotated:
        if (tokens_.count(request.next) != 0) {
          return StoreError::kAlreadyExists;
        }
        detail::applyRotation(family.session, request);
        family.hashes.push_back(request.next);
        tokens_.emplace(request.next, TokenEntry{family.session.sid, family.session.generation});
        break;
      case RotateOutcome::kRetry:
        result.successor_sealed = family.session.successor_sealed;
        break;
      case RotateOutcome::kReuse:
        detail::applyRevocation(family.session, "reuse", request.now);
        break;
      case RotateOutcome::kRevoked:
      case RotateOutcome::kExpired:
      case RotateOutcome::kUnknown:
        break;
    }
    result.session = family.session;
    return result;
  }

  Result<Session> find(std::string_view sid) override {
    std::lock_guard lock(mutex_);
    const auto it = families_.find(sid);
    if (it == families_.end()) {
      return StoreError::kNotFound;
    }
    return it->second.session;
  }

  Result<TokenLookup> findByToken(const TokenHash& hash) override {
    std::lock_guard lock(mutex_);
    const auto token = tokens_.find(hash);
    if (token == tokens_.end()) {
      return StoreError::kNotFound;
    }
    return TokenLookup{families_.at(token->second.sid).session, token->second.generation};
  }

  Result<std::vector<Session>> listActive(std::string_view user_id, core::SystemTime now) override {
    std::lock_guard lock(mutex_);
    std::vector<Session> out;
    for (const auto& [sid, family] : families_) {
      if (family.session.user_id == user_id && !family.session.revoked &&
          !detail::isDead(family.session, now)) {
        out.push_back(family.session);
      }
    }
    sortByCreation(out);
    return out;
  }

  Result<bool> revoke(std::string_view sid, std::string_view reason,
                      core::SystemTime now) override {
    std::lock_guard lock(mutex_);
    const auto it = families_.find(sid);
    if (it == families_.end()) {
      return Result<bool>(boost::system::in_place_error, StoreError::kNotFound);
    }
    const bool was_active = !it->second.session.revoked;
    detail::applyRevocation(it->second.session, reason, now);
    return was_active;
  }

  Result<std::vector<Session>> revokeAllForUser(std::string_view user_id, std::string_view reason,
                                                core::SystemTime now) override {
    std::lock_guard lock(mutex_);
    std::vector<Session> out;
    for (auto& [sid, family] : families_) {
      if (family.session.user_id == user_id && !family.session.revoked) {
        detail::applyRevocation(family.session, reason, now);
        out.push_back(family.session);
      }
    }
    sortByCreation(out);
    return out;
  }

  Result<std::size_t> purgeExpired(core::SystemTime now) override {
    std::lock_guard lock(mutex_);
    std::size_t removed = 0;
    for (auto it = families_.begin(); it != families_.end();) {
      if (!detail::isDead(it->second.session, now)) {
        ++it;
        continue;
      }
      for (const auto& hash : it->second.hashes) {
        tokens_.erase(hash);
      }
      it = families_.erase(it);
      ++removed;
    }
    return removed;
  }

 private:
  struct Family {
    Session session;
    std::vector<TokenHash> hashes;  // every generation's, for purging the index
  };
  struct TokenEntry {
    std::string sid;
    std::uint64_t generation = 0;
  };

  static void sortByCreation(std::vector<Session>& sessions) {
    std::stable_sort(sessions.begin(), sessions.end(),
                     [](const Session& a, const Session& b) { return a.created < b.created; });
  }

  std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;  // by sid
  // Hashes of 256-bit random tokens: an ordinary (not constant-time) lookup reveals nothing an
  // attacker could use, as with a database index.
  std::map<TokenHash, TokenEntry> tokens_;
};

}  // namespace

SessionStorePtr makeMemorySessionStore() { return std::make_shared<MemorySessionStore>(); }

}  // namespace bulwark::store

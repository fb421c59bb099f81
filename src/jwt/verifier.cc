#include "jwt/verifier.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "crypto/hmac.h"
#include "jwt/detail/claims_reader.h"
#include "jwt/detail/jws_parts.h"
#include "jwt/detail/token_cache.h"

namespace bulwark::jwt {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// RFC 7515 §4.1.9: "application/" may be omitted from a media type in `typ`.
bool typIs(std::string_view typ, std::string_view wanted) {
  constexpr std::string_view kPrefix = "application/";
  if (typ.size() > kPrefix.size() && equalsIgnoreCase(typ.substr(0, kPrefix.size()), kPrefix)) {
    typ.remove_prefix(kPrefix.size());
  }
  return equalsIgnoreCase(typ, wanted);
}

VerifyResult<void> checkTyp(bool has_typ, std::string_view typ, TypPolicy policy) {
  if (!has_typ) {
    return policy == TypPolicy::kOptional ? VerifyResult<void>{} : VerifyError::kMissingTyp;
  }
  if (typIs(typ, "at+jwt") || (policy != TypPolicy::kAccessToken && typIs(typ, "jwt"))) {
    return {};
  }
  return VerifyError::kWrongTyp;
}

struct IssuerState {
  IssuerConfig config;
  ClaimsPolicy policy;
  // Which of VerifierImpl::roles_claims_ is this issuer's roles claim.
  std::size_t roles_index = 0;
  // The key set the cache was last swept against (identity only, never dereferenced).
  mutable std::atomic<const KeySet*> swept{nullptr};
};

class VerifierImpl final : public Verifier {
 public:
  VerifierImpl(VerifierConfig config, core::Clock& clock)
      : leeway_(config.leeway),
        max_token_bytes_(config.max_token_bytes),
        clock_(clock),
        issuers_(config.issuers.size()) {
    for (std::size_t i = 0; i < config.issuers.size(); ++i) {
      IssuerState& state = issuers_[i];
      state.config = std::move(config.issuers[i]);
      state.policy.issuer = state.config.accept_any_issuer ? "" : state.config.issuer;
      if (!state.config.accept_any_audience) {
        state.policy.audiences = state.config.audiences;
      }
      state.policy.leeway = leeway_;
      state.policy.required = state.config.required_claims;
      state.swept.store(state.config.keys->keys().get());
      const auto known =
          std::find(roles_claims_.begin(), roles_claims_.end(), state.config.roles_claim);
      state.roles_index = static_cast<std::size_t>(known - roles_claims_.begin());
      if (known == roles_claims_.end()) {
        roles_claims_.push_back(state.config.roles_claim);
      }
    }
    if (config.cache.capacity > 0) {
      cache_ = std::make_unique<detail::TokenCache>(config.cache.capacity, config.cache.shards);
    }
  }

  VerifyResult<VerifiedTokenPtr> verify(std::string_view token) const override {
    if (token.size() > max_token_bytes_) {
      return reject(VerifyError::kTokenTooLarge);
    }
    const core::SystemTime now = clock_.systemTime();
    crypto::Digest256 hash{};
    if (cache_) {
      hash = crypto::sha256(token);
      if (auto hit = cache_->find(hash, now)) {
        const IssuerState& issuer = issuers_[hit->token->issuer_index];
        const KeySetPtr keys = issuer.config.keys->keys();
        sweepIfChanged(issuer, hit->token->issuer_index, keys, now);
        const KeyEntry* entry = keys->find(hit->token->kid);
        // A hit is counted by its cache shard, under the lock it holds anyway: no shared
        // counter is written on this path, which every request with a reused token takes.
        if (entry != nullptr && entry->key == hit->key && entry->verifiesAt(now)) {
          return std::move(hit->token);
        }
        stale_hits_.fetch_add(1, std::memory_order_relaxed);
        cache_->erase(hash);  // its key is gone: verify from scratch (and fail)
      }
    }
    crypto::SignatureKeyPtr key;
    auto result = verifyUncached(token, now, key);
    if (!result) {
      return reject(result.error());
    }
    verified_uncached_.fetch_add(1, std::memory_order_relaxed);
    if (cache_) {
      cache_->insert(hash, {*result, std::move(key), *(*result)->claims.exp + leeway_});
    }
    return result;
  }

  VerifierStats stats() const override {
    VerifierStats out;
    out.verified = verified_uncached_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < rejected_.size(); ++i) {
      out.rejected[i] = rejected_[i].load(std::memory_order_relaxed);
    }
    if (cache_) {
      // Read before the hits, which every stale hit follows: the difference never wraps.
      const std::uint64_t stale = stale_hits_.load(std::memory_order_relaxed);
      const detail::TokenCacheStats cache = cache_->stats();
      out.cache_hits = cache.hits;
      out.cache_misses = cache.misses;
      out.cache_evictions = cache.evictions;
      out.cache_entries = cache.entries;
      out.verified += cache.hits - stale;
    }
    return out;
  }

 private:
  VerifyError reject(VerifyError error) const {
    const auto index = static_cast<std::size_t>(error);
    if (index < rejected_.size()) {
      rejected_[index].fetch_add(1, std::memory_order_relaxed);
    }
    return error;
  }

  // When an issuer has published a new key set, drops cached tokens whose key left it. The
  // per-hit key check already makes such entries unusable; this frees them.
  void sweepIfChanged(const IssuerState& issuer, std::size_t index, const KeySetPtr& keys,
                      core::SystemTime now) const {
    const KeySet* seen = issuer.swept.load(std::memory_order_relaxed);
    if (seen == keys.get() || !issuer.swept.compare_exchange_strong(seen, keys.get())) {
      return;
    }
    cache_->eraseIf([&](const detail::CachedToken& cached) {
      if (cached.token->issuer_index != index) {
        return false;
      }
      const KeyEntry* entry = keys->find(cached.token->kid);
      return entry == nullptr || entry->key != cached.key || !entry->verifiesAt(now);
    });
  }

  const IssuerState* findIssuer(std::string_view iss) const {
    for (const IssuerState& issuer : issuers_) {
      if (issuer.config.accept_any_issuer || issuer.config.issuer == iss) {
        return &issuer;
      }
    }
    return nullptr;
  }

  VerifyResult<VerifiedTokenPtr> verifyUncached(std::string_view token, core::SystemTime now,
                                                crypto::SignatureKeyPtr& key_used) const {
    // The header and signature are decoded into `scratch` on this stack: no allocation.
    detail::JwsScratch scratch;
    detail::JwsParts jws;
    if (auto parsed = detail::parseJwsParts(token, max_token_bytes_, scratch, jws); !parsed) {
      return parsed.error();
    }
    // One strict pass over the payload reads every claim, and the roles claim of every issuer
    // (which issuer applies is known only from `iss`); claim type errors wait for the signature.
    // The claims go straight into the token this call returns if every check passes.
    auto verified = std::make_shared<VerifiedToken>();
    Claims& claims = verified->claims;
    detail::ReadClaims read;
    if (auto parsed = detail::readClaims(std::move(jws.payload), roles_claims_, claims, read);
        !parsed) {
      return parsed.error();
    }
    // `iss` is not authenticated yet: it only chooses whose keys may verify the signature.
    if (!read.iss_present) {
      return VerifyError::kMissingIssuer;
    }
    if (!read.iss_ok) {
      return VerifyError::kBadClaim;
    }
    const IssuerState* issuer = findIssuer(claims.iss);
    if (issuer == nullptr) {
      return VerifyError::kWrongIssuer;
    }
    if (auto typ = checkTyp(jws.has_typ, jws.typ, issuer->config.typ); !typ) {
      return typ.error();
    }
    if (!jws.has_kid) {
      return VerifyError::kMissingKid;
    }
    const std::string_view kid = jws.kid;
    KeySetPtr keys = issuer->config.keys->keys();
    const KeyEntry* entry = keys->find(kid);
    if (entry == nullptr || !entry->verifiesAt(now)) {
      if (!issuer->config.keys->onUnknownKid(kid)) {
        return VerifyError::kUnknownKid;
      }
      keys = issuer->config.keys->keys();
      entry = keys->find(kid);
      if (entry == nullptr || !entry->verifiesAt(now)) {
        return VerifyError::kUnknownKid;
      }
    }
    if (auto signature =
            detail::verifyJwsPartsSignature(jws.alg, jws.signing_input, jws.signature, *entry->key);
        !signature) {
      return signature.error();
    }
    if (read.bad_claim || !read.roles_ok[issuer->roles_index]) {
      return VerifyError::kBadClaim;
    }
    if (auto valid = validateClaims(claims, issuer->policy, now); !valid) {
      return valid.error();
    }
    claims.roles = std::move(read.roles[issuer->roles_index]);
    verified->kid = kid;
    verified->algorithm = entry->key->algorithm();
    verified->issuer_index = static_cast<std::size_t>(issuer - issuers_.data());
    key_used = entry->key;
    return VerifiedTokenPtr(std::move(verified));
  }

  const std::chrono::seconds leeway_;
  const std::size_t max_token_bytes_;
  core::Clock& clock_;
  std::vector<IssuerState> issuers_;
  // The distinct roles claim names of the issuers, read from every payload.
  std::vector<std::string> roles_claims_;
  std::unique_ptr<detail::TokenCache> cache_;
  // Written off the hot path only: after a signature check, or when a cached key is gone.
  mutable std::atomic<std::uint64_t> verified_uncached_{0};
  mutable std::atomic<std::uint64_t> stale_hits_{0};
  mutable std::array<std::atomic<std::uint64_t>, 64> rejected_{};
};

void validate(const VerifierConfig& config) {
  const auto fail = [](const std::string& message) {
    throw std::invalid_argument("token verifier: " + message);
  };
  if (config.issuers.empty()) {
    fail("at least one issuer is required");
  }
  if (config.leeway.count() < 0 || config.leeway > std::chrono::minutes(10)) {
    fail("leeway must be between 0 and 600 seconds");
  }
  if (config.max_token_bytes < 64) {
    fail("max_token_bytes must be at least 64");
  }
  for (const IssuerConfig& issuer : config.issuers) {
    const std::string name = issuer.issuer.empty() ? "(any issuer)" : issuer.issuer;
    if (issuer.issuer.empty() && !issuer.accept_any_issuer) {
      fail("an issuer needs its iss value");
    }
    if ((issuer.accept_any_issuer || issuer.accept_any_audience) && config.issuers.size() != 1) {
      fail("accept_any_issuer/accept_any_audience need a verifier with a single issuer");
    }
    if (issuer.audiences.empty() && !issuer.accept_any_audience) {
      fail("issuer " + name + " needs at least one audience");
    }
    if (!issuer.keys) {
      fail("issuer " + name + " has no key source");
    }
    for (std::string_view registered :
         {"", "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid"}) {
      if (issuer.roles_claim == registered) {
        fail("issuer " + name + ": roles_claim must name a claim other than the registered ones");
      }
    }
    for (const std::string& claim : issuer.required_claims) {
      if (claim != "sub" && claim != "jti" && claim != "sid" && claim != "iat" && claim != "nbf") {
        fail("issuer " + name + ": required claim \"" + claim +
             "\" is not one of sub, jti, sid, iat, nbf");
      }
    }
    for (const IssuerConfig& other : config.issuers) {
      if (&other != &issuer && other.issuer == issuer.issuer) {
        fail("issuer " + name + " is configured twice");
      }
    }
  }
}

}  // namespace

std::unique_ptr<Verifier> Verifier::create(VerifierConfig config, core::Clock& clock) {
  validate(config);
  return std::make_unique<VerifierImpl>(std::move(config), clock);
}

VerifyResult<Jws> verifySignatureOnly(std::string_view token, const KeySet& keys,
                                      std::size_t max_token_bytes) {
  auto jws = parseJws(token, max_token_bytes);
  if (!jws) {
    return jws.error();
  }
  if (!jws->header.kid) {
    return VerifyError::kMissingKid;
  }
  const KeyEntry* entry = keys.find(*jws->header.kid);
  if (entry == nullptr) {
    return VerifyError::kUnknownKid;
  }
  if (auto signature = verifyJwsSignature(*jws, *entry->key); !signature) {
    return signature.error();
  }
  return jws;
}

}  // namespace bulwark::jwt

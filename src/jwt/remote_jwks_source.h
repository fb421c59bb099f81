#pragma once
// An external issuer's JWK Set fetched from its jwks_uri (SPEC F2.7), kept as an immutable
// KeySet snapshot that verifiers read without locks. The network is not this class's business:
// a JwksFetcher brings the text, and one caller-owned thread runs refreshIfDue(), so nothing
// here blocks an I/O thread.
//
// Contract of onUnknownKid() (called by the verifier on an I/O thread): it never fetches and
// returns false at once; the current token fails with unknown_kid. When refetch_interval has
// passed since the last fetch started, it asks for a fetch (calling `wake`), so the provider's
// new key is in the snapshot for the following requests. A flood of tokens with made-up kids
// therefore costs the provider at most one request per refetch_interval.
//
// A fetch that fails (network, status, JSON, no usable key) keeps the last good snapshot and is
// retried after refetch_interval; a successful one is repeated after refresh_interval. Keys
// whose JWK did not change keep their parsed object, so tokens cached by the verifier stay
// valid across refreshes. Symmetric (`oct`) keys are never taken from a fetched JWKS: a secret
// published at a URL is no secret.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"
#include "jwt/key_source.h"

namespace bulwark::jwt {

struct RemoteJwksConfig {
  // Where the JWKS comes from, for logs and metrics (the fetcher knows how to get it).
  std::string url;
  // Least time between two fetches started by unknown kids, and between retries after a
  // failure.
  std::chrono::seconds refetch_interval{30};
  // A successful fetch is repeated after this long (providers publish new keys ahead of use).
  std::chrono::seconds refresh_interval{300};
  // Providers list keys for other purposes (encryption, unsupported curves): skip those.
  JwksOptions jwks{.skip_unusable = true};
};

// Counters (STYLE habit 7). Monotonic except keys and last_success.
struct RemoteJwksStats {
  std::uint64_t fetches = 0;                // attempts started
  std::uint64_t fetch_failures = 0;         // attempts that kept the previous keys
  std::uint64_t key_set_changes = 0;        // new snapshots published
  std::uint64_t unknown_kid_fetches = 0;    // fetches asked for by an unknown kid
  std::uint64_t unknown_kid_throttled = 0;  // unknown kids that could not ask (rate limit)
  std::uint64_t keys = 0;                   // keys in the current snapshot
  std::optional<core::SystemTime> last_success;
};

// Returns the JWKS text, or why it could not be fetched. Called on the fetch thread only.
using JwksFetcher = std::function<KeyResult<std::string>()>;

class RemoteJwksSource : public KeySource {
 public:
  // Builds a source with an empty snapshot; nothing is fetched until refresh() or
  // refreshIfDue(). `wake` is called from onUnknownKid() (any thread) when a fetch is wanted; it
  // must return at once. `clock` must outlive the source.
  static std::shared_ptr<RemoteJwksSource> create(RemoteJwksConfig config, JwksFetcher fetch,
                                                  std::function<void()> wake, core::Clock& clock);

  // Fetches now (blocking in the fetcher) and publishes the keys; on failure the previous
  // snapshot stays and the reason is returned (and logged). Serialised with other refreshes.
  [[nodiscard]] virtual KeyResult<void> refresh() = 0;
  // Calls refresh() when an unknown kid asked for it or the next periodic fetch is due; returns
  // whether it did. For the fetch thread.
  virtual bool refreshIfDue() = 0;
  // Time until the next periodic fetch (zero when due now).
  virtual core::MonotonicTime::duration untilDue() const = 0;

  virtual const RemoteJwksConfig& config() const = 0;
  virtual RemoteJwksStats stats() const = 0;
};
using RemoteJwksSourcePtr = std::shared_ptr<RemoteJwksSource>;

}  // namespace bulwark::jwt

#pragma once
// The auth service inside `bulwark serve` (SPEC F2): on the stores of backends.h, the key ring, signer and verifier, the session and account services on their worker
// pool, and what the gateway takes from them: the Authenticator for protected routes and the
// JSON endpoints (/auth/, /.well-known/jwks.json, /admin/users/, /admin/keys/).
//
// A maintenance thread of its own keeps the node current: revocations written by other
// processes or nodes are taken in every 500 ms (RevocationStore::sync; with Redis they arrive by
// pub/sub at once and sync confirms the feed), a lost revocation feed is recorded as a
// SECURITY_INCIDENT, a key-ring
// change made by `bulwark keys rotate` is loaded when the ring's manifest changes, and expired
// sessions and retired keys are purged hourly.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/backends.h"
#include "audit/event.h"
#include "auth/authenticator.h"
#include "core/clock.h"
#include "core/config.h"
#include "http/api.h"

namespace bulwark::app {

class AuthWiring {
 public:
  AuthWiring();
  AuthWiring(AuthWiring&&) noexcept;
  AuthWiring& operator=(AuthWiring&&) noexcept;
  // stop().
  ~AuthWiring();

  // For gateway::ServerDeps.
  auth::AuthenticatorPtr authenticator;
  std::vector<http::ApiMount> api_mounts;
  // The verifier's and the external issuers' counters, as Prometheus text for /metrics.
  std::function<std::string()> metrics;

  // Stops the maintenance thread, then the worker pool (running the jobs already queued, which
  // answer their requests). Call after the gateway's shutdown() and before the gateway is
  // destroyed: pool jobs post their answers into the gateway's io_contexts. Idempotent.
  void stop();

  struct Runtime;  // the pool, the stores, the maintenance thread

 private:
  friend AuthWiring buildAuth(const core::Settings&, const Backends&, audit::SinkPtr,
                              core::Clock&);
  std::unique_ptr<Runtime> runtime_;
};

// The token signing key ring's directory: keys_dir, or <data_dir>/keys when it is empty.
std::filesystem::path signingKeysDirectory(const core::Settings& settings);

// Builds the auth service from validated settings on `backends` (backends.h): the key ring in
// signingKeysDirectory() (an EdDSA key is generated, mode 0600, when it is empty), tokens with
// iss token_issuer and aud token_audience; tokens of settings.external_issuers are accepted too
// (each JWKS URL is fetched once before this returns, then on a thread of its own). `audit`
// receives the services' events; `clock` must outlive the result. Starts the worker pool and the
// maintenance thread. Throws std::runtime_error naming the problem (start-up only), e.g. an
// unreadable key file.
AuthWiring buildAuth(const core::Settings& settings, const Backends& backends,
                     audit::SinkPtr audit, core::Clock& clock);

}  // namespace bulwark::app

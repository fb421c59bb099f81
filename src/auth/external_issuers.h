#pragma once
// The external identity providers `bulwark serve` trusts (SPEC F2.7, [[external_issuer]] in the
// config file), as issuers for the token verifier: each with its audiences, typ policy, roles
// claim and key source — a FileJwksSource for a JWKS file, a RemoteJwksSource fetched with
// http::fetch for a URL.
//
// URLs are fetched on one thread of this object's own ("jwks"), never on an I/O thread: at
// start-up (each URL once, before the gateway listens, bounded by the fetch timeout), when
// refresh_interval has passed, and when a token names a kid the snapshot lacks. Such a token is
// refused with 401 (unknown_kid) at once rather than waiting for the provider, and the fetch it
// starts (at most one per refetch_interval) makes the new key available to the next requests.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "jwt/remote_jwks_source.h"
#include "jwt/verifier.h"

namespace bulwark::auth {

struct ExternalIssuersConfig {
  std::vector<core::ExternalIssuerConfig> issuers;
  // Limits of one JWKS fetch.
  std::chrono::milliseconds fetch_timeout{10'000};
  std::size_t max_jwks_bytes = 1024 * 1024;
  // Development only: allow http:// JWKS URLs to loopback addresses (the settings refuse others).
  bool allow_plain_http_loopback = false;
};

class ExternalIssuers {
 public:
  // Builds every issuer, fetches each JWKS URL once (a failure is logged: that issuer's tokens
  // are refused until a later fetch succeeds) and starts the fetch thread. Throws
  // std::runtime_error naming the issuer when a JWKS file cannot be read or parsed (start-up).
  static std::unique_ptr<ExternalIssuers> start(ExternalIssuersConfig config, core::Clock& clock);
  // Stops and joins the fetch thread (waiting for a fetch in progress, at most fetch_timeout).
  virtual ~ExternalIssuers() = default;

  // The verifier's issuer entries, one per configured provider, in configuration order.
  virtual const std::vector<jwt::IssuerConfig>& issuers() const = 0;
  // Appends the JWKS sources' counters in the Prometheus text format.
  virtual void appendMetrics(std::string& out) const = 0;
};

// Appends the verifier's counters (tokens verified, cache hits and misses, rejections by reason)
// in the Prometheus text format.
void appendVerifierMetrics(const jwt::VerifierStats& stats, std::string& out);

}  // namespace bulwark::auth

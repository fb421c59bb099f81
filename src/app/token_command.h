#pragma once
// `bulwark token verify` and `bulwark keys rotate|list|jwks` (SPEC F2.3, F2.7, F7.1).

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"

namespace bulwark::app {

struct TokenVerifyOptions {
  std::filesystem::path jwks_file;     // --jwks: the issuer's public keys (RFC 7517)
  std::string issuer;                  // --issuer: required `iss`; empty: any (still required)
  std::vector<std::string> audiences;  // --audience: accepted `aud`; empty: any (still required)
  std::string typ = "at+jwt";          // --typ: "at+jwt" (required, RFC 9068), "jwt" (at+jwt or
                                       // JWT), "optional"
  bool signature_only = false;         // --signature-only: the JWS layer alone, any payload
  std::chrono::seconds leeway{30};     // --leeway
  std::size_t max_token_bytes = 8192;  // --max-token-bytes
};

// Reads one token from `in` (surrounding whitespace ignored) and verifies it with the gateway's
// verifier and the keys of `options.jwks_file`. Valid: writes the claims exactly as signed (with
// --signature-only: the payload) and a newline to `out`, returns 0. Rejected: writes
// "<reason>: <description>" (reason as in jwt/errors.h, e.g. "expired") to `out`, returns 1.
// Usage or I/O error (unreadable JWKS, no token): writes the problem to `err`, returns 2.
int runTokenVerify(const TokenVerifyOptions& options, std::istream& in, std::ostream& out,
                   std::ostream& err);

struct KeysOptions {
  std::filesystem::path keys_dir;  // the ring (signingKeysDirectory of the settings)
  std::string algorithm;           // rotate: EdDSA (default), ES256 or HS256
  // Must match the server's (access_token_ttl and the verifier's leeway): a key retired here
  // stays verifying for max_token_ttl + leeway.
  std::chrono::seconds max_token_ttl{15 * 60};
  std::chrono::seconds leeway{30};
};

// Builds KeysOptions from the settings `bulwark serve` uses (keys_dir/data_dir, access_token_ttl; flags,
// BULWARK_* environment, config file), so a rotation from the command line retires keys with the
// server's token lifetime. On invalid settings writes each problem to `err`, returns nullopt.
std::optional<KeysOptions> keysOptions(const core::SettingSources& sources, std::string algorithm,
                                       std::ostream& err);

// `bulwark keys rotate`: creates a key, makes it the signing key, retires the previous one;
// writes the new kid to `out`. `bulwark keys list`: one line per key "kid alg status created
// retired verify_until" (RFC 3339 UTC, "-" when unset). `bulwark keys jwks`: the published JWKS.
// A running server picks up a rotation made here when it reloads its ring. Return 0, or 1 with
// the reason on `err` (2 for a bad --algorithm).
int runKeysRotate(const KeysOptions& options, std::ostream& out, std::ostream& err);
int runKeysList(const KeysOptions& options, std::ostream& out, std::ostream& err);
int runKeysJwks(const KeysOptions& options, std::ostream& out, std::ostream& err);

}  // namespace bulwark::app

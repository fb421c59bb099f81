#pragma once
// Sealing the successor of a refresh token for the reuse-leeway retry. The key is derived from
// the previous token (HMAC-SHA256 keyed with it), which the store never holds: a copy of the
// database yields neither token. XSalsa20-Poly1305 (libsodium secretbox), random nonce.

#include <optional>
#include <string>
#include <string_view>

#include "crypto/random.h"

namespace bulwark::auth::detail {

// Returns nonce || ciphertext of `successor` under a key derived from `previous_token`.
std::string sealSuccessor(std::string_view previous_token, std::string_view successor,
                          crypto::Random& random);

// Returns the successor, or nullopt when `sealed` was not sealed under `previous_token` (or was
// altered).
std::optional<std::string> openSuccessor(std::string_view previous_token, std::string_view sealed);

}  // namespace bulwark::auth::detail

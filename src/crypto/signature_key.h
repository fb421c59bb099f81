#pragma once
// Signature keys bound to exactly one JOSE algorithm (SPEC F2.2, DESIGN decision 4): a key is
// parsed once into OpenSSL objects when it is loaded or generated, and from then on signs or
// verifies only with its own algorithm. Nothing here reads a token header; the JWT layer decides
// which key to use and compares the header's `alg` with the key's.
//
// Supported: EdDSA (Ed25519), ES256 (P-256, JOSE r||s signatures), HS256 (secret >= 32 bytes),
// and, for verifying external issuers only, RS256 and PS256 (RSA 2048..8192 bits).

#include <boost/system/result.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace bulwark::crypto {

class Random;

enum class Algorithm : std::uint8_t { kEdDSA, kES256, kHS256, kRS256, kPS256 };

// Returns the JOSE `alg` name ("EdDSA", "ES256", "HS256", "RS256", "PS256").
std::string_view algorithmName(Algorithm algorithm);
// Returns the algorithm whose JOSE name is exactly `name` (case-sensitive, RFC 7515 §4.1.1);
// nullopt for anything else, including every spelling of "none".
std::optional<Algorithm> algorithmFromName(std::string_view name);

// Why a key could not be built or loaded. The message names the problem but never key bytes.
struct KeyError {
  std::string message;
};
// Lets boost::system::result<T, KeyError>::value() throw std::runtime_error(message).
[[noreturn]] void throw_exception_from_error(const KeyError& error,
                                             const boost::source_location& location);

// A value or a KeyError. For T = std::string construct the value explicitly
// (`KeyResult<std::string>(boost::system::in_place_value, s)`): KeyError is constructible from a
// string too, so the implicit conversion is ambiguous and disabled.
template <class T>
using KeyResult = boost::system::result<T, KeyError>;

// Raw key components, big-endian unsigned bytes as in JWK (RFC 7518 §6). Which fields are set
// depends on the algorithm: EdDSA x (public) and d (32-byte seed); ES256 x, y (32 bytes each)
// and d (scalar); RS256/PS256 n, e; HS256 k. Secret fields are wiped on destruction.
struct KeyMaterial {
  Algorithm algorithm = Algorithm::kEdDSA;
  std::string x, y, n, e;
  std::string d, k;  // secret

  KeyMaterial() = default;
  KeyMaterial(const KeyMaterial&) = default;
  KeyMaterial& operator=(const KeyMaterial&) = default;
  ~KeyMaterial();
};

// Outcome of a signature check. kMalformed: the signature cannot be one of this algorithm's
// (wrong length, or ECDSA r or s outside [1, n-1]); it is rejected before OpenSSL sees it.
enum class SignatureCheck : std::uint8_t { kValid, kInvalid, kMalformed };

class SignatureKey;
using SignatureKeyPtr = std::shared_ptr<const SignatureKey>;

// An immutable key. All methods are const and thread-safe.
class SignatureKey {
 public:
  virtual ~SignatureKey() = default;

  // Builds a key from components; with `d`/`k` set it can sign. Fails on wrong lengths, a point
  // not on the curve, a private part that does not match the public one, RSA outside 2048..8192
  // bits or with a bad exponent, an HS256 secret shorter than 32 bytes, or private RSA parts
  // (RSA keys verify only).
  [[nodiscard]] static KeyResult<SignatureKeyPtr> fromMaterial(const KeyMaterial& material);
  // Generates a new private key for EdDSA, ES256 or HS256 from `random` (Ed25519 seed, P-256
  // scalar, or a 32-byte HMAC secret). RS256/PS256 fail: we never sign with RSA.
  [[nodiscard]] static KeyResult<SignatureKeyPtr> generate(Algorithm algorithm, Random& random);

  virtual Algorithm algorithm() const = 0;
  // True when the key holds private material (or is an HMAC secret) and can sign.
  virtual bool canSign() const = 0;
  // RSA modulus size; 256 for P-256 and Ed25519's group size; 8 × secret length for HS256.
  virtual int bits() const = 0;

  // Signs `data`, writing the JOSE signature (Ed25519 64 bytes, ES256 r||s 64 bytes, HS256 32
  // bytes) to `signature`. Returns false when the key cannot sign or OpenSSL fails. ECDSA nonces
  // come from OpenSSL's DRBG (RFC 6979 is not available in OpenSSL 3.0).
  [[nodiscard]] virtual bool sign(std::string_view data, std::string& signature) const = 0;
  // Checks `signature` over `data` with this key's algorithm (HMAC compared in constant time).
  [[nodiscard]] virtual SignatureCheck verify(std::string_view data,
                                              std::string_view signature) const = 0;

  // Returns the public components (for JWKS); for HS256 only `algorithm` is set.
  virtual KeyMaterial publicMaterial() const = 0;
  // Returns every component including the secret ones, for writing the key to its 0600 file.
  virtual KeyMaterial privateMaterial() const = 0;
};

}  // namespace bulwark::crypto

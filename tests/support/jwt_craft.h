#pragma once
// Test helpers for hand-crafted JWTs (header-only, so any test binary can use them): keys made
// and signatures computed with OpenSSL directly — independent of src/crypto's own code paths —
// plus a repeatable Random.

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "crypto/base64url.h"
#include "crypto/hmac.h"
#include "crypto/random.h"
#include "crypto/signature_key.h"

namespace bulwark::test {

inline std::string b64(std::string_view bytes) { return crypto::base64UrlEncode(bytes); }

// A Random that returns a fixed, repeatable byte stream (SHA-256 in counter mode over a seed).
class SeededRandom final : public crypto::Random {
 public:
  explicit SeededRandom(std::string seed = "bulwark-test") : seed_(std::move(seed)) {}
  void fill(std::span<std::uint8_t> out) override {
    std::size_t done = 0;
    while (done < out.size()) {
      const auto block = crypto::sha256(seed_ + std::to_string(counter_++));
      const std::size_t n = std::min(block.size(), out.size() - done);
      std::memcpy(out.data() + done, block.data(), n);
      done += n;
    }
  }

 private:
  std::string seed_;
  std::uint64_t counter_ = 0;
};

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline void check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("OpenSSL test helper failed: ") + what);
  }
}

inline Pkey generateEd25519() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  check(key != nullptr, "ed25519 keygen");
  return key;
}
inline Pkey generateP256() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  check(key != nullptr, "p256 keygen");
  return key;
}
inline Pkey generateRsa(std::size_t bits) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
  check(key != nullptr, "rsa keygen");
  return key;
}

// One RSA-2048 key per test binary: generating one takes ~100 ms.
inline EVP_PKEY* sharedRsa2048() {
  static const Pkey key = generateRsa(2048);
  return key.get();
}

inline std::string bnParam(EVP_PKEY* key, const char* name, int width = 0) {
  BIGNUM* bn = nullptr;
  check(EVP_PKEY_get_bn_param(key, name, &bn) == 1, name);
  const int size = width > 0 ? width : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(size), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
  BN_clear_free(bn);
  return out;
}

// The public components of an OpenSSL key, as src/crypto expects them.
inline crypto::KeyMaterial publicMaterial(EVP_PKEY* key, crypto::Algorithm algorithm) {
  crypto::KeyMaterial m;
  m.algorithm = algorithm;
  if (EVP_PKEY_is_a(key, "ED25519")) {
    m.x.resize(32);
    std::size_t n = 32;
    check(EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(m.x.data()), &n) == 1,
          "raw public");
  } else if (EVP_PKEY_is_a(key, "EC")) {
    m.x = bnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
    m.y = bnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
  } else {
    m.n = bnParam(key, OSSL_PKEY_PARAM_RSA_N);
    m.e = bnParam(key, OSSL_PKEY_PARAM_RSA_E);
  }
  return m;
}

inline crypto::SignatureKeyPtr publicKey(EVP_PKEY* key, crypto::Algorithm algorithm) {
  return crypto::SignatureKey::fromMaterial(publicMaterial(key, algorithm)).value();
}

inline crypto::SignatureKeyPtr hmacKey(std::string secret) {
  crypto::KeyMaterial m;
  m.algorithm = crypto::Algorithm::kHS256;
  m.k = std::move(secret);
  return crypto::SignatureKey::fromMaterial(m).value();
}

// The DER SubjectPublicKeyInfo of a key: "public key bytes" an attacker could use as an HMAC
// secret in an algorithm-confusion attack.
inline std::string publicKeyDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  check(n > 0, "i2d_PUBKEY");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

enum class RsaPadding { kPkcs1, kPss };

// Signs `data` with OpenSSL: Ed25519 raw, P-256 converted from DER to JOSE r||s, RSA PKCS#1 v1.5
// or PSS (salt length `pss_salt`, default = digest length).
inline std::string opensslSign(EVP_PKEY* key, std::string_view data,
                               RsaPadding padding = RsaPadding::kPkcs1, int pss_salt = -1) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const bool ed = EVP_PKEY_is_a(key, "ED25519");
  EVP_PKEY_CTX* pctx = nullptr;
  check(EVP_DigestSignInit(ctx.get(), &pctx, ed ? nullptr : EVP_sha256(), nullptr, key) == 1,
        "sign init");
  if (EVP_PKEY_is_a(key, "RSA") && padding == RsaPadding::kPss) {
    check(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1, "pss");
    check(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt) == 1, "saltlen");
  }
  std::size_t n = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  check(EVP_DigestSign(ctx.get(), nullptr, &n, in, data.size()) == 1, "sign size");
  std::string sig(n, '\0');
  check(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, in,
                       data.size()) == 1,
        "sign");
  sig.resize(n);
  if (EVP_PKEY_is_a(key, "EC")) {
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    check(ecdsa != nullptr, "d2i_ECDSA_SIG");
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(ecdsa);
    return raw;
  }
  return sig;
}

inline std::string hmacSign(std::string_view secret, std::string_view data) {
  const auto mac = crypto::hmacSha256(
      {reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()}, data);
  return {reinterpret_cast<const char*>(mac.data()), mac.size()};
}

// "<b64(header)>.<b64(payload)>"
inline std::string signingInput(std::string_view header, std::string_view payload) {
  return b64(header) + "." + b64(payload);
}

// A whole token from header and payload JSON texts and a signature over their encoding.
template <class SignFn>
std::string craft(std::string_view header, std::string_view payload, SignFn&& sign) {
  const std::string input = signingInput(header, payload);
  return input + "." + b64(sign(input));
}

}  // namespace bulwark::test

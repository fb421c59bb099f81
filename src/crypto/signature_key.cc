#include "crypto/signature_key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <array>
#include <cstring>
#include <stdexcept>

#include "crypto/hmac.h"
#include "crypto/random.h"

namespace bulwark::crypto {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnDeleter {
  void operator()(BIGNUM* p) const { BN_clear_free(p); }
};
struct ParamBldDeleter {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct EcGroupDeleter {
  void operator()(EC_GROUP* p) const { EC_GROUP_free(p); }
};
struct EcPointDeleter {
  void operator()(EC_POINT* p) const { EC_POINT_free(p); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

constexpr std::size_t kEd25519Bytes = 32;
constexpr std::size_t kP256Bytes = 32;
constexpr std::size_t kHs256MinSecret = 32;
constexpr int kRsaMinBits = 2048;
constexpr int kRsaMaxBits = 8192;

// The order n of the P-256 group, big-endian (SEC 2 §2.4.2).
constexpr std::array<std::uint8_t, kP256Bytes> kP256Order = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

const std::uint8_t* u8(std::string_view s) {
  return reinterpret_cast<const std::uint8_t*>(s.data());
}

// True when the 32-byte big-endian value is in [1, n-1]. Equal-length big-endian byte strings
// compare like the numbers they encode, so memcmp is an exact range check.
bool inP256ScalarRange(const std::uint8_t* value) {
  bool zero = true;
  for (std::size_t i = 0; i < kP256Bytes; ++i) {
    zero = zero && value[i] == 0;
  }
  return !zero && std::memcmp(value, kP256Order.data(), kP256Bytes) < 0;
}

// SHA-256 fetched once: an implicit fetch per operation costs a lock and a table lookup.
const EVP_MD* sha256Md() {
  static EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) {
      throw std::runtime_error("OpenSSL has no SHA256");
    }
    return fetched;
  }();
  return md;
}

// One EVP_MD_CTX per thread, reset after each use, saves an allocation per signature check.
class ScopedMdCtx {
 public:
  ScopedMdCtx() : ctx_(threadContext()) {}
  ~ScopedMdCtx() {
    EVP_MD_CTX_reset(ctx_);
    ERR_clear_error();  // failures leave entries that would confuse unrelated OpenSSL callers
  }
  ScopedMdCtx(const ScopedMdCtx&) = delete;
  ScopedMdCtx& operator=(const ScopedMdCtx&) = delete;
  EVP_MD_CTX* get() const { return ctx_; }

 private:
  static EVP_MD_CTX* threadContext() {
    thread_local std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
    if (!ctx) {
      throw std::bad_alloc();
    }
    return ctx.get();
  }
  EVP_MD_CTX* ctx_;
};

void wipe(std::string& s) {
  if (!s.empty()) {
    OPENSSL_cleanse(s.data(), s.size());
  }
  s.clear();
}

KeyError error(std::string message) { return KeyError{std::move(message)}; }

std::string bnToBytes(const BIGNUM* bn, int width) {
  const int size = width > 0 ? width : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(size), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
  return out;
}

// Runs EVP_DigestSign with `md` (nullptr for Ed25519) into `signature`.
bool digestSign(EVP_PKEY* pkey, const EVP_MD* md, std::string_view data, std::string& signature) {
  ScopedMdCtx ctx;
  if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, pkey) != 1) {
    return false;
  }
  std::size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, u8(data), data.size()) != 1) {
    return false;
  }
  signature.resize(length);
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     u8(data), data.size()) != 1) {
    return false;
  }
  signature.resize(length);
  return true;
}

class Ed25519Key final : public SignatureKey {
 public:
  Ed25519Key(PkeyPtr pkey, std::string public_key, bool has_private)
      : pkey_(std::move(pkey)), public_(std::move(public_key)), private_(has_private) {}

  Algorithm algorithm() const override { return Algorithm::kEdDSA; }
  bool canSign() const override { return private_; }
  int bits() const override { return 256; }

  bool sign(std::string_view data, std::string& signature) const override {
    return private_ && digestSign(pkey_.get(), nullptr, data, signature);
  }

  SignatureCheck verify(std::string_view data, std::string_view signature) const override {
    if (signature.size() != 64) {
      return SignatureCheck::kMalformed;
    }
    ScopedMdCtx ctx;
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1) {
      return SignatureCheck::kInvalid;
    }
    return EVP_DigestVerify(ctx.get(), u8(signature), signature.size(), u8(data), data.size()) == 1
               ? SignatureCheck::kValid
               : SignatureCheck::kInvalid;
  }

  KeyMaterial publicMaterial() const override {
    KeyMaterial m;
    m.algorithm = Algorithm::kEdDSA;
    m.x = public_;
    return m;
  }

  KeyMaterial privateMaterial() const override {
    KeyMaterial m = publicMaterial();
    if (private_) {
      m.d.resize(kEd25519Bytes);
      std::size_t length = kEd25519Bytes;
      if (EVP_PKEY_get_raw_private_key(pkey_.get(), reinterpret_cast<unsigned char*>(m.d.data()),
                                       &length) != 1 ||
          length != kEd25519Bytes) {
        wipe(m.d);
      }
    }
    return m;
  }

 private:
  PkeyPtr pkey_;
  std::string public_;
  bool private_;
};

class P256Key final : public SignatureKey {
 public:
  P256Key(PkeyPtr pkey, std::string x, std::string y, bool has_private)
      : pkey_(std::move(pkey)), x_(std::move(x)), y_(std::move(y)), private_(has_private) {}

  Algorithm algorithm() const override { return Algorithm::kES256; }
  bool canSign() const override { return private_; }
  int bits() const override { return 256; }

  bool sign(std::string_view data, std::string& signature) const override {
    std::string der;
    if (!private_ || !digestSign(pkey_.get(), sha256Md(), data, der)) {
      return false;
    }
    const auto* p = u8(der);
    std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> sig(
        d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) {
      return false;
    }
    signature = bnToBytes(ECDSA_SIG_get0_r(sig.get()), kP256Bytes) +
                bnToBytes(ECDSA_SIG_get0_s(sig.get()), kP256Bytes);
    return true;
  }

  SignatureCheck verify(std::string_view data, std::string_view signature) const override {
    if (signature.size() != 2 * kP256Bytes) {
      return SignatureCheck::kMalformed;
    }
    // CVE-2022-21449 class: r = 0 or s = 0 (or values >= n) must never reach a verifier that
    // might accept them. OpenSSL rejects them too; this check does not depend on that.
    const std::uint8_t* r = u8(signature);
    const std::uint8_t* s = r + kP256Bytes;
    if (!inP256ScalarRange(r) || !inP256ScalarRange(s)) {
      return SignatureCheck::kMalformed;
    }
    std::array<std::uint8_t, 72> der;
    const std::size_t der_length = encodeDer(r, s, der.data());
    ScopedMdCtx ctx;
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, sha256Md(), nullptr, pkey_.get()) != 1) {
      return SignatureCheck::kInvalid;
    }
    return EVP_DigestVerify(ctx.get(), der.data(), der_length, u8(data), data.size()) == 1
               ? SignatureCheck::kValid
               : SignatureCheck::kInvalid;
  }

  KeyMaterial publicMaterial() const override {
    KeyMaterial m;
    m.algorithm = Algorithm::kES256;
    m.x = x_;
    m.y = y_;
    return m;
  }

  KeyMaterial privateMaterial() const override {
    KeyMaterial m = publicMaterial();
    BIGNUM* raw = nullptr;
    if (private_ && EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_PRIV_KEY, &raw) == 1) {
      BnPtr d(raw);
      m.d = bnToBytes(d.get(), kP256Bytes);
    }
    return m;
  }

 private:
  // Writes the DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs) for r and s; returns its length.
  static std::size_t encodeDer(const std::uint8_t* r, const std::uint8_t* s, std::uint8_t* out) {
    std::size_t length = 2;
    for (const std::uint8_t* value : {r, s}) {
      std::size_t skip = 0;
      while (skip + 1 < kP256Bytes && value[skip] == 0) {
        ++skip;
      }
      const bool pad = (value[skip] & 0x80) != 0;
      const std::size_t body = kP256Bytes - skip + (pad ? 1 : 0);
      out[length++] = 0x02;
      out[length++] = static_cast<std::uint8_t>(body);
      if (pad) {
        out[length++] = 0;
      }
      std::memcpy(out + length, value + skip, kP256Bytes - skip);
      length += kP256Bytes - skip;
    }
    out[0] = 0x30;
    out[1] = static_cast<std::uint8_t>(length - 2);
    return length;
  }

  PkeyPtr pkey_;
  std::string x_, y_;
  bool private_;
};

// Builds the verify context an RsaKey copies per signature: the key, SHA-256, and for PS256
// RFC 7518 §3.5's PSS with MGF1-SHA-256 (OpenSSL's default: the message digest) and a salt as
// long as the hash, so a signature made with any other salt length is rejected. Null when
// OpenSSL refuses (the key then cannot verify).
PkeyCtxPtr rsaVerifyTemplate(EVP_PKEY* pkey, Algorithm algorithm) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), sha256Md()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  if (algorithm == Algorithm::kPS256 &&
      (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) != 1)) {
    ERR_clear_error();
    return nullptr;
  }
  return ctx;
}

class RsaKey final : public SignatureKey {
 public:
  RsaKey(Algorithm algorithm, PkeyPtr pkey, std::string n, std::string e)
      : algorithm_(algorithm),
        pkey_(std::move(pkey)),
        n_(std::move(n)),
        e_(std::move(e)),
        size_(static_cast<std::size_t>(EVP_PKEY_get_size(pkey_.get()))),
        bits_(EVP_PKEY_get_bits(pkey_.get())),
        verify_template_(rsaVerifyTemplate(pkey_.get(), algorithm_)) {}

  Algorithm algorithm() const override { return algorithm_; }
  bool canSign() const override { return false; }
  int bits() const override { return bits_; }

  bool sign(std::string_view, std::string&) const override { return false; }

  // EVP_DigestVerifyInit per signature (what the raw OpenSSL check in bench/jwt does) looks the
  // RSA signature implementation up by name, builds a context and sets it up: about 8% of an
  // RS256 verify. The context prepared once is copied instead (a copy per call: contexts are
  // not shareable between threads), and the signing input is hashed with SHA-256 one-shot.
  SignatureCheck verify(std::string_view data, std::string_view signature) const override {
    if (signature.size() != size_) {
      return SignatureCheck::kMalformed;
    }
    if (!verify_template_) {
      return SignatureCheck::kInvalid;
    }
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest;
    SHA256(u8(data), data.size(), digest.data());
    const PkeyCtxPtr ctx(EVP_PKEY_CTX_dup(verify_template_.get()));
    const bool valid = ctx && EVP_PKEY_verify(ctx.get(), u8(signature), signature.size(),
                                              digest.data(), digest.size()) == 1;
    if (!valid) {
      ERR_clear_error();  // failures leave entries that would confuse unrelated OpenSSL callers
    }
    return valid ? SignatureCheck::kValid : SignatureCheck::kInvalid;
  }

  KeyMaterial publicMaterial() const override {
    KeyMaterial m;
    m.algorithm = algorithm_;
    m.n = n_;
    m.e = e_;
    return m;
  }
  KeyMaterial privateMaterial() const override { return publicMaterial(); }

 private:
  Algorithm algorithm_;
  PkeyPtr pkey_;
  std::string n_, e_;
  std::size_t size_;
  int bits_;
  PkeyCtxPtr verify_template_;  // never used directly: only copied
};

class HmacKey final : public SignatureKey {
 public:
  explicit HmacKey(std::string secret)
      : secret_(std::move(secret)), prepared_({u8(secret_), secret_.size()}) {}
  ~HmacKey() override { wipe(secret_); }

  Algorithm algorithm() const override { return Algorithm::kHS256; }
  bool canSign() const override { return true; }
  int bits() const override { return static_cast<int>(secret_.size() * 8); }

  bool sign(std::string_view data, std::string& signature) const override {
    const Digest256 mac = prepared_.mac(data);
    signature.assign(reinterpret_cast<const char*>(mac.data()), mac.size());
    return true;
  }

  SignatureCheck verify(std::string_view data, std::string_view signature) const override {
    if (signature.size() != 32) {
      return SignatureCheck::kMalformed;
    }
    const Digest256 mac = prepared_.mac(data);
    return constantTimeEqual(mac, {u8(signature), signature.size()}) ? SignatureCheck::kValid
                                                                     : SignatureCheck::kInvalid;
  }

  KeyMaterial publicMaterial() const override {
    KeyMaterial m;
    m.algorithm = Algorithm::kHS256;
    return m;
  }
  KeyMaterial privateMaterial() const override {
    KeyMaterial m = publicMaterial();
    m.k = secret_;
    return m;
  }

 private:
  std::string secret_;
  HmacSha256Key prepared_;  // keyed once: signing and verifying never re-key
};

// Returns the uncompressed P-256 point 04||x||y for the scalar `d`.
bool p256PublicFromPrivate(const BIGNUM* d, std::string& x, std::string& y) {
  std::unique_ptr<EC_GROUP, EcGroupDeleter> group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  if (!group) {
    return false;
  }
  std::unique_ptr<EC_POINT, EcPointDeleter> point(EC_POINT_new(group.get()));
  std::array<unsigned char, 65> encoded;
  if (!point || EC_POINT_mul(group.get(), point.get(), d, nullptr, nullptr, nullptr) != 1 ||
      EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, encoded.data(),
                         encoded.size(), nullptr) != encoded.size()) {
    return false;
  }
  x.assign(reinterpret_cast<const char*>(encoded.data() + 1), kP256Bytes);
  y.assign(reinterpret_cast<const char*>(encoded.data() + 1 + kP256Bytes), kP256Bytes);
  return true;
}

bool publicKeyValid(EVP_PKEY* pkey) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  const bool ok = ctx && EVP_PKEY_public_check(ctx.get()) == 1;
  ERR_clear_error();
  return ok;
}

PkeyPtr pkeyFromParams(const char* type, int selection, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, selection, params.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return PkeyPtr(pkey);
}

KeyResult<SignatureKeyPtr> makeEd25519(const KeyMaterial& m) {
  if (m.x.size() != kEd25519Bytes) {
    return error("Ed25519 public key must be 32 bytes");
  }
  if (!m.d.empty()) {
    if (m.d.size() != kEd25519Bytes) {
      return error("Ed25519 private key must be 32 bytes");
    }
    PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, u8(m.d), m.d.size()));
    std::string derived(kEd25519Bytes, '\0');
    std::size_t length = derived.size();
    if (!pkey || EVP_PKEY_get_raw_public_key(
                     pkey.get(), reinterpret_cast<unsigned char*>(derived.data()), &length) != 1) {
      ERR_clear_error();
      return error("Ed25519 private key rejected by OpenSSL");
    }
    if (derived != m.x) {
      return error("Ed25519 public key does not match the private key");
    }
    return std::make_shared<Ed25519Key>(std::move(pkey), m.x, true);
  }
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, u8(m.x), m.x.size()));
  if (!pkey) {
    ERR_clear_error();
    return error("Ed25519 public key rejected by OpenSSL");
  }
  return std::make_shared<Ed25519Key>(std::move(pkey), m.x, false);
}

KeyResult<SignatureKeyPtr> makeP256(const KeyMaterial& m) {
  if (m.x.size() != kP256Bytes || m.y.size() != kP256Bytes) {
    return error("P-256 coordinates x and y must be 32 bytes each");
  }
  std::string point = "\x04" + m.x + m.y;
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  BnPtr d;
  if (!m.d.empty()) {
    if (m.d.size() != kP256Bytes || !inP256ScalarRange(u8(m.d))) {
      return error("P-256 private key must be a 32-byte scalar in [1, n-1]");
    }
    d.reset(BN_secure_new());
    std::string x, y;
    if (!d || BN_bin2bn(u8(m.d), static_cast<int>(m.d.size()), d.get()) == nullptr ||
        !p256PublicFromPrivate(d.get(), x, y)) {
      return error("P-256 private key rejected by OpenSSL");
    }
    if (x != m.x || y != m.y) {
      return error("P-256 public key does not match the private key");
    }
  }
  static char kGroup[] = "prime256v1";
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kGroup, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1 ||
      (d && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1)) {
    return error("out of memory building a P-256 key");
  }
  PkeyPtr pkey = pkeyFromParams("EC", d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld.get());
  if (!pkey || !publicKeyValid(pkey.get())) {
    return error("P-256 public key is not a valid point on the curve");
  }
  return std::make_shared<P256Key>(std::move(pkey), m.x, m.y, d != nullptr);
}

KeyResult<SignatureKeyPtr> makeRsa(const KeyMaterial& m) {
  if (!m.d.empty() || !m.k.empty()) {
    return error("RSA keys are accepted for verification only; private parts are refused");
  }
  // Leading zero octets are not minimal (RFC 7518 §6.3.1.1) but harmless; the bit count below
  // comes from the number itself.
  if (m.n.empty() || m.e.empty() || m.e.size() > 8) {
    return error("RSA key needs a modulus n and an exponent e of at most 64 bits");
  }
  BnPtr n(BN_bin2bn(u8(m.n), static_cast<int>(m.n.size()), nullptr));
  BnPtr e(BN_bin2bn(u8(m.e), static_cast<int>(m.e.size()), nullptr));
  if (!n || !e) {
    return error("out of memory building an RSA key");
  }
  const int bits = BN_num_bits(n.get());
  if (bits < kRsaMinBits || bits > kRsaMaxBits) {
    return error("RSA modulus has " + std::to_string(bits) + " bits; " +
                 std::to_string(kRsaMinBits) + " to " + std::to_string(kRsaMaxBits) +
                 " are accepted");
  }
  if (!BN_is_odd(e.get()) || BN_cmp(e.get(), BN_value_one()) <= 0) {
    return error("RSA exponent must be odd and greater than 1");
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return error("out of memory building an RSA key");
  }
  PkeyPtr pkey = pkeyFromParams("RSA", EVP_PKEY_PUBLIC_KEY, bld.get());
  if (!pkey || !publicKeyValid(pkey.get())) {
    return error("RSA public key rejected by OpenSSL's public key check");
  }
  return std::make_shared<RsaKey>(m.algorithm, std::move(pkey), bnToBytes(n.get(), 0),
                                  bnToBytes(e.get(), 0));
}

KeyResult<SignatureKeyPtr> makeHmac(const KeyMaterial& m) {
  if (m.k.size() < kHs256MinSecret) {
    return error("HS256 secret must be at least 32 bytes (256 bits)");
  }
  return std::make_shared<HmacKey>(m.k);
}

}  // namespace

void throw_exception_from_error(const KeyError& error, const boost::source_location&) {
  throw std::runtime_error(error.message);
}

KeyMaterial::~KeyMaterial() {
  wipe(d);
  wipe(k);
}

std::string_view algorithmName(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kEdDSA:
      return "EdDSA";
    case Algorithm::kES256:
      return "ES256";
    case Algorithm::kHS256:
      return "HS256";
    case Algorithm::kRS256:
      return "RS256";
    case Algorithm::kPS256:
      return "PS256";
  }
  return "?";
}

std::optional<Algorithm> algorithmFromName(std::string_view name) {
  for (Algorithm a : {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kHS256, Algorithm::kRS256,
                      Algorithm::kPS256}) {
    if (algorithmName(a) == name) {
      return a;
    }
  }
  return std::nullopt;
}

KeyResult<SignatureKeyPtr> SignatureKey::fromMaterial(const KeyMaterial& material) {
  switch (material.algorithm) {
    case Algorithm::kEdDSA:
      return makeEd25519(material);
    case Algorithm::kES256:
      return makeP256(material);
    case Algorithm::kRS256:
    case Algorithm::kPS256:
      return makeRsa(material);
    case Algorithm::kHS256:
      return makeHmac(material);
  }
  return error("unknown algorithm");
}

KeyResult<SignatureKeyPtr> SignatureKey::generate(Algorithm algorithm, Random& random) {
  KeyMaterial m;
  m.algorithm = algorithm;
  switch (algorithm) {
    case Algorithm::kEdDSA: {
      m.d.resize(kEd25519Bytes);
      random.fill({reinterpret_cast<std::uint8_t*>(m.d.data()), m.d.size()});
      PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, u8(m.d), m.d.size()));
      m.x.resize(kEd25519Bytes);
      std::size_t length = m.x.size();
      if (!pkey || EVP_PKEY_get_raw_public_key(
                       pkey.get(), reinterpret_cast<unsigned char*>(m.x.data()), &length) != 1) {
        ERR_clear_error();
        return error("Ed25519 key generation failed");
      }
      return std::make_shared<Ed25519Key>(std::move(pkey), m.x, true);
    }
    case Algorithm::kES256: {
      m.d.resize(kP256Bytes);
      // Rejection sampling: a uniform scalar in [1, n-1]; a retry happens with probability 2^-32.
      do {
        random.fill({reinterpret_cast<std::uint8_t*>(m.d.data()), m.d.size()});
      } while (!inP256ScalarRange(u8(m.d)));
      BnPtr d(BN_secure_new());
      if (!d || BN_bin2bn(u8(m.d), static_cast<int>(m.d.size()), d.get()) == nullptr ||
          !p256PublicFromPrivate(d.get(), m.x, m.y)) {
        return error("P-256 key generation failed");
      }
      return makeP256(m);
    }
    case Algorithm::kHS256:
      m.k.resize(kHs256MinSecret);
      random.fill({reinterpret_cast<std::uint8_t*>(m.k.data()), m.k.size()});
      return makeHmac(m);
    case Algorithm::kRS256:
    case Algorithm::kPS256:
      break;
  }
  return error(std::string("cannot generate ") + std::string(algorithmName(algorithm)) +
               " keys: RSA is supported for verifying external issuers only");
}

}  // namespace bulwark::crypto

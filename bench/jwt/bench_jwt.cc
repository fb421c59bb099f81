// bench/jwt: JWT sign and verify per algorithm, bulwark against libjwt (Debian libjwt-dev 1.10,
// the v1 API: jwt_decode / jwt_encode_str) and the raw OpenSSL signature primitive, all measured
// in the same run (issue 3 "Benchmark"). After Google Benchmark's own output it prints a table of
// ratios: goal verification >= 1.5x libjwt and >= 0.9x raw OpenSSL per algorithm.
//
//   bulwark/verify   Verifier::verify with the cache disabled: every rule of SPEC F2.2 (strict
//                    base64url, duplicate-member JSON, header rules, typ, kid, alg, signature,
//                    iss/aud/exp/nbf/iat) — what a token costs the first time it is seen.
//   bulwark/cached   Verifier::verify, token already verified: SHA-256 + cache lookup.
//   libjwt/verify    jwt_decode (signature + JSON) plus reading and checking iss, aud and exp.
//   openssl/verify   EVP_DigestVerifyInit + EVP_DigestVerify of the same signing input and
//                    signature with an already parsed EVP_PKEY (the floor: no JWT work at all).
//   .../sign         TokenSigner::sign (claims, jti, header, signature) / jwt_encode_str /
//                    EVP_DigestSign of a signing input of the same size.
// The same token (typ "JWT", which libjwt 1.10 requires) is verified by all three.

#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "crypto/base64url.h"
#include "crypto/random.h"
#include "jwt/claims.h"
#include "jwt/jws.h"
#include "jwt/key_set.h"
#include "jwt/signer.h"
#include "jwt/verifier.h"
#include "support/jwt_craft.h"

#ifdef BULWARK_HAVE_LIBJWT
extern "C" {
#include <jwt.h>
}
#endif

namespace {

using namespace bulwark;
using crypto::Algorithm;

constexpr std::string_view kIssuer = "https://bulwark.bench";
constexpr std::string_view kAudience = "api";

std::string pem(EVP_PKEY* key, bool with_private) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (with_private) {
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PUBKEY(bio.get(), key);
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// Everything one algorithm needs: keys in three forms and one token.
struct Case {
  Algorithm alg;
  test::Pkey pkey;                      // OpenSSL form (nullptr for HS256)
  std::string secret;                   // HS256
  crypto::SignatureKeyPtr private_key;  // bulwark form (null for RSA: verify only)
  jwt::KeySetPtr keys;
  jwt::VerifierPtr verifier_cold, verifier_cached;
  jwt::TokenSignerPtr signer;
  std::string token;
  std::string signing_input, der_or_raw_signature;  // for the raw OpenSSL check
  std::string pem_private, pem_public;
  test::Pkey public_pkey;  // public part only, as a verifier holds it
};

core::SimulatedClock& benchClock() {
  static core::SimulatedClock clock;
  return clock;
}

crypto::KeyMaterial privateMaterial(EVP_PKEY* key, Algorithm alg) {
  crypto::KeyMaterial m = test::publicMaterial(key, alg);
  if (alg == Algorithm::kEdDSA) {
    m.d.resize(32);
    std::size_t n = 32;
    EVP_PKEY_get_raw_private_key(key, reinterpret_cast<unsigned char*>(m.d.data()), &n);
  } else if (alg == Algorithm::kES256) {
    m.d = test::bnParam(key, "priv", 32);
  }
  return m;
}

std::string payloadJson() {
  const std::int64_t now = jwt::toNumericDate(benchClock().systemTime());
  return "{\"iss\":\"" + std::string(kIssuer) + "\",\"aud\":\"" + std::string(kAudience) +
         "\",\"sub\":\"user-12345\",\"exp\":" + std::to_string(now + 900) +
         ",\"nbf\":" + std::to_string(now) + ",\"iat\":" + std::to_string(now) +
         ",\"jti\":\"q1w2e3r4t5y6u7i8o9p0aa\",\"sid\":\"session-1\",\"roles\":[\"user\"]}";
}

std::unique_ptr<Case> makeCase(Algorithm alg) {
  auto c = std::make_unique<Case>();
  c->alg = alg;
  crypto::SignatureKeyPtr verify_key;
  switch (alg) {
    case Algorithm::kEdDSA:
      c->pkey = test::generateEd25519();
      break;
    case Algorithm::kES256:
      c->pkey = test::generateP256();
      break;
    case Algorithm::kRS256:
    case Algorithm::kPS256:
      c->pkey = test::generateRsa(2048);
      break;
    case Algorithm::kHS256:
      c->secret = std::string(32, 'k') + "bench";
      break;
  }
  if (alg == Algorithm::kHS256) {
    c->private_key = verify_key = test::hmacKey(c->secret);
  } else if (alg == Algorithm::kEdDSA || alg == Algorithm::kES256) {
    c->private_key =
        crypto::SignatureKey::fromMaterial(privateMaterial(c->pkey.get(), alg)).value();
    verify_key = test::publicKey(c->pkey.get(), alg);
  } else {
    verify_key = test::publicKey(c->pkey.get(), alg);
  }
  jwt::KeyEntry entry;
  entry.kid = "bench-kid";
  entry.key = c->private_key ? c->private_key : verify_key;
  c->keys = jwt::KeySet::create({entry}).value();

  for (auto* verifier : {&c->verifier_cold, &c->verifier_cached}) {
    jwt::VerifierConfig config;
    jwt::IssuerConfig issuer;
    issuer.issuer = kIssuer;
    issuer.audiences = {std::string(kAudience)};
    issuer.typ = jwt::TypPolicy::kAccessTokenOrJwt;
    issuer.required_claims = {"sub", "jti", "sid"};
    issuer.keys = jwt::staticKeySource(c->keys);
    config.issuers = {issuer};
    config.cache.capacity = verifier == &c->verifier_cold ? 0 : 1024;
    *verifier = jwt::Verifier::create(config, benchClock());
  }
  if (c->private_key) {
    jwt::SignerConfig signer;
    signer.issuer = kIssuer;
    signer.audiences = {std::string(kAudience)};
    c->signer = jwt::TokenSigner::create(signer, jwt::staticKeySource(c->keys), benchClock(),
                                         crypto::systemRandom());
  }

  const std::string header = "{\"alg\":\"" + std::string(crypto::algorithmName(alg)) +
                             "\",\"typ\":\"JWT\",\"kid\":\"bench-kid\"}";
  c->signing_input = test::signingInput(header, payloadJson());
  std::string signature;
  if (alg == Algorithm::kHS256) {
    signature = test::hmacSign(c->secret, c->signing_input);
  } else {
    signature = test::opensslSign(
        c->pkey.get(), c->signing_input,
        alg == Algorithm::kPS256 ? test::RsaPadding::kPss : test::RsaPadding::kPkcs1, 32);
  }
  c->token = c->signing_input + "." + test::b64(signature);
  c->der_or_raw_signature = signature;
  if (alg == Algorithm::kES256) {
    // Raw OpenSSL verifies DER: convert r||s once, outside the timed loop.
    ECDSA_SIG* sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(
        sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr),
        BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int n = i2d_ECDSA_SIG(sig, &der);
    c->der_or_raw_signature.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
  }
  if (c->pkey) {
    c->pem_private = pem(c->pkey.get(), true);
    c->pem_public = pem(c->pkey.get(), false);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(c->pem_public.data(), static_cast<int>(c->pem_public.size())), BIO_free);
    c->public_pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  }
  auto check = c->verifier_cold->verify(c->token);
  if (!check) {
    std::fprintf(stderr, "bench setup: %s token rejected: %s\n",
                 std::string(crypto::algorithmName(alg)).c_str(),
                 std::string(jwt::verifyErrorName(check.error())).c_str());
    std::abort();
  }
  return c;
}

Case& caseFor(Algorithm alg) {
  static std::map<Algorithm, std::unique_ptr<Case>> cases;
  auto& slot = cases[alg];
  if (!slot) {
    slot = makeCase(alg);
  }
  return *slot;
}

Algorithm algOf(const benchmark::State& state) { return static_cast<Algorithm>(state.range(0)); }

void BulwarkVerify(benchmark::State& state) {
  Case& c = caseFor(algOf(state));
  for (auto _ : state) {
    auto result = c.verifier_cold->verify(c.token);
    benchmark::DoNotOptimize(result);
    if (!result) state.SkipWithError("rejected");
  }
}

void BulwarkCachedVerify(benchmark::State& state) {
  Case& c = caseFor(algOf(state));
  (void)c.verifier_cached->verify(c.token);
  for (auto _ : state) {
    auto result = c.verifier_cached->verify(c.token);
    benchmark::DoNotOptimize(result);
    if (!result) state.SkipWithError("rejected");
  }
}

// The signature check inside bulwark alone (crypto::SignatureKey::verify), to separate JWT work
// from the cost of the primitive as bulwark calls it.
void KeyVerify(benchmark::State& state) {
  Case& c = caseFor(algOf(state));
  const crypto::SignatureKeyPtr& key = c.keys->entries().front().key;
  std::string signature;
  const std::string encoded = c.token.substr(c.token.rfind('.') + 1);
  (void)crypto::base64UrlDecode(encoded, signature);
  for (auto _ : state) {
    auto check = key->verify(c.signing_input, signature);
    benchmark::DoNotOptimize(check);
    if (check != crypto::SignatureCheck::kValid) state.SkipWithError("rejected");
  }
}

void OpensslVerify(benchmark::State& state) {
  Case& c = caseFor(algOf(state));
  const auto* input = reinterpret_cast<const unsigned char*>(c.signing_input.data());
  const auto* sig = reinterpret_cast<const unsigned char*>(c.der_or_raw_signature.data());
  for (auto _ : state) {
    int ok;
    if (c.alg == Algorithm::kHS256) {
      const std::string mac = test::hmacSign(c.secret, c.signing_input);
      ok = CRYPTO_memcmp(mac.data(), sig, mac.size()) == 0;
    } else {
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      EVP_PKEY_CTX* pctx = nullptr;
      EVP_DigestVerifyInit(ctx, &pctx, c.alg == Algorithm::kEdDSA ? nullptr : EVP_sha256(), nullptr,
                           c.public_pkey.get());
      if (c.alg == Algorithm::kPS256) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
      }
      ok = EVP_DigestVerify(ctx, sig, c.der_or_raw_signature.size(), input, c.signing_input.size());
      EVP_MD_CTX_free(ctx);
    }
    benchmark::DoNotOptimize(ok);
    if (ok != 1) state.SkipWithError("openssl rejected");
  }
}

void BulwarkSign(benchmark::State& state) {
  Case& c = caseFor(algOf(state));
  jwt::AccessTokenRequest request;
  request.subject = "user-12345";
  request.session_id = "session-1";
  request.roles = {"user"};
  for (auto _ : state) {
    auto issued = c.signer->sign(request);
    benchmark::DoNotOptimize(issued);
  }
}

void OpensslSign(benchmark::State& state) {
  Case& c = caseFor(algOf(state));
  for (auto _ : state) {
    std::string sig = c.alg == Algorithm::kHS256 ? test::hmacSign(c.secret, c.signing_input)
                                                 : test::opensslSign(c.pkey.get(), c.signing_input);
    benchmark::DoNotOptimize(sig);
  }
}

#ifdef BULWARK_HAVE_LIBJWT
jwt_alg_t libjwtAlg(Algorithm alg) {
  switch (alg) {
    case Algorithm::kHS256:
      return JWT_ALG_HS256;
    case Algorithm::kES256:
      return JWT_ALG_ES256;
    case Algorithm::kRS256:
      return JWT_ALG_RS256;
    default:
      return JWT_ALG_INVAL;
  }
}

void LibjwtVerify(benchmark::State& state) {
  Case& c = caseFor(algOf(state));
  const std::string& key = c.alg == Algorithm::kHS256 ? c.secret : c.pem_public;
  const std::int64_t now = jwt::toNumericDate(benchClock().systemTime());
  for (auto _ : state) {
    jwt_t* token = nullptr;
    int rc = jwt_decode(&token, c.token.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size()));
    if (rc == 0) {
      // libjwt 1.10 has no claim validation: the checks every verifier must do.
      const char* iss = jwt_get_grant(token, "iss");
      const char* aud = jwt_get_grant(token, "aud");
      const long exp = jwt_get_grant_int(token, "exp");
      rc = iss == nullptr || kIssuer != iss || aud == nullptr || kAudience != aud || exp <= now;
    }
    jwt_free(token);
    benchmark::DoNotOptimize(rc);
    if (rc != 0) state.SkipWithError("libjwt rejected");
  }
}

void LibjwtSign(benchmark::State& state) {
  Case& c = caseFor(algOf(state));
  const std::string& key = c.alg == Algorithm::kHS256 ? c.secret : c.pem_private;
  const std::int64_t now = jwt::toNumericDate(benchClock().systemTime());
  for (auto _ : state) {
    jwt_t* token = nullptr;
    jwt_new(&token);
    jwt_add_header(token, "kid", "bench-kid");
    jwt_add_grant(token, "iss", std::string(kIssuer).c_str());
    jwt_add_grant(token, "aud", std::string(kAudience).c_str());
    jwt_add_grant(token, "sub", "user-12345");
    jwt_add_grant_int(token, "exp", now + 900);
    jwt_add_grant_int(token, "nbf", now);
    jwt_add_grant_int(token, "iat", now);
    jwt_add_grant(token, "jti", "q1w2e3r4t5y6u7i8o9p0aa");
    jwt_add_grant(token, "sid", "session-1");
    jwt_add_grants_json(token, "{\"roles\":[\"user\"]}");
    jwt_set_alg(token, libjwtAlg(c.alg), reinterpret_cast<const unsigned char*>(key.data()),
                static_cast<int>(key.size()));
    char* text = jwt_encode_str(token);
    benchmark::DoNotOptimize(text);
    if (text == nullptr) state.SkipWithError("libjwt could not sign");
    std::free(text);  // libjwt 1.10: malloc()ed
    jwt_free(token);
  }
}
#endif

// Collects real time per benchmark for the ratio table: the median when repetitions were run
// (--benchmark_repetitions=N; the machines are shared and noisy), else the single run.
class Collector : public benchmark::ConsoleReporter {
 public:
  Collector() : ConsoleReporter(::isatty(1) ? OO_Defaults : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) {
        continue;
      }
      const std::string key = run.run_name.str();
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median") {
        ns_[key] = run.GetAdjustedRealTime();
        medians_.insert(key);
      } else if (run.run_type == Run::RT_Iteration && medians_.count(key) == 0) {
        ns_[key] = run.GetAdjustedRealTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::optional<double> ns(const std::string& name) const {
    auto it = ns_.find(name);
    return it == ns_.end() ? std::nullopt : std::optional<double>(it->second);
  }

 private:
  std::map<std::string, double> ns_;
  std::set<std::string> medians_;
};

const std::vector<Algorithm> kAlgorithms = {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kHS256,
                                            Algorithm::kRS256, Algorithm::kPS256};

std::string name(const char* op, Algorithm alg) {
  return std::string(op) + "/" + std::to_string(static_cast<int>(alg));
}

}  // namespace

int main(int argc, char** argv) {
  for (Algorithm alg : kAlgorithms) {
    const auto a = static_cast<std::int64_t>(alg);
    const std::string label = std::string(crypto::algorithmName(alg));
    benchmark::RegisterBenchmark("bulwark_verify", BulwarkVerify)->Arg(a);
    benchmark::RegisterBenchmark("bulwark_cached_verify", BulwarkCachedVerify)->Arg(a);
    benchmark::RegisterBenchmark("key_verify", KeyVerify)->Arg(a);
    benchmark::RegisterBenchmark("openssl_verify", OpensslVerify)->Arg(a);
#ifdef BULWARK_HAVE_LIBJWT
    if (alg == Algorithm::kHS256 || alg == Algorithm::kES256 || alg == Algorithm::kRS256) {
      benchmark::RegisterBenchmark("libjwt_verify", LibjwtVerify)->Arg(a);
    }
#endif
    if (alg != Algorithm::kRS256 && alg != Algorithm::kPS256) {
      benchmark::RegisterBenchmark("bulwark_sign", BulwarkSign)->Arg(a);
      benchmark::RegisterBenchmark("openssl_sign", OpensslSign)->Arg(a);
#ifdef BULWARK_HAVE_LIBJWT
      if (alg != Algorithm::kEdDSA) {
        benchmark::RegisterBenchmark("libjwt_sign", LibjwtSign)->Arg(a);
      }
#endif
    }
  }
  benchmark::Initialize(&argc, argv);
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::Shutdown();

  std::printf("\nArgument: 0 EdDSA, 1 ES256, 2 HS256, 3 RS256, 4 PS256. Times are µs per op.\n");
  std::printf("%-6s | %9s %9s %9s %9s | %14s %14s | %9s %9s %9s\n", "alg", "bulwark", "cached",
              "libjwt", "openssl", "bulwark/libjwt", "bulwark/openssl", "sign", "libjwt",
              "openssl");
  const auto us = [&](const char* op, Algorithm alg) { return collector.ns(name(op, alg)); };
  const auto cell = [](std::optional<double> ns) {
    char buffer[16];
    if (ns) {
      std::snprintf(buffer, sizeof buffer, "%9.2f", *ns / 1000.0);
    } else {
      std::snprintf(buffer, sizeof buffer, "%9s", "-");
    }
    return std::string(buffer);
  };
  // Ratios are speed ratios (higher is better for bulwark): other time / bulwark time.
  const auto ratio = [](std::optional<double> other, std::optional<double> ours) {
    char buffer[20];
    if (other && ours) {
      std::snprintf(buffer, sizeof buffer, "%13.2fx", *other / *ours);
    } else {
      std::snprintf(buffer, sizeof buffer, "%14s", "-");
    }
    return std::string(buffer);
  };
  for (Algorithm alg : kAlgorithms) {
    const auto ours = us("bulwark_verify", alg);
    std::printf(
        "%-6s | %s %s %s %s | %s %s | %s %s %s\n", std::string(crypto::algorithmName(alg)).c_str(),
        cell(ours).c_str(), cell(us("bulwark_cached_verify", alg)).c_str(),
        cell(us("libjwt_verify", alg)).c_str(), cell(us("openssl_verify", alg)).c_str(),
        ratio(us("libjwt_verify", alg), ours).c_str(),
        ratio(us("openssl_verify", alg), ours).c_str(), cell(us("bulwark_sign", alg)).c_str(),
        cell(us("libjwt_sign", alg)).c_str(), cell(us("openssl_sign", alg)).c_str());
  }
  return 0;
}

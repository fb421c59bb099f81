#include "support/test_pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace bulwark::testing {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

void check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("test PKI: ") + what);
  }
}

Key newKey() {
  Key key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EC key generation");
  return key;
}

void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(extension != nullptr && X509_add_ext(cert, extension, -1) == 1, "certificate extension");
  X509_EXTENSION_free(extension);
}

// A certificate for `key` named `common_name`, signed by `issuer_key` (self-signed when
// `issuer` is null). `san` empty: a CA certificate.
Cert newCert(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key,
             const char* san, long serial) {
  Cert cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7 * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (*san == '\0') {
    addExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    addExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    addExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    addExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    addExtension(cert.get(), signer, NID_subject_alt_name, san);
  }
  check(X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

void writeCert(const std::string& path, X509* cert) {
  FILE* file = std::fopen(path.c_str(), "w");
  check(file != nullptr, "cannot write a certificate");
  const bool ok = PEM_write_X509(file, cert) == 1;
  std::fclose(file);
  check(ok, "PEM_write_X509");
}

void writeKey(const std::string& path, EVP_PKEY* key) {
  FILE* file = std::fopen(path.c_str(), "w");
  check(file != nullptr, "cannot write a key");
  const bool ok = PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(file);
  check(ok, "PEM_write_PrivateKey");
}

}  // namespace

TestPki makeTestPki(const std::string& dir) {
  std::filesystem::create_directories(dir);
  TestPki pki;
  pki.ca_file = dir + "/ca.pem";
  pki.server_cert_file = dir + "/server.pem";
  pki.server_key_file = dir + "/server.key";
  pki.wrong_host_cert_file = dir + "/other-host.pem";
  pki.wrong_host_key_file = dir + "/other-host.key";
  pki.other_ca_file = dir + "/other-ca.pem";

  const Key ca_key = newKey();
  const Cert ca = newCert(ca_key.get(), "bulwark test CA", nullptr, ca_key.get(), "", 1);
  writeCert(pki.ca_file, ca.get());

  const Key server_key = newKey();
  const Cert server = newCert(server_key.get(), "localhost", ca.get(), ca_key.get(),
                              "IP:127.0.0.1,IP:::1,DNS:localhost", 2);
  writeCert(pki.server_cert_file, server.get());
  writeKey(pki.server_key_file, server_key.get());

  const Key other_host_key = newKey();
  const Cert other_host = newCert(other_host_key.get(), "other.example", ca.get(), ca_key.get(),
                                  "DNS:other.example", 3);
  writeCert(pki.wrong_host_cert_file, other_host.get());
  writeKey(pki.wrong_host_key_file, other_host_key.get());

  const Key other_ca_key = newKey();
  const Cert other_ca =
      newCert(other_ca_key.get(), "unrelated test CA", nullptr, other_ca_key.get(), "", 4);
  writeCert(pki.other_ca_file, other_ca.get());
  return pki;
}

}  // namespace bulwark::testing

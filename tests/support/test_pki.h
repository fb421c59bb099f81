#pragma once
// Certificates for TLS tests on loopback, generated at test time with OpenSSL (nothing is
// committed): a CA, a server certificate it signs for 127.0.0.1 / ::1 / localhost, a certificate
// it signs for another name only (host-name mismatch), and an unrelated CA (untrusted chain).

#include <string>

namespace bulwark::testing {

struct TestPki {
  std::string ca_file;           // PEM: the CA that signed server_cert and wrong_host_cert
  std::string server_cert_file;  // SANs IP:127.0.0.1, IP:::1, DNS:localhost
  std::string server_key_file;
  std::string wrong_host_cert_file;  // SAN DNS:other.example only
  std::string wrong_host_key_file;
  std::string other_ca_file;  // a CA that signed none of them
};

// Writes the files into `dir` (created if needed). Throws std::runtime_error on an OpenSSL
// failure.
TestPki makeTestPki(const std::string& dir);

}  // namespace bulwark::testing

#pragma once
// The real PostgreSQL and Redis that tests/support/services.sh started (TLS on, passwords, a CA
// and client certificate generated at test time), described by its BULWARK_TEST_* environment.
//
// Tests of production backends begin with BULWARK_REQUIRE_SERVICES(): without the services they
// are skipped on a developer's machine, and fail when BULWARK_TEST_REQUIRE_SERVICES is set (CI),
// so a CI run can never pass by silently skipping them.

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace bulwark::testing {

struct TestServices {
  std::string database_url;  // postgresql://…?sslmode=verify-full&sslrootcert=…&sslcert=…&sslkey=…
  std::string redis_url;     // rediss://bulwark:…@localhost:PORT/0
  std::string ca;            // the CA that signed both servers' certificates
  std::string wrong_ca;      // an unrelated CA (clients using it must refuse the servers)
  std::string client_cert;
  std::string client_key;
  std::string pg_password;
  std::string redis_password;
  int pg_port = 0;
  int redis_port = 0;
  std::string script;  // tests/support/services.sh, for fault tests (stop-redis, restart-postgres…)
  std::string dir;     // its state directory

  // Runs `services.sh <command> <dir>` (e.g. "restart-postgres"); true when it exited 0.
  bool control(const std::string& command) const;
};

// The services, or nullopt when the environment does not describe them.
std::optional<TestServices> testServices();
// True when BULWARK_TEST_REQUIRE_SERVICES is set to a non-empty value other than "0".
bool servicesRequired();

}  // namespace bulwark::testing

#define BULWARK_REQUIRE_SERVICES()                                                          \
  do {                                                                                      \
    if (!::bulwark::testing::testServices()) {                                              \
      if (::bulwark::testing::servicesRequired()) {                                         \
        FAIL() << "BULWARK_TEST_REQUIRE_SERVICES is set but BULWARK_TEST_DATABASE_URL / "   \
                  "BULWARK_TEST_REDIS_URL are not: source the env file of "                 \
                  "tests/support/services.sh start DIR";                                    \
      }                                                                                     \
      GTEST_SKIP() << "no PostgreSQL/Redis: run tests/support/services.sh start DIR and "  \
                      "source DIR/env";                                                    \
    }                                                                                       \
  } while (false)

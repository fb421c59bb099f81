#include "support/services.h"

#include <cstdlib>

#include "support/process.h"

namespace bulwark::testing {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

bool TestServices::control(const std::string& command) const {
  std::map<std::string, std::string> environment{
      {"BULWARK_TEST_PG_PORT", std::to_string(pg_port)},
      {"BULWARK_TEST_REDIS_PORT", std::to_string(redis_port)}};
  ProcessResult result = runProcess({"/bin/bash", script, command, dir}, environment,
                                    std::chrono::seconds(90));
  return result.exit_code == 0;
}

std::optional<TestServices> testServices() {
  TestServices services;
  services.database_url = env("BULWARK_TEST_DATABASE_URL");
  services.redis_url = env("BULWARK_TEST_REDIS_URL");
  if (services.database_url.empty() || services.redis_url.empty()) return std::nullopt;
  services.ca = env("BULWARK_TEST_CA");
  services.wrong_ca = env("BULWARK_TEST_WRONG_CA");
  services.client_cert = env("BULWARK_TEST_CLIENT_CERT");
  services.client_key = env("BULWARK_TEST_CLIENT_KEY");
  services.pg_password = env("BULWARK_TEST_PG_PASSWORD");
  services.redis_password = env("BULWARK_TEST_REDIS_PASSWORD");
  services.pg_port = std::atoi(env("BULWARK_TEST_PG_PORT").c_str());
  services.redis_port = std::atoi(env("BULWARK_TEST_REDIS_PORT").c_str());
  services.script = env("BULWARK_TEST_SERVICES");
  services.dir = env("BULWARK_TEST_SERVICES_DIR");
  return services;
}

bool servicesRequired() {
  std::string value = env("BULWARK_TEST_REQUIRE_SERVICES");
  return !value.empty() && value != "0";
}

}  // namespace bulwark::testing

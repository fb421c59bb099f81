#include "gateway/route_table.h"

#include <gtest/gtest.h>

namespace bulwark::gateway {
namespace {

core::RouteConfig route(std::string prefix, std::vector<std::string> methods = {},
                        std::uint16_t port = 9000) {
  core::RouteConfig config;
  config.prefix = prefix;
  config.name = prefix;
  config.methods = std::move(methods);
  config.upstream.host = "127.0.0.1";
  config.upstream.port = port;
  return config;
}

TEST(RouteTable, LongestPrefixWins) {
  RouteTable table({route("/"), route("/api/"), route("/api/admin/", {}, 9001)});
  EXPECT_EQ(table.match("GET", "/api/admin/users").route->config.prefix, "/api/admin/");
  EXPECT_EQ(table.match("GET", "/api/users").route->config.prefix, "/api/");
  EXPECT_EQ(table.match("GET", "/other").route->config.prefix, "/");
  EXPECT_EQ(table.upstreams().size(), 2u);
}

TEST(RouteTable, PrefixWithoutSlashMatchesWholeSegmentsOnly) {
  RouteTable table({route("/api")});
  EXPECT_EQ(table.match("GET", "/api").status, MatchStatus::kMatched);
  EXPECT_EQ(table.match("GET", "/api/x").status, MatchStatus::kMatched);
  EXPECT_EQ(table.match("GET", "/api?x=1").status, MatchStatus::kMatched);
  EXPECT_EQ(table.match("GET", "/apix").status, MatchStatus::kNoRoute);
  EXPECT_EQ(table.match("GET", "/ap").status, MatchStatus::kNoRoute);
}

TEST(RouteTable, QueryIsNotPartOfThePath) {
  RouteTable table({route("/admin/")});
  EXPECT_EQ(table.match("GET", "/public?next=/admin/").status, MatchStatus::kNoRoute);
}

TEST(RouteTable, MethodsAreEnforcedAndFallBackToShorterPrefix) {
  RouteTable table({route("/", {"GET"}), route("/api/", {"POST"})});
  EXPECT_EQ(table.match("POST", "/api/x").route->config.prefix, "/api/");
  // GET /api/x is not allowed on /api/ but "/" allows it.
  EXPECT_EQ(table.match("GET", "/api/x").route->config.prefix, "/");
  const auto denied = table.match("DELETE", "/api/x");
  EXPECT_EQ(denied.status, MatchStatus::kMethodNotAllowed);
  EXPECT_EQ(denied.route->config.prefix, "/api/");
}

}  // namespace
}  // namespace bulwark::gateway

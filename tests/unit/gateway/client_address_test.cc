#include "gateway/client_address.h"

#include <gtest/gtest.h>

#include "gateway/request_id.h"

namespace bulwark::gateway {
namespace {

std::vector<core::Cidr> cidrs(std::initializer_list<const char*> texts) {
  std::vector<core::Cidr> out;
  for (const char* text : texts) {
    core::Cidr cidr;
    EXPECT_TRUE(core::parseCidr(text, cidr)) << text;
    out.push_back(cidr);
  }
  return out;
}

TEST(ClientAddress, UntrustedPeerCannotSpoofForwardedFor) {
  EXPECT_EQ(resolveClientAddress("198.51.100.7", {"1.2.3.4"}, cidrs({"10.0.0.0/8"})),
            "198.51.100.7");
  EXPECT_EQ(resolveClientAddress("198.51.100.7", {"1.2.3.4"}, {}), "198.51.100.7");
}

TEST(ClientAddress, TakesTheFirstUntrustedHopFromTheRight) {
  const auto trusted = cidrs({"10.0.0.0/8"});
  // The client prepended a forged entry; the trusted proxy appended the real one.
  EXPECT_EQ(resolveClientAddress("10.0.0.2", {"6.6.6.6, 203.0.113.5, 10.0.0.1"}, trusted),
            "203.0.113.5");
  EXPECT_EQ(resolveClientAddress("10.0.0.2", {"6.6.6.6", "203.0.113.5"}, trusted),
            "203.0.113.5");
}

TEST(ClientAddress, StopsAtMalformedHops) {
  const auto trusted = cidrs({"10.0.0.0/8"});
  EXPECT_EQ(resolveClientAddress("10.0.0.2", {"203.0.113.5, garbage"}, trusted), "10.0.0.2");
}

TEST(ClientAddress, AllTrustedChainYieldsTheOldestHop) {
  const auto trusted = cidrs({"10.0.0.0/8", "::1/128"});
  EXPECT_EQ(resolveClientAddress("::1", {"10.1.1.1, 10.2.2.2"}, trusted), "10.1.1.1");
}

TEST(RequestId, AcceptsTraceIdsAndRefusesInjection) {
  EXPECT_TRUE(isAcceptableRequestId("4bf92f3577b34da6a3ce929d0e0e4736"));
  EXPECT_TRUE(isAcceptableRequestId("req-1.2:3_4"));
  EXPECT_FALSE(isAcceptableRequestId(""));
  EXPECT_FALSE(isAcceptableRequestId("a b"));
  EXPECT_FALSE(isAcceptableRequestId("a\r\nX-Injected: 1"));
  EXPECT_FALSE(isAcceptableRequestId("{\"json\":1}"));
  EXPECT_FALSE(isAcceptableRequestId(std::string(129, 'a')));
}

TEST(RequestId, GeneratedIdsAreUniqueAndAcceptable) {
  RequestIdGenerator generator;
  std::string a, b;
  generator.next(a);
  generator.next(b);
  EXPECT_NE(a, b);
  EXPECT_TRUE(isAcceptableRequestId(a));
  RequestIdGenerator other;
  std::string c;
  other.next(c);
  EXPECT_NE(a, c);  // per-generator random prefixes
}

}  // namespace
}  // namespace bulwark::gateway

// The gateway's use of the audit trail: exactly one REQUEST event per request, and in sync
// durability mode no answer before the request's events are durable (fail closed when they
// cannot become durable).

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/gateway_harness.h"
#include "support/raw_client.h"

namespace bulwark::testing {
namespace {

using namespace std::chrono_literals;

// A sync-mode sink whose durability the test controls.
class HeldDurabilitySink final : public audit::Sink {
 public:
  void record(audit::Event event) override { append(std::move(event)); }
  std::uint64_t append(audit::Event event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    return events_.size();
  }
  void whenDurable(std::uint64_t seq, audit::DurableCallback callback) override {
    std::lock_guard lock(mutex_);
    held_.push_back(std::move(callback));
  }
  bool syncDurability() const override { return true; }
  void flush() override {}

  // Completes every held callback with `error` (none: durable). Returns how many were held.
  std::size_t release(boost::system::error_code error = {}) {
    std::vector<audit::DurableCallback> callbacks;
    {
      std::lock_guard lock(mutex_);
      callbacks.swap(held_);
    }
    for (auto& callback : callbacks) callback(error);
    return callbacks.size();
  }
  std::size_t held() {
    std::lock_guard lock(mutex_);
    return held_.size();
  }

 private:
  std::mutex mutex_;
  std::vector<audit::Event> events_;
  std::vector<audit::DurableCallback> held_;
};

TEST(GatewayAudit, EveryRequestEndsInExactlyOneEvent) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.routes.push_back(testRoute("/", upstream.port()));
  GatewayHarness gateway(settings);
  RawClient client(gateway.port());
  EXPECT_EQ(client.roundTrip("GET /echo?token=secret HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_EQ(client.roundTrip("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  RawClient bad(gateway.port());
  EXPECT_EQ(bad.roundTrip("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n")
                .status,
            400);
  const auto events = gateway.audit().events();
  EXPECT_EQ(events.size(), 3u);
  for (const auto& event : events) {
    for (const auto& [key, value] : event.details) {
      EXPECT_EQ(value.find("secret"), std::string::npos) << "query strings stay out of events";
    }
  }
  EXPECT_EQ(gateway.audit().count(audit::EventType::kRequest, "200"), 2);
  // A refused request's one event is typed by the decision, with the reason and status.
  EXPECT_EQ(gateway.audit().count(audit::EventType::kRequestRejected, "400"), 1);
  EXPECT_EQ(gateway.audit().count(audit::EventType::kRequestRejected,
                                  "content_length_and_transfer_encoding"),
            1);
}

TEST(GatewayAudit, SyncModeAnswersOnlyOnceTheEventIsDurable) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.routes.push_back(testRoute("/", upstream.port()));
  auto sink = std::make_shared<HeldDurabilitySink>();
  GatewayHarness gateway(settings, [&](gateway::ServerDeps& deps) { deps.audit = sink; });
  RawClient client(gateway.port());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  for (int i = 0; i < 500 && sink->held() == 0; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(sink->held(), 1u);
  EXPECT_EQ(client.read(300ms).status, 0) << "answered before the event was durable";
  EXPECT_EQ(sink->release(), 1u);
  EXPECT_EQ(client.read(5s).status, 200);
}

// Held through the wait for the fsync, an upstream connection per request in flight would be
// needed; a response already whole in the buffer gives its connection back first.
TEST(GatewayAudit, SyncModeFreesTheUpstreamConnectionBeforeTheWait) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.routes.push_back(testRoute("/", upstream.port()));
  auto sink = std::make_shared<HeldDurabilitySink>();
  GatewayHarness gateway(settings, [&](gateway::ServerDeps& deps) { deps.audit = sink; });
  std::vector<std::unique_ptr<RawClient>> clients;
  for (std::size_t i = 1; i <= 3; ++i) {
    clients.push_back(std::make_unique<RawClient>(gateway.port()));
    clients.back()->send("GET /r" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n");
    for (int t = 0; t < 500 && sink->held() < i; ++t) std::this_thread::sleep_for(2ms);
    ASSERT_EQ(sink->held(), i);
  }
  EXPECT_EQ(upstream.requests(), 3);
  EXPECT_EQ(upstream.connections(), 1) << "each waiting request held its own upstream connection";
  EXPECT_EQ(sink->release(), 3u);
  for (auto& client : clients) {
    const auto response = client->read(5s);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "ok");
  }
}

// A body still arriving from the upstream keeps its connection through the wait, and reaches the
// client whole once the event is durable.
TEST(GatewayAudit, SyncModeStreamsALargeBodyAfterTheWait) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.routes.push_back(testRoute("/", upstream.port()));
  auto sink = std::make_shared<HeldDurabilitySink>();
  GatewayHarness gateway(settings, [&](gateway::ServerDeps& deps) { deps.audit = sink; });
  RawClient big(gateway.port());
  big.send("GET /big?n=1000000 HTTP/1.1\r\nHost: a\r\n\r\n");
  for (int t = 0; t < 500 && sink->held() < 1; ++t) std::this_thread::sleep_for(2ms);
  RawClient small(gateway.port());
  small.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  for (int t = 0; t < 500 && sink->held() < 2; ++t) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(sink->held(), 2u);
  EXPECT_EQ(upstream.connections(), 2) << "the large body's connection was given away mid-body";
  EXPECT_EQ(big.read(300ms).status, 0) << "answered before the event was durable";
  EXPECT_EQ(sink->release(), 2u);
  const auto response = big.read(10s);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, std::string(1000000, 'x'));
  EXPECT_EQ(small.read(5s).body, "ok");
}

TEST(GatewayAudit, SyncModeFailsClosedWhenTheTrailCannotTakeTheEvent) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.routes.push_back(testRoute("/", upstream.port()));
  auto sink = std::make_shared<HeldDurabilitySink>();
  GatewayHarness gateway(settings, [&](gateway::ServerDeps& deps) { deps.audit = sink; });
  for (const char* path : {"/", "/healthz"}) {
    RawClient client(gateway.port());
    client.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
    for (int i = 0; i < 500 && sink->held() == 0; ++i) std::this_thread::sleep_for(2ms);
    sink->release(make_error_code(boost::system::errc::io_error));
    auto response = client.read(5s);
    EXPECT_EQ(response.status, 503) << path;
    EXPECT_NE(response.body.find("audit trail is unavailable"), std::string::npos);
  }
}

}  // namespace
}  // namespace bulwark::testing

namespace bulwark::testing {
namespace {

TEST(GatewayAudit, DecisionsModeKeepsOnlyRequestsADecisionSettled) {
  TestUpstream upstream;
  auto settings = testSettings();
  settings.audit_requests = core::AuditRequests::kDecisions;
  auto route = testRoute("/", upstream.port());
  route.rate_limit = core::RateLimit{1, 1};
  settings.routes.push_back(route);
  GatewayHarness gateway(settings);
  RawClient client(gateway.port());
  EXPECT_EQ(client.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_EQ(client.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 429);
  RawClient bad(gateway.port());
  EXPECT_EQ(bad.roundTrip("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").status, 400);
  const auto events = gateway.audit().events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, audit::EventType::kApiRateLimit);
  EXPECT_EQ(events[1].type, audit::EventType::kRequestRejected);
}

}  // namespace
}  // namespace bulwark::testing

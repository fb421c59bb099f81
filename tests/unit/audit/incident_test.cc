#include "audit/incident.h"

#include <gtest/gtest.h>

#include "audit/record.h"
#include "audit_test_support.h"
#include "support/recording_responder.h"
#include "support/recording_sink.h"

namespace bulwark::audit {
namespace {

using namespace std::chrono_literals;
using bulwark::testing::RecordingResponder;
using bulwark::testing::RecordingSink;

std::string detail(const Event& event, const std::string& key) {
  for (const auto& [k, v] : event.details) {
    if (k == key) return v;
  }
  return {};
}

class IncidentTest : public ::testing::Test {
 protected:
  IncidentTest() : engine_(config(), clock_, responder_) {}

  static IncidentConfig config() {
    IncidentConfig config;
    config.login_failures_per_account = 3;
    config.login_failures_per_address = 5;
    config.login_window = 60s;
    config.access_denied_per_address = 4;
    config.access_denied_window = 10s;
    config.attacks_per_address = 2;
    config.attack_window = 30s;
    config.lock_duration = 600s;
    config.block_duration = 300s;
    return config;
  }

  void feed(Event event) { engine_.onRecord(event, ++seq_, sink_); }

  Event loginFailed(const std::string& account, const std::string& address) {
    Event event = testing::makeEvent(EventType::kLoginFailed, "", address);
    event.target = account;
    return event;
  }

  core::SimulatedClock clock_;
  std::shared_ptr<RecordingResponder> responder_ = std::make_shared<RecordingResponder>();
  IncidentEngine engine_;
  RecordingSink sink_;
  std::uint64_t seq_ = 0;
};

TEST_F(IncidentTest, BruteForceOnOneAccountLocksIt) {
  feed(loginFailed("alice", "10.0.0.1"));
  clock_.advance(20s);
  feed(loginFailed("alice", "10.0.0.2"));
  EXPECT_EQ(sink_.count(EventType::kSecurityIncident), 0);
  clock_.advance(20s);
  feed(loginFailed("alice", "10.0.0.3"));
  ASSERT_EQ(sink_.count(EventType::kSecurityIncident), 1);
  const Event incident = sink_.events().back();
  EXPECT_EQ(detail(incident, "rule"), "brute_force_account");
  EXPECT_EQ(detail(incident, "key"), "alice");
  EXPECT_EQ(detail(incident, "count"), "3");
  EXPECT_EQ(detail(incident, "trigger_seq"), "3");
  EXPECT_EQ(detail(incident, "response"), "lock_account");
  EXPECT_EQ(incident.severity, Severity::kHigh);
  const auto actions = responder_->actions();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, "lock");
  EXPECT_EQ(actions[0].subject, "alice");
  EXPECT_EQ(actions[0].detail, "600");
  // Quiet for one window: no incident storm while the attack goes on.
  feed(loginFailed("alice", "10.0.0.4"));
  feed(loginFailed("alice", "10.0.0.5"));
  feed(loginFailed("alice", "10.0.0.6"));
  EXPECT_EQ(sink_.count(EventType::kSecurityIncident), 1);
  EXPECT_EQ(engine_.stats().incidents, 1u);
}

TEST_F(IncidentTest, FailuresOutsideTheWindowDoNotCount) {
  feed(loginFailed("bob", "10.0.0.1"));
  feed(loginFailed("bob", "10.0.0.1"));
  clock_.advance(61s);
  feed(loginFailed("bob", "10.0.0.1"));
  feed(loginFailed("carol", "10.0.0.1"));
  EXPECT_EQ(sink_.count(EventType::kSecurityIncident), 0);
  feed(loginFailed("dave", "10.0.0.1"));  // fifth from this address in the window? No: 3 in it
  EXPECT_EQ(sink_.count(EventType::kSecurityIncident), 0);
}

TEST_F(IncidentTest, BruteForceFromOneAddressBlocksIt) {
  for (int i = 0; i < 5; ++i) feed(loginFailed("user" + std::to_string(i), "203.0.113.9"));
  ASSERT_EQ(sink_.count(EventType::kSecurityIncident), 1);
  EXPECT_EQ(detail(sink_.events().back(), "rule"), "brute_force_address");
  const auto actions = responder_->actions();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, "block");
  EXPECT_EQ(actions[0].subject, "203.0.113.9");
  EXPECT_EQ(actions[0].detail, "300");
}

TEST_F(IncidentTest, RefreshReuseRevokesTheSession) {
  Event refresh = testing::makeEvent(EventType::kTokenRefresh, "alice");
  refresh.details = {{"reuse", "false"}};
  feed(refresh);
  EXPECT_TRUE(responder_->actions().empty());
  refresh.details = {{"reuse", "true"}, {"session", "fam-42"}};
  feed(refresh);
  ASSERT_EQ(sink_.count(EventType::kSecurityIncident), 1);
  EXPECT_EQ(detail(sink_.events().back(), "rule"), "refresh_token_reuse");
  auto actions = responder_->actions();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, "revoke");
  EXPECT_EQ(actions[0].subject, "alice");
  EXPECT_EQ(actions[0].detail, "fam-42");
  // Auth's own reuse incident: respond, raise nothing new; our own incidents: ignore.
  Event from_auth = testing::makeEvent(EventType::kSecurityIncident, "bob");
  from_auth.details = {{"reuse", "true"}, {"sid", "s-7"}};
  feed(from_auth);
  feed(sink_.events().back());
  EXPECT_EQ(sink_.count(EventType::kSecurityIncident), 1);
  actions = responder_->actions();
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[1].subject, "bob");
  EXPECT_EQ(actions[1].detail, "s-7");
  // As auth writes it: reason=refresh_token_reuse, the session as target; revoked already.
  Event auth_style = testing::makeEvent(EventType::kSecurityIncident, "carol");
  auth_style.target = "sid-9";
  auth_style.details = {{"reason", "refresh_token_reuse"}};
  feed(auth_style);
  auth_style.details.emplace_back("action", "session_revoked");
  feed(auth_style);
  actions = responder_->actions();
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(actions[2].subject, "carol");
  EXPECT_EQ(actions[2].detail, "sid-9");
}

TEST_F(IncidentTest, ZeroThresholdTurnsARuleOff) {
  IncidentConfig off = config();
  off.login_failures_per_account = 0;
  off.login_failures_per_address = 0;
  IncidentEngine engine(off, clock_, responder_);
  for (int i = 0; i < 50; ++i) engine.onRecord(loginFailed("alice", "10.0.0.1"), 1, sink_);
  EXPECT_EQ(sink_.count(EventType::kSecurityIncident), 0);
}

Event accessDenied(std::string address, Outcome outcome = Outcome::kDenied) {
  Event event = testing::makeEvent(EventType::kAccessDenied, "x", std::move(address));
  event.outcome = outcome;
  return event;
}

TEST_F(IncidentTest, AccessDeniedBurstAndAttackSourcesBlockTheAddress) {
  for (int i = 0; i < 3; ++i) feed(accessDenied("198.51.100.1"));
  clock_.advance(11s);
  for (int i = 0; i < 3; ++i) feed(accessDenied("198.51.100.1"));
  EXPECT_EQ(sink_.count(EventType::kSecurityIncident), 0);  // never 4 within 10 s
  feed(accessDenied("198.51.100.1"));
  ASSERT_EQ(sink_.count(EventType::kSecurityIncident), 1);
  EXPECT_EQ(detail(sink_.events().back(), "rule"), "access_denied_burst");

  feed(testing::makeEvent(EventType::kAttackDetected, "", "192.0.2.7"));
  feed(testing::makeEvent(EventType::kAttackDetected, "", "192.0.2.8"));
  EXPECT_EQ(sink_.count(EventType::kSecurityIncident), 1);
  feed(testing::makeEvent(EventType::kAttackDetected, "", "192.0.2.7"));
  ASSERT_EQ(sink_.count(EventType::kSecurityIncident), 2);
  EXPECT_EQ(detail(sink_.events().back(), "rule"), "attack_source");
  EXPECT_EQ(detail(sink_.events().back(), "key"), "192.0.2.7");
  EXPECT_EQ(engine_.stats().blocks, 2u);
}

TEST_F(IncidentTest, RefusalsForOurOwnOutageNeverBlockTheClient) {
  // 503s while the revocation state is unavailable are ACCESS_DENIED with outcome ERROR: a
  // client retrying through our outage did nothing wrong.
  for (int i = 0; i < 50; ++i) feed(accessDenied("198.51.100.9", Outcome::kError));
  EXPECT_EQ(sink_.count(EventType::kSecurityIncident), 0);
  EXPECT_EQ(engine_.stats().blocks, 0u);
}

TEST_F(IncidentTest, TrackedKeysAreBounded) {
  IncidentConfig small = config();
  small.max_tracked_keys = 10;
  IncidentEngine engine(small, clock_, responder_);
  for (int i = 0; i < 100; ++i) {
    engine.onRecord(loginFailed("user" + std::to_string(i), "10.1.0." + std::to_string(i)), 1,
                    sink_);
  }
  EXPECT_GT(engine.stats().evicted_keys, 0u);
  EXPECT_EQ(sink_.count(EventType::kSecurityIncident), 0);
}

TEST(IncidentThroughWriter, IncidentsLandInTheTrail) {
  testing::TempDir dir;
  core::SimulatedClock clock;
  testing::CountingRandom random;
  IncidentConfig config;
  config.login_failures_per_account = 2;
  auto responder = std::make_shared<RecordingResponder>();
  auto engine = std::make_shared<IncidentEngine>(config, clock, responder);
  auto writer = testing::openWriter(dir.path(), testing::testConfig(), testing::key1(), clock,
                                    random, 64 << 20, {engine});
  for (int i = 0; i < 2; ++i) {
    Event event = testing::makeEvent(EventType::kLoginFailed, "", "10.0.0.1");
    event.target = "alice";
    writer->waitDurable(writer->append(std::move(event)));
  }
  writer->flush();
  writer->close();
  std::vector<std::string> types;
  for (const auto& line : testing::readLines(testing::segments(dir.path())[0].path)) {
    Record record;
    ASSERT_TRUE(parseRecord(line, record));
    types.push_back(record.type_name);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"LOGIN_FAILED", "LOGIN_FAILED", "SECURITY_INCIDENT"}));
  ASSERT_EQ(responder->actions().size(), 1u);
  EXPECT_EQ(responder->actions()[0].kind, "lock");
}

}  // namespace
}  // namespace bulwark::audit

#pragma once
// Real-time incident rules over the audit stream (SPEC F3.6). The engine is a RecordObserver of
// the Writer: it sees every record on the writer thread, in order, keeps sliding windows per
// account / client address, and on a hit records a SECURITY_INCIDENT event through the writer
// and asks an IncidentResponder to act. Time comes from the injected core::Clock (monotonic).
//
// Rules (thresholds in IncidentConfig):
//   brute_force_account   >= N LOGIN_FAILED for one account (event target, else actor) in W
//                         -> lockAccount
//   brute_force_address   >= N LOGIN_FAILED from one client address in W -> blockAddress
//   refresh_token_reuse   a TOKEN_REFRESH with detail reuse=true -> incident + revokeSessions;
//                         a SECURITY_INCIDENT written by auth itself (reuse=true or
//                         reason=refresh_token_reuse, no "rule" detail) -> revokeSessions only
//                         (the incident exists), and not even that with action=session_revoked
//   access_denied_burst   >= N ACCESS_DENIED from one client address in W -> blockAddress
//   attack_source         >= N ATTACK_DETECTED (detector hits, scanners) from one address in W
//                         -> blockAddress
// After a rule fires for a key it stays quiet for that key for one window (no incident storm).
// A threshold of 0 turns a rule off (e.g. the brute-force rules where auth's lockout, F2.6,
// already locks and reports).
// Incidents carry details rule, key, count, window_seconds, trigger_seq, response.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "audit/writer.h"
#include "core/clock.h"

namespace bulwark::audit {

// The automatic responses; auth and detection implement them. Called on the audit writer
// thread: implementations must not block (post the work to their own executor).
class IncidentResponder {
 public:
  virtual ~IncidentResponder() = default;
  virtual void lockAccount(std::string_view account, std::chrono::seconds duration,
                           std::string_view rule) = 0;
  // Revokes the sessions of `account`; `session` (a session/family id) when known, else all.
  virtual void revokeSessions(std::string_view account, std::string_view session,
                              std::string_view rule) = 0;
  virtual void blockAddress(std::string_view address, std::chrono::seconds duration,
                            std::string_view rule) = 0;
};

// Raises incidents but takes no action (until auth/detection provide responders).
std::shared_ptr<IncidentResponder> makeNoResponder();

struct IncidentConfig {
  std::uint32_t login_failures_per_account = 5;
  std::uint32_t login_failures_per_address = 20;
  std::chrono::seconds login_window{300};
  std::uint32_t access_denied_per_address = 30;
  std::chrono::seconds access_denied_window{60};
  std::uint32_t attacks_per_address = 10;
  std::chrono::seconds attack_window{60};
  std::chrono::seconds lock_duration{900};
  std::chrono::seconds block_duration{900};
  // Keys (accounts, addresses) tracked per rule; beyond it the oldest quiet ones are dropped.
  std::size_t max_tracked_keys = 100000;
};

struct IncidentStats {
  std::uint64_t incidents = 0;
  std::uint64_t locks = 0;
  std::uint64_t revocations = 0;
  std::uint64_t blocks = 0;
  std::uint64_t evicted_keys = 0;
};

class IncidentEngine final : public RecordObserver {
 public:
  IncidentEngine(IncidentConfig config, core::Clock& clock,
                 std::shared_ptr<IncidentResponder> responder);
  ~IncidentEngine() override;

  // RecordObserver: evaluates the rules on one record. Single-threaded (the writer thread).
  void onRecord(const Event& event, std::uint64_t seq, Sink& trail) override;
  IncidentStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bulwark::audit

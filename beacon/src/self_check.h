// A beacon checking itself (docs/health.md, "Beacon messages"): on every
// health_interval it looks at its spool's disk and folders, its upstream,
// its certificates and revocation lists and its rejected uploads, raises or
// clears the matching health messages in its HealthBook
// (DATA_DIR/health.xml), and makes the report that carries them with its
// status (inventory::HealthBeacon): a relay sends it upstream as a
// "beacon-health" upload, the central records it in its store.
//
// Used from one thread (the beacon's health thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/env.h"
#include "common/identity.h"
#include "common/spool.h"
#include "common/status.h"
#include "inventory/health.h"
#include "settings.h"
#include "trust.h"
#include "upstream.h"

namespace beacon {

class SelfCheck {
 public:
  struct Parts {
    const Settings* settings = nullptr;
    const common::Spool* spool = nullptr;
    const TrustState* trust = nullptr;
    // This beacon's certificate as now loaded (a reload may renew it).
    std::function<common::PeerIdentity()> own;
    // Relay: its upstream's state; null on the central.
    std::function<UpstreamState()> upstream;
    common::Env* env = nullptr;  // null: Env::Default()
  };
  // Opens DATA_DIR/health.xml (an unreadable book is an error: its
  // sequence must not start again, or the central would ignore the reports).
  static common::StatusOr<std::unique_ptr<SelfCheck>> Open(Parts parts);

  // Runs every check at `now`, updating the book, and returns the report to
  // hand on (one per call: the report is also the beacon's heartbeat).
  inventory::Health Check(int64_t now);
  // The report was handed on durably: MarkReported and Save.
  common::Status Sent(const inventory::Health& report);

 private:
  explicit SelfCheck(Parts parts) : parts_(std::move(parts)) {}
  void Raise(const std::string& id, const std::string& component, inventory::HealthType type, int priority,
             const std::string& text, int64_t now);
  void Clear(const std::string& id, int64_t now);
  void CheckSpool(int64_t now, inventory::HealthBeacon* status);
  void CheckUpstream(int64_t now, inventory::HealthBeacon* status);
  void CheckCertificates(int64_t now);

  Parts parts_;
  std::unique_ptr<inventory::HealthBook> book_;
};

}  // namespace beacon

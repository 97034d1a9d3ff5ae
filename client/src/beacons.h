// Which beacon the client talks to: the failover order, sticking to the one
// that works, returning to the preferred one later, and the proxy to reach
// them through.
//
// The beacon in use, since when and why are kept in the state file, so a
// restarted client stays where it was and `status` can say why. Used from
// one thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "applied_policy.h"
#include "client/settings.h"
#include "common/http_client.h"
#include "common/status.h"
#include "identity.h"
#include "state_file.h"

namespace client {

// How one beacon did in one failover pass.
struct BeaconAttempt {
  std::string url;
  common::Status status;  // OK, or why this beacon failed
};

// One WithFailover call, for the health checks (health_checks.h).
struct FailoverOutcome {
  std::vector<BeaconAttempt> attempts;  // in the order tried
  // The last response's `Date` header ("" if no response came) and the
  // local clock when it arrived.
  std::string date;
  int64_t date_received_at = 0;
};

class BeaconSelector {
 public:
  // Makes the connection to a beacon. Production: Connect() (HttpClient);
  // tests script beacons by URL.
  using Connector = std::function<common::StatusOr<std::unique_ptr<common::Transport>>(const std::string& url)>;
  using Observer = std::function<void(const FailoverOutcome&)>;

  // `state`, `applied` and `identity` must outlive the selector. Every
  // connection verifies beacons with identity->CaFile() and, once enrolled,
  // presents the device's certificate.
  BeaconSelector(const ClientSettings& settings, StateFile* state, const AppliedPolicy* applied,
                 const DeviceIdentity* identity, Connector connector = nullptr);

  // Called at the end of every WithFailover with how each beacon did.
  void SetObserver(Observer observer) { observer_ = std::move(observer); }

  // Runs `op` against the beacon in use; if the beacon cannot be reached (a
  // retryable failure, common::Classify), moves to the next one in failover
  // order and tries again, each beacon at most once per call. The working
  // beacon is kept. Returns `op`'s last result. The observer learns each
  // beacon's result and the last response's Date header.
  common::Status WithFailover(const std::function<common::Status(common::Transport&)>& op);

  // The beacons to try, most preferred first: the applied failover.xml
  // (beacons for another site or subnet left out), then the configured server.
  std::vector<std::string> Beacons() const;

  // A new connection to `url` (the enrollment's: the configured server),
  // with the same CA bundle, certificate and proxy as the others.
  common::StatusOr<std::unique_ptr<common::HttpClient>> Connect(const std::string& url) const;

  // Drops the connection in use, so the next request opens one with the
  // current certificate and trust bundle (after enrollment, renewal or a
  // new trust bundle).
  void Reconnect() { http_.reset(); }

  // True if one of this machine's addresses is in `cidr`.
  static bool HasAddressIn(const std::string& cidr);

 private:
  // A connection to the beacon in use. After failing over, the preferred
  // beacon is tried again once failover_return_after has passed.
  common::StatusOr<common::Transport*> Http(bool may_return_to_preferred);
  // The local configuration's proxy, else the applied policy.xml's, else none.
  void SetProxy(common::ClientOptions* o) const;
  void UseBeacon(const std::string& url, const std::string& why);

  const ClientSettings settings_;
  StateFile* state_;
  const AppliedPolicy* applied_;
  const DeviceIdentity* identity_;
  common::ClientOptions options_;  // everything but the URL, the proxy, the CA bundle and the certificate
  Connector connector_;
  Observer observer_;
  std::unique_ptr<common::Transport> http_;  // to state_'s "beacon"; null until needed
};

}  // namespace client

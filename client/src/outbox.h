// Delivery of the outbox (STATE_DIR/outbox, the beacon's spool code) through
// the one drain loop (common/drain.h): each upload is sent to the beacon in
// use, oldest first, failing over between beacons, and leaves the outbox
// only after the beacon's 200/201, or into outbox/rejected/ when the beacon
// proves its bytes bad (422). Everything else keeps it and backs off.
// Used from one thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "beacons.h"
#include "common/drain.h"
#include "common/http_client.h"
#include "common/spool.h"
#include "common/status.h"
#include "state_file.h"

namespace client {

class OutboxDelivery {
 public:
  // The check-in headers for the next request (they carry the outbox depth,
  // which changes as uploads leave).
  using HeaderSource = std::function<common::HeaderList()>;

  // All pointers must outlive the OutboxDelivery.
  OutboxDelivery(common::Spool* outbox, BeaconSelector* beacons, StateFile* state, HeaderSource headers,
                 std::chrono::seconds backoff_base, std::chrono::seconds backoff_cap);

  // One pass of the drain loop. Returns the first failure that held an
  // upload back or quarantined one (OK if none); while the loop is backing
  // off nothing is sent and Unavailable says for how long.
  common::Status Flush();

  // When the backoff ends (the past when delivery is not backing off).
  common::Drain::Clock::time_point RetryAt() const { return drain_->retry_at(); }

 private:
  common::Attempt Send(const common::SpoolMeta& meta);

  common::Spool* outbox_;
  BeaconSelector* beacons_;
  StateFile* state_;
  HeaderSource headers_;
  std::unique_ptr<common::Drain> drain_;
};

}  // namespace client

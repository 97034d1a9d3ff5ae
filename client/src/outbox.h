// Delivery of the outbox (STATE_DIR/outbox, the beacon's spool code): each
// upload is sent to the beacon in use, oldest first, and leaves the outbox
// only after the beacon's 200/201.
//
// This is the client's one spool consumer, kept apart so that it can move
// onto the shared drain loop and the Transport seam (DESIGN.md "Seams")
// without touching the rest of the client. Used from one thread.
#pragma once

#include <functional>

#include "beacons.h"
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
  OutboxDelivery(common::Spool* outbox, BeaconSelector* beacons, StateFile* state,
                 HeaderSource headers)
      : outbox_(outbox), beacons_(beacons), state_(state), headers_(std::move(headers)) {}

  // Sends the outbox, oldest first, failing over between beacons. Stops at
  // the first retryable or configuration failure (returned); uploads the
  // beacon refuses as bad (400, 413, ...) go to outbox/rejected/ and the
  // first such refusal is returned after the rest were sent.
  common::Status Flush();

  // The Retry-After of the last answer, in seconds (0 if none): the floor of
  // the next backoff delay.
  int RetryAfterSeconds() const { return retry_after_s_; }

 private:
  common::Status Send(const common::SpoolMeta& meta);

  common::Spool* outbox_;
  BeaconSelector* beacons_;
  StateFile* state_;
  HeaderSource headers_;
  int retry_after_s_ = 0;
};

}  // namespace client

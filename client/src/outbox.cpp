#include "outbox.h"

#include <ctime>

#include "common/delivery.h"
#include "common/retry.h"

namespace client {

using common::Status;

OutboxDelivery::OutboxDelivery(common::Spool* outbox, BeaconSelector* beacons, StateFile* state,
                               HeaderSource headers, std::chrono::seconds backoff_base,
                               std::chrono::seconds backoff_cap)
    : outbox_(outbox), beacons_(beacons), state_(state), headers_(std::move(headers)) {
  common::Drain::Options options;
  options.name = "outbox";
  options.backoff_base = backoff_base;
  options.backoff_cap = backoff_cap;
  drain_ = std::make_unique<common::Drain>(
      outbox_, [this](const common::SpoolMeta& meta) { return Send(meta); }, options);
}

// One attempt, through failover: a beacon that cannot be reached hands over
// to the next. A problem with this upload alone (it cannot be read here, or
// it is too large for the beacon) is not the beacon's fault: no failover.
common::Attempt OutboxDelivery::Send(const common::SpoolMeta& meta) {
  common::Attempt attempt;
  Status st = beacons_->WithFailover([&](common::Transport& beacon) {
    attempt = common::SendSpoolEntry(beacon, *outbox_, meta, headers_());
    return attempt.scope == common::Attempt::Scope::kEntry ? Status::Ok() : attempt.status;
  });
  if (!st.ok() && attempt.status.ok()) {
    // No beacon could be used at all (a bad URL, no CA bundle): nothing
    // about this upload, so never a rejection.
    attempt.status = common::Classify(st) == common::Outcome::kReject ? common::FailedPrecondition(st.message()) : st;
  }
  if (common::Classify(attempt.status) == common::Outcome::kDone) {
    state_->SetInt("last_upload_at", static_cast<int64_t>(std::time(nullptr)));
  }
  return attempt;
}

Status OutboxDelivery::Flush() {
  common::Drain::Pass pass = drain_->RunPass();
  if (pass.backing_off && pass.error.ok()) {
    return common::Unavailable("delivery is backing off for " + std::to_string((pass.wait.count() + 999) / 1000) +
                               "s");
  }
  return pass.error;
}

}  // namespace client

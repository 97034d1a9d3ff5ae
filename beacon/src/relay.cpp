#include "common/log.h"
#include "common/protocol.h"
#include "common/delivery.h"
#include "common/retry.h"
#include "upstream.h"

#include <ctime>

namespace beacon {

using common::Status;

common::HeaderList DeviceHeaders(const std::string& device, const std::string& client_version,
                                 int64_t policy_revision, const std::string& via) {
  namespace p = common::protocol;
  common::HeaderList h{{p::kDeviceHeader, device},
                       {p::kPolicyRevisionHeader, std::to_string(policy_revision)},
                       {p::kViaHeader, via}};
  if (!client_version.empty()) h.emplace_back(p::kClientVersionHeader, client_version);
  return h;
}

common::Attempt SendUpload(common::Transport& upstream, const common::Spool& spool,
                           const common::SpoolMeta& meta) {
  common::HeaderList headers =
      DeviceHeaders(meta.device, meta.client_version, meta.policy_revision, meta.via);
  headers.emplace_back(common::protocol::kReceivedAtHeader, std::to_string(meta.received_at));
  return common::SendSpoolEntry(upstream, spool, meta, std::move(headers));
}

Relay::Relay(common::Spool* spool, Connect connect, common::Drain::Options options)
    : spool_(spool),
      connect_(std::move(connect)),
      drain_(
          spool, [this](const common::SpoolMeta& meta) { return Deliver(meta); }, std::move(options),
          [this] { return Probe(); }) {}

common::StatusOr<common::Transport*> Relay::Upstream() {
  if (!upstream_) {
    ASSIGN_OR_RETURN(upstream_, connect_());
  }
  return upstream_.get();
}

common::Attempt Relay::Deliver(const common::SpoolMeta& meta) {
  auto upstream = Upstream();
  if (!upstream.ok()) {
    // No connection could even be made: nothing about this upload, never a rejection.
    const Status& st = upstream.status();
    Note(st);
    return common::Attempt{
        common::Classify(st) == common::Outcome::kReject ? common::FailedPrecondition(st.message()) : st, {}, {}};
  }
  common::Attempt attempt = SendUpload(**upstream, *spool_, meta);
  Note(attempt.status);
  // After a failed exchange the connection's state is unknown: a new one.
  if (!attempt.status.ok() && attempt.status.code() != common::Code::kAlreadyExists) upstream_.reset();
  return attempt;
}

Status Relay::Probe() {
  ASSIGN_OR_RETURN(common::Transport * upstream, Upstream());
  auto res = upstream->Get(common::protocol::kPingPath, {}, 4096);
  if (!res.ok()) {
    upstream_.reset();
    Note(res.status());
    return res.status();
  }
  Status st = common::StatusFromHttp(res->status, "GET " + std::string(common::protocol::kPingPath));
  Note(st);
  return st;
}

void Relay::Note(const Status& st) {
  const bool ok = st.ok() || common::Classify(st) != common::Outcome::kRetry;
  std::lock_guard<std::mutex> lock(state_mu_);
  if (ok != state_.ok || state_.since == 0) {
    state_.ok = ok;
    state_.since = static_cast<int64_t>(std::time(nullptr));
  }
}

UpstreamState Relay::upstream_state() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  return state_;
}

}  // namespace beacon

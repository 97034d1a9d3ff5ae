#include "outbox.h"

#include <ctime>

#include "common/delivery.h"
#include "common/log.h"
#include "common/retry.h"

namespace client {

using common::Status;

Status OutboxDelivery::Send(const common::SpoolMeta& meta) {
  return beacons_->WithFailover([&](common::HttpClient& cli) {
    return common::SendSpoolEntry(cli, *outbox_, meta, headers_(), &retry_after_s_);
  });
}

Status OutboxDelivery::Flush() {
  Status refused;
  for (const auto& meta : outbox_->List()) {
    Status st = Send(meta);
    switch (common::Classify(st)) {
      case common::Outcome::kDone:
        RETURN_IF_ERROR(outbox_->Remove(meta.id));
        state_->SetInt("last_upload_at", static_cast<int64_t>(std::time(nullptr)));
        common::LogInfo("uploaded " + meta.kind + " " + meta.id);
        break;
      case common::Outcome::kReject:
        common::LogError("upload " + meta.id +
                         " refused, moved to outbox/rejected: " + st.ToString());
        RETURN_IF_ERROR(outbox_->Reject(meta.id, st.ToString()));
        if (refused.ok()) refused = st;
        break;
      case common::Outcome::kStop:
      case common::Outcome::kRetry:
        return st;
    }
  }
  return refused;
}

}  // namespace client

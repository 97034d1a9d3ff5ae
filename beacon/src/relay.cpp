#include <ctime>

#include "common/delivery.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/retry.h"
#include "upstream.h"

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

Status SendUpload(common::HttpClient& client, const common::Spool& spool,
                  const common::SpoolMeta& meta, int* retry_after_s) {
  common::HeaderList headers =
      DeviceHeaders(meta.device, meta.client_version, meta.policy_revision, meta.via);
  headers.emplace_back(common::protocol::kReceivedAtHeader, std::to_string(meta.received_at));
  return common::SendSpoolEntry(client, spool, meta, std::move(headers), retry_after_s);
}

void RunRelay(common::Spool& spool, const common::ClientOptions& upstream, common::StopFlag& stop,
              std::chrono::milliseconds backoff_base, std::chrono::milliseconds backoff_cap) {
  common::Backoff backoff(backoff_base, backoff_cap, static_cast<uint64_t>(std::time(nullptr)));
  std::unique_ptr<common::HttpClient> client;
  while (!stop.stopped()) {
    auto entries = spool.List();
    if (entries.empty()) {
      spool.WaitForWork(std::chrono::seconds(1));
      continue;
    }
    std::chrono::milliseconds wait{0};
    for (const auto& meta : entries) {
      if (stop.stopped()) return;
      if (!client) {
        auto c = common::HttpClient::Create(upstream);
        if (!c.ok()) {
          common::LogError("relay: " + c.status().ToString());
          wait = backoff.Next();
          break;
        }
        client = std::move(c).value();
      }
      int retry_after = 0;
      Status st = SendUpload(*client, spool, meta, &retry_after);
      switch (common::Classify(st)) {
        case common::Outcome::kDone: {
          Status rm = spool.Remove(meta.id);
          if (!rm.ok()) common::LogError("relay: " + rm.ToString());
          common::LogInfo("relay: delivered " + meta.kind + " " + meta.id + " upstream");
          backoff.Reset();
          continue;
        }
        case common::Outcome::kReject:
          (void)spool.Reject(meta.id, st.ToString());
          continue;
        case common::Outcome::kStop:
          common::LogError("relay: upstream refuses us, keeping " + meta.id + ": " + st.ToString());
          client.reset();
          wait = backoff.Next(std::chrono::seconds(retry_after));
          break;
        case common::Outcome::kRetry:
          common::LogWarn("relay: " + st.ToString());
          client.reset();
          wait = backoff.Next(std::chrono::seconds(retry_after));
          break;
      }
      break;
    }
    if (wait.count() > 0 && !stop.SleepFor(wait)) return;
  }
}

}  // namespace beacon

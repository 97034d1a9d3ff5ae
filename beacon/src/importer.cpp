#include "importer.h"

#include <chrono>
#include <ctime>

#include "common/log.h"
#include "common/retry.h"
#include "inventory/inventory.h"
#include "inventory/pack.h"
#include "inventory/usage.h"

namespace beacon {

using common::Status;

namespace {
constexpr uint64_t kMaxBody = 256u << 20;
constexpr uint64_t kMaxInventoryXml = 256u << 20;
}  // namespace

Status ImportEntry(inventory::Store& store, const common::Spool& spool,
                   const common::SpoolMeta& meta) {
  auto read = spool.ReadWholeBody(meta.id, kMaxBody);
  if (!read.ok()) {
    return read.status().code() == common::Code::kResourceExhausted
               ? common::InvalidArgument(read.status().message())
               : read.status();
  }
  const std::string& body = *read;
  inventory::UploadInfo info{meta.id, meta.device, meta.kind, meta.sha256,
                             meta.size, meta.received_at, meta.via};
  if (meta.kind == "checkins") {
    ASSIGN_OR_RETURN(auto batch, DecodeCheckins(body));
    // Re-applying a batch is harmless (newest check-in wins), so a duplicate
    // needs no upload record.
    return store.RecordCheckins(batch);
  }
  if (meta.kind == "inventory") {
    auto xml = inventory::Gunzip(body, kMaxInventoryXml);
    // An oversized (bomb) or corrupt body will never import: reject, not retry.
    if (!xml.ok()) return common::InvalidArgument("upload " + meta.id + ": " + xml.status().message());
    ASSIGN_OR_RETURN(inventory::Inventory inv,
                     inventory::ParseInventoryXml(*xml, "upload " + meta.id));
    if (inv.device_id != meta.device) {
      return common::InvalidArgument("inventory names device " + inv.device_id +
                                      " but was uploaded by " + meta.device);
    }
    return store.ImportInventory(info, inv);
  }
  if (meta.kind == "usage") {
    auto xml = inventory::Gunzip(body, kMaxInventoryXml);
    if (!xml.ok()) return common::InvalidArgument("upload " + meta.id + ": " + xml.status().message());
    ASSIGN_OR_RETURN(inventory::Usage usage, inventory::ParseUsageXml(*xml, "upload " + meta.id));
    return store.ImportUsage(info, usage);
  }
  return store.ImportBlob(info, body);
}

void RunImporter(common::Spool& spool, inventory::Store& store, CheckinTracker& checkins,
                 common::StopFlag& stop, int64_t flush_interval_s,
                 const std::function<void(const std::string& device)>& imported_inventory) {
  auto last_flush = std::chrono::steady_clock::now();
  auto flush = [&] {
    auto batch = checkins.Drain();
    if (batch.empty()) return;
    Status st = store.RecordCheckins(batch);
    if (!st.ok()) {
      common::LogWarn("importer: recording check-ins: " + st.ToString());
      checkins.Restore(std::move(batch));
    }
  };
  // A store that keeps failing (disk full, locked) is retried with backoff
  // rather than every pass.
  common::Backoff backoff(std::chrono::milliseconds(500), std::chrono::seconds(30),
                          static_cast<uint64_t>(std::time(nullptr)));
  std::chrono::milliseconds pause{0};
  while (!stop.stopped()) {
    if (pause.count() > 0 && !stop.SleepFor(pause)) break;
    pause = std::chrono::milliseconds(0);
    for (const auto& meta : spool.List()) {
      if (stop.stopped()) break;
      Status st = ImportEntry(store, spool, meta);
      switch (common::Classify(st)) {
        case common::Outcome::kDone:
          if (st.ok()) {
            common::LogInfo("importer: imported " + meta.kind + " " + meta.id + " of device " + meta.device);
            if (meta.kind == "inventory") imported_inventory(meta.device);
          } else {
            common::LogInfo("importer: " + meta.kind + " " + meta.id + " was imported before");
          }
          (void)spool.Remove(meta.id);
          break;
        case common::Outcome::kReject:
          (void)spool.Reject(meta.id, st.ToString());
          break;
        case common::Outcome::kStop:
        case common::Outcome::kRetry:
          pause = backoff.Next();
          common::LogWarn("importer: will retry " + meta.id + " in " + std::to_string(pause.count()) +
                          " ms: " + st.ToString());
          break;
      }
      if (pause.count() > 0) break;
      backoff.Reset();
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_flush >= std::chrono::seconds(flush_interval_s)) {
      flush();
      last_flush = now;
    }
    spool.WaitForWork(std::chrono::milliseconds(500));
  }
  flush();
}

}  // namespace beacon

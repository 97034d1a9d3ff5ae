#include "importer.h"

#include <algorithm>
#include <ctime>

#include "common/log.h"
#include "common/protocol.h"
#include "common/retry.h"
#include "common/uuid.h"
#include "inventory/action.h"
#include "inventory/health.h"
#include "inventory/inventory.h"
#include "inventory/pack.h"
#include "inventory/usage.h"

namespace beacon {

using common::Status;

namespace {
constexpr uint64_t kMaxInventoryXml = 256u << 20;

// A body that cannot be inflated will never import (reject), unless the
// failure is ours (out of memory): that is retried.
Status FromGunzip(const common::SpoolMeta& meta, const Status& st) {
  if (st.code() == common::Code::kInternal) return st;
  return common::InvalidArgument("upload " + meta.id + ": " + st.message());
}

// A store that reports damage (a corrupt database file) says nothing about
// the upload: stop and report, never reject the upload for it.
Status FromStore(const Status& st) {
  if (st.code() != common::Code::kDataLoss) return st;
  return common::FailedPrecondition("the store is damaged: " + st.message());
}
// How long the central's request for a full inventory stays open: as long as
// a device may be away and still answer it (beaconctl's longest --expires).
constexpr int64_t kFullInventoryExpiry = 30 * 86400;

// What an imported inventory leaves for after its commit.
struct Imported {
  std::string device_id;  // empty: the upload was no inventory
  int64_t sequence = 0;
  int64_t base = 0;
};

// After importing a delta (committed): if it could not be applied (the store's inventory
// is older than the one the delta was made against: an inventory between
// them was lost, or is still on its way), the device is asked for a full
// inventory through an `inventory` action, unless one is already pending.
// A delta older than the stored inventory needs nothing: it is superseded.
Status RequestFullIfMissed(inventory::Store& store, const Imported& inv) {
  if (inv.base == 0) return Status::Ok();
  ASSIGN_OR_RETURN(inventory::DeviceRow dev, store.GetDevice(inv.device_id));
  if (dev.inventory_sequence >= inv.sequence) return Status::Ok();
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  inventory::ActionFilter filter;
  filter.device = inv.device_id;
  ASSIGN_OR_RETURN(auto actions, store.ListActions(filter));
  for (const inventory::ActionRow& a : actions) {
    if (a.kind == "inventory" && (a.state == "pending" || a.state == "delivered") && a.expires_at > now) {
      return Status::Ok();
    }
  }
  inventory::ActionRow full;
  full.id = common::NewUuid();
  full.kind = "inventory";
  full.device_id = inv.device_id;
  full.created_at = now;
  full.expires_at = now + kFullInventoryExpiry;
  common::LogInfo("device " + inv.device_id + ": inventory #" + std::to_string(inv.sequence) +
                  " is a delta on #" + std::to_string(inv.base) + " but the store has #" +
                  std::to_string(dev.inventory_sequence) + "; asking for a full inventory (action " +
                  full.id + ")");
  return FromStore(store.CreateActions({full}));
}

// Parses one body and writes it to the store (one transaction, or one
// write of a batch). An inventory fills `imported`.
Status ImportBody(inventory::Store& store, const common::SpoolMeta& meta, const std::string& body,
                  const Enroller* enroller, Imported* imported) {
  inventory::UploadInfo info{meta.id, meta.device, meta.kind, meta.sha256,
                             meta.size, meta.received_at, meta.via};
  if (meta.kind == common::protocol::kEnrollKind || meta.kind == "renew") {
    if (enroller == nullptr) return common::FailedPrecondition("this central cannot decide enrollment requests");
    return FromStore(enroller->Decide(meta, body));
  }
  if (meta.kind == "checkins") {
    ASSIGN_OR_RETURN(auto batch, DecodeCheckins(body));
    // A relay's clock is believed only up to ours: a seen_at in the future
    // would freeze the device's check-in record (the newest wins).
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    for (auto& c : batch) c.seen_at = std::min(c.seen_at, now);
    // Re-applying a batch is harmless (newest check-in wins), so a duplicate
    // needs no upload record.
    return FromStore(store.RecordCheckins(batch));
  }
  if (meta.kind == "inventory") {
    auto xml = inventory::Gunzip(body, kMaxInventoryXml);
    if (!xml.ok()) return FromGunzip(meta, xml.status());
    ASSIGN_OR_RETURN(inventory::Inventory inv,
                     inventory::ParseInventoryXml(*xml, "upload " + meta.id));
    if (inv.device_id != meta.device) {
      return common::InvalidArgument("inventory names device " + inv.device_id +
                                      " but was uploaded by " + meta.device);
    }
    RETURN_IF_ERROR(FromStore(store.ImportInventory(info, inv)));
    *imported = {inv.device_id, inv.sequence, inv.base};
    return Status::Ok();
  }
  if (meta.kind == "health" || meta.kind == "beacon-health") {
    ASSIGN_OR_RETURN(inventory::Health health, inventory::ParseHealthXml(body, "upload " + meta.id));
    // The kind says who may have sent it: "beacon-health" only a beacon
    // certificate (the agent API refuses it from devices), so a device's
    // upload can never pass for a beacon's report. The store then checks the
    // document names its sender: the device, or the receiving beacon.
    const auto expected =
        meta.kind == "health" ? inventory::HealthSource::kDevice : inventory::HealthSource::kBeacon;
    if (health.source != expected) {
      return common::InvalidArgument("upload " + meta.id + ": a " + meta.kind + " upload must carry a " +
                                     (meta.kind == "health" ? "device's" : "beacon's") + " health document");
    }
    return FromStore(store.ImportHealth(info, health));
  }
  if (meta.kind == "action") {
    ASSIGN_OR_RETURN(inventory::ActionResult result, inventory::ParseActionResultXml(body, "upload " + meta.id));
    return FromStore(store.ImportActionResult(info, result));
  }
  if (meta.kind == "usage") {
    auto xml = inventory::Gunzip(body, kMaxInventoryXml);
    if (!xml.ok()) return FromGunzip(meta, xml.status());
    ASSIGN_OR_RETURN(inventory::Usage usage, inventory::ParseUsageXml(*xml, "upload " + meta.id));
    return FromStore(store.ImportUsage(info, usage));
  }
  return FromStore(store.ImportBlob(info, body));
}

// Enrollment decisions call the CA and read the store: each is a
// transaction of its own, never a write in a batch.
bool Batchable(const common::SpoolMeta& meta) {
  return meta.kind != common::protocol::kEnrollKind && meta.kind != "renew";
}

}  // namespace

std::vector<common::Attempt> ImportEntries(inventory::Store& store, const common::Spool& spool,
                                           const std::vector<common::SpoolMeta>& metas, const Enroller* enroller) {
  std::vector<common::Attempt> out(metas.size());
  std::vector<std::string> bodies(metas.size());
  std::vector<size_t> batch;  // indexes of entries read, in order
  for (size_t i = 0; i < metas.size(); ++i) {
    auto body = spool.ReadWholeBody(metas[i], kMaxImportBody);
    if (!body.ok()) {
      // Too large to ever import: its bytes are the problem. Otherwise the
      // entry could not be read here: held back alone.
      Status st = body.status();
      if (st.code() == common::Code::kResourceExhausted) st = common::InvalidArgument(st.message());
      out[i] = {st, {}, common::Attempt::Scope::kEntry};
      continue;
    }
    bodies[i] = std::move(body).value();
    batch.push_back(i);
  }
  std::vector<Imported> imported(metas.size());
  auto write = [&](size_t i) { return ImportBody(store, metas[i], bodies[i], enroller, &imported[i]); };
  std::vector<size_t> batched;
  for (size_t i : batch) {
    if (Batchable(metas[i])) {
      batched.push_back(i);
    } else {
      out[i] = {write(i), {}, common::Attempt::Scope::kPeer};
    }
  }
  std::vector<Status> results = store.WriteBatch(batched.size(), [&](size_t k) { return write(batched[k]); });
  for (size_t k = 0; k < batched.size(); ++k) out[batched[k]] = {results[k], {}, common::Attempt::Scope::kPeer};
  // Committed: now the store can say whether a delta found its base.
  for (size_t i = 0; i < metas.size(); ++i) {
    if (out[i].status.ok() && !imported[i].device_id.empty()) {
      out[i].status = RequestFullIfMissed(store, imported[i]);
    }
  }
  return out;
}

common::Attempt ImportEntry(inventory::Store& store, const common::Spool& spool, const common::SpoolMeta& meta,
                            const Enroller* enroller) {
  return ImportEntries(store, spool, {meta}, enroller)[0];
}

Importer::Importer(common::Spool* spool, inventory::Store* store,
                   std::function<void(const std::string& device)> imported_inventory, const Enroller* enroller,
                   std::function<void(const common::SpoolMeta&, common::Settled)> settled)
    : drain_(
          spool,
          [spool, store, enroller, imported = std::move(imported_inventory)](
              const std::vector<common::SpoolMeta>& metas) {
            std::vector<common::Attempt> attempts = ImportEntries(*store, *spool, metas, enroller);
            for (size_t i = 0; i < metas.size(); ++i) {
              if (attempts[i].status.ok() && metas[i].kind == "inventory") imported(metas[i].device);
            }
            return attempts;
          },
          common::Drain::Options{.name = "importer",
                                 .backoff_base = std::chrono::milliseconds(500),
                                 .backoff_cap = std::chrono::seconds(30),
                                 .batch = kImportBatch,
                                 .batch_bytes = kImportBatchBytes,
                                 .settled = std::move(settled)}) {}

}  // namespace beacon

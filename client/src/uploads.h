// What the client puts in its outbox on schedule: inventories (numbered),
// usage periods and its own log.
//
// Files: STATE_DIR/usage/current.xml (the open usage period) and
// STATE_DIR/log/client.log[.1]; a period or log closed for upload is
// renamed to <upload id>.closed first, so it keeps its upload id across a
// crash. Nothing here sends anything: delivery is the outbox's (outbox.h).
// Used from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "applied_policy.h"
#include "client/settings.h"
#include "common/spool.h"
#include "common/status.h"
#include "state_file.h"

namespace client {

// STATE_DIR/usage and STATE_DIR/log.
inline std::string UsageDir(const std::string& state_dir) { return state_dir + "/usage"; }
inline std::string LogDir(const std::string& state_dir) { return state_dir + "/log"; }
// STATE_DIR/inventory/digests: the part digests of the last queued inventory.
inline std::string InventoryDigestsPath(const std::string& state_dir) {
  return state_dir + "/inventory/digests";
}

// Puts an upload of this device in the outbox: (kind, upload id, body).
// AlreadyExists if the id is there already.
using QueueUpload =
    std::function<common::Status(const std::string& kind, const std::string& id, const std::string& body)>;

class Uploads {
 public:
  // `outbox`, `applied` and `state` must outlive the Uploads.
  Uploads(const ClientSettings& settings, std::string device, common::Spool* outbox,
          const AppliedPolicy* applied, StateFile* state);

  // Collects this machine's inventory as the applied policy.xml (or the
  // configuration, before any) says, numbers it with the next
  // inventory_sequence, saves that number durably in the state file and
  // only then queues the upload, so a number is never handed out twice.
  // It is queued as a delta against the last one queued (only the parts
  // whose digest changed; STATE_DIR/inventory/digests) unless `full`, or it
  // is the policy's every-Nth (<inventory full-every>), or there is no
  // usable previous one. ResourceExhausted (nothing queued) when it is over
  // the policy's upload limit or the outbox is full.
  common::Status CollectInventory(bool full = false);
  // When policy.xml enables usage tracking: adds a sample of the running
  // programs to the current period. OK and nothing done otherwise.
  common::Status SampleUsage();
  // Closes the current usage period and queues every closed one (kind usage),
  // also when usage tracking was switched off: what was sampled is sent.
  common::Status UploadUsage();
  // Queues the client's log, the rotated file first (kind logs).
  common::Status UploadLogs();
  // Queues `gz` (a gzip'd log bundle: the diagnostics bundle) as one logs
  // upload with a new id. ResourceExhausted (nothing queued) over the
  // policy's upload limit or when the outbox is full.
  common::Status QueueLogBundle(const std::string& gz);

  // Puts an upload of this device in the outbox (AlreadyExists if `id` is
  // there already), stamped with the client version and applied revision.
  // The health report, action results and diagnostic bundles go this way.
  common::Status Queue(const std::string& kind, const std::string& id, const std::string& body);

 private:
  // What the last queued inventory was: its sequence (0: none usable), how
  // many deltas have been sent since the last full one, its part digests.
  struct LastSent {
    int64_t base = 0;
    int64_t deltas = 0;
    std::map<std::string, std::string> digests;
  };
  LastSent ReadLastSent(const std::string& path) const;
  void WriteLastSent(const std::string& path, const LastSent& last) const;

  common::Status QueueClosed(const std::string& dir, const std::vector<std::string>& current,
                             const std::string& kind);

  common::Env* Env() const { return settings_.env != nullptr ? settings_.env : common::Env::Default(); }

  const ClientSettings settings_;
  const std::string device_;
  common::Spool* outbox_;
  const AppliedPolicy* applied_;
  StateFile* state_;
};

}  // namespace client

// The central's view of the actions waiting for devices (docs/actions.md):
// which actions go into each device's manifest, and which of them were
// served.
//
// The store is the truth (beaconctl writes actions there); the board keeps
// the active ones in memory, refreshed every few seconds, so serving a
// manifest never queries the store. A device whose active set changed is
// resolved anew (PolicySource::Forget) and its manifest, signed with its
// actions, gets a new ETag. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "inventory/store.h"
#include "policy/manifest.h"

namespace beacon {

class ActionBoard {
 public:
  explicit ActionBoard(inventory::Store* store) : store_(store) {}

  // Reads the active actions (pending or delivered, unexpired at `now`)
  // and returns the devices whose set changed since the last Refresh.
  common::StatusOr<std::vector<std::string>> Refresh(int64_t now);
  // The actions for the device's manifest, sorted by id.
  std::vector<policy::ManifestAction> For(const std::string& device) const;
  // The device's manifest carrying `actions` was served: the pending ones
  // among them are marked delivered at the next Flush.
  void Served(const std::string& device, const std::vector<policy::ManifestAction>& actions);
  // Records the deliveries noted since the last Flush; kept for the next
  // Flush on failure.
  common::Status Flush(int64_t now);

 private:
  inventory::Store* store_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<policy::ManifestAction>> active_;  // by device
  std::set<std::string> pending_;                                        // action ids still "pending"
  std::map<std::string, std::set<std::string>> served_;                  // device -> ids to mark
};

}  // namespace beacon

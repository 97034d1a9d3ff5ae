// Check-in tracking: every device request that reaches a beacon updates the
// device's latest check-in in memory; a flusher hands the batch on (to the
// store on the central, to the upstream as a "checkins" upload on a relay).
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "inventory/store.h"

namespace beacon {

class CheckinTracker {
 public:
  // Devices held between flushes: a request can add any device id, so the
  // map is bounded; check-ins of further devices wait for the next flush
  // interval (the device checks in again) and are counted in dropped().
  static constexpr size_t kMaxPending = 200000;

  // Thread-safe; keeps the newest check-in per device.
  void Record(inventory::Checkin checkin);
  // Check-ins not kept because kMaxPending devices were pending.
  uint64_t dropped();
  // Returns and clears the pending check-ins.
  std::vector<inventory::Checkin> Drain();
  // Puts drained check-ins back after a failed hand-off (newer ones win).
  void Restore(std::vector<inventory::Checkin> checkins);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, inventory::Checkin> pending_;
  uint64_t dropped_ = 0;
};

// The "checkins" upload body: one check-in per line, tab-separated
// (format in docs/protocol.md).
std::string EncodeCheckins(const std::vector<inventory::Checkin>& checkins);
// InvalidArgument naming the line for anything malformed.
common::StatusOr<std::vector<inventory::Checkin>> DecodeCheckins(const std::string& body);

}  // namespace beacon

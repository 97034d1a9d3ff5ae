// A device's effective policy under the newest published revision, with the
// group each part came from: what `beaconctl policy resolve` prints and the
// admin API's /devices/{id}/resolution returns. Reads the revision from the
// policy repository (`policy_state`) and the device's facts from the store
// (beacon/facts.h), as the central does when it resolves a manifest.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "inventory/store.h"
#include "policy/targeting.h"

namespace beacon {

// The newest published revision's tree; {0, nullptr} before the first publish.
struct LatestTree {
  int64_t revision = 0;
  std::shared_ptr<const policy::PolicyTree> tree;
};
common::StatusOr<LatestTree> ReadLatestTree(const std::string& policy_state);

struct DeviceResolution {
  int64_t revision = 0;
  bool known = false;         // the store has heard of the device
  policy::DeviceFacts facts;  // device_id always set; the rest when known
  policy::Resolution resolution;
};

// FailedPrecondition "nothing has been published yet" before the first
// publish. An unknown device is resolved as a device with no inventory
// (known = false): it gets the default group, as it would from the central.
common::StatusOr<DeviceResolution> ResolveDevice(inventory::Store& store,
                                                 const std::string& policy_state,
                                                 const std::string& device_id);

}  // namespace beacon

// What the central's store knows about a device, in the form targeting needs
// (policy/targeting.h). Shared by the central, which resolves each device's
// manifest, and beaconctl, which explains the resolution.
#pragma once

#include <string>

#include "common/status.h"
#include "inventory/store.h"
#include "policy/targeting.h"

namespace beacon {

// NotFound if the store has never heard of the device. A device known from
// check-ins only has inventoried == false.
common::StatusOr<policy::DeviceFacts> DeviceFactsFromStore(inventory::Store& store,
                                                           const std::string& device_id);

}  // namespace beacon

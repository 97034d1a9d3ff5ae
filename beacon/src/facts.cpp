#include "beacon/facts.h"

namespace beacon {

common::StatusOr<policy::DeviceFacts> DeviceFactsFromStore(inventory::Store& store,
                                                           const std::string& device_id) {
  ASSIGN_OR_RETURN(inventory::DeviceRow row, store.GetDevice(device_id));
  policy::DeviceFacts facts;
  facts.device_id = row.device_id;
  facts.inventoried = row.inventory_at > 0;
  facts.hostname = row.hostname;
  facts.os = row.os;
  ASSIGN_OR_RETURN(facts.addresses, store.DeviceAddresses(device_id));
  return facts;
}

}  // namespace beacon

// The estate's figures as administrators read them, computed once for every
// reader: `beaconctl status` / `devices` and the admin API's summary and
// device list (docs/estate.md, docs/api.md). Statuses come from
// inventory::DeviceStatusOf and BeaconStatusOf; this header only counts and
// filters, so the two readers cannot drift apart. Pure; thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>

#include "inventory/estate.h"

namespace beacon {

// Statuses in their documented order (inventory::DeviceStatus).
inline constexpr inventory::DeviceStatus kDeviceStatuses[] = {
    inventory::DeviceStatus::kNeverConnected, inventory::DeviceStatus::kPending,
    inventory::DeviceStatus::kActive, inventory::DeviceStatus::kDisconnected};
inline constexpr size_t kStatusCount = std::size(kDeviceStatuses);
inline constexpr size_t kConditionCount = std::size(inventory::kConditions);

// A status by its name ("active"); nullopt for any other text.
std::optional<inventory::DeviceStatus> DeviceStatusFromName(const std::string& name);
// The index of a condition in inventory::kConditions; nullopt for another name.
std::optional<size_t> ConditionIndex(const std::string& name);
// "never-connected, pending, active, disconnected" and the conditions likewise,
// for messages naming the valid values.
std::string StatusNames();
std::string ConditionNames();

// The counts of `beaconctl status`: add every device with its verdict and
// every beacon with its verdict (computed at one time, with one EstateRules).
struct EstateTally {
  int64_t devices = 0;
  std::array<int64_t, kStatusCount> by_status{};        // kDeviceStatuses' order
  std::array<int64_t, kConditionCount> by_condition{};  // inventory::kConditions' order
  int64_t beacons = 0;
  int64_t beacons_online = 0;
  int64_t open_errors = 0;  // open health errors of devices and beacons
  int64_t open_warnings = 0;
  int64_t pending_actions = 0;  // pending or delivered, over devices

  void Add(const inventory::DeviceState& d, const inventory::DeviceVerdict& v);
  void Add(const inventory::BeaconState& b, const inventory::BeaconVerdict& v);
};

// The filters' globs: '*' and '?' only, case ignored; every other character
// matches itself ('[' and '\' included), as `beaconctl devices --os/--name`.
bool GlobMatch(const std::string& glob, const std::string& text);

}  // namespace beacon

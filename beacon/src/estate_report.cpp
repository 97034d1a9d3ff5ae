#include "beacon/estate_report.h"

#include <fnmatch.h>

#include <algorithm>

namespace beacon {

std::optional<inventory::DeviceStatus> DeviceStatusFromName(const std::string& name) {
  for (inventory::DeviceStatus s : kDeviceStatuses) {
    if (name == inventory::DeviceStatusName(s)) return s;
  }
  return std::nullopt;
}

std::optional<size_t> ConditionIndex(const std::string& name) {
  for (size_t i = 0; i < kConditionCount; ++i) {
    if (name == inventory::kConditions[i]) return i;
  }
  return std::nullopt;
}

std::string StatusNames() {
  std::string s;
  for (inventory::DeviceStatus st : kDeviceStatuses) {
    s += std::string(s.empty() ? "" : ", ") + inventory::DeviceStatusName(st);
  }
  return s;
}

std::string ConditionNames() {
  std::string s;
  for (const char* c : inventory::kConditions) s += std::string(s.empty() ? "" : ", ") + c;
  return s;
}

void EstateTally::Add(const inventory::DeviceState& d, const inventory::DeviceVerdict& v) {
  ++devices;
  ++by_status[static_cast<size_t>(v.status)];
  for (const std::string& c : v.conditions) {
    if (auto i = ConditionIndex(c)) ++by_condition[*i];
  }
  open_errors += d.open_errors;
  open_warnings += d.open_warnings;
  pending_actions += d.pending_actions;
}

void EstateTally::Add(const inventory::BeaconState& b, const inventory::BeaconVerdict& v) {
  ++beacons;
  if (v.online) ++beacons_online;
  open_errors += b.open_errors;
  open_warnings += b.open_warnings;
}

bool GlobMatch(const std::string& glob, const std::string& text) {
  // Escaped for fnmatch, which policy targeting uses, so that only '*' and
  // '?' are special.
  std::string pattern;
  for (char c : glob) {
    if (c == '[' || c == ']' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return ::fnmatch(pattern.c_str(), text.c_str(), FNM_CASEFOLD) == 0;
}

}  // namespace beacon

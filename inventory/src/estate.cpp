// The status of a device and of a beacon (inventory/estate.h): pure
// functions of what the store keeps, the estate's rules and the time, so
// every reader computes the same status at the same time and tests drive
// the clock by passing `now`.
#include "inventory/estate.h"

#include <algorithm>
#include <cstdint>
#include <string>

namespace inventory {

namespace {

// The smallest report interval a beacon is judged by: health_interval's
// own minimum, and what a report that says none (0) is judged by. The
// multiple (beacon_offline_after, 3) keeps one late report from flapping.
constexpr int64_t kMinBeaconInterval = 5;

// "45s", "4m", "3h12m", "1h", "2d5h", "2d": the two largest units, the
// second left out when zero. Negative durations (a clock ahead of ours)
// count as 0.
std::string FormatDuration(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  auto two = [](int64_t big, const char* big_unit, int64_t small, const char* small_unit) {
    std::string out = std::to_string(big) + big_unit;
    if (small != 0) out += std::to_string(small) + small_unit;
    return out;
  };
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 86400) return two(seconds / 3600, "h", seconds % 3600 / 60, "m");
  return two(seconds / 86400, "d", seconds % 86400 / 3600, "h");
}

// The interval a device is expected to check in by: its own, else the
// estate's default (at least one second, so a misconfigured default cannot
// make every device disconnected or out of sync at once).
int64_t ExpectedInterval(const DeviceState& d, const EstateRules& rules) {
  const int64_t interval = d.check_interval > 0 ? d.check_interval : rules.default_check_interval;
  return std::max<int64_t>(interval, 1);
}

}  // namespace

const char* DeviceStatusName(DeviceStatus s) {
  switch (s) {
    case DeviceStatus::kNeverConnected: return "never-connected";
    case DeviceStatus::kPending: return "pending";
    case DeviceStatus::kActive: return "active";
    case DeviceStatus::kDisconnected: return "disconnected";
  }
  return "unknown";
}

std::vector<EstateSample> EstatePoint(const std::vector<DeviceState>& devices, const EstateRules& rules,
                                      int64_t now) {
  constexpr DeviceStatus kAll[] = {DeviceStatus::kNeverConnected, DeviceStatus::kPending, DeviceStatus::kActive,
                                   DeviceStatus::kDisconnected};
  int64_t counts[4] = {0, 0, 0, 0};
  for (const auto& d : devices) ++counts[static_cast<int>(DeviceStatusOf(d, rules, now).status)];
  std::vector<EstateSample> out;
  for (DeviceStatus s : kAll) {
    out.push_back({now, std::string("status:") + DeviceStatusName(s), counts[static_cast<int>(s)]});
  }
  return out;
}

DeviceVerdict DeviceStatusOf(const DeviceState& d, const EstateRules& rules, int64_t now) {
  DeviceVerdict v;
  const bool seen = d.first_seen > 0 || d.last_seen > 0;
  const int64_t interval = ExpectedInterval(d, rules);
  const int64_t silent = now - d.last_seen;
  v.in_sync = d.policy_revision >= rules.policy_revision;

  if (!seen) {
    v.status = DeviceStatus::kNeverConnected;
    v.why = d.enrolled_at > 0 ? "enrolled " + FormatDuration(now - d.enrolled_at) + " ago, never seen"
                              : "never seen";
  } else if (silent > std::max<int64_t>(rules.disconnect_after, 1) * interval) {
    // Disconnected wins over pending: "not reporting" is what needs action.
    v.status = DeviceStatus::kDisconnected;
    v.why = "no check-in for " + FormatDuration(silent) + ", expected every " + FormatDuration(interval);
  } else if (!d.inventoried) {
    v.status = DeviceStatus::kPending;
    v.why = "seen " + FormatDuration(silent) + " ago, no inventory yet";
  } else {
    v.status = DeviceStatus::kActive;
    v.why = "checked in " + FormatDuration(silent) + " ago";
  }

  // A device that never checked in has no applied revision to compare, and
  // its status already says why.
  if (seen && !v.in_sync) {
    // It has had the time to take the revision: one interval since it was
    // served, or since the device first appeared if that came later.
    const int64_t since = std::max(rules.policy_since, d.first_seen);
    if (now - since > interval) v.conditions.emplace_back(kConditions[0]);
  }
  if (rules.outbox_backlog > 0 && d.outbox_depth >= rules.outbox_backlog) {
    v.conditions.emplace_back(kConditions[1]);
  }
  if (d.cert_not_after > 0 && d.cert_not_after - now < rules.cert_warn_before) {
    v.conditions.emplace_back(kConditions[2]);
  }
  if (d.clone_suspected) v.conditions.emplace_back(kConditions[3]);
  if (d.open_errors > 0) v.conditions.emplace_back(kConditions[4]);
  return v;
}

BeaconVerdict BeaconStatusOf(const BeaconState& b, const EstateRules& rules, int64_t now) {
  BeaconVerdict v;
  if (b.last_contact == 0) {
    v.online = false;
    v.why = b.cert_not_after > 0 ? "certificate issued, never heard from" : "never heard from";
    return v;
  }
  const int64_t interval = std::max(b.status.interval, kMinBeaconInterval);
  const int64_t silent = now - b.last_contact;
  if (silent > std::max<int64_t>(rules.beacon_offline_after, 1) * interval) {
    v.online = false;
    v.why = "no report for " + FormatDuration(silent) + ", expected every " + FormatDuration(interval);
    return v;
  }
  v.online = true;
  v.why = "reported " + FormatDuration(silent) + " ago";
  return v;
}

}  // namespace inventory

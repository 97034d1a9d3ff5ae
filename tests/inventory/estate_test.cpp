// Tests for the status functions (inventory/src/estate.cpp; contract in
// inventory/estate.h). They are pure, so the clock is driven by passing
// another `now`.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "inventory/estate.h"

namespace {

using inventory::BeaconState;
using inventory::BeaconStatusOf;
using inventory::DeviceState;
using inventory::DeviceStatus;
using inventory::DeviceStatusOf;
using inventory::EstateRules;

constexpr int64_t kT0 = 1795363200;
constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 86400;

std::string Status(const DeviceState& d, const EstateRules& r, int64_t now) {
  return inventory::DeviceStatusName(DeviceStatusOf(d, r, now).status);
}

bool Has(const std::vector<std::string>& conditions, const std::string& name) {
  for (const auto& c : conditions) {
    if (c == name) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("status names are the stable ones", "[estate]") {
  CHECK(std::string(inventory::DeviceStatusName(DeviceStatus::kNeverConnected)) == "never-connected");
  CHECK(std::string(inventory::DeviceStatusName(DeviceStatus::kPending)) == "pending");
  CHECK(std::string(inventory::DeviceStatusName(DeviceStatus::kActive)) == "active");
  CHECK(std::string(inventory::DeviceStatusName(DeviceStatus::kDisconnected)) == "disconnected");
}

TEST_CASE("a device goes never-connected, pending, active, disconnected and back", "[estate]") {
  EstateRules rules;  // disconnect after 3 intervals; default interval 1h
  DeviceState d;
  d.device_id = "dev";
  d.enrolled_at = kT0 - 2 * kDay;

  auto v = DeviceStatusOf(d, rules, kT0);
  CHECK(v.status == DeviceStatus::kNeverConnected);
  CHECK(v.why == "enrolled 2d ago, never seen");
  CHECK(v.conditions.empty());  // no applied revision to compare yet

  DeviceState unenrolled;
  CHECK(DeviceStatusOf(unenrolled, rules, kT0).why == "never seen");

  // First check-in, no inventory yet.
  d.first_seen = d.last_seen = kT0 + 10;
  v = DeviceStatusOf(d, rules, kT0 + 250);
  CHECK(v.status == DeviceStatus::kPending);
  CHECK(v.why == "seen 4m ago, no inventory yet");

  d.inventoried = true;
  v = DeviceStatusOf(d, rules, kT0 + 250);
  CHECK(v.status == DeviceStatus::kActive);
  CHECK(v.why == "checked in 4m ago");

  // Exactly 3 intervals of silence is still active; one second more is not.
  CHECK(Status(d, rules, d.last_seen + 3 * kHour) == "active");
  v = DeviceStatusOf(d, rules, d.last_seen + 3 * kHour + 12 * 60);
  CHECK(v.status == DeviceStatus::kDisconnected);
  CHECK(v.why == "no check-in for 3h12m, expected every 1h");

  // It checks in again: active.
  d.last_seen = kT0 + 5 * kHour;
  CHECK(Status(d, rules, kT0 + 5 * kHour + 30) == "active");
  CHECK(DeviceStatusOf(d, rules, kT0 + 5 * kHour + 30).why == "checked in 30s ago");

  // Disconnected wins over pending.
  d.inventoried = false;
  CHECK(Status(d, rules, kT0 + 9 * kHour) == "disconnected");
}

TEST_CASE("the device's own interval, else the default, decides disconnection", "[estate]") {
  EstateRules rules;
  rules.disconnect_after = 2;
  rules.default_check_interval = 600;
  DeviceState d;
  d.first_seen = d.last_seen = kT0;
  d.inventoried = true;

  // Default: 2 x 10 minutes.
  CHECK(Status(d, rules, kT0 + 1200) == "active");
  CHECK(Status(d, rules, kT0 + 1201) == "disconnected");
  CHECK(DeviceStatusOf(d, rules, kT0 + 1201).why == "no check-in for 20m, expected every 10m");

  // Its own schedule says every 6 hours: 12 hours of silence are fine.
  d.check_interval = 6 * kHour;
  CHECK(Status(d, rules, kT0 + 12 * kHour) == "active");
  CHECK(Status(d, rules, kT0 + 12 * kHour + 1) == "disconnected");
  CHECK(DeviceStatusOf(d, rules, kT0 + 2 * kDay + 5 * kHour).why ==
        "no check-in for 2d5h, expected every 6h");
}

TEST_CASE("in sync and out of sync after a publish", "[estate]") {
  EstateRules rules;
  DeviceState d;
  d.first_seen = kT0 - kDay;
  d.last_seen = kT0;
  d.inventoried = true;
  d.check_interval = kHour;
  d.policy_revision = 4;

  // Nothing published yet: in sync.
  auto v = DeviceStatusOf(d, rules, kT0);
  CHECK(v.in_sync);
  CHECK_FALSE(Has(v.conditions, "policy-out-of-sync"));

  // Revision 5 published at kT0: not in sync, but within its interval the
  // device has not had the time to take it, so no condition yet.
  rules.policy_revision = 5;
  rules.policy_since = kT0;
  v = DeviceStatusOf(d, rules, kT0 + kHour);
  CHECK_FALSE(v.in_sync);
  CHECK_FALSE(Has(v.conditions, "policy-out-of-sync"));
  // One interval later it should have: out of sync.
  d.last_seen = kT0 + kHour;
  v = DeviceStatusOf(d, rules, kT0 + kHour + 1);
  CHECK_FALSE(v.in_sync);
  CHECK(v.conditions == std::vector<std::string>{"policy-out-of-sync"});
  CHECK(v.status == DeviceStatus::kActive);  // a condition, not a status

  // It applies revision 5: in sync again.
  d.policy_revision = 5;
  v = DeviceStatusOf(d, rules, kT0 + 2 * kHour);
  CHECK(v.in_sync);
  CHECK(v.conditions.empty());

  // A device first seen after the publish gets its own interval from then.
  DeviceState late;
  late.first_seen = late.last_seen = kT0 + 10 * kHour;
  late.inventoried = true;
  late.check_interval = kHour;
  late.policy_revision = 3;
  CHECK_FALSE(Has(DeviceStatusOf(late, rules, kT0 + 10 * kHour + 100).conditions, "policy-out-of-sync"));
  late.last_seen = kT0 + 11 * kHour;
  CHECK(Has(DeviceStatusOf(late, rules, kT0 + 11 * kHour + 1).conditions, "policy-out-of-sync"));

  // The default interval applies when the device does not tell its own.
  late.check_interval = 0;
  rules.default_check_interval = 4 * kHour;
  CHECK_FALSE(Has(DeviceStatusOf(late, rules, kT0 + 11 * kHour + 1).conditions, "policy-out-of-sync"));
  CHECK(Has(DeviceStatusOf(late, rules, kT0 + 14 * kHour + 1).conditions, "policy-out-of-sync"));
}

TEST_CASE("each condition turns on and off, in the documented order", "[estate]") {
  EstateRules rules;
  rules.outbox_backlog = 100;
  rules.cert_warn_before = 30 * kDay;
  rules.policy_revision = 9;
  rules.policy_since = kT0 - kDay;
  DeviceState d;
  d.first_seen = kT0 - 2 * kDay;
  d.last_seen = kT0;
  d.inventoried = true;
  d.policy_revision = 9;
  d.cert_not_after = kT0 + 90 * kDay;
  CHECK(DeviceStatusOf(d, rules, kT0).conditions.empty());

  SECTION("outbox backlog") {
    d.outbox_depth = 99;
    CHECK_FALSE(Has(DeviceStatusOf(d, rules, kT0).conditions, "outbox-backlog"));
    d.outbox_depth = 100;
    CHECK(DeviceStatusOf(d, rules, kT0).conditions == std::vector<std::string>{"outbox-backlog"});
  }
  SECTION("certificate expiring (and expired)") {
    d.cert_not_after = kT0 + 30 * kDay;
    CHECK(DeviceStatusOf(d, rules, kT0).conditions.empty());
    CHECK(DeviceStatusOf(d, rules, kT0 + 1).conditions == std::vector<std::string>{"certificate-expiring"});
    CHECK(Has(DeviceStatusOf(d, rules, kT0 + 31 * kDay).conditions, "certificate-expiring"));
    d.cert_not_after = 0;  // none known: nothing to warn about
    CHECK(DeviceStatusOf(d, rules, kT0).conditions.empty());
  }
  SECTION("clone suspected") {
    d.clone_suspected = true;
    CHECK(DeviceStatusOf(d, rules, kT0).conditions == std::vector<std::string>{"clone-suspected"});
  }
  SECTION("open health errors, not warnings") {
    d.open_warnings = 3;
    CHECK(DeviceStatusOf(d, rules, kT0).conditions.empty());
    d.open_errors = 1;
    CHECK(DeviceStatusOf(d, rules, kT0).conditions == std::vector<std::string>{"health-errors"});
  }
  SECTION("all at once, in kConditions order") {
    d.policy_revision = 8;
    d.outbox_depth = 500;
    d.cert_not_after = kT0 + kDay;
    d.clone_suspected = true;
    d.open_errors = 2;
    const std::vector<std::string> all(std::begin(inventory::kConditions), std::end(inventory::kConditions));
    CHECK(DeviceStatusOf(d, rules, kT0).conditions == all);
  }
}

TEST_CASE("a beacon is online within its report intervals, offline after", "[estate]") {
  EstateRules rules;  // offline after 3 intervals
  BeaconState b;
  b.name = "dmz-1";

  auto v = BeaconStatusOf(b, rules, kT0);
  CHECK_FALSE(v.online);
  CHECK(v.why == "never heard from");
  b.cert_not_after = kT0 + kDay;
  CHECK(BeaconStatusOf(b, rules, kT0).why == "certificate issued, never heard from");

  b.last_contact = kT0;
  b.status.interval = 300;
  v = BeaconStatusOf(b, rules, kT0 + 240);
  CHECK(v.online);
  CHECK(v.why == "reported 4m ago");
  CHECK(BeaconStatusOf(b, rules, kT0 + 900).online);
  v = BeaconStatusOf(b, rules, kT0 + 901);
  CHECK_FALSE(v.online);
  CHECK(v.why == "no report for 15m, expected every 5m");  // under an hour: whole minutes
  // Back once it reports again.
  b.last_contact = kT0 + 1000;
  CHECK(BeaconStatusOf(b, rules, kT0 + 1000).online);

  // An interval below 5 s (or none) is judged as 5 s.
  b.status.interval = 5;
  CHECK(BeaconStatusOf(b, rules, kT0 + 1000 + 15).online);
  CHECK_FALSE(BeaconStatusOf(b, rules, kT0 + 1000 + 16).online);
  b.status.interval = 0;
  CHECK(BeaconStatusOf(b, rules, kT0 + 1000 + 15).online);
  CHECK_FALSE(BeaconStatusOf(b, rules, kT0 + 1000 + 16).online);

  rules.beacon_offline_after = 10;
  CHECK(BeaconStatusOf(b, rules, kT0 + 1000 + 50).online);
}

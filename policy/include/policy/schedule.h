// Schedule arithmetic: when each event of schedule.xml is next due for one
// device. Pure functions of their arguments (the clock and the time zone are
// passed in), so they are tested without waiting.
//
// Every event recurs with a period P and a device-specific phase: an interval
// event every `interval_seconds`, a daily window every 86,400 s. The phase
// puts the device at a point fixed for that device (stable from day to day,
// different between devices) within `start_within_seconds` of the slot's
// start, so an estate's check-ins spread evenly over the allowed window.
#pragma once

#include <cstdint>
#include <string>

#include "policy/documents.h"

namespace policy {

// A stable offset in [0, range_seconds) for this device and event kind,
// derived from SHA-256 of both; 0 when range_seconds <= 0.
int64_t SpreadSeconds(const std::string& device_id, EventKind kind, int64_t range_seconds);

// The next time (unix seconds) `event` is due for the device.
//   last_run            end of the last completed run, 0 if it never ran
//   now                 the current time
//   utc_offset_seconds  local time minus UTC, for daily windows
// The next occurrence after last_run is returned if it is not in the past.
// If it is (the machine was off), the catch-up rule decides: kAlways and
// kOnce run now (missed runs are coalesced into one), kNever waits for the
// next occurrence from now. A device that never ran waits for its first
// occurrence from now, so a freshly installed estate is spread as well.
int64_t NextRun(const ScheduleEvent& event, const std::string& device_id, int64_t last_run,
                int64_t now, int64_t utc_offset_seconds);

}  // namespace policy

#include "policy/schedule.h"

#include <algorithm>

#include "common/sha256.h"

namespace policy {

int64_t SpreadSeconds(const std::string& device_id, EventKind kind, int64_t range_seconds) {
  if (range_seconds <= 0) return 0;
  std::string digest = common::Sha256Hex(device_id + "/" + std::to_string(static_cast<int>(kind)));
  uint64_t v = std::stoull(digest.substr(0, 15), nullptr, 16);  // 60 uniform bits
  return static_cast<int64_t>(v % static_cast<uint64_t>(range_seconds));
}

namespace {

constexpr int64_t kDay = 86400;

// Smallest t > after with t = phase (mod period).
int64_t NextOccurrence(int64_t after, int64_t period, int64_t phase) {
  int64_t rem = ((after - phase) % period + period) % period;
  return after - rem + period;
}

}  // namespace

int64_t NextRun(const ScheduleEvent& event, const std::string& device_id, int64_t last_run,
                int64_t now, int64_t utc_offset_seconds) {
  int64_t period = 0, phase = 0;
  if (event.window) {
    int64_t length = (event.window->end_minute - event.window->start_minute) * 60;
    period = kDay;
    phase = event.window->start_minute * 60 - utc_offset_seconds +
            SpreadSeconds(device_id, event.kind, std::min(event.start_within_seconds, length));
  } else {
    period = std::max<int64_t>(1, event.interval_seconds);
    phase = SpreadSeconds(device_id, event.kind, std::min(event.start_within_seconds, period));
  }
  if (last_run <= 0) return NextOccurrence(now - 1, period, phase);
  int64_t due = NextOccurrence(last_run, period, phase);
  if (due >= now) return due;
  return event.catch_up == CatchUp::kNever ? NextOccurrence(now - 1, period, phase) : now;
}

}  // namespace policy

#include "policy/schedule.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>

#include "common/uuid.h"

using policy::CatchUp;
using policy::EventKind;
using policy::NextRun;
using policy::ScheduleEvent;

namespace {
constexpr int64_t kMidnight = 1795305600;  // 2026-11-22T00:00:00Z

ScheduleEvent Window(int start_minute, int end_minute, int64_t start_within, CatchUp catch_up = CatchUp::kOnce) {
  ScheduleEvent e;
  e.kind = EventKind::kInventory;
  e.window = policy::DailyWindow{start_minute, end_minute};
  e.start_within_seconds = start_within;
  e.catch_up = catch_up;
  return e;
}
}  // namespace

TEST_CASE("10,000 devices spread over a one-hour window: no minute above 1.5x the mean") {
  ScheduleEvent e = Window(9 * 60, 10 * 60, 3600);
  std::map<int64_t, int> per_minute;
  for (int i = 0; i < 10000; ++i) {
    int64_t t = NextRun(e, common::NewUuid(), 0, kMidnight, 0);
    REQUIRE(t >= kMidnight + 9 * 3600);
    REQUIRE(t < kMidnight + 10 * 3600);
    ++per_minute[(t - kMidnight) / 60];
  }
  CHECK(per_minute.size() == 60);
  int busiest = 0;
  for (const auto& [minute, n] : per_minute) busiest = std::max(busiest, n);
  double mean = 10000.0 / 60.0;
  INFO("busiest minute: " << busiest << ", mean " << mean);
  CHECK(busiest <= 1.5 * mean);
}

TEST_CASE("a device's time is fixed from day to day, different between devices, in local time") {
  ScheduleEvent e = Window(9 * 60, 17 * 60, 8 * 3600);
  std::string a = common::NewUuid(), b = common::NewUuid();
  int64_t day1 = NextRun(e, a, 0, kMidnight, 0);
  int64_t day2 = NextRun(e, a, day1, day1 + 60, 0);
  CHECK(day2 - day1 == 86400);
  CHECK(NextRun(e, b, 0, kMidnight, 0) != day1);
  // Two hours east of UTC, the same local window is two hours earlier in UTC.
  CHECK(NextRun(e, a, 0, kMidnight - 7200, 7200) == day1 - 7200);
  // No start-within: exactly at the window's start.
  CHECK(NextRun(Window(9 * 60, 10 * 60, 0), a, 0, kMidnight, 0) == kMidnight + 9 * 3600);
}

TEST_CASE("intervals and catch-up after the machine was off") {
  ScheduleEvent e;
  e.kind = EventKind::kPolicyCheck;
  e.interval_seconds = 3600;
  e.start_within_seconds = 600;
  std::string d = common::NewUuid();
  int64_t first = NextRun(e, d, 0, kMidnight, 0);
  CHECK(first >= kMidnight);
  CHECK(first < kMidnight + 3600);
  CHECK((first - kMidnight) % 3600 < 600);
  CHECK(NextRun(e, d, first, first + 5, 0) == first + 3600);

  // Off for three days: once/always run now, never waits for the next slot.
  int64_t later = first + 3 * 86400 + 1234;
  e.catch_up = CatchUp::kOnce;
  CHECK(NextRun(e, d, first, later, 0) == later);
  e.catch_up = CatchUp::kAlways;
  CHECK(NextRun(e, d, first, later, 0) == later);
  e.catch_up = CatchUp::kNever;
  int64_t next = NextRun(e, d, first, later, 0);
  CHECK(next >= later);
  CHECK(next - later < 3600);
  CHECK((next - first) % 3600 == 0);
}

TEST_CASE("spread is stable and bounded") {
  std::string d = common::NewUuid();
  CHECK(policy::SpreadSeconds(d, EventKind::kInventory, 3600) == policy::SpreadSeconds(d, EventKind::kInventory, 3600));
  CHECK(policy::SpreadSeconds(d, EventKind::kInventory, 0) == 0);
  for (int i = 0; i < 1000; ++i) {
    int64_t s = policy::SpreadSeconds(common::NewUuid(), EventKind::kLogUpload, 7);
    CHECK(s >= 0);
    CHECK(s < 7);
  }
}

// When the client's policy check is next due (AppliedPolicy::NextDue): at
// once the first time, then on the schedule (whose spread arithmetic
// tests/policy/schedule_test.cpp covers).
#include "client_parts.h"

using client_test::ClientParts;

TEST_CASE("applied policy: the first policy check is at once, the next ones on the schedule") {
  ClientParts p;
  const policy::Schedule schedule = p.applied->EffectiveSchedule();  // no policy yet: the configuration's
  const int64_t now = 1'800'000'000;
  CHECK(p.applied->NextDue(schedule, policy::EventKind::kPolicyCheck, 0, now) == now);

  // Once a check ran (whatever its result), the next one follows the
  // interval and this device's spread: after the last run, within one
  // interval plus the spread.
  const int64_t interval = p.settings.policy_interval.count();
  const int64_t next = p.applied->NextDue(schedule, policy::EventKind::kPolicyCheck, now, now + 1);
  CHECK(next > now);
  CHECK(next <= now + 2 * interval);
}

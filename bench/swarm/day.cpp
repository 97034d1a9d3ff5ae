#include <cmath>
#include <ctime>
#include <limits>

#include "policy/schedule.h"
#include "scenarios.h"

namespace swarm {

using common::Status;

namespace {

// Simulated time: the day starts at 00:00 UTC of today (devices keep UTC,
// so the daily windows of schedule.xml fall inside it) and runs `factor`
// times faster than real time.
struct DayClock {
  int64_t sim0 = 0;      // unix seconds at the start of the simulated day
  int64_t start_ms = 0;  // real ms (since Shared::start) at that moment
  double factor = 1;     // simulated seconds per real second

  int64_t SimAt(int64_t ms) const {
    return sim0 +
           static_cast<int64_t>(std::floor(static_cast<double>(ms - start_ms) * factor / 1000.0));
  }
  // The first real ms at which SimAt() has reached `sim`, so a round never
  // runs before its event is due.
  int64_t MsAt(int64_t sim) const {
    return start_ms +
           static_cast<int64_t>(std::ceil(static_cast<double>(sim - sim0) * 1000.0 / factor));
  }
  int64_t End() const { return sim0 + 86400; }
};

// When `kind` is next due in `schedule` for the device, 0 if it is not
// scheduled or not before the day ends.
int64_t NextDue(const policy::Schedule* schedule, policy::EventKind kind, const Device& d,
                int64_t last_run, int64_t sim_now, const DayClock& clock) {
  if (schedule == nullptr) return 0;
  const policy::ScheduleEvent* e = schedule->Find(kind);
  if (e == nullptr) return 0;
  int64_t due = policy::NextRun(*e, d.Id(), last_run, sim_now, 0);
  return due < clock.End() ? due : 0;
}

}  // namespace

Status RunDay(Run& run) {
  // A device needs its schedule, which only its applied policy brings: a
  // device loaded with an ETag but without its files asks afresh.
  for (Device& d : run.devices) {
    if (d.policy == kNoPolicy) d.SetEtag("");
  }
  RETURN_IF_ERROR(Prime(run));

  DayClock clock;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  clock.sim0 = now - now % 86400;
  clock.factor = 86400.0 / (run.options.day_minutes * 60.0);
  clock.start_ms = run.NowMs();
  PhaseStats& stats = run.NewPhase("day");

  std::vector<Engine::Entry> initial;
  for (uint32_t i = 0; i < run.devices.size(); ++i) {
    Device& d = run.devices[i];
    const policy::Schedule* s = run.policies.ScheduleOf(d.policy);
    d.last_check = d.last_inventory = 0;
    d.next_check = NextDue(s, policy::EventKind::kPolicyCheck, d, 0, clock.sim0, clock);
    d.next_inventory = NextDue(s, policy::EventKind::kInventory, d, 0, clock.sim0, clock);
    int64_t first = std::numeric_limits<int64_t>::max();
    if (d.next_check != 0) first = std::min(first, clock.MsAt(d.next_check));
    if (d.next_inventory != 0) first = std::min(first, clock.MsAt(d.next_inventory));
    if (first != std::numeric_limits<int64_t>::max()) initial.push_back({first, i});
  }

  auto round = [&](uint32_t i, Agent& agent) -> std::optional<int64_t> {
    Device& d = run.devices[i];
    const int64_t sim_now = clock.SimAt(agent.NowMs());
    if (d.next_check != 0 && d.next_check <= sim_now) {
      Status st = agent.CheckPolicy(d, stats);
      stats.Count("policy_checks");
      if (!st.ok()) stats.Count(std::string("policy_check_failed_") + common::CodeName(st.code()));
      d.last_check = sim_now;
    }
    if (d.next_inventory != 0 && d.next_inventory <= sim_now) {
      // One queued inventory per device keeps devices small; a device whose
      // last one is still waiting skips this one (and says so).
      if (d.HasUpload()) {
        stats.Count("inventories_skipped_outbox_busy");
      } else {
        agent.QueueInventory(d);
        stats.Count("inventories_collected");
      }
      d.last_inventory = sim_now;
    }
    if (d.HasUpload() && agent.NowMs() >= d.retry_at_ms) agent.SendUpload(d, stats);
    // A policy check may have brought another schedule (a group's).
    const policy::Schedule* s = run.policies.ScheduleOf(d.policy);
    d.next_check = NextDue(s, policy::EventKind::kPolicyCheck, d, d.last_check, sim_now, clock);
    d.next_inventory =
        NextDue(s, policy::EventKind::kInventory, d, d.last_inventory, sim_now, clock);
    int64_t next = std::numeric_limits<int64_t>::max();
    if (d.next_check != 0) next = std::min(next, clock.MsAt(d.next_check));
    if (d.next_inventory != 0) next = std::min(next, clock.MsAt(d.next_inventory));
    if (d.HasUpload()) next = std::min(next, d.retry_at_ms);
    if (next == std::numeric_limits<int64_t>::max()) return std::nullopt;
    return next;
  };
  const int64_t day_ms = static_cast<int64_t>(run.options.day_minutes * 60000.0);
  const size_t left = run.engine->Run(
      std::move(initial), round,
      clock.start_ms + day_ms + int64_t{run.options.finish_timeout_s} * 1000, &stats);
  stats.End();
  run.result["devices_with_rounds_left"] = left;
  return Status::Ok();
}

}  // namespace swarm

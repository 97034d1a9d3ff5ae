// The swarm's scenarios. Each runs against the beacon in Options::server (a
// relay whose upstream is a central), with the devices of one Run (run.h).
//
// day      A day of the devices' real schedule, compressed into
//          Options::day_minutes. Each device first gets its policy (phase
//          "prime"), then follows the schedule.xml of its applied policy,
//          with the spread each device takes from its id
//          (policy::NextRun): a policy check at every interval
//          (If-None-Match, 304 while nothing changed) and an inventory at
//          its time in the daily window, queued and sent at once. Retries
//          after a 503 wait Retry-After plus the client's jittered backoff
//          in real time: the beacon asks for real seconds. Phase "day".
// outage   The relay is stopped and started again by the driver
//          (bench/swarm.sh). Once the devices are ready the run creates
//          Options::ready_file and waits for the relay to go down. Each
//          device then collects an inventory, and tries once to check in
//          and send it, at a random moment of the first
//          Options::outage_spread_s seconds (phase "down": every attempt
//          fails). When GET /v1/ping answers again, every device at once
//          checks in and sends its inventory, retrying after Retry-After
//          plus jitter until both are answered (phase "storm"); the time
//          from the relay's return until the last device was served is the
//          result. Real clients that failed during the outage would come
//          back spread over their backoff; this is the worst case.
#pragma once

#include "common/status.h"
#include "options.h"
#include "run.h"

namespace swarm {

common::Status RunDay(Run& run);
common::Status RunOutage(Run& run);

// Sets up the run, runs Options::scenario and writes its results (Finish).
common::Status RunScenario(const Options& options);

}  // namespace swarm

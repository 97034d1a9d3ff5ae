// One scenario run: its devices, the pieces every worker shares, the pool,
// and what it measured. The scenarios (day.cpp, outage.cpp) drive it; this
// file's functions set it up, bring devices to an applied policy, and write
// the results.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent.h"
#include "common/status.h"
#include "devices.h"
#include "engine.h"
#include "options.h"
#include "policy/signing.h"
#include "policy_table.h"
#include "stats.h"

namespace swarm {

struct Run {
  Options options;
  std::vector<Device> devices;
  PolicyTable policies;
  std::unique_ptr<policy::ManifestVerifier> verifier;
  AckLog acks;
  Shared shared;
  std::vector<std::unique_ptr<Agent>> agents;
  std::unique_ptr<Engine> engine;
  std::vector<std::unique_ptr<PhaseStats>> phases;
  nlohmann::json result;  // scenario-level figures, beside the phases

  PhaseStats& NewPhase(const std::string& name);
  int64_t NowMs() const { return agents.front()->NowMs(); }
};

// Checks the options, reads the policy key, makes or loads the devices
// (Options::state_in), opens the acknowledgement log and starts nothing yet.
common::StatusOr<std::unique_ptr<Run>> NewRun(const Options& options);

// Phase "prime": every device without an ETag makes its first policy check
// (manifest 200, files fetched and verified), as a newly installed client
// does, as fast as the pool allows; failures are retried with the client's
// backoff. Devices loaded with an ETag keep it.
common::Status Prime(Run& run);

// GET /v1/ping on the server: OK when it answers 200.
common::Status Ping(const Options& options);

// Writes <results>/<scenario>.json and -summary.txt, prints the summary and
// one line "SWARM_RESULT <json>" to stdout, and saves Options::state_out.
common::Status Finish(Run& run);

}  // namespace swarm

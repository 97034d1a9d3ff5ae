#include "run.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/fs.h"
#include "common/log.h"
#include "identities.h"
#include "scenarios.h"

namespace swarm {

using common::Status;
using common::StatusOr;

PhaseStats& Run::NewPhase(const std::string& name) {
  phases.push_back(std::make_unique<PhaseStats>(name));
  phases.back()->Begin();
  return *phases.back();
}

StatusOr<std::unique_ptr<Run>> NewRun(const Options& options) {
  if (options.scenario != "day" && options.scenario != "outage") {
    return common::InvalidArgument("unknown scenario '" + options.scenario + "' (day or outage)");
  }
  if (options.conns < 1) return common::InvalidArgument("--conns must be at least 1");
  auto run = std::make_unique<Run>();
  run->options = options;
  ASSIGN_OR_RETURN(run->verifier, policy::ManifestVerifier::FromPemFile(options.policy_public_key));
  if (!options.state_in.empty()) {
    ASSIGN_OR_RETURN(run->devices, LoadDevices(options.state_in));
  } else {
    if (options.devices < 1) return common::InvalidArgument("--devices must be at least 1");
    run->devices = NewDevices(options.devices);
  }
  RETURN_IF_ERROR(common::MakeDirs(options.results_dir));
  if (run->options.identity_dir.empty()) run->options.identity_dir = options.results_dir + "/identities";
  // A certificate per device, before anything is timed.
  ASSIGN_OR_RETURN(IdentityStats ids,
                   ProvideIdentities(options.ca_dir, run->options.identity_dir, run->devices));
  run->result["identities"] = {{"issued", ids.issued},
                               {"reused", ids.reused},
                               {"seconds", ids.seconds},
                               {"threads", ids.threads}};
  common::LogInfo("device certificates: " + std::to_string(ids.issued) + " issued, " +
                  std::to_string(ids.reused) + " found in " + run->options.identity_dir + ", " +
                  std::to_string(ids.seconds) + " s on " + std::to_string(ids.threads) + " threads");
  RETURN_IF_ERROR(run->acks.Open(options.results_dir + "/" + options.scenario + "-acks.tsv"));
  run->shared.options = &run->options;
  run->shared.verifier = run->verifier.get();
  run->shared.policies = &run->policies;
  run->shared.acks = &run->acks;
  run->shared.start = std::chrono::steady_clock::now();
  for (int i = 0; i < options.conns; ++i)
    run->agents.push_back(std::make_unique<Agent>(run->shared));
  run->engine = std::make_unique<Engine>(&run->agents);
  return run;
}

Status Prime(Run& run) {
  std::vector<Engine::Entry> todo;
  for (uint32_t i = 0; i < run.devices.size(); ++i) {
    if (run.devices[i].Etag().empty()) todo.push_back({0, i});
  }
  if (todo.empty()) return Status::Ok();
  PhaseStats& stats = run.NewPhase("prime");
  const size_t left = run.engine->Run(
      std::move(todo),
      [&](uint32_t i, Agent& agent) -> std::optional<int64_t> {
        Status st = agent.CheckPolicy(run.devices[i], stats);
        if (st.ok()) return std::nullopt;
        stats.Count(std::string("policy_check_failed_") + common::CodeName(st.code()));
        return agent.CheckRetryAtMs();
      },
      run.NowMs() + int64_t{run.options.prime_timeout_s} * 1000, &stats);
  stats.End();
  if (left > 0)
    return common::DeadlineExceeded(std::to_string(left) + " devices could not get their policy");
  return Status::Ok();
}

Status Ping(const Options& options) {
  common::ClientOptions o;
  o.url = options.server;
  o.ca_file = options.ca_file;
  o.connect_timeout_s = 1;
  o.read_timeout_s = 2;
  o.write_timeout_s = 2;
  ASSIGN_OR_RETURN(auto client, common::HttpClient::Create(o));
  ASSIGN_OR_RETURN(auto res, client->Get("/v1/ping", {}, 4096));
  return common::StatusFromHttp(res.status, "GET /v1/ping");
}

namespace {

// Peak resident memory of this process (VmHWM), in MiB; 0 if unknown.
double PeakRssMib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

}  // namespace

Status Finish(Run& run) {
  const Options& o = run.options;
  RETURN_IF_ERROR(run.acks.Close());
  uint64_t pending = 0;
  for (const Device& d : run.devices) pending += d.HasUpload() ? 1 : 0;
  nlohmann::json j = run.result;
  j["scenario"] = o.scenario;
  j["server"] = o.server;
  j["devices"] = run.devices.size();
  j["conns"] = o.conns;
  j["fresh_connections"] = o.fresh_connections;
  j["packages"] = o.packages;
  if (o.scenario == "day") j["day_minutes"] = o.day_minutes;
  j["acknowledged"] = run.acks.count();
  j["uploads_pending_at_end"] = pending;
  j["acks_file"] = o.results_dir + "/" + o.scenario + "-acks.tsv";
  j["simulator_peak_rss_mib"] = PeakRssMib();
  for (const auto& p : run.phases) j["phases"].push_back(p->ToJson());

  std::ostringstream text;
  text << "== swarm scenario " << o.scenario << ": " << run.devices.size() << " devices, "
       << o.conns
       << (o.fresh_connections ? " workers (a new connection per device round)"
                               : " kept-alive connections")
       << " to " << o.server << "\n";
  for (const auto& p : run.phases) text << p->ToText();
  text << "acknowledged uploads: " << run.acks.count() << " (" << pending
       << " still queued at the end)\n";
  for (const char* key : {"identities", "devices_served", "devices_not_served", "all_served_s"}) {
    if (run.result.contains(key)) text << key << ": " << run.result[key].dump() << "\n";
  }
  char rss[64];
  std::snprintf(rss, sizeof rss, "%.1f", PeakRssMib());
  text << "simulator peak RSS: " << rss << " MiB\n";

  const std::string base = o.results_dir + "/" + o.scenario;
  RETURN_IF_ERROR(common::WriteFileAtomic(base + ".json", j.dump(2) + "\n"));
  RETURN_IF_ERROR(common::WriteFileAtomic(base + "-summary.txt", text.str()));
  std::cout << text.str() << "SWARM_RESULT " << j.dump() << std::endl;
  if (!o.state_out.empty()) RETURN_IF_ERROR(SaveDevices(run.devices, o.state_out));
  return Status::Ok();
}

Status RunScenario(const Options& options) {
  ASSIGN_OR_RETURN(auto run, NewRun(options));
  Status st = options.scenario == "day" ? RunDay(*run) : RunOutage(*run);
  if (!st.ok()) {
    // What was measured until the failure is still written.
    run->result["error"] = st.ToString();
    common::LogError(st.ToString());
  }
  RETURN_IF_ERROR(Finish(*run));
  return st;
}

}  // namespace swarm

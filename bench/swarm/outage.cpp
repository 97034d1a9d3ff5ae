#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>
#include <thread>

#include "scenarios.h"

namespace swarm {

using common::Status;

namespace {

// Polls GET /v1/ping every `every` until `up` is what it finds; false at
// `deadline_ms`.
bool WaitForServer(Run& run, bool up, int64_t deadline_ms, std::chrono::milliseconds every) {
  while (run.NowMs() < deadline_ms) {
    if (Ping(run.options).ok() == up) return true;
    std::this_thread::sleep_for(every);
  }
  return false;
}

}  // namespace

Status RunOutage(Run& run) {
  const Options& o = run.options;
  if (o.ready_file.empty())
    return common::InvalidArgument("the outage scenario needs --ready-file");
  RETURN_IF_ERROR(Prime(run));

  // The driver stops the relay once this file exists.
  std::ofstream(o.ready_file) << "ready\n";
  std::cout << "swarm: " << run.devices.size() << " devices ready; waiting for the relay to stop"
            << std::endl;
  if (!WaitForServer(run, false, run.NowMs() + int64_t{o.down_timeout_s} * 1000,
                     std::chrono::milliseconds(100))) {
    return common::DeadlineExceeded("the relay did not stop within " +
                                    std::to_string(o.down_timeout_s) + " s");
  }
  std::ofstream(o.ready_file, std::ios::app) << "down\n";
  std::cout << "swarm: the relay is down" << std::endl;

  // Down: each device collects an inventory and tries once to check in and
  // send it, at a random moment of the spread; every attempt fails.
  PhaseStats& down = run.NewPhase("down");
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> at(0, std::max(0, o.outage_spread_s) * int64_t{1000});
  std::vector<Engine::Entry> attempts;
  const int64_t down_ms = run.NowMs();
  for (uint32_t i = 0; i < run.devices.size(); ++i) {
    Device& d = run.devices[i];
    if (!d.HasUpload()) run.agents.front()->QueueInventory(d);
    attempts.push_back({down_ms + at(rng), i});
  }
  std::atomic<int64_t> back_ms{-1};
  std::thread probe([&] {
    if (WaitForServer(run, true, down_ms + int64_t{o.up_timeout_s} * 1000,
                      std::chrono::milliseconds(50))) {
      back_ms = run.NowMs();
      std::cout << "swarm: the relay answers again; the storm begins" << std::endl;
    }
    run.engine->Stop();  // attempts not made yet belong to the storm
  });
  run.engine->Run(
      std::move(attempts),
      [&](uint32_t i, Agent& agent) -> std::optional<int64_t> {
        Device& d = run.devices[i];
        Status st = agent.CheckPolicy(d, down);
        if (!st.ok()) down.Count(std::string("policy_check_failed_") + common::CodeName(st.code()));
        if (d.HasUpload()) agent.SendUpload(d, down);
        return std::nullopt;
      },
      down_ms + int64_t{o.up_timeout_s} * 1000, &down);
  probe.join();
  down.End();
  if (back_ms < 0)
    return common::DeadlineExceeded("the relay did not come back within " +
                                    std::to_string(o.up_timeout_s) + " s");

  // The storm: every device at once, until its check-in is answered and its
  // inventory acknowledged, each retry after Retry-After plus jitter.
  PhaseStats& storm = run.NewPhase("storm");
  const int64_t t0 = back_ms;
  std::vector<Engine::Entry> everyone;
  for (uint32_t i = 0; i < run.devices.size(); ++i) {
    Device& d = run.devices[i];
    d.flags = 0;
    d.attempts = 0;
    d.retry_at_ms = 0;
    everyone.push_back({t0, i});
  }
  const size_t left = run.engine->Run(
      std::move(everyone),
      [&](uint32_t i, Agent& agent) -> std::optional<int64_t> {
        Device& d = run.devices[i];
        if ((d.flags & Device::kChecked) == 0) {
          Status st = agent.CheckPolicy(d, storm);
          if (st.ok()) {
            d.flags |= Device::kChecked;
          } else {
            storm.Count(std::string("policy_check_failed_") + common::CodeName(st.code()));
          }
        }
        if (d.HasUpload() && agent.NowMs() >= d.retry_at_ms) agent.SendUpload(d, storm);
        if ((d.flags & Device::kChecked) != 0 && !d.HasUpload()) {
          d.flags |= Device::kServed;
          storm.served_ms().Add(static_cast<uint64_t>(agent.NowMs() - t0));
          return std::nullopt;
        }
        int64_t next = std::numeric_limits<int64_t>::max();
        if (d.HasUpload()) next = d.retry_at_ms;
        if ((d.flags & Device::kChecked) == 0) next = std::min(next, agent.CheckRetryAtMs());
        return next;
      },
      t0 + int64_t{o.storm_timeout_s} * 1000, &storm);
  storm.End();
  uint64_t served = 0;
  for (const Device& d : run.devices) served += (d.flags & Device::kServed) != 0 ? 1 : 0;
  run.result["devices_served"] = served;
  run.result["devices_not_served"] = run.devices.size() - served;
  run.result["storm_rounds_left"] = left;
  if (served == run.devices.size()) {
    run.result["all_served_s"] = static_cast<double>(storm.served_ms().Max()) / 1000.0;
  } else {
    run.result["all_served_s"] = nullptr;
  }
  return Status::Ok();
}

}  // namespace swarm

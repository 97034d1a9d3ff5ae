// Runs device rounds at their due times on a bounded pool of workers.
//
// Each device has at most one entry in the queue, so at most one worker
// touches it at a time. A worker takes the entry that is due first (never
// before its time), runs the round, and the round says when the device is
// due again (or that it is done). A round that starts late is not run
// twice: like a client that was busy, the device does what is due once.
// How late rounds start (PhaseStats::lag_ms) shows where the pool, or the
// servers behind it, fall behind the schedule.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <queue>
#include <vector>

#include "agent.h"
#include "stats.h"

namespace swarm {

class Engine {
 public:
  struct Entry {
    int64_t due_ms;  // since Shared::start
    uint32_t device;
    bool operator>(const Entry& o) const { return due_ms > o.due_ms; }
  };
  // Runs one device's round on `agent`; returns when the device is next due
  // (ms since Shared::start), or nothing when it is done for this run.
  using Round = std::function<std::optional<int64_t>(uint32_t device, Agent& agent)>;

  // One worker thread per agent. `agents` must outlive the Engine.
  explicit Engine(std::vector<std::unique_ptr<Agent>>* agents) : agents_(agents) {}

  // Runs the rounds of `initial` (and whatever they schedule) until no entry
  // is left and no round is running, `deadline_ms` passes, or Stop(); lag
  // goes to `stats`. Returns the number of entries left undone.
  size_t Run(std::vector<Entry> initial, const Round& round, int64_t deadline_ms,
             PhaseStats* stats);
  // Ends Run() soon: rounds in progress finish, no new one starts. Thread-safe.
  void Stop();

 private:
  bool Take(Entry* entry, PhaseStats* stats);
  void Finish(uint32_t device, std::optional<int64_t> next);

  std::vector<std::unique_ptr<Agent>>* agents_;
  std::mutex mu_;
  std::condition_variable leader_cv_;
  std::condition_variable follower_cv_;
  bool has_leader_ = false;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue_;
  size_t busy_ = 0;
  bool stopped_ = false;
  int64_t deadline_ms_ = 0;
};

}  // namespace swarm

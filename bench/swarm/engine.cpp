#include "engine.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <thread>

namespace swarm {

size_t Engine::Run(std::vector<Entry> initial, const Round& round, int64_t deadline_ms,
                   PhaseStats* stats) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_ = decltype(queue_)(std::greater<Entry>(), std::move(initial));
    busy_ = 0;
    stopped_ = false;
    has_leader_ = false;
    deadline_ms_ = deadline_ms;
  }
  std::vector<std::thread> workers;
  for (auto& agent : *agents_) {
    workers.emplace_back([this, &round, stats, a = agent.get()] {
      Entry e{};
      while (Take(&e, stats)) {
        a->BeginRound();
        std::optional<int64_t> next;
        try {
          next = round(e.device, *a);
        } catch (const std::exception&) {
          // Nothing in a round throws by contract (Status everywhere); an
          // allocation failure drops this device rather than the run.
          next.reset();
        }
        Finish(e.device, next);
      }
    });
  }
  for (auto& w : workers) w.join();
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void Engine::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  leader_cv_.notify_all();
  follower_cv_.notify_all();
}

// One waiting worker (the leader) sleeps until the first entry is due; the
// others sleep until the leader leaves to run a round. Waking every worker
// at each due time would cost hundreds of wake-ups per round on two cores.
bool Engine::Take(Entry* entry, PhaseStats* stats) {
  std::unique_lock<std::mutex> lock(mu_);
  Agent& clock = *agents_->front();
  while (true) {
    if (stopped_) return false;
    const int64_t now = clock.NowMs();
    if (now >= deadline_ms_ || (queue_.empty() && busy_ == 0)) {
      stopped_ =
          true;  // the deadline passed, or nothing is left and nothing running could add more
      leader_cv_.notify_all();
      follower_cv_.notify_all();
      return false;
    }
    if (!queue_.empty() && queue_.top().due_ms <= now) {
      *entry = queue_.top();
      queue_.pop();
      ++busy_;
      if (stats != nullptr) stats->lag_ms().Add(static_cast<uint64_t>(now - entry->due_ms));
      if (!has_leader_) follower_cv_.notify_one();  // someone must watch the next entry
      return true;
    }
    if (has_leader_) {
      follower_cv_.wait(lock);
      continue;
    }
    has_leader_ = true;
    const int64_t until =
        queue_.empty() ? deadline_ms_ : std::min(queue_.top().due_ms, deadline_ms_);
    leader_cv_.wait_for(lock, std::chrono::milliseconds(until - now));
    has_leader_ = false;
  }
}

void Engine::Finish(uint32_t device, std::optional<int64_t> next) {
  std::lock_guard<std::mutex> lock(mu_);
  --busy_;
  if (next) {
    const bool first = queue_.empty() || *next < queue_.top().due_ms;
    queue_.push(Entry{*next, device});
    if (first) leader_cv_.notify_one();  // the leader sleeps until a later time
    if (!has_leader_) follower_cv_.notify_one();
  } else if (busy_ == 0 && queue_.empty()) {
    leader_cv_.notify_all();
    follower_cv_.notify_all();
  }
}

}  // namespace swarm

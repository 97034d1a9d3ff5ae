// Test shorthand: one usage sample of programs that each run as one
// long-lived process (pid by position, started one interval before `now`,
// run by root), with a process table of its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "inventory/usage.h"

namespace testing_support {

inline void AddSample(inventory::Usage* u, int64_t now, const std::vector<std::string>& programs) {
  std::vector<inventory::RunningProcess> running;
  for (size_t i = 0; i < programs.size(); ++i) {
    running.push_back({.pid = static_cast<int64_t>(i + 1), .start = now - u->sample_seconds, .user = "root",
                       .program = programs[i]});
  }
  inventory::ProcessTable table;
  u->AddSample(now, running, &table);
}

}  // namespace testing_support

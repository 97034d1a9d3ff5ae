// The policies the simulated devices have applied, each kept once: a device
// holds only an index into this table (devices.h), so 100,000 devices with
// the same effective policy share one copy of its file list and schedule.
// Thread-safe; entries never move once added.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "policy/documents.h"
#include "policy/manifest.h"

namespace swarm {

class PolicyTable {
 public:
  // Whether the applied policy `index` lists a file with this digest: the
  // device has it and does not fetch it again (kNoPolicy: it has nothing).
  bool Has(uint16_t index, const std::string& sha256) const;
  // The parsed schedule.xml with this digest, if a policy with it was added.
  std::optional<policy::Schedule> KnownSchedule(const std::string& sha256) const;
  // The index of the policy made of exactly `files` (sorted by name, as a
  // manifest lists them) whose schedule.xml (digest `schedule_sha256`) is
  // `schedule`; added if new. ResourceExhausted past 65,535 policies.
  common::StatusOr<uint16_t> Add(const std::vector<policy::ManifestFile>& files,
                                 const std::string& schedule_sha256,
                                 const policy::Schedule& schedule);
  // The schedule of policy `index`; nullptr for kNoPolicy.
  const policy::Schedule* ScheduleOf(uint16_t index) const;

 private:
  struct Entry {
    std::vector<policy::ManifestFile> files;
    policy::Schedule schedule;
  };
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::map<std::string, policy::Schedule> schedules_;  // by schedule.xml digest
};

}  // namespace swarm

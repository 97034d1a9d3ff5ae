#include "policy_table.h"

#include "devices.h"

namespace swarm {

bool PolicyTable::Has(uint16_t index, const std::string& sha256) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (index >= entries_.size()) return false;
  for (const auto& f : entries_[index]->files) {
    if (f.sha256 == sha256) return true;
  }
  return false;
}

std::optional<policy::Schedule> PolicyTable::KnownSchedule(const std::string& sha256) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = schedules_.find(sha256);
  if (it == schedules_.end()) return std::nullopt;
  return it->second;
}

common::StatusOr<uint16_t> PolicyTable::Add(const std::vector<policy::ManifestFile>& files,
                                            const std::string& schedule_sha256,
                                            const policy::Schedule& schedule) {
  std::lock_guard<std::mutex> lock(mu_);
  schedules_.emplace(schedule_sha256, schedule);
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i]->files == files) return static_cast<uint16_t>(i);
  }
  if (entries_.size() >= kNoPolicy)
    return common::ResourceExhausted("more than 65,535 distinct policies");
  entries_.push_back(std::make_unique<Entry>(Entry{files, schedule}));
  return static_cast<uint16_t>(entries_.size() - 1);
}

const policy::Schedule* PolicyTable::ScheduleOf(uint16_t index) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (index >= entries_.size()) return nullptr;
  return &entries_[index]->schedule;
}

}  // namespace swarm

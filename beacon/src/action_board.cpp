#include "action_board.h"

#include <algorithm>

namespace beacon {

common::StatusOr<std::vector<std::string>> ActionBoard::Refresh(int64_t now) {
  ASSIGN_OR_RETURN(std::vector<inventory::ActionRow> rows, store_->ActiveActions(now));
  std::map<std::string, std::vector<policy::ManifestAction>> active;
  std::set<std::string> pending;
  for (const auto& r : rows) {
    active[r.device_id].push_back({r.id, r.kind, r.expires_at});
    if (r.state == "pending") pending.insert(r.id);
  }
  for (auto& [device, list] : active) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    // A manifest carries at most 100 actions (policy/manifest.h); the rest
    // wait for the first ones to finish.
    if (list.size() > 100) list.resize(100);
  }
  std::vector<std::string> changed;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [device, list] : active) {
    auto it = active_.find(device);
    if (it == active_.end() || it->second != list) changed.push_back(device);
  }
  for (const auto& [device, list] : active_) {
    if (active.count(device) == 0) changed.push_back(device);
  }
  active_ = std::move(active);
  pending_ = std::move(pending);
  return changed;
}

std::vector<policy::ManifestAction> ActionBoard::For(const std::string& device) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(device);
  return it == active_.end() ? std::vector<policy::ManifestAction>{} : it->second;
}

void ActionBoard::Served(const std::string& device, const std::vector<policy::ManifestAction>& actions) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& a : actions) {
    // Marked once: the next Refresh knows it as delivered.
    if (pending_.erase(a.id) != 0) served_[device].insert(a.id);
  }
}

common::Status ActionBoard::Flush(int64_t now) {
  std::map<std::string, std::set<std::string>> served;
  {
    std::lock_guard<std::mutex> lock(mu_);
    served.swap(served_);
  }
  common::Status first;
  for (auto it = served.begin(); it != served.end();) {
    common::Status st = store_->MarkActionsDelivered(it->first, {it->second.begin(), it->second.end()}, now);
    if (st.ok()) {
      it = served.erase(it);
    } else {
      if (first.ok()) first = st;
      ++it;
    }
  }
  if (!served.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [device, ids] : served) served_[device].insert(ids.begin(), ids.end());
  }
  return first;
}

}  // namespace beacon

#include "estate_view.h"

#include <algorithm>
#include <ctime>

#include "beacon/estate_report.h"
#include "common/config.h"
#include "common/log.h"
#include "inventory/estate.h"

namespace beacon {

namespace {

constexpr const char* kSortNames[kDeviceSortCount] = {"hostname", "last_seen", "status", "os",
                                                      "inventory_at"};

std::string Folded(const inventory::DeviceState& d) {
  std::string s = d.hostname + '\t' + d.device_id;
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// The typed key of a sort, for comparisons.
struct Key {
  const std::string* text = nullptr;  // hostname, os
  int64_t number = 0;                 // times, the status's rank
};

Key KeyOf(const ViewDevice& d, DeviceSort sort) {
  switch (sort) {
    case DeviceSort::kHostname:
      return {&d.state.hostname, 0};
    case DeviceSort::kOs:
      return {&d.state.os, 0};
    case DeviceSort::kLastSeen:
      return {nullptr, d.state.last_seen};
    case DeviceSort::kInventoryAt:
      return {nullptr, d.state.inventory_at};
    case DeviceSort::kStatus:
      return {nullptr, static_cast<int64_t>(d.verdict.status)};
  }
  return {};
}

int CompareKeys(const Key& a, const Key& b) {
  if (a.text != nullptr) {
    const int c = a.text->compare(*b.text);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  return a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
}

// (key, id) against (key, id), ascending.
int Compare(const Key& ka, const std::string& ida, const Key& kb, const std::string& idb) {
  if (int c = CompareKeys(ka, kb); c != 0) return c;
  const int c = ida.compare(idb);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

bool Matches(const ViewDevice& d, const DeviceQuery& q, const std::string& folded_q) {
  if (q.status && d.verdict.status != *q.status) return false;
  if (q.condition && (d.conditions & (1u << *q.condition)) == 0) return false;
  if (!q.via.empty() && d.state.via != q.via) return false;
  if (!folded_q.empty() && d.folded.find(folded_q) == std::string::npos) return false;
  if (!q.os_glob.empty() && !GlobMatch(q.os_glob, d.state.os)) return false;
  return true;
}

}  // namespace

std::optional<DeviceSort> DeviceSortFromName(const std::string& name) {
  for (size_t i = 0; i < kDeviceSortCount; ++i) {
    if (name == kSortNames[i]) return static_cast<DeviceSort>(i);
  }
  return std::nullopt;
}

const char* DeviceSortName(DeviceSort sort) { return kSortNames[static_cast<size_t>(sort)]; }

std::shared_ptr<const EstateSnapshot> BuildSnapshot(std::vector<inventory::DeviceState> devices,
                                                    const inventory::EstateRules& rules,
                                                    int64_t now) {
  auto snap = std::make_shared<EstateSnapshot>();
  snap->taken_at = now;
  snap->rules = rules;
  snap->devices.reserve(devices.size());
  for (auto& d : devices) {
    ViewDevice v;
    v.verdict = inventory::DeviceStatusOf(d, rules, now);
    for (const std::string& c : v.verdict.conditions) {
      if (auto i = ConditionIndex(c)) v.conditions |= 1u << *i;
    }
    v.folded = Folded(d);
    v.state = std::move(d);
    snap->devices.push_back(std::move(v));
  }
  for (size_t s = 0; s < kDeviceSortCount; ++s) {
    const auto sort = static_cast<DeviceSort>(s);
    std::vector<uint32_t>& order = snap->order[s];
    order.resize(snap->devices.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    const auto& all = snap->devices;
    std::sort(order.begin(), order.end(), [&all, sort](uint32_t a, uint32_t b) {
      return Compare(KeyOf(all[a], sort), all[a].state.device_id, KeyOf(all[b], sort),
                     all[b].state.device_id) < 0;
    });
  }
  return snap;
}

std::string SortKeyText(const ViewDevice& d, DeviceSort sort) {
  switch (sort) {
    case DeviceSort::kHostname:
      return d.state.hostname;
    case DeviceSort::kOs:
      return d.state.os;
    case DeviceSort::kStatus:
      return inventory::DeviceStatusName(d.verdict.status);
    case DeviceSort::kLastSeen:
      return std::to_string(d.state.last_seen);
    case DeviceSort::kInventoryAt:
      return std::to_string(d.state.inventory_at);
  }
  return "";
}

common::StatusOr<DevicePage> ListDevices(const EstateSnapshot& snap, const DeviceQuery& q) {
  std::string folded_q = q.q;
  for (char& c : folded_q) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const bool filtered =
      q.status || q.condition || !q.via.empty() || !q.os_glob.empty() || !folded_q.empty();
  DevicePage page;
  const auto& order = snap.order[static_cast<size_t>(q.sort)];
  const auto& all = snap.devices;

  // Where the page starts in ascending order: after the cursor's position
  // (ascending), or before it (descending, walking down).
  size_t begin = 0;  // ascending: first index to look at; descending: one past it
  if (!q.after) {
    begin = q.descending ? order.size() : 0;
  } else {
    Key pos;
    int64_t number = 0;
    const std::string& text = q.after->first;
    switch (q.sort) {
      case DeviceSort::kHostname:
      case DeviceSort::kOs:
        pos.text = &text;
        break;
      case DeviceSort::kStatus: {
        auto st = DeviceStatusFromName(text);
        if (!st) return common::InvalidArgument("cursor holds an unknown status");
        pos.number = static_cast<int64_t>(*st);
        break;
      }
      case DeviceSort::kLastSeen:
      case DeviceSort::kInventoryAt:
        if (!common::ParseDecimal(text, &number))
          return common::InvalidArgument("cursor holds a time that is not one");
        pos.number = number;
        break;
    }
    const std::string& id = q.after->second;
    if (!q.descending) {
      auto it = std::partition_point(order.begin(), order.end(), [&](uint32_t i) {
        return Compare(KeyOf(all[i], q.sort), all[i].state.device_id, pos, id) <= 0;
      });
      begin = static_cast<size_t>(it - order.begin());
    } else {
      auto it = std::partition_point(order.begin(), order.end(), [&](uint32_t i) {
        return Compare(KeyOf(all[i], q.sort), all[i].state.device_id, pos, id) < 0;
      });
      begin = static_cast<size_t>(it - order.begin());
    }
  }

  auto take = [&](uint32_t i) {
    if (!Matches(all[i], q, folded_q)) return true;
    if (page.items.size() == q.limit) {
      page.more = true;
      return false;
    }
    page.items.push_back(&all[i]);
    return true;
  };
  if (!q.descending) {
    for (size_t k = begin; k < order.size() && take(order[k]); ++k) {
    }
  } else {
    for (size_t k = begin; k > 0 && take(order[k - 1]); --k) {
    }
  }
  if (!filtered) {
    page.total = static_cast<int64_t>(all.size());
  } else {
    for (const ViewDevice& d : all) page.total += Matches(d, q, folded_q) ? 1 : 0;
  }
  return page;
}

EstateView::EstateView(inventory::EstateStore* store, std::chrono::seconds max_age)
    : store_(store), max_age_(max_age), thread_([this] { Run(); }) {}

EstateView::~EstateView() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

common::StatusOr<std::shared_ptr<const EstateSnapshot>> EstateView::Get() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (current_ != nullptr && now - current_at_ < max_age_) return current_;
  if (!wanted_) {
    wanted_ = true;
    cv_.notify_all();
  }
  if (current_ != nullptr) return current_;
  // The first snapshot: wait for the refresh under way to finish.
  const uint64_t seen = attempts_;
  if (!cv_.wait_for(lock, std::chrono::seconds(60),
                    [&] { return attempts_ != seen || stopping_; })) {
    return common::Unavailable("the estate view is still being read from the store");
  }
  if (current_ == nullptr) {
    return last_error_.ok() ? common::Unavailable("the estate view could not be read")
                            : last_error_;
  }
  return current_;
}

void EstateView::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return wanted_ || stopping_; });
    if (stopping_) return;
    lock.unlock();
    common::StatusOr<std::shared_ptr<const EstateSnapshot>> snap = common::Unavailable("");
    const auto started = std::chrono::steady_clock::now();
    auto rules = store_->GetEstateRules();
    common::StatusOr<std::vector<inventory::DeviceState>> devices = rules.status();
    if (rules.ok()) devices = store_->ListDeviceStates();
    if (devices.ok()) {
      auto built = BuildSnapshot(std::move(*devices), *rules, static_cast<int64_t>(std::time(nullptr)));
      std::const_pointer_cast<EstateSnapshot>(built)->read_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      snap = std::move(built);
    } else {
      snap = devices.status();
      common::LogWarn("estate view: cannot read the estate from the store: " +
                      devices.status().ToString());
    }
    lock.lock();
    if (snap.ok()) {
      current_ = *snap;
      current_at_ = std::chrono::steady_clock::now();
      last_error_ = common::Status::Ok();
    } else {
      last_error_ = snap.status();
    }
    ++attempts_;
    wanted_ = false;
    cv_.notify_all();
  }
}

}  // namespace beacon

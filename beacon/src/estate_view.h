// The central's in-memory view of the estate (docs/api.md, "as_of"): every
// device's stored state with its status and conditions computed at one
// time, and the device list's filters, sorts and keyset paging over it.
//
// Why a view: the device list must stay fast with 100,000 devices, and
// computing every status per request would read all of them each time. The
// view is read from the store (ListDeviceStates and the estate rules) at most
// every `max_age`, on a thread of its own, only when a request finds it
// stale; that request, and every other until the new view is in, is answered
// from the old one. Store reads never block the importer (WAL readers; MVCC
// on PostgreSQL). The answers say how old the view is. One view serves the
// admin API and /metrics (devices per status), so the estate is read once
// for both.
//
// Thread safety: EstateView is thread-safe. A snapshot is immutable once
// published and shared (shared_ptr<const>), so a request keeps the one it
// started with while a new one replaces it.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "inventory/estate.h"

namespace inventory {
class EstateStore;
}

namespace beacon {

// The device list's sorts ("hostname", "last_seen", "status", "os",
// "inventory_at"); ties are broken by device id.
enum class DeviceSort { kHostname, kLastSeen, kStatus, kOs, kInventoryAt };
inline constexpr size_t kDeviceSortCount = 5;
std::optional<DeviceSort> DeviceSortFromName(const std::string& name);
const char* DeviceSortName(DeviceSort sort);

struct ViewDevice {
  inventory::DeviceState state;
  inventory::DeviceVerdict verdict;
  uint32_t conditions = 0;  // bit i: inventory::kConditions[i]
  std::string folded;       // lower-case (ASCII) host name, a tab, and the id: what `q` searches
};

struct EstateSnapshot {
  int64_t taken_at = 0;  // unix seconds: the verdicts' time, and when the store was read
  double read_seconds = 0;  // how long reading the store and building this took
  inventory::EstateRules rules;
  std::vector<ViewDevice> devices;
  // Per sort, the indexes of `devices` in ascending order.
  std::array<std::vector<uint32_t>, kDeviceSortCount> order;
};

// Builds a snapshot from what the store said (pure; for tests too).
std::shared_ptr<const EstateSnapshot> BuildSnapshot(std::vector<inventory::DeviceState> devices,
                                                    const inventory::EstateRules& rules,
                                                    int64_t now);

// A device list request, checked by the caller.
struct DeviceQuery {
  std::optional<inventory::DeviceStatus> status;
  std::optional<size_t> condition;  // index in inventory::kConditions
  std::string via;                  // "" any
  std::string os_glob;              // "" any (beacon::GlobMatch)
  std::string q;                    // "" any; matched lower-cased against ViewDevice::folded
  DeviceSort sort = DeviceSort::kHostname;
  bool descending = false;
  size_t limit = 50;
  // Start after this device (its sort key as SortKeyText gives it, and its
  // id); none for the first page.
  std::optional<std::pair<std::string, std::string>> after;
};

struct DevicePage {
  int64_t total = 0;                     // devices matching the filters
  std::vector<const ViewDevice*> items;  // at most limit, in order
  bool more = false;                     // matching devices follow the last item
};

// The sort key of a device as text, for cursors: the host name or OS as
// stored, the status's name, or a time in decimal.
std::string SortKeyText(const ViewDevice& d, DeviceSort sort);
// InvalidArgument when `after` holds a key this sort cannot have (a time
// that is not decimal, an unknown status name).
common::StatusOr<DevicePage> ListDevices(const EstateSnapshot& snapshot, const DeviceQuery& query);

// How stale the central's view may get before a request asks for a new one.
inline constexpr std::chrono::seconds kEstateViewMaxAge{5};

class EstateView {
 public:
  // `store` must outlive the view. Starts the refresh thread.
  EstateView(inventory::EstateStore* store, std::chrono::seconds max_age);
  ~EstateView();  // stops and joins the thread
  EstateView(const EstateView&) = delete;
  EstateView& operator=(const EstateView&) = delete;

  // The newest snapshot; asks for a new one if it is older than max_age.
  // Before the first snapshot exists, waits for it up to 60 s: Unavailable
  // then, or the store's error if its read failed.
  common::StatusOr<std::shared_ptr<const EstateSnapshot>> Get();

 private:
  void Run();

  inventory::EstateStore* store_;
  const std::chrono::seconds max_age_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const EstateSnapshot> current_;     // guarded by mu_
  std::chrono::steady_clock::time_point current_at_;  // guarded by mu_
  common::Status last_error_;                         // guarded by mu_
  uint64_t attempts_ = 0;                             // refreshes finished; guarded by mu_
  bool wanted_ = false;                               // guarded by mu_
  bool stopping_ = false;                             // guarded by mu_
  std::thread thread_;
};

}  // namespace beacon

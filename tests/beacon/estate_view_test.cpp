// The admin API's estate view (beacon/src/estate_view.h): filters, sorts and
// keyset paging over a snapshot, and the view's refresh from a real SQLite
// store.
#include "estate_view.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "inventory/store.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace {

using beacon::DeviceQuery;
using beacon::DeviceSort;

constexpr int64_t kNow = 1795190400;

std::string Id(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "aaaaaaaa-0000-4000-8000-%012d", n);
  return buf;
}

// Device n: host "host-NNN" (some upper case), seen n minutes ago, every
// 7th never seen (pending or never connected), OS alternating.
inventory::DeviceState Device(int n) {
  inventory::DeviceState d;
  d.device_id = Id(n);
  char host[32];
  std::snprintf(host, sizeof host, n % 5 == 0 ? "HOST-%03d" : "host-%03d", n);
  d.hostname = host;
  d.os = n % 2 == 0 ? "Debian GNU/Linux 12 (bookworm)" : "Ubuntu 22.04.4 LTS";
  d.enrolled_at = kNow - 86400;
  if (n % 7 != 0) {
    d.first_seen = kNow - 86400;
    d.last_seen = kNow - 60 * n;
    d.via = n % 3 == 0 ? "dmz-2" : "dmz-1";
    d.inventoried = n % 11 != 0;
    d.inventory_at = d.inventoried ? kNow - 3600 - n : 0;
    d.check_interval = 3600;
  }
  return d;
}

std::vector<inventory::DeviceState> Devices(int count) {
  std::vector<inventory::DeviceState> out;
  for (int n = 1; n <= count; ++n) out.push_back(Device(n));
  return out;
}

// Every page of a query, following the cursor (the key and id of the last
// item) through `snapshots[i]` for page i (the last one for the rest).
std::vector<std::string> AllPages(
    const std::vector<std::shared_ptr<const beacon::EstateSnapshot>>& snapshots, DeviceQuery q) {
  std::vector<std::string> ids;
  for (size_t page = 0;; ++page) {
    const auto& snap = *snapshots[std::min(page, snapshots.size() - 1)];
    auto got = beacon::ListDevices(snap, q);
    REQUIRE(got.ok());
    for (const auto* d : got->items) ids.push_back(d->state.device_id);
    if (!got->more) break;
    REQUIRE(page < 1000);
    q.after = std::make_pair(beacon::SortKeyText(*got->items.back(), q.sort),
                             got->items.back()->state.device_id);
  }
  return ids;
}

}  // namespace

TEST_CASE("every sort pages through every device exactly once, in order", "[api]") {
  auto snap = beacon::BuildSnapshot(Devices(203), inventory::EstateRules{}, kNow);
  for (size_t s = 0; s < beacon::kDeviceSortCount; ++s) {
    for (bool desc : {false, true}) {
      DeviceQuery q;
      q.sort = static_cast<DeviceSort>(s);
      q.descending = desc;
      q.limit = 17;
      INFO(beacon::DeviceSortName(q.sort) << (desc ? " descending" : ""));
      std::vector<std::string> ids = AllPages({snap}, q);
      REQUIRE(ids.size() == 203);
      CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 203);
      // The order is the sort's, ties by id.
      std::map<std::string, const beacon::ViewDevice*> by_id;
      for (const auto& d : snap->devices) by_id[d.state.device_id] = &d;
      for (size_t i = 1; i < ids.size(); ++i) {
        const auto& a = *by_id[ids[i - 1]];
        const auto& b = *by_id[ids[i]];
        auto key = [&](const beacon::ViewDevice& d) {
          switch (q.sort) {
            case DeviceSort::kHostname:
              return std::make_pair(std::string(d.state.hostname), int64_t{0});
            case DeviceSort::kOs:
              return std::make_pair(std::string(d.state.os), int64_t{0});
            case DeviceSort::kStatus:
              return std::make_pair(std::string(), static_cast<int64_t>(d.verdict.status));
            case DeviceSort::kLastSeen:
              return std::make_pair(std::string(), d.state.last_seen);
            case DeviceSort::kInventoryAt:
              return std::make_pair(std::string(), d.state.inventory_at);
          }
          return std::make_pair(std::string(), int64_t{0});
        };
        auto ka = std::make_pair(key(a), a.state.device_id),
             kb = std::make_pair(key(b), b.state.device_id);
        CHECK((desc ? kb < ka : ka < kb));
      }
    }
  }
}

TEST_CASE("filters and search, with the total of matches", "[api]") {
  auto snap = beacon::BuildSnapshot(Devices(100), inventory::EstateRules{}, kNow);
  DeviceQuery q;
  q.limit = 500;
  q.q = "HoSt-01";  // case ignored: host-010..host-019
  auto got = beacon::ListDevices(*snap, q);
  REQUIRE(got.ok());
  CHECK(got->total == 10);
  CHECK(got->items.size() == 10);
  q.q = "000000000042";  // a piece of a device id
  got = beacon::ListDevices(*snap, q);
  REQUIRE(got.ok());
  REQUIRE(got->total == 1);
  CHECK(got->items[0]->state.device_id == Id(42));
  q.q.clear();
  q.os_glob = "debian*";
  q.via = "dmz-2";
  got = beacon::ListDevices(*snap, q);
  REQUIRE(got.ok());
  int64_t expected = 0;
  for (int n = 1; n <= 100; ++n) expected += (n % 2 == 0 && n % 7 != 0 && n % 3 == 0) ? 1 : 0;
  CHECK(got->total == expected);
  q = DeviceQuery{};
  q.status = inventory::DeviceStatus::kNeverConnected;
  q.limit = 3;
  got = beacon::ListDevices(*snap, q);
  REQUIRE(got.ok());
  CHECK(got->total == 14);  // 7, 14, ..., 98
  CHECK(got->items.size() == 3);
  CHECK(got->more);
}

TEST_CASE("a device added between pages is listed once, where it sorts", "[api]") {
  auto before = beacon::BuildSnapshot(Devices(60), inventory::EstateRules{}, kNow);
  auto more = Devices(60);
  inventory::DeviceState early = Device(1000), late = Device(1001);
  early.hostname = "aaa-first";  // before any page boundary: not shown by later pages
  late.hostname = "zzz-last";    // after: shown on the last page
  more.push_back(early);
  more.push_back(late);
  auto after = beacon::BuildSnapshot(more, inventory::EstateRules{}, kNow + 5);
  DeviceQuery q;
  q.limit = 25;
  std::vector<std::string> ids = AllPages({before, after}, q);
  CHECK(ids.size() == 61);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 61);
  CHECK(std::count(ids.begin(), ids.end(), late.device_id) == 1);
  CHECK(std::count(ids.begin(), ids.end(), early.device_id) == 0);
}

TEST_CASE("a cursor key this sort cannot have is refused", "[api]") {
  auto snap = beacon::BuildSnapshot(Devices(5), inventory::EstateRules{}, kNow);
  DeviceQuery q;
  q.sort = DeviceSort::kLastSeen;
  q.after = std::make_pair(std::string("yesterday"), Id(1));
  CHECK_FALSE(beacon::ListDevices(*snap, q).ok());
  q.sort = DeviceSort::kStatus;
  q.after = std::make_pair(std::string("asleep"), Id(1));
  CHECK_FALSE(beacon::ListDevices(*snap, q).ok());
  q.after = std::make_pair(std::string("active"), Id(1));
  CHECK(beacon::ListDevices(*snap, q).ok());
}

TEST_CASE("the view reads the store when stale, answering from the old snapshot meanwhile",
          "[api]") {
  testing_support::TempDir dir("estate-view");
  auto store = inventory::OpenSqliteStore(dir.path + "/store.sqlite");
  REQUIRE(store.ok());
  inventory::Checkin c;
  c.device_id = Id(1);
  c.seen_at = kNow;
  c.via = "dmz-1";
  REQUIRE((*store)->RecordCheckins({c}).ok());
  beacon::EstateView view(store->get(), std::chrono::seconds(0));
  auto first = view.Get();
  REQUIRE(first.ok());
  CHECK((*first)->devices.size() == 1);
  c.device_id = Id(2);
  REQUIRE((*store)->RecordCheckins({c}).ok());
  // max_age 0: every Get asks for a new snapshot; one soon has both devices.
  CHECK(testing_support::WaitUntil(
      [&] {
        auto s = view.Get();
        return s.ok() && (*s)->devices.size() == 2;
      },
      std::chrono::seconds(20)));
}

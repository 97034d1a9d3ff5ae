// Inventories applied part by part: deltas, unchanged re-imports, sections,
// package details, and the change history (docs/store.md, "Inventories,
// deltas and history").
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "inventory/inventory.h"
#include "inventory/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

namespace {

using inventory::ChangeRow;
using inventory::Inventory;
using inventory::Item;
using inventory::Section;
using inventory::Store;
using inventory::UploadInfo;

constexpr char kDev[] = "11111111-1111-4111-8111-111111111111";
constexpr int64_t kT = 1795363200;  // 2026-11-22T00:00:00Z, when the first inventory arrived

std::unique_ptr<Store> Open(const testing_support::TempDir& dir) {
  auto store = testing_support::OpenTestStore(dir.path + "/store.sqlite");
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

UploadInfo Upload(const std::string& id, int64_t received_at) {
  return {.upload_id = id, .device_id = kDev, .kind = "inventory", .sha256 = std::string(64, 'a'),
          .size = 100, .received_at = received_at, .via = "relay-1"};
}

Inventory Base() {
  Inventory inv;
  inv.device_id = kDev;
  inv.collected_at = "2026-11-22T00:00:00Z";
  inv.sequence = 1;
  inv.os.name = "Debian GNU/Linux";
  inv.os.pretty_name = "Debian GNU/Linux 12 (bookworm)";
  inv.os.hostname = "web-01";
  inv.software.push_back({.name = "openssl", .version = "3.0.11-1", .arch = "amd64", .installed_at = kT - 86400,
                          .size_bytes = 2048000, .section = "utils", .maintainer = "Debian OpenSSL Team",
                          .summary = "Secure Sockets Layer toolkit"});
  inv.software.push_back({.name = "vim", .version = "2:9.0.1378-2", .arch = "amd64"});
  Section pci{.name = "pci"};
  Item nic{.key = "0000:00:03.0"};
  nic.Add("class", "020000");
  nic.Add("driver", "virtio-pci");
  pci.items.push_back(nic);
  Section fs{.name = "filesystems"};
  Item root{.key = "/"};
  root.Add("type", "ext4");
  root.Add("free_bytes", "1000");  // volatile
  fs.items.push_back(root);
  inv.sections = {fs, pci};
  return inv;
}

std::vector<std::string> Summaries(const std::vector<ChangeRow>& rows) {
  std::vector<std::string> out;
  for (const ChangeRow& r : rows) {
    out.push_back(std::to_string(r.at - kT) + " " + r.part + " " + r.key + " " + r.change + " " + r.before +
                  " -> " + r.after);
  }
  return out;
}

TEST_CASE("store: a first inventory is the baseline, then changes are history", "[store][history]") {
  testing_support::TempDir dir("store-history");
  auto store = Open(dir);
  REQUIRE(store->ImportInventory(Upload("u1", kT), Base()).ok());
  // What the first report listed was there, not installed then.
  CHECK(store->Changes(0, "")->empty());
  auto software = store->DeviceSoftware(kDev);
  REQUIRE(software.ok());
  REQUIRE(software->size() == 2);

  // Day 2, a full inventory: openssl upgraded, curl installed, vim removed,
  // the NIC's driver changed, free space changed (volatile: no change), a
  // USB item appeared in a new section (its first report: baseline).
  Inventory day2 = Base();
  day2.sequence = 2;
  day2.software[0].version = "3.0.13-1~deb12u1";
  day2.software[1] = {.name = "curl", .version = "7.88.1-10", .arch = "amd64"};
  day2.sections[1].items[0].fields[1].value = "e1000";
  day2.sections[0].items[0].fields[1].value = "999";
  Section usb{.name = "usb"};
  usb.items.push_back(Item{.key = "1-1"});
  day2.sections.push_back(usb);
  REQUIRE(store->ImportInventory(Upload("u2", kT + 86400), day2).ok());

  auto changes = store->Changes(0, kDev);
  REQUIRE(changes.ok());
  CHECK(Summaries(*changes) == std::vector<std::string>{
                                   "86400 pci 0000:00:03.0 changed {\"class\":\"020000\",\"driver\":\"virtio-pci\"} -> "
                                   "{\"class\":\"020000\",\"driver\":\"e1000\"}",
                                   "86400 software curl amd64 dpkg added  -> 7.88.1-10",
                                   "86400 software openssl amd64 dpkg changed 3.0.11-1 -> 3.0.13-1~deb12u1",
                                   "86400 software vim amd64 dpkg removed 2:9.0.1378-2 -> ",
                               });
  CHECK((*changes)[0].hostname == "web-01");
  // --since after the change: nothing; the estate-wide listing is the same.
  CHECK(store->Changes(kT + 86401, "")->empty());
  CHECK(store->Changes(kT + 86400, "")->size() == 4);

  // Day 3, a delta against #2 that removes the USB device: only the usb
  // part travels; the rest stays as it was.
  Inventory delta = day2;
  delta.sequence = 3;
  delta.base = 2;
  delta.parts = {"usb"};
  delta.sections = {Section{.name = "usb"}};
  delta.software.clear();
  REQUIRE(store->ImportInventory(Upload("u3", kT + 2 * 86400), delta).ok());
  CHECK(store->GetDevice(kDev)->inventory_sequence == 3);
  CHECK(store->DeviceSoftware(kDev)->size() == 2);  // untouched by the delta
  auto since3 = store->Changes(kT + 2 * 86400, kDev);
  REQUIRE(since3.ok());
  CHECK(Summaries(*since3) == std::vector<std::string>{"172800 usb 1-1 removed {} -> "});
}

TEST_CASE("store: a delta that does not follow the stored inventory applies nothing", "[store][history]") {
  testing_support::TempDir dir("store-gap");
  auto store = Open(dir);
  REQUIRE(store->ImportInventory(Upload("u1", kT), Base()).ok());
  Inventory delta = Base();
  delta.sequence = 3;
  delta.base = 2;  // #2 never arrived
  delta.parts = {"software"};
  delta.software.clear();
  REQUIRE(store->ImportInventory(Upload("u3", kT + 10), delta).ok());
  CHECK(store->GetDevice(kDev)->inventory_sequence == 1);
  CHECK(store->DeviceSoftware(kDev)->size() == 2);
  // Recorded all the same: a redelivery is a duplicate.
  CHECK(store->ImportInventory(Upload("u3", kT + 10), delta).code() == common::Code::kAlreadyExists);
  // #2 arrives late: applied; then #3 again under a new id (as a full one
  // would be) is applied on top.
  Inventory two = Base();
  two.sequence = 2;
  REQUIRE(store->ImportInventory(Upload("u2", kT + 20), two).ok());
  CHECK(store->GetDevice(kDev)->inventory_sequence == 2);
  REQUIRE(store->ImportInventory(Upload("u3b", kT + 30), delta).ok());
  CHECK(store->GetDevice(kDev)->inventory_sequence == 3);
  CHECK(store->DeviceSoftware(kDev)->empty());
}

TEST_CASE("store: an unchanged inventory writes no part again", "[store][history]") {
  testing_support::TempDir dir("store-unchanged");
  auto store = Open(dir);
  Inventory inv = Base();
  REQUIRE(store->ImportInventory(Upload("u1", kT), inv).ok());
  for (int i = 2; i <= 5; ++i) {
    inv.sequence = i;
    REQUIRE(store->ImportInventory(Upload("u" + std::to_string(i), kT + i), inv).ok());
  }
  CHECK(store->GetDevice(kDev)->inventory_sequence == 5);
  CHECK(store->Changes(0, kDev)->empty());
  // Package details are kept and come back.
  auto software = store->DeviceSoftware(kDev);
  REQUIRE(software.ok());
  CHECK((*software)[0].name == "openssl");
}

TEST_CASE("store: a volatile section is replaced by each document carrying it, never historized",
          "[store][history]") {
  testing_support::TempDir dir("store-volatile");
  auto store = Open(dir);
  const std::string path = dir.path + "/store.sqlite";
  auto processes = [](const std::string& pid, const std::string& cpu) {
    Section s{.name = "processes"};
    Item p{.key = pid};
    p.Add("command", "bash");
    p.Add("cpu_seconds", cpu);
    s.items.push_back(p);
    return s;
  };
  auto fields = [&](const std::string& key) {
    auto v = testing_support::QueryTestStore(
        path, std::string("SELECT fields FROM items WHERE device_id = '") + kDev +
                  "' AND section = 'processes' AND item_key = '" + key + "'");
    REQUIRE(v.ok());
    return *v;
  };
  auto history_rows = [&] {
    auto v = testing_support::QueryTestStore(path, "SELECT COUNT(*) FROM history");
    REQUIRE(v.ok());
    return *v;
  };
  Inventory one = Base();
  one.sections.push_back(processes("4242", "0.07"));
  REQUIRE(store->ImportInventory(Upload("u1", kT), one).ok());
  CHECK(fields("4242") == R"({"command":"bash","cpu_seconds":"0.07"})");

  // A full inventory whose only change is the process list: stored, no history.
  Inventory two = Base();
  two.sequence = 2;
  two.sections.push_back(processes("4242", "1.50"));
  two.sections.back().items.push_back(Item{.key = "4300"});
  REQUIRE(store->ImportInventory(Upload("u2", kT + 3600), two).ok());
  CHECK(fields("4242") == R"({"command":"bash","cpu_seconds":"1.50"})");
  CHECK(fields("4300") == "{}");
  CHECK(store->Changes(0, kDev)->empty());
  CHECK(history_rows() == "0");

  // The client's next inventory differs from #2 only in its processes: the
  // delta carries nothing, and the store keeps #2's list.
  Inventory three = Base();
  three.sequence = 3;
  three.sections.push_back(processes("5000", "0.01"));
  Inventory delta = inventory::MakeDelta(three, inventory::PartDigests(two), 2);
  CHECK(delta.parts.empty());
  REQUIRE(store->ImportInventory(Upload("u3", kT + 7200), delta).ok());
  CHECK(store->GetDevice(kDev)->inventory_sequence == 3);
  CHECK(fields("4242") == R"({"command":"bash","cpu_seconds":"1.50"})");
  CHECK(fields("5000").empty());

  // The next full one replaces the list; the processes that ended leave no history.
  three.sequence = 4;
  REQUIRE(store->ImportInventory(Upload("u4", kT + 10800), three).ok());
  CHECK(fields("4242").empty());
  CHECK(fields("5000") == R"({"command":"bash","cpu_seconds":"0.01"})");
  CHECK(store->Changes(0, kDev)->empty());
  CHECK(history_rows() == "0");
}

TEST_CASE("store: a device's hardware and sections read back as its current inventory reported them",
          "[store][history]") {
  testing_support::TempDir dir("store-hardware");
  auto store = Open(dir);
  const std::string path = dir.path + "/store.sqlite";
  CHECK(store->DeviceHardware(kDev).status().code() == common::Code::kNotFound);
  CHECK(store->DeviceSections(kDev).status().code() == common::Code::kNotFound);
  // Known from a check-in only: no inventory yet, so nothing, not NotFound.
  inventory::Checkin checkin;
  checkin.device_id = kDev;
  checkin.seen_at = kT - 60;
  checkin.via = "relay-1";
  REQUIRE(store->RecordCheckins({checkin}).ok());
  REQUIRE(store->DeviceHardware(kDev).ok());
  CHECK(*store->DeviceHardware(kDev) == inventory::Hardware{});
  CHECK(store->DeviceSections(kDev)->empty());

  Inventory one = Base();
  one.hardware = {.vendor = "QEMU", .model = "Standard PC (Q35 + ICH9, 2009)", .serial = "",
                  .cpu_model = "AMD EPYC 7B13", .cpu_cores = 2, .memory_bytes = 25769803776,
                  .disks = {{"vda", "", 107374182400}, {"vdb", "QEMU HARDDISK", 1073741824}},
                  .interfaces = {{.name = "lo", .mac = "", .addresses = {"127.0.0.1/8", "::1/128"}},
                                 {.name = "eth0", .mac = "52:54:00:12:34:56", .addresses = {}},
                                 {.name = "br0", .mac = "aa:bb:cc:dd:ee:ff", .addresses = {"192.0.2.7/24"},
                                  .is_virtual = true}}};
  // Text as hostile as a collector may pass on: quotes, a newline, markup, UTF-8.
  Item odd{.key = "0000:00:1f.2"};
  odd.Add("vendor_name", "Intel \"Corp\"\n<script>alert(1)</script> Ünïcode");
  one.sections[1].items.push_back(odd);
  one.sections[1].notes = {"/sys/bus/pci: partly unreadable", "second note"};
  one.sections[1].SortItems();
  REQUIRE(store->ImportInventory(Upload("u1", kT), one).ok());
  auto hw = store->DeviceHardware(kDev);
  REQUIRE(hw.ok());
  CHECK(*hw == one.hardware);
  auto sections = store->DeviceSections(kDev);
  REQUIRE(sections.ok());
  CHECK(*sections == one.sections);

  // A newer inventory replaces both; volatile fields come back as last reported.
  Inventory two = Base();
  two.sequence = 2;
  two.hardware.memory_bytes = 8589934592;
  two.sections[0].items[0] = Item{.key = "/"};
  two.sections[0].items[0].Add("type", "ext4");
  two.sections[0].items[0].Add("free_bytes", "500");
  REQUIRE(store->ImportInventory(Upload("u2", kT + 3600), two).ok());
  CHECK(*store->DeviceHardware(kDev) == two.hardware);
  CHECK(*store->DeviceSections(kDev) == two.sections);

  // Fields the importer did not write are reported, not guessed at.
  REQUIRE(testing_support::ExecTestStore(path, "UPDATE items SET fields = '[1' WHERE section = 'pci'").ok());
  auto broken = store->DeviceSections(kDev);
  CHECK(broken.status().code() == common::Code::kDataLoss);
  CHECK_THAT(broken.status().message(), Catch::Contains("pci item '0000:00:03.0'"));
}

}  // namespace

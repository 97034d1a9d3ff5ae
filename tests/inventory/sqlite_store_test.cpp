// Tests for the SQLite store (inventory/src/sqlite_store.cpp). Each test works
// in its own temporary directory; row counts are read with the plain sqlite3
// API so that they do not depend on the code under test.
#include <sqlite3.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "inventory/inventory.h"
#include "inventory/store.h"

namespace {

using common::Code;
using inventory::Checkin;
using inventory::Inventory;
using inventory::OpenSqliteStore;
using inventory::Package;
using inventory::Store;
using inventory::UploadInfo;

constexpr char kDev1[] = "11111111-1111-4111-8111-111111111111";
constexpr char kDev2[] = "22222222-2222-4222-8222-222222222222";

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "sqlite_store_test.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::unique_ptr<Store> MustOpen(const std::string& path, bool read_only = false) {
  auto store = OpenSqliteStore(path, read_only);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

// Counts rows with an independent read-only connection.
int64_t CountRows(const std::string& db_path, const std::string& table) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  const std::string sql = "SELECT COUNT(*) FROM " + table;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

std::string QueryText(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  std::string out = text != nullptr ? text : "";
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

UploadInfo Upload(const std::string& id, const std::string& device, int64_t received_at,
                  const std::string& via = "dmz-1") {
  UploadInfo info;
  info.upload_id = id;
  info.device_id = device;
  info.kind = "inventory";
  info.sha256 = std::string(64, 'a');
  info.size = 1234;
  info.received_at = received_at;
  info.via = via;
  return info;
}

Inventory MakeInventory(const std::string& device, const std::string& collected_at,
                        const std::vector<std::string>& packages,
                        const std::string& hostname = "host-a") {
  Inventory inv;
  inv.device_id = device;
  inv.collected_at = collected_at;
  inv.os.name = "Debian GNU/Linux";
  inv.os.id = "debian";
  inv.os.version = "12 (bookworm)";
  inv.os.version_id = "12";
  inv.os.pretty_name = "Debian GNU/Linux 12 (bookworm)";
  inv.os.kernel = "6.1.0-18-amd64";
  inv.os.arch = "x86_64";
  inv.os.hostname = hostname;
  inv.hardware.vendor = "QEMU";
  inv.hardware.model = "Standard PC";
  inv.hardware.cpu_model = "Virtual CPU";
  inv.hardware.cpu_cores = 2;
  inv.hardware.memory_bytes = uint64_t{4} << 30;
  inv.hardware.disks.push_back({"vda", "Virtio disk", uint64_t{20} << 30});
  inv.hardware.interfaces.push_back(
      {"eth0", "52:54:00:12:34:56", {"192.0.2.10/24", "2001:db8::10/64"}});
  for (const std::string& name : packages) {
    Package p;
    p.name = name;
    p.version = "1.0-1";
    p.arch = "amd64";
    inv.software.push_back(p);
  }
  return inv;
}

std::vector<std::string> Names(const std::vector<inventory::SoftwareRow>& rows) {
  std::vector<std::string> names;
  for (const auto& r : rows) names.push_back(r.name);
  return names;
}

}  // namespace

TEST_CASE("importing the same upload id twice stores it once", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);

  const Inventory inv = MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash", "coreutils"});
  REQUIRE(store->ImportInventory(Upload("u-1", kDev1, 1000), inv).ok());
  REQUIRE(CountRows(path, "uploads") == 1);
  REQUIRE(CountRows(path, "packages") == 2);

  // A relayed duplicate, even one carrying a newer document, changes nothing.
  const Inventory newer = MakeInventory(kDev1, "2026-11-23T16:00:00Z", {"bash", "zsh", "vim"});
  const common::Status again = store->ImportInventory(Upload("u-1", kDev1, 2000, "dmz-2"), newer);
  CHECK(again.code() == Code::kAlreadyExists);
  CHECK(CountRows(path, "uploads") == 1);
  CHECK(CountRows(path, "packages") == 2);
  CHECK(CountRows(path, "devices") == 1);
  CHECK(CountRows(path, "disks") == 1);
  CHECK(CountRows(path, "addresses") == 2);
  auto dev = store->GetDevice(kDev1);
  REQUIRE(dev.ok());
  CHECK(dev->last_seen == 1000);
  CHECK(dev->via == "dmz-1");

  // The same rule holds for opaque bodies.
  UploadInfo usage = Upload("u-2", kDev1, 1100);
  usage.kind = "usage";
  REQUIRE(store->ImportBlob(usage, std::string("\0\x01" "binary", 8)).ok());
  CHECK(store->ImportBlob(usage, "other body").code() == Code::kAlreadyExists);
  CHECK(store->ImportInventory(usage, inv).code() == Code::kAlreadyExists);
  CHECK(CountRows(path, "uploads") == 2);
  CHECK(CountRows(path, "blobs") == 1);
  CHECK(QueryText(path, "SELECT hex(body) FROM blobs") == "000162696E617279");

  auto has = store->HasUpload("u-2");
  REQUIRE(has.ok());
  CHECK(*has);
  has = store->HasUpload("u-3");
  REQUIRE(has.ok());
  CHECK_FALSE(*has);
}

TEST_CASE("a newer inventory replaces the device's data, an older one does not",
          "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);

  REQUIRE(store
              ->ImportInventory(Upload("u-1", kDev1, 1795363300),
                                MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash", "vim"}))
              .ok());

  SECTION("newer replaces") {
    Inventory newer = MakeInventory(kDev1, "2026-11-22T17:30:00.250Z", {"zsh"}, "host-b");
    newer.hardware.interfaces.clear();
    REQUIRE(store->ImportInventory(Upload("u-2", kDev1, 1795368700), newer).ok());
    auto sw = store->DeviceSoftware(kDev1);
    REQUIRE(sw.ok());
    CHECK(Names(*sw) == std::vector<std::string>{"zsh"});
    auto dev = store->GetDevice(kDev1);
    REQUIRE(dev.ok());
    CHECK(dev->hostname == "host-b");
    CHECK(dev->inventory_at == 1795368600);  // 2026-11-22T17:30:00Z
    CHECK(dev->packages == 1);
    CHECK(CountRows(path, "interfaces") == 0);
    CHECK(CountRows(path, "addresses") == 0);
    CHECK(CountRows(path, "hardware") == 1);
  }

  SECTION("a device clock in the future does not freeze its inventory") {
    // Collected "in 2099" but received now: counted as received + 1 h.
    REQUIRE(store->ImportInventory(Upload("u-f", kDev1, 1795363400),
                                   MakeInventory(kDev1, "2099-01-01T00:00:00Z", {"future"})).ok());
    CHECK(store->GetDevice(kDev1)->inventory_at == 1795363400 + 3600);
    REQUIRE(store->ImportInventory(Upload("u-n", kDev1, 1795370000),
                                   MakeInventory(kDev1, "2026-11-22T18:00:00Z", {"fixed"})).ok());
    CHECK(Names(*store->DeviceSoftware(kDev1)) == std::vector<std::string>{"fixed"});
  }

  SECTION("older is recorded but does not replace") {
    // 2026-11-22T17:00:00+02:00 is 15:00Z, an hour before the stored one.
    const Inventory older =
        MakeInventory(kDev1, "2026-11-22T17:00:00+02:00", {"ancient"}, "old-name");
    REQUIRE(store->ImportInventory(Upload("u-0", kDev1, 1795368800, "dmz-2"), older).ok());
    auto sw = store->DeviceSoftware(kDev1);
    REQUIRE(sw.ok());
    CHECK(Names(*sw) == std::vector<std::string>{"bash", "vim"});
    auto dev = store->GetDevice(kDev1);
    REQUIRE(dev.ok());
    CHECK(dev->hostname == "host-a");
    CHECK(dev->inventory_at == 1795363200);  // 2026-11-22T16:00:00Z
    // The upload itself is still contact with the device.
    CHECK(dev->last_seen == 1795368800);
    CHECK(dev->via == "dmz-2");
    CHECK(CountRows(path, "uploads") == 2);
  }

  SECTION("bad documents change nothing") {
    CHECK(store
              ->ImportInventory(Upload("u-9", kDev1, 5000),
                                MakeInventory(kDev1, "yesterday", {"evil"}))
              .code() == Code::kInvalidArgument);
    CHECK(store
              ->ImportInventory(Upload("u-9", kDev1, 5000),
                                MakeInventory(kDev1, "2026-02-30T00:00:00Z", {"evil"}))
              .code() == Code::kInvalidArgument);
    // The document names another device than the one that uploaded it.
    CHECK(store
              ->ImportInventory(Upload("u-9", kDev1, 5000),
                                MakeInventory(kDev2, "2027-01-01T00:00:00Z", {"evil"}))
              .code() == Code::kInvalidArgument);
    CHECK(CountRows(path, "uploads") == 1);
    CHECK(CountRows(path, "devices") == 1);
    auto sw = store->DeviceSoftware(kDev1);
    REQUIRE(sw.ok());
    CHECK(Names(*sw) == std::vector<std::string>{"bash", "vim"});
  }
}

TEST_CASE("check-ins upsert devices and never move back in time", "[sqlite_store]") {
  TempDir dir;
  auto store = MustOpen(dir.File("store.sqlite"));

  Checkin a{kDev1, 2000, "dmz-1", "0.1.0", 7, 0, "192.0.2.10"};
  Checkin b{kDev2, 2100, "dmz-2", "0.1.0", 7, 3, "192.0.2.11"};
  REQUIRE(store->RecordCheckins({a, b}).ok());

  auto devices = store->ListDevices();
  REQUIRE(devices.ok());
  REQUIRE(devices->size() == 2);

  // A late batch carries an older check-in: neither last_seen nor the client
  // state may go back.
  Checkin stale{kDev1, 1500, "dmz-old", "0.0.9", 5, 9, "192.0.2.99"};
  Checkin newer{kDev2, 2500, "dmz-1", "0.2.0", 8, 0, "192.0.2.11"};
  REQUIRE(store->RecordCheckins({stale, newer}).ok());

  auto d1 = store->GetDevice(kDev1);
  REQUIRE(d1.ok());
  CHECK(d1->last_seen == 2000);
  CHECK(d1->via == "dmz-1");
  CHECK(d1->client_version == "0.1.0");
  CHECK(d1->policy_revision == 7);
  CHECK(d1->outbox_depth == 0);

  auto d2 = store->GetDevice(kDev2);
  REQUIRE(d2.ok());
  CHECK(d2->last_seen == 2500);
  CHECK(d2->via == "dmz-1");
  CHECK(d2->client_version == "0.2.0");
  CHECK(d2->policy_revision == 8);

  // An upload received earlier than the last check-in does not move it back
  // either.
  REQUIRE(store
              ->ImportInventory(Upload("u-1", kDev1, 1800, "dmz-late"),
                                MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash"}))
              .ok());
  d1 = store->GetDevice(kDev1);
  REQUIRE(d1.ok());
  CHECK(d1->last_seen == 2000);
  CHECK(d1->via == "dmz-1");
  CHECK(d1->hostname == "host-a");

  // A batch with an invalid entry is rejected whole.
  Checkin good{kDev2, 9000, "dmz-9", "0.3.0", 9, 0, ""};
  Checkin bad{"", 9000, "dmz-9", "0.3.0", 9, 0, ""};
  CHECK(store->RecordCheckins({good, bad}).code() == Code::kInvalidArgument);
  d2 = store->GetDevice(kDev2);
  REQUIRE(d2.ok());
  CHECK(d2->last_seen == 2500);

  CHECK(store->GetDevice("no-such-device").status().code() == Code::kNotFound);
  CHECK(store->DeviceSoftware("no-such-device").status().code() == Code::kNotFound);
}

TEST_CASE("devices are listed by hostname with their package counts", "[sqlite_store]") {
  TempDir dir;
  auto store = MustOpen(dir.File("store.sqlite"));
  REQUIRE(store
              ->ImportInventory(Upload("u-1", kDev1, 1000),
                                MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"a", "b", "c"},
                                              "zeta"))
              .ok());
  REQUIRE(store
              ->ImportInventory(Upload("u-2", kDev2, 1000),
                                MakeInventory(kDev2, "2026-11-22T16:00:00Z", {"a"}, "alpha"))
              .ok());
  // A device known only from a check-in has no hostname yet and sorts first.
  const Checkin unknown{"33333333-3333-4333-8333-333333333333", 10, "", "", 0, 0, ""};
  REQUIRE(store->RecordCheckins({unknown}).ok());

  auto devices = store->ListDevices();
  REQUIRE(devices.ok());
  REQUIRE(devices->size() == 3);
  CHECK((*devices)[0].hostname.empty());
  CHECK((*devices)[0].packages == 0);
  CHECK((*devices)[0].inventory_at == 0);
  CHECK((*devices)[1].hostname == "alpha");
  CHECK((*devices)[1].packages == 1);
  CHECK((*devices)[1].os == "Debian GNU/Linux 12 (bookworm)");
  CHECK((*devices)[2].hostname == "zeta");
  CHECK((*devices)[2].packages == 3);
}

TEST_CASE("FindSoftware matches globs and treats LIKE metacharacters literally",
          "[sqlite_store]") {
  TempDir dir;
  auto store = MustOpen(dir.File("store.sqlite"));
  REQUIRE(store
              ->ImportInventory(Upload("u-1", kDev1, 1000),
                                MakeInventory(kDev1, "2026-11-22T16:00:00Z",
                                              {"lib%odd", "libXodd", "a_b", "axb", "back\\slash",
                                               "Mixed-Case"},
                                              "host-a"))
              .ok());
  REQUIRE(store
              ->ImportInventory(Upload("u-2", kDev2, 1000),
                                MakeInventory(kDev2, "2026-11-22T16:00:00Z", {"a_b"}, "host-b"))
              .ok());

  auto find = [&](const std::string& pattern) {
    auto rows = store->FindSoftware(pattern);
    INFO(pattern << ": " << rows.status().ToString());
    REQUIRE(rows.ok());
    return Names(*rows);
  };
  using V = std::vector<std::string>;
  CHECK(find("lib%odd") == V{"lib%odd"});
  CHECK(find("lib%*") == V{"lib%odd"});
  CHECK(find("lib?odd") == V{"lib%odd", "libXodd"});
  CHECK(find("a_b") == V{"a_b", "a_b"});
  CHECK(find("a?b") == V{"a_b", "a_b", "axb"});
  CHECK(find("back\\slash") == V{"back\\slash"});
  CHECK(find("*%*").size() == 1);
  CHECK(find("*_*").size() == 2);
  CHECK(find("*").size() == 7);
  CHECK(find("nothing*").empty());
  // Matching ignores ASCII case (documented in docs/store.md).
  CHECK(find("mixed-*") == V{"Mixed-Case"});

  auto rows = store->FindSoftware("a_b");
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].hostname == "host-a");
  CHECK((*rows)[1].hostname == "host-b");
  CHECK((*rows)[1].device_id == kDev2);
}

TEST_CASE("read-only open of a missing store is NotFound and creates nothing",
          "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = OpenSqliteStore(path, /*read_only=*/true);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == Code::kNotFound);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a file that is not a database is DataLoss", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  {
    std::mt19937 rng(42);  // fixed seed: the test must be repeatable
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 8192; ++i) out.put(static_cast<char>(rng() & 0xff));
  }
  auto rw = OpenSqliteStore(path);
  REQUIRE_FALSE(rw.ok());
  CHECK(rw.status().code() == Code::kDataLoss);
  CHECK(rw.status().message().find(path) != std::string::npos);

  auto ro = OpenSqliteStore(path, /*read_only=*/true);
  REQUIRE_FALSE(ro.ok());
  CHECK(ro.status().code() == Code::kDataLoss);
}

TEST_CASE("data survives closing and reopening the store", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  {
    auto store = MustOpen(path);
    REQUIRE(store
                ->ImportInventory(Upload("u-1", kDev1, 1000),
                                  MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash", "vim"}))
                .ok());
    REQUIRE(store->RecordCheckins({Checkin{kDev1, 4000, "dmz-1", "0.1.0", 3, 1, ""}}).ok());
  }
  CHECK(QueryText(path, "PRAGMA journal_mode") == "wal");
  CHECK(QueryText(path, "PRAGMA user_version") == "2");

  // A restarted importer sees the old upload ids, so a redelivery after the
  // restart is still a duplicate.
  auto store = MustOpen(path);
  CHECK(store->ImportInventory(Upload("u-1", kDev1, 1000),
                               MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"x"}))
            .code() == Code::kAlreadyExists);
  auto dev = store->GetDevice(kDev1);
  REQUIRE(dev.ok());
  CHECK(dev->last_seen == 4000);
  CHECK(dev->packages == 2);
  CHECK(dev->policy_revision == 3);

  // A reader alongside the writer sees the same data and cannot write.
  auto reader = MustOpen(path, /*read_only=*/true);
  auto sw = reader->DeviceSoftware(kDev1);
  REQUIRE(sw.ok());
  CHECK(Names(*sw) == std::vector<std::string>{"bash", "vim"});
  CHECK(reader->RecordCheckins({Checkin{kDev1, 5000, "", "", 0, 0, ""}}).code() ==
        Code::kFailedPrecondition);
}

TEST_CASE("concurrent imports from several threads all land", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "u-" + std::to_string(t) + "-" + std::to_string(i);
        if (!store->ImportInventory(Upload(id, kDev1, 1000 + i),
                                    MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash"}))
                 .ok()) {
          ++failures[t];
        }
        if (!store->RecordCheckins({Checkin{kDev2, 1000 + i, "dmz", "", 0, 0, ""}}).ok()) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) CHECK(f == 0);
  CHECK(CountRows(path, "uploads") == kThreads * kPerThread);
  CHECK(CountRows(path, "packages") == 1);
}

TEST_CASE("file evidence is stored with its inventory and replaced with it", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  Inventory inv = MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash"});
  inv.files = {{"/opt/a.jar", 10, 1763800000, std::string(64, 'a')}, {"/opt/b.so", 20, 1763800001, ""}};
  REQUIRE(store->ImportInventory(Upload("u-1", kDev1, 1795363300), inv).ok());
  auto files = store->DeviceFiles(kDev1);
  REQUIRE(files.ok());
  CHECK(*files == inv.files);
  CHECK(store->DeviceAddresses(kDev1)->size() == inv.hardware.interfaces.at(0).addresses.size());

  Inventory newer = MakeInventory(kDev1, "2026-11-22T17:00:00Z", {"bash"});
  REQUIRE(store->ImportInventory(Upload("u-2", kDev1, 1795366900), newer).ok());
  CHECK(store->DeviceFiles(kDev1)->empty());
  CHECK(CountRows(path, "files") == 0);
}

TEST_CASE("a version 1 store is upgraded in place", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  {
    auto store = MustOpen(path);
    REQUIRE(store->ImportInventory(Upload("u-1", kDev1, 1795363300),
                                   MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash"})).ok());
  }
  // Make it look like a store written before file evidence and usage existed.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "DROP TABLE files; DROP TABLE usage; PRAGMA user_version = 1;", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto store = MustOpen(path);
  CHECK(store->DeviceFiles(kDev1)->empty());
  CHECK(Names(*store->DeviceSoftware(kDev1)) == std::vector<std::string>{"bash"});
  CHECK(CountRows(path, "files") == 0);
}

TEST_CASE("usage periods are stored once and summed per program", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  inventory::Usage u1;
  u1.device_id = kDev1;
  u1.sample_seconds = 600;
  u1.AddSample(1795363200, {"/usr/bin/bash", "/usr/bin/vim"});
  u1.AddSample(1795363800, {"/usr/bin/bash"});
  inventory::Usage u2 = u1;
  u2.device_id = kDev2;
  REQUIRE(store->ImportUsage(Upload("u-1", kDev1, 1795364000), u1).ok());
  CHECK(store->ImportUsage(Upload("u-1", kDev1, 1795364000), u1).code() == Code::kAlreadyExists);
  REQUIRE(store->ImportUsage(Upload("u-2", kDev2, 1795364000), u2).ok());
  // A document naming another device than its uploader changes nothing.
  CHECK(store->ImportUsage(Upload("u-3", kDev1, 1795364000), u2).code() == Code::kInvalidArgument);
  CHECK(CountRows(path, "usage") == 4);

  auto all = store->UsageSummary("");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].program == "/usr/bin/bash");
  CHECK((*all)[0].devices == 2);
  CHECK((*all)[0].seconds == 2 * 2 * 600);
  CHECK((*all)[0].last_seen == 1795363800);
  CHECK((*all)[1].program == "/usr/bin/vim");
  CHECK((*all)[1].seconds == 2 * 600);
  auto one = store->UsageSummary(kDev1);
  REQUIRE(one.ok());
  CHECK((*one)[0].devices == 1);
  CHECK((*one)[0].seconds == 2 * 600);
}

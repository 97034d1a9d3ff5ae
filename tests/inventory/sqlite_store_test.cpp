// Tests for the SQLite store (inventory/src/sqlite_store.cpp). Each test works
// in its own temporary directory; row counts are read with the plain sqlite3
// API so that they do not depend on the code under test.
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "inventory/inventory.h"
#include "inventory/store.h"
#include "support/test_store.h"
#include "support/usage_sample.h"
#include "support/wait.h"

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
constexpr char kDev3[] = "33333333-3333-4333-8333-333333333333";

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
  auto store = testing_support::OpenTestStore(path, read_only);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

// Counts rows with an independent read-only connection.
std::string QueryText(const std::string& db_path, const std::string& sql) {
  auto r = testing_support::QueryTestStore(db_path, sql);
  INFO(sql << ": " << r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

int64_t CountRows(const std::string& db_path, const std::string& table) {
  return std::stoll(QueryText(db_path, "SELECT COUNT(*) FROM " + table));
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

Inventory Numbered(Inventory inv, int64_t sequence) {
  inv.sequence = sequence;
  return inv;
}

void MustExec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO(sql << ": " << (err != nullptr ? err : ""));
  sqlite3_free(err);
  REQUIRE(rc == SQLITE_OK);
}

// The primary key columns of a table, in key order ("device_id,upload_id").
std::string PrimaryKey(const std::string& db_path, const std::string& table) {
  return QueryText(
      db_path, "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('" + table +
                   "') WHERE pk > 0 ORDER BY pk)");
}

// A second connection to the store's file, as another process would open it.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  }
  ~RawConnection() { sqlite3_close(db_); }  // rolls back an open transaction
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  void Exec(const std::string& sql) { MustExec(db_, sql); }

 private:
  sqlite3* db_ = nullptr;
};

// The schema exactly as versions 1 and 2 of the store created it (frozen
// copies: these are what the migration has to upgrade), with a few rows.
constexpr char kSchemaV1Sql[] = R"sql(
CREATE TABLE devices (
  device_id TEXT PRIMARY KEY, hostname TEXT NOT NULL DEFAULT '', os TEXT NOT NULL DEFAULT '',
  last_seen INTEGER NOT NULL DEFAULT 0, via TEXT NOT NULL DEFAULT '',
  checkin_at INTEGER NOT NULL DEFAULT 0, client_version TEXT NOT NULL DEFAULT '',
  policy_revision INTEGER NOT NULL DEFAULT 0, outbox_depth INTEGER NOT NULL DEFAULT 0,
  peer TEXT NOT NULL DEFAULT '', inventory_at INTEGER NOT NULL DEFAULT 0, inventory_upload TEXT);
CREATE INDEX devices_by_hostname ON devices (hostname, device_id);
CREATE TABLE uploads (
  upload_id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices (device_id),
  kind TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, received_at INTEGER NOT NULL,
  via TEXT NOT NULL, imported_at INTEGER NOT NULL);
CREATE INDEX uploads_by_device ON uploads (device_id, received_at);
CREATE TABLE blobs (upload_id TEXT PRIMARY KEY REFERENCES uploads (upload_id), body BLOB NOT NULL);
CREATE TABLE os (
  device_id TEXT PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
  name TEXT NOT NULL, os_id TEXT NOT NULL, version TEXT NOT NULL, version_id TEXT NOT NULL,
  pretty_name TEXT NOT NULL, kernel TEXT NOT NULL, arch TEXT NOT NULL, hostname TEXT NOT NULL);
CREATE TABLE hardware (
  device_id TEXT PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
  vendor TEXT NOT NULL, model TEXT NOT NULL, serial TEXT NOT NULL, cpu_model TEXT NOT NULL,
  cpu_cores INTEGER NOT NULL, memory_bytes INTEGER NOT NULL);
CREATE TABLE disks (
  device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
  position INTEGER NOT NULL, name TEXT NOT NULL, model TEXT NOT NULL, size_bytes INTEGER NOT NULL,
  PRIMARY KEY (device_id, position));
CREATE TABLE interfaces (
  device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
  position INTEGER NOT NULL, name TEXT NOT NULL, mac TEXT NOT NULL,
  PRIMARY KEY (device_id, position));
CREATE TABLE addresses (
  device_id TEXT NOT NULL, interface_position INTEGER NOT NULL, position INTEGER NOT NULL,
  address TEXT NOT NULL, PRIMARY KEY (device_id, interface_position, position),
  FOREIGN KEY (device_id, interface_position)
    REFERENCES interfaces (device_id, position) ON DELETE CASCADE);
CREATE TABLE packages (
  device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
  position INTEGER NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, arch TEXT NOT NULL,
  source TEXT NOT NULL, PRIMARY KEY (device_id, position));
CREATE INDEX packages_by_name ON packages (name);

INSERT INTO devices (device_id, hostname, os, last_seen, via, inventory_at, inventory_upload) VALUES
  ('11111111-1111-4111-8111-111111111111', 'host-a', 'Debian GNU/Linux 12 (bookworm)', 1795363310,
   'dmz-1', 1795363200, 'u-inv'),
  ('22222222-2222-4222-8222-222222222222', '', '', 1795363400, 'dmz-2', 0, NULL);
INSERT INTO uploads VALUES
  ('u-inv', '11111111-1111-4111-8111-111111111111', 'inventory', 'aa', 1234, 1795363300, 'dmz-1', 1795363301),
  ('u-log', '11111111-1111-4111-8111-111111111111', 'logs', 'bb', 2, 1795363310, 'dmz-1', 1795363311);
INSERT INTO blobs VALUES ('u-log', X'00FF');
INSERT INTO os VALUES ('11111111-1111-4111-8111-111111111111', 'Debian GNU/Linux', 'debian',
  '12 (bookworm)', '12', 'Debian GNU/Linux 12 (bookworm)', '6.1.0-18-amd64', 'x86_64', 'host-a');
INSERT INTO hardware VALUES ('11111111-1111-4111-8111-111111111111', 'QEMU', 'Standard PC', '',
  'Virtual CPU', 2, 4294967296);
INSERT INTO disks VALUES ('11111111-1111-4111-8111-111111111111', 0, 'vda', 'Virtio disk', 21474836480);
INSERT INTO interfaces VALUES ('11111111-1111-4111-8111-111111111111', 0, 'eth0', '52:54:00:12:34:56');
INSERT INTO addresses VALUES ('11111111-1111-4111-8111-111111111111', 0, 0, '192.0.2.10/24');
INSERT INTO packages VALUES
  ('11111111-1111-4111-8111-111111111111', 0, 'bash', '5.2-2', 'amd64', 'dpkg'),
  ('11111111-1111-4111-8111-111111111111', 1, 'vim', '9.0-1', 'amd64', 'dpkg');
)sql";

constexpr char kSchemaV2Sql[] = R"sql(
CREATE TABLE usage (
  upload_id TEXT NOT NULL REFERENCES uploads (upload_id),
  device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
  program TEXT NOT NULL, samples INTEGER NOT NULL, seconds INTEGER NOT NULL,
  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, PRIMARY KEY (upload_id, program));
CREATE INDEX usage_by_device ON usage (device_id);
CREATE TABLE files (
  device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
  position INTEGER NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, modified INTEGER NOT NULL,
  sha256 TEXT NOT NULL, PRIMARY KEY (device_id, position));

INSERT INTO uploads VALUES
  ('u-use', '11111111-1111-4111-8111-111111111111', 'usage', 'cc', 3, 1795363320, 'dmz-1', 1795363321);
INSERT INTO usage VALUES
  ('u-use', '11111111-1111-4111-8111-111111111111', '/usr/bin/bash', 3, 1800, 1795363000, 1795363300);
INSERT INTO files VALUES ('11111111-1111-4111-8111-111111111111', 0, '/opt/a.jar', 10, 1763800000, '');
)sql";

// Writes a store as version 1 or 2 of this program left it (in WAL mode).
void MakeOldStore(const std::string& path, int version) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) ==
          SQLITE_OK);
  MustExec(db, "PRAGMA journal_mode = WAL");
  MustExec(db, "BEGIN");
  MustExec(db, kSchemaV1Sql);
  if (version >= 2) MustExec(db, kSchemaV2Sql);
  MustExec(db, "PRAGMA user_version = " + std::to_string(version));
  MustExec(db, "COMMIT");
  sqlite3_close(db);
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
  CHECK(QueryText(path, testing_support::kPostgresStore ? "SELECT upper(encode(body, 'hex')) FROM blobs"
                                                      : "SELECT hex(body) FROM blobs") == "000162696E617279");

  auto has = store->HasUpload(kDev1, "u-2");
  REQUIRE(has.ok());
  CHECK(*has);
  has = store->HasUpload(kDev1, "u-3");
  REQUIRE(has.ok());
  CHECK_FALSE(*has);
  // The key is (device, upload id): another device has no upload "u-2".
  has = store->HasUpload(kDev2, "u-2");
  REQUIRE(has.ok());
  CHECK_FALSE(*has);
}

TEST_CASE("an interface's virtual flag is stored with it", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  Inventory inv = MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash"});
  inv.hardware.interfaces = {{"eth0", "52:54:00:ab:cd:ef", {"192.0.2.10/24"}, false},
                             {"ifb0", "5a:11:22:33:44:55", {}, true}};
  REQUIRE(store->ImportInventory(Upload("u-1", kDev1, 1000), inv).ok());
  CHECK(QueryText(path, std::string(testing_support::kPostgresStore ? "SELECT string_agg(" : "SELECT group_concat(") +
                            "name || '=' || virtual, ',') FROM "
                            "(SELECT name, virtual FROM interfaces ORDER BY position) i") == "eth0=0,ifb0=1");
}

TEST_CASE("inventories are ordered by the device's sequence, not by its clock", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  using V = std::vector<std::string>;
  auto current = [&] {
    auto sw = store->DeviceSoftware(kDev1);
    INFO(sw.status().ToString());
    REQUIRE(sw.ok());
    return Names(*sw);
  };

  // Inventory #5, collected at 2026-11-22T16:00:00Z by the device's clock.
  REQUIRE(store
              ->ImportInventory(
                  Upload("u-5", kDev1, 1795363300),
                  Numbered(MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash", "vim"}), 5))
              .ok());

  SECTION("a higher sequence replaces, even from a clock that stepped back") {
    // The RTC was reset a day back before the device collected #6.
    Inventory next = Numbered(MakeInventory(kDev1, "2026-11-21T16:00:00Z", {"zsh"}, "host-b"), 6);
    next.hardware.interfaces.clear();
    REQUIRE(store->ImportInventory(Upload("u-6", kDev1, 1795366900), next).ok());
    CHECK(current() == V{"zsh"});
    auto dev = store->GetDevice(kDev1);
    REQUIRE(dev.ok());
    CHECK(dev->hostname == "host-b");
    CHECK(dev->inventory_sequence == 6);
    CHECK(dev->inventory_at == 1795276800);  // the device's clock, recorded as reported
    CHECK(dev->packages == 1);
    CHECK(CountRows(path, "interfaces") == 0);
    CHECK(CountRows(path, "addresses") == 0);
    CHECK(CountRows(path, "hardware") == 1);
    CHECK(QueryText(path, "SELECT inventory_upload FROM devices") == "u-6");
  }

  SECTION("a lower sequence is recorded once but replaces nothing, whatever its clock") {
    // #4 arrives late through another beacon, from a clock a day ahead.
    const Inventory late =
        Numbered(MakeInventory(kDev1, "2026-11-23T16:00:00Z", {"ancient"}, "old-name"), 4);
    REQUIRE(store->ImportInventory(Upload("u-4", kDev1, 1795368800, "dmz-2"), late).ok());
    CHECK(current() == V{"bash", "vim"});
    auto dev = store->GetDevice(kDev1);
    REQUIRE(dev.ok());
    CHECK(dev->hostname == "host-a");
    CHECK(dev->inventory_sequence == 5);
    CHECK(dev->inventory_at == 1795363200);
    // The upload is still contact with the device, and its id is remembered:
    // a redelivery is a duplicate.
    CHECK(dev->last_seen == 1795368800);
    CHECK(dev->via == "dmz-2");
    CHECK(CountRows(path, "uploads") == 2);
    CHECK(*store->HasUpload(kDev1, "u-4"));
    CHECK(store->ImportInventory(Upload("u-4", kDev1, 1795368900), late).code() ==
          Code::kAlreadyExists);
    CHECK(CountRows(path, "uploads") == 2);
  }

  SECTION("the same sequence again, or an unnumbered inventory, does not replace a numbered one") {
    REQUIRE(
        store
            ->ImportInventory(Upload("u-5b", kDev1, 1795366900),
                              Numbered(MakeInventory(kDev1, "2026-11-22T17:00:00Z", {"again"}), 5))
            .ok());
    REQUIRE(store
                ->ImportInventory(Upload("u-0", kDev1, 1795367000),
                                  MakeInventory(kDev1, "2026-11-22T18:00:00Z", {"legacy"}))
                .ok());
    CHECK(current() == V{"bash", "vim"});
    CHECK(store->GetDevice(kDev1)->inventory_sequence == 5);
    CHECK(CountRows(path, "uploads") == 3);
  }

  SECTION("a clock far in the future orders nothing") {
    REQUIRE(
        store
            ->ImportInventory(Upload("u-7", kDev1, 1795363400),
                              Numbered(MakeInventory(kDev1, "2099-01-01T00:00:00Z", {"future"}), 7))
            .ok());
    CHECK(current() == V{"future"});
    CHECK(store->GetDevice(kDev1)->inventory_at == 4070908800);  // as reported
    REQUIRE(
        store
            ->ImportInventory(Upload("u-8", kDev1, 1795370000),
                              Numbered(MakeInventory(kDev1, "2026-11-22T18:00:00Z", {"fixed"}), 8))
            .ok());
    CHECK(current() == V{"fixed"});
  }

  SECTION("bad documents change nothing") {
    CHECK(store
              ->ImportInventory(Upload("u-9", kDev1, 5000),
                                Numbered(MakeInventory(kDev1, "yesterday", {"evil"}), 9))
              .code() == Code::kInvalidArgument);
    CHECK(store
              ->ImportInventory(Upload("u-9", kDev1, 5000),
                                Numbered(MakeInventory(kDev1, "2026-02-30T00:00:00Z", {"evil"}), 9))
              .code() == Code::kInvalidArgument);
    // The document names another device than the one that uploaded it.
    CHECK(store
              ->ImportInventory(Upload("u-9", kDev1, 5000),
                                Numbered(MakeInventory(kDev2, "2027-01-01T00:00:00Z", {"evil"}), 9))
              .code() == Code::kInvalidArgument);
    CHECK(
        store
            ->ImportInventory(Upload("u-9", kDev1, 5000),
                              Numbered(MakeInventory(kDev1, "2027-01-01T00:00:00Z", {"evil"}), -1))
            .code() == Code::kInvalidArgument);
    CHECK(CountRows(path, "uploads") == 1);
    CHECK(CountRows(path, "devices") == 1);
    CHECK(current() == V{"bash", "vim"});
  }
}

TEST_CASE("unnumbered inventories (older clients): the later import wins", "[sqlite_store]") {
  TempDir dir;
  auto store = MustOpen(dir.File("store.sqlite"));
  using V = std::vector<std::string>;
  auto import = [&](const std::string& id, const Inventory& inv) {
    const common::Status st = store->ImportInventory(Upload(id, kDev1, 1795363300), inv);
    INFO(st.ToString());
    REQUIRE(st.ok());
    auto sw = store->DeviceSoftware(kDev1);
    REQUIRE(sw.ok());
    return Names(*sw);
  };
  // With no sequence, the import order decides; the clock steps back, then forward.
  CHECK(import("u-a", MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"first"})) == V{"first"});
  CHECK(import("u-b", MakeInventory(kDev1, "2026-11-22T15:00:00Z", {"second"})) == V{"second"});
  CHECK(store->GetDevice(kDev1)->inventory_at == 1795359600);
  CHECK(import("u-c", MakeInventory(kDev1, "2026-11-22T17:00:00Z", {"third"})) == V{"third"});
  // The first numbered inventory takes over, whatever its clock...
  CHECK(import("u-d", Numbered(MakeInventory(kDev1, "2026-11-20T08:00:00Z", {"numbered"}), 1)) ==
        V{"numbered"});
  CHECK(store->GetDevice(kDev1)->inventory_sequence == 1);
  // ...and from then on an unnumbered one counts as older.
  CHECK(import("u-e", MakeInventory(kDev1, "2026-11-25T00:00:00Z", {"legacy"})) == V{"numbered"});
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

TEST_CASE("a file that is not a database is DataLoss", "[sqlite_store][sqlite_only]") {
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

TEST_CASE("data survives closing and reopening the store", "[sqlite_store][sqlite_only]") {
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
  CHECK(QueryText(path, "PRAGMA user_version") == "9");

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

TEST_CASE("usage periods are stored once and summed per program", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  inventory::Usage u1;
  u1.device_id = kDev1;
  u1.sample_seconds = 600;
  testing_support::AddSample(&u1, 1795363200, {"/usr/bin/bash", "/usr/bin/vim"});
  testing_support::AddSample(&u1, 1795363800, {"/usr/bin/bash"});
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
  // Each shorthand sample starts its processes anew (support/usage_sample.h).
  CHECK((*all)[0].launches == 2 * 2);
  CHECK((*all)[1].program == "/usr/bin/vim");
  CHECK((*all)[1].seconds == 2 * 600);
  auto one = store->UsageSummary(kDev1);
  REQUIRE(one.ok());
  CHECK((*one)[0].devices == 1);
  CHECK((*one)[0].seconds == 2 * 600);
}

TEST_CASE("the same upload id from two devices is two uploads, each stored once",
          "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  using V = std::vector<std::string>;

  const Inventory inv1 = MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash"}, "host-1");
  const Inventory inv2 = MakeInventory(kDev2, "2026-11-22T16:00:00Z", {"zsh", "vim"}, "host-2");
  REQUIRE(store->ImportInventory(Upload("same-id", kDev1, 1000), inv1).ok());
  REQUIRE(store->ImportInventory(Upload("same-id", kDev2, 1001), inv2).ok());
  CHECK(Names(*store->DeviceSoftware(kDev1)) == V{"bash"});
  CHECK(Names(*store->DeviceSoftware(kDev2)) == V{"vim", "zsh"});
  // Each is still stored exactly once.
  CHECK(store->ImportInventory(Upload("same-id", kDev1, 2000), inv1).code() ==
        Code::kAlreadyExists);
  CHECK(store->ImportInventory(Upload("same-id", kDev2, 2000), inv2).code() ==
        Code::kAlreadyExists);
  CHECK(CountRows(path, "uploads") == 2);
  CHECK(CountRows(path, "packages") == 3);
  CHECK(*store->HasUpload(kDev1, "same-id"));
  CHECK(*store->HasUpload(kDev2, "same-id"));
  CHECK_FALSE(*store->HasUpload(kDev3, "same-id"));

  // Opaque bodies: one id, two devices, two bodies, both kept.
  UploadInfo log1 = Upload("log-id", kDev1, 1100);
  UploadInfo log2 = Upload("log-id", kDev2, 1100);
  log1.kind = log2.kind = "logs";
  REQUIRE(store->ImportBlob(log1, "device one").ok());
  REQUIRE(store->ImportBlob(log2, "device two").ok());
  CHECK(store->ImportBlob(log1, "again").code() == Code::kAlreadyExists);
  CHECK(store->ImportBlob(log2, "again").code() == Code::kAlreadyExists);
  CHECK(CountRows(path, "blobs") == 2);
  CHECK(QueryText(
            path,
            std::string(testing_support::kPostgresStore ? "SELECT convert_from(body, 'UTF8')"
                                                        : "SELECT CAST(body AS TEXT)") +
                " FROM blobs WHERE upload_id = 'log-id' AND device_id = '" +
                std::string(kDev1) + "'") == "device one");
  CHECK(QueryText(
            path,
            std::string(testing_support::kPostgresStore ? "SELECT convert_from(body, 'UTF8')"
                                                        : "SELECT CAST(body AS TEXT)") +
                " FROM blobs WHERE upload_id = 'log-id' AND device_id = '" +
                std::string(kDev2) + "'") == "device two");

  // Usage periods: both counted.
  inventory::Usage u1;
  u1.device_id = kDev1;
  u1.sample_seconds = 600;
  testing_support::AddSample(&u1, 1795363200, {"/usr/bin/bash"});
  inventory::Usage u2 = u1;
  u2.device_id = kDev2;
  UploadInfo use1 = Upload("use-id", kDev1, 1200);
  UploadInfo use2 = Upload("use-id", kDev2, 1200);
  use1.kind = use2.kind = "usage";
  REQUIRE(store->ImportUsage(use1, u1).ok());
  REQUIRE(store->ImportUsage(use2, u2).ok());
  CHECK(store->ImportUsage(use2, u2).code() == Code::kAlreadyExists);
  auto summary = store->UsageSummary("");
  REQUIRE(summary.ok());
  REQUIRE(summary->size() == 1);
  CHECK((*summary)[0].devices == 2);
  CHECK((*summary)[0].seconds == 2 * 600);
  CHECK(CountRows(path, "uploads") == 6);
}

TEST_CASE("a version 2 store is upgraded in place: rows kept, uploads keyed by device",
          "[sqlite_store][sqlite_only]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  MakeOldStore(path, 2);

  // Only a writer migrates; a reader refuses the old schema with a reason.
  auto early = OpenSqliteStore(path, /*read_only=*/true);
  REQUIRE_FALSE(early.ok());
  CHECK(early.status().code() == Code::kFailedPrecondition);
  CHECK(early.status().message().find("older") != std::string::npos);

  auto store = MustOpen(path);
  CHECK(QueryText(path, "PRAGMA user_version") == "9");
  CHECK(PrimaryKey(path, "uploads") == "device_id,upload_id");
  CHECK(PrimaryKey(path, "blobs") == "device_id,upload_id");
  CHECK(PrimaryKey(path, "usage") == "device_id,upload_id,program,day");
  CHECK(QueryText(path, "SELECT COUNT(*) FROM pragma_foreign_key_check") == "0");
  CHECK(QueryText(path, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%_v3'") == "0");
  CHECK(QueryText(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'uploads_by_device'") ==
        "1");

  // Every row is still there.
  CHECK(CountRows(path, "devices") == 2);
  CHECK(CountRows(path, "uploads") == 3);
  CHECK(CountRows(path, "blobs") == 1);
  CHECK(CountRows(path, "usage") == 1);
  CHECK(CountRows(path, "files") == 1);
  CHECK(CountRows(path, "packages") == 2);
  CHECK(CountRows(path, "package_versions") == 2);
  CHECK(QueryText(path, "SELECT group_concat(name || ' ' || version, ',') FROM "
                        "(SELECT name, version FROM package_versions ORDER BY name)") == "bash 5.2-2,vim 9.0-1");
  CHECK(CountRows(path, "addresses") == 1);
  CHECK(QueryText(path, "SELECT hex(body) FROM blobs WHERE device_id = '" + std::string(kDev1) +
                            "' AND upload_id = 'u-log'") == "00FF");
  CHECK(QueryText(path, "SELECT imported_at FROM uploads WHERE upload_id = 'u-inv'") ==
        "1795363301");
  auto dev = store->GetDevice(kDev1);
  REQUIRE(dev.ok());
  CHECK(dev->hostname == "host-a");
  CHECK(dev->last_seen == 1795363310);
  CHECK(dev->inventory_at == 1795363200);
  CHECK(dev->inventory_sequence == 0);
  CHECK(dev->packages == 2);
  CHECK(*store->DeviceAddresses(kDev1) == std::vector<std::string>{"192.0.2.10/24"});
  CHECK(store->DeviceFiles(kDev1)->size() == 1);
  auto usage = store->UsageSummary(kDev1);
  REQUIRE(usage.ok());
  REQUIRE(usage->size() == 1);
  CHECK((*usage)[0].seconds == 1800);

  // The old ids are remembered under their devices.
  CHECK(*store->HasUpload(kDev1, "u-inv"));
  CHECK(*store->HasUpload(kDev1, "u-use"));
  CHECK_FALSE(*store->HasUpload(kDev2, "u-inv"));
  CHECK(store
            ->ImportInventory(Upload("u-inv", kDev1, 1795370000),
                              MakeInventory(kDev1, "2026-11-23T00:00:00Z", {"x"}))
            .code() == Code::kAlreadyExists);
  UploadInfo log = Upload("u-log", kDev1, 1795370000);
  log.kind = "logs";
  CHECK(store->ImportBlob(log, "again").code() == Code::kAlreadyExists);
  // The same id from another device is another upload.
  REQUIRE(store
              ->ImportInventory(Upload("u-inv", kDev2, 1795370000),
                                MakeInventory(kDev2, "2026-11-23T00:00:00Z", {"zsh"}, "host-2"))
              .ok());
  CHECK(store->GetDevice(kDev2)->hostname == "host-2");
  // An inventory stored before sequences existed is unnumbered: the device's
  // first numbered one replaces it, whatever its clock says.
  REQUIRE(store
              ->ImportInventory(Upload("u-next", kDev1, 1795370000),
                                Numbered(MakeInventory(kDev1, "2026-01-01T00:00:00Z", {"zsh"}), 1))
              .ok());
  CHECK(Names(*store->DeviceSoftware(kDev1)) == std::vector<std::string>{"zsh"});
  CHECK(CountRows(path, "uploads") == 5);

  // Opening it again changes nothing.
  store.reset();
  store = MustOpen(path);
  CHECK(QueryText(path, "PRAGMA user_version") == "9");
  CHECK(CountRows(path, "uploads") == 5);
  CHECK(MustOpen(path, /*read_only=*/true)->GetDevice(kDev1)->inventory_sequence == 1);
}

TEST_CASE("a version 1 store is upgraded in place", "[sqlite_store][sqlite_only]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  MakeOldStore(path, 1);
  auto store = MustOpen(path);
  CHECK(QueryText(path, "PRAGMA user_version") == "9");
  CHECK(PrimaryKey(path, "uploads") == "device_id,upload_id");
  CHECK(PrimaryKey(path, "blobs") == "device_id,upload_id");
  CHECK(PrimaryKey(path, "usage") == "device_id,upload_id,program,day");
  CHECK(CountRows(path, "uploads") == 2);
  CHECK(CountRows(path, "blobs") == 1);
  CHECK(CountRows(path, "usage") == 0);
  CHECK(CountRows(path, "files") == 0);
  CHECK(QueryText(path, "SELECT hex(body) FROM blobs") == "00FF");
  CHECK(QueryText(path, "SELECT device_id FROM blobs") == kDev1);
  CHECK(Names(*store->DeviceSoftware(kDev1)) == std::vector<std::string>{"bash", "vim"});
  CHECK(store->DeviceFiles(kDev1)->empty());
  CHECK(*store->HasUpload(kDev1, "u-log"));

  // The tables version 2 added work.
  inventory::Usage u;
  u.device_id = kDev1;
  u.sample_seconds = 60;
  testing_support::AddSample(&u, 1795363200, {"/usr/bin/vim"});
  UploadInfo info = Upload("u-use", kDev1, 1795363300);
  info.kind = "usage";
  REQUIRE(store->ImportUsage(info, u).ok());
  CHECK(store->UsageSummary(kDev1)->size() == 1);
}

TEST_CASE("a migration that cannot keep every row changes nothing", "[sqlite_store][sqlite_only]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  MakeOldStore(path, 2);
  Code expected = Code::kOk;
  {
    RawConnection raw(path);  // foreign keys are off by default, as in a hand-edited file
    SECTION("a blob without its upload") {
      raw.Exec("INSERT INTO blobs VALUES ('u-orphan', X'01')");
      expected = Code::kInternal;  // NOT NULL: its device cannot be found
    }
    SECTION("a usage row filed under another device than its upload's") {
      raw.Exec("INSERT INTO usage VALUES ('u-use', '" + std::string(kDev2) +
               "', '/usr/bin/vim', 1, 600, 1795363000, 1795363000)");
      expected = Code::kDataLoss;  // the reference check before COMMIT
    }
  }
  const int64_t blobs = CountRows(path, "blobs");
  const int64_t usage = CountRows(path, "usage");
  auto store = OpenSqliteStore(path);
  REQUIRE_FALSE(store.ok());
  INFO(store.status().ToString());
  CHECK(store.status().message().find("migrate schema to version") != std::string::npos);
  CHECK(store.status().code() == expected);
  // Rolled back: still version 2, old keys, every row.
  CHECK(QueryText(path, "PRAGMA user_version") == "2");
  CHECK(PrimaryKey(path, "uploads") == "upload_id");
  CHECK(QueryText(path, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%_v3'") == "0");
  CHECK(
      QueryText(
          path,
          "SELECT COUNT(*) FROM pragma_table_info('devices') WHERE name = 'inventory_sequence'") ==
      "0");
  CHECK(CountRows(path, "uploads") == 3);
  CHECK(CountRows(path, "blobs") == blobs);
  CHECK(CountRows(path, "usage") == usage);
}

TEST_CASE("queries read committed data while another connection holds the write lock",
          "[sqlite_store][sqlite_only]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  Inventory inv = Numbered(MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash", "vim"}), 1);
  inv.files = {{"/opt/a.jar", 10, 1763800000, ""}};
  REQUIRE(store->ImportInventory(Upload("u-1", kDev1, 1795363300), inv).ok());
  inventory::Usage u;
  u.device_id = kDev1;
  u.sample_seconds = 600;
  testing_support::AddSample(&u, 1795363200, {"/usr/bin/bash"});
  UploadInfo use = Upload("u-2", kDev1, 1795363400);
  use.kind = "usage";
  REQUIRE(store->ImportUsage(use, u).ok());

  // Another writer is in the middle of a transaction: it holds the write lock
  // and has written rows it has not committed.
  RawConnection raw(path);
  raw.Exec("BEGIN IMMEDIATE");
  raw.Exec("INSERT INTO devices (device_id, hostname) VALUES ('" + std::string(kDev3) +
           "', 'uncommitted')");
  raw.Exec("INSERT INTO package_versions (id, digest, name, arch, source, version, size_bytes, section, "
           "maintainer, summary) VALUES (999, 'x', 'uncommitted', 'all', 'dpkg', '1', 0, '', '', '')");
  raw.Exec("INSERT INTO packages (device_id, version_id, installed_at, first_seen, baseline) VALUES ('" +
           std::string(kDev1) + "', 999, 0, 0, 1)");
  raw.Exec("UPDATE devices SET hostname = 'uncommitted' WHERE device_id = '" + std::string(kDev1) +
           "'");

  // Every query answers (no busy error, no wait for the lock) with the
  // committed data only.
  auto committed = [](Store& s) {
    auto devices = s.ListDevices();
    INFO(devices.status().ToString());
    REQUIRE(devices.ok());
    REQUIRE(devices->size() == 1);
    CHECK((*devices)[0].hostname == "host-a");
    CHECK((*devices)[0].packages == 2);
    auto dev = s.GetDevice(kDev1);
    INFO(dev.status().ToString());
    REQUIRE(dev.ok());
    CHECK(dev->inventory_sequence == 1);
    CHECK(s.GetDevice(kDev3).status().code() == Code::kNotFound);
    auto addresses = s.DeviceAddresses(kDev1);
    REQUIRE(addresses.ok());
    CHECK(addresses->size() == 2);
    auto files = s.DeviceFiles(kDev1);
    REQUIRE(files.ok());
    CHECK(files->size() == 1);
    auto usage = s.UsageSummary("");
    REQUIRE(usage.ok());
    REQUIRE(usage->size() == 1);
    CHECK((*usage)[0].program == "/usr/bin/bash");
    auto software = s.DeviceSoftware(kDev1);
    REQUIRE(software.ok());
    CHECK(Names(*software) == std::vector<std::string>{"bash", "vim"});
    auto found = s.FindSoftware("*");
    REQUIRE(found.ok());
    CHECK(Names(*found) == std::vector<std::string>{"bash", "vim"});
    auto has = s.HasUpload(kDev1, "u-2");
    REQUIRE(has.ok());
    CHECK(*has);
  };
  committed(*store);
  // A read-only store (beaconctl) opens and reads under the lock as well.
  auto reader = MustOpen(path, /*read_only=*/true);
  committed(*reader);
  raw.Exec("ROLLBACK");
}

TEST_CASE("queries do not wait for the store's own writer", "[sqlite_store][sqlite_only]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  REQUIRE(store
              ->ImportInventory(
                  Upload("u-1", kDev1, 1000),
                  Numbered(MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash", "vim"}), 1))
              .ok());

  // Another connection holds the write lock, so the store's import below takes
  // the store's writer and then waits for the lock (busy_timeout, 5 s).
  RawConnection raw(path);
  raw.Exec("BEGIN IMMEDIATE");
  std::atomic<bool> done{false};
  std::atomic<pid_t> importer_tid{0};
  common::Status import_status;
  std::thread importer([&] {
    importer_tid = ::gettid();
    import_status = store->ImportInventory(
        Upload("u-2", kDev1, 2000),
        Numbered(MakeInventory(kDev1, "2026-11-22T17:00:00Z", {"zsh"}, "host-b"), 2));
    done = true;
  });
  // The import has reached its wait once its thread sleeps in SQLite's busy
  // handler (which retries the lock between sleeps): it holds the store's
  // writer then, and the queries below must not queue behind it.
  auto waiting_for_lock = [&] {
    if (importer_tid == 0) return false;
    std::ifstream syscall("/proc/self/task/" + std::to_string(importer_tid.load()) + "/syscall");
    long number = -1;
    syscall >> number;
    return number == SYS_clock_nanosleep || number == SYS_nanosleep;
  };
  REQUIRE(testing_support::WaitUntil(waiting_for_lock, std::chrono::seconds(4)));

  auto dev = store->GetDevice(kDev1);
  INFO(dev.status().ToString());
  REQUIRE(dev.ok());
  CHECK(dev->hostname == "host-a");
  CHECK(dev->packages == 2);
  CHECK(*store->DeviceAddresses(kDev1) ==
        std::vector<std::string>{"192.0.2.10/24", "2001:db8::10/64"});
  CHECK(*store->HasUpload(kDev1, "u-1"));
  CHECK_FALSE(*store->HasUpload(kDev1, "u-2"));
  // The queries answered while the import was still waiting: they did not
  // queue behind the writer. (The import cannot finish before ROLLBACK.)
  CHECK_FALSE(done.load());

  raw.Exec("ROLLBACK");
  importer.join();
  INFO(import_status.ToString());
  REQUIRE(import_status.ok());
  CHECK(store->GetDevice(kDev1)->hostname == "host-b");
  CHECK(*store->HasUpload(kDev1, "u-2"));
}

TEST_CASE("a large import and many readers at once: each read sees one whole inventory",
          "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  REQUIRE(store
              ->ImportInventory(Upload("u-1", kDev1, 1000),
                                Numbered(MakeInventory(kDev1, "2026-11-22T16:00:00Z",
                                                       {"old-a", "old-b", "old-c"}, "old"),
                                         1))
              .ok());
  REQUIRE(store
              ->ImportInventory(Upload("u-1", kDev2, 1000),
                                MakeInventory(kDev2, "2026-11-22T16:00:00Z", {"bash"}, "other"))
              .ok());

  constexpr size_t kPackages = 20000;
  std::vector<std::string> names;
  for (size_t i = 0; i < kPackages; ++i) names.push_back("pkg-" + std::to_string(i));
  const Inventory big = Numbered(MakeInventory(kDev1, "2026-11-22T17:00:00Z", names, "new"), 2);

  std::atomic<bool> done{false};
  common::Status import_status;
  std::thread writer([&] {
    import_status = store->ImportInventory(Upload("u-2", kDev1, 2000), big);
    done = true;
  });
  // More readers than the store keeps reader connections, so some wait for
  // a connection: they must wait for each other, never for the writer.
  constexpr int kReaders = 6;
  std::vector<int> wrong(kReaders, 0), reads(kReaders, 0);
  std::vector<std::string> errors(kReaders);
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      do {
        ++reads[r];
        auto dev = store->GetDevice(kDev1);
        auto sw = store->DeviceSoftware(kDev1);
        auto list = store->ListDevices();
        if (!dev.ok() || !sw.ok() || !list.ok()) {
          ++wrong[r];
          errors[r] = (!dev.ok()  ? dev.status()
                       : !sw.ok() ? sw.status()
                                  : list.status())
                          .ToString();
          continue;
        }
        // Old or new, never a mix of the two.
        const bool old_row =
            dev->hostname == "old" && dev->packages == 3 && dev->inventory_sequence == 1;
        const bool new_row =
            dev->hostname == "new" && dev->packages == kPackages && dev->inventory_sequence == 2;
        if (!old_row && !new_row) ++wrong[r];
        if (sw->size() != 3 && sw->size() != kPackages) ++wrong[r];
        if (list->size() != 2) ++wrong[r];
      } while (!done.load());
    });
  }
  writer.join();
  for (auto& t : readers) t.join();

  INFO(import_status.ToString());
  REQUIRE(import_status.ok());
  for (int r = 0; r < kReaders; ++r) {
    INFO("reader " << r << ": " << errors[r]);
    CHECK(wrong[r] == 0);
    CHECK(reads[r] >= 1);
  }
  auto dev = store->GetDevice(kDev1);
  REQUIRE(dev.ok());
  CHECK(dev->hostname == "new");
  CHECK(dev->packages == kPackages);
  CHECK(store->DeviceSoftware(kDev1)->size() == kPackages);
  CHECK(CountRows(path, "packages") == static_cast<int64_t>(kPackages) + 1);
}

TEST_CASE("the write-ahead log is checkpointed: it does not grow with every import", "[sqlite_store][sqlite_only]") {
  // A statement left running across COMMIT (or a reader that keeps a read
  // transaction open) stops SQLite from ever resetting the WAL: it then
  // grows by every import, and every start reads all of it.
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  std::vector<std::string> packages;
  for (int i = 0; i < 400; ++i) packages.push_back("package-" + std::to_string(i));
  for (int n = 0; n < 150; ++n) {
    const std::string device = "00000000-0000-4000-8000-" + std::string(12 - std::to_string(n).size(), '0') + std::to_string(n);
    Inventory inv = MakeInventory(device, "2026-11-22T16:00:00Z", packages);
    inv.sequence = 1;
    REQUIRE(store->ImportInventory(Upload("u-" + std::to_string(n), device, 1000), inv).ok());
    if (n % 10 == 0) REQUIRE(store->ListDevices().ok());  // readers in between
  }
  const auto wal = std::filesystem::file_size(path + "-wal");
  INFO("WAL " << wal << " bytes, database " << std::filesystem::file_size(path) << " bytes");
  // SQLite checkpoints every 1000 pages (4 MiB); 150 imports without
  // checkpoints write far more than 16 MiB.
  CHECK(wal < (16u << 20));
  CHECK(std::filesystem::file_size(path) > (1u << 20));  // the data reached the database file
}

TEST_CASE("devices share one row per package version, a version with other details is another row",
          "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  REQUIRE(store->ImportInventory(Upload("u-1", kDev1, 1000), MakeInventory(kDev1, "2026-11-22T16:00:00Z",
                                                                            {"bash", "vim"})).ok());
  REQUIRE(store->ImportInventory(Upload("u-2", kDev2, 1001), MakeInventory(kDev2, "2026-11-22T16:00:00Z",
                                                                            {"bash", "vim"}, "host-b")).ok());
  CHECK(CountRows(path, "package_versions") == 2);
  CHECK(CountRows(path, "packages") == 4);

  // A locally rebuilt bash: same version, another summary. It does not
  // change what the other devices' rows say.
  Inventory rebuilt = MakeInventory(kDev3, "2026-11-22T16:00:00Z", {"bash"}, "host-c");
  rebuilt.software[0].summary = "GNU Bourne Again SHell, rebuilt here";
  rebuilt.software[0].installed_at = 1763000000;
  REQUIRE(store->ImportInventory(Upload("u-3", kDev3, 1002), rebuilt).ok());
  CHECK(CountRows(path, "package_versions") == 3);
  CHECK(QueryText(path, "SELECT COUNT(*) FROM package_versions WHERE summary = ''") == "2");
  auto found = store->FindSoftware("bash");
  REQUIRE(found.ok());
  CHECK(found->size() == 3);

  // Removing a package from one device leaves the others', and the shared
  // row (other devices may report it again).
  Inventory fewer = Numbered(MakeInventory(kDev1, "2026-11-23T16:00:00Z", {"bash"}), 2);
  REQUIRE(store->ImportInventory(Upload("u-4", kDev1, 2000), fewer).ok());
  CHECK(store->DeviceSoftware(kDev1)->size() == 1);
  CHECK(store->DeviceSoftware(kDev2)->size() == 2);
  CHECK(CountRows(path, "package_versions") == 3);

  // The device's own detail (when it was installed) changes in place; the
  // span goes on.
  rebuilt = Numbered(rebuilt, 2);
  rebuilt.software[0].installed_at = 1764000000;
  REQUIRE(store->ImportInventory(Upload("u-5", kDev3, 3000), rebuilt).ok());
  CHECK(QueryText(path, "SELECT installed_at || ' ' || first_seen FROM packages WHERE device_id = '" +
                            std::string(kDev3) + "'") == "1764000000 1002");
  auto changes = store->Changes(0, kDev3);
  REQUIRE(changes.ok());
  CHECK(changes->empty());
}

TEST_CASE("a write batch commits its writes together and undoes a failed one alone", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir.File("store.sqlite");
  auto store = MustOpen(path);
  REQUIRE(store->ImportInventory(Upload("u-0", kDev3, 900), MakeInventory(kDev3, "2026-11-22T16:00:00Z",
                                                                           {"zsh"}, "host-c")).ok());
  std::vector<std::function<common::Status()>> writes = {
      [&] { return store->ImportInventory(Upload("u-1", kDev1, 1000),
                                          MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"bash"})); },
      // A duplicate of an upload stored before the batch.
      [&] { return store->ImportInventory(Upload("u-0", kDev3, 901),
                                          MakeInventory(kDev3, "2026-11-22T16:00:00Z", {"fish"})); },
      // Stores its rows (among them a package version nobody had), then
      // fails: all of it is undone.
      [&]() -> common::Status {
        common::Status st = store->ImportInventory(Upload("u-2", kDev2, 1001),
                                                   MakeInventory(kDev2, "2026-11-22T16:00:00Z", {"emacs"}, "b"));
        if (!st.ok()) return st;
        return common::InvalidArgument("the caller gives up on this write");
      },
      // The same new version again, after the undo: it must be stored anew,
      // not taken for the row that was rolled back.
      [&] { return store->ImportInventory(Upload("u-3", kDev1, 1002),
                                          Numbered(MakeInventory(kDev1, "2026-11-22T16:00:00Z",
                                                                 {"bash", "emacs"}), 2)); },
      // A duplicate inside the batch itself.
      [&] { return store->ImportInventory(Upload("u-1", kDev1, 1003),
                                          MakeInventory(kDev1, "2026-11-22T16:00:00Z", {"ed"})); },
  };
  std::vector<common::Status> results = store->WriteBatch(writes.size(), [&](size_t i) { return writes[i](); });
  REQUIRE(results.size() == 5);
  CHECK(results[0].ok());
  CHECK(results[1].code() == Code::kAlreadyExists);
  CHECK(results[2].code() == Code::kInvalidArgument);
  CHECK(results[3].ok());
  CHECK(results[4].code() == Code::kAlreadyExists);

  CHECK(CountRows(path, "uploads") == 3);  // u-0, and u-1 and u-3 of the batch
  CHECK_FALSE(*store->HasUpload(kDev2, "u-2"));
  CHECK(store->GetDevice(kDev2).status().code() == Code::kNotFound);
  auto software = store->DeviceSoftware(kDev1);
  REQUIRE(software.ok());
  REQUIRE(software->size() == 2);
  CHECK((*software)[1].name == "emacs");
  CHECK(store->GetDevice(kDev1)->inventory_sequence == 2);
  CHECK(QueryText(path, "SELECT COUNT(*) FROM packages p LEFT JOIN package_versions v ON v.id = p.version_id "
                        "WHERE v.id IS NULL") == "0");
  CHECK((*store->DeviceSoftware(kDev3))[0].name == "zsh");

  // The store goes on as usual after a batch.
  REQUIRE(store->ImportInventory(Upload("u-4", kDev2, 2000),
                                 MakeInventory(kDev2, "2026-11-22T16:00:00Z", {"emacs"}, "b")).ok());
  CHECK(CountRows(path, "package_versions") == 3);
}

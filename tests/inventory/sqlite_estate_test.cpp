// Tests for the estate part of the SQLite store (inventory/src/sqlite_estate*.cpp,
// sqlite_actions.cpp; contract in inventory/estate.h, rules in docs/store.md).
// Rows are also counted with the plain sqlite3 API, so that what "nothing
// written" means does not depend on the code under test.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "common/status.h"
#include "inventory/action.h"
#include "inventory/estate.h"
#include "inventory/health.h"
#include "inventory/inventory.h"
#include "inventory/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

namespace {

using common::Code;
using inventory::ActionFilter;
using inventory::ActionResult;
using inventory::ActionRow;
using inventory::Checkin;
using inventory::DeviceState;
using inventory::Health;
using inventory::HealthBeacon;
using inventory::HealthFilter;
using inventory::HealthMessage;
using inventory::HealthSource;
using inventory::HealthType;
using inventory::IssuedCertRow;
using inventory::Store;
using inventory::UploadInfo;

constexpr char kDev1[] = "11111111-1111-4111-8111-111111111111";
constexpr char kDev2[] = "22222222-2222-4222-8222-222222222222";
constexpr char kDev3[] = "33333333-3333-4333-8333-333333333333";
constexpr int64_t kNow = 1795363200;
constexpr int64_t kDay = 86400;

std::unique_ptr<Store> MustOpen(const std::string& path, bool read_only = false) {
  auto store = testing_support::OpenTestStore(path, read_only);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

// Runs SQL on a connection of its own, as another process would.
void RawExec(const std::string& path, const std::string& sql) {
  common::Status st = testing_support::ExecTestStore(path, sql);
  INFO(st.ToString());
  REQUIRE(st.ok());
}

std::string QueryText(const std::string& path, const std::string& sql) {
  auto r = testing_support::QueryTestStore(path, sql);
  INFO(sql << ": " << r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

int64_t CountRows(const std::string& path, const std::string& table) {
  return std::stoll(QueryText(path, "SELECT COUNT(*) FROM " + table));
}

UploadInfo Upload(const std::string& id, const std::string& device, int64_t received_at,
                  const std::string& kind = "health", const std::string& via = "dmz-1") {
  UploadInfo info;
  info.upload_id = id;
  info.device_id = device;
  info.kind = kind;
  info.sha256 = std::string(64, 'a');
  info.size = 100;
  info.received_at = received_at;
  info.via = via;
  return info;
}

HealthMessage Msg(const std::string& id, HealthType type, int64_t first_seen, int64_t cleared_at = 0,
                  const std::string& text = "something is wrong") {
  HealthMessage m;
  m.id = id;
  m.component = id.substr(0, id.find('.'));
  m.type = type;
  m.priority = type == HealthType::kError ? 1 : 2;
  m.text = text;
  m.first_seen = first_seen;
  m.last_seen = cleared_at != 0 ? cleared_at : first_seen + 60;
  m.count = 2;
  m.cleared_at = cleared_at;
  return m;
}

Health DeviceDoc(const std::string& device, int64_t sequence, std::vector<HealthMessage> messages) {
  Health h;
  h.source = HealthSource::kDevice;
  h.id = device;
  h.sequence = sequence;
  h.sent_at = kNow;
  h.messages = std::move(messages);
  return h;
}

Health BeaconDoc(const std::string& name, int64_t sequence, std::vector<HealthMessage> messages,
                 int64_t interval = 300) {
  Health h;
  h.source = HealthSource::kBeacon;
  h.id = name;
  h.sequence = sequence;
  h.sent_at = kNow;
  HealthBeacon b;
  b.version = "1.2.3";
  b.interval = interval;
  b.spool_files = 7;
  b.spool_bytes = 7000;
  b.spool_oldest = kNow - 600;
  b.rejected_files = 1;
  b.disk_free = uint64_t{5} << 30;
  b.upstream_ok = false;
  b.upstream_since = kNow - 900;
  b.cert_not_after = kNow + 90 * kDay;
  h.beacon = b;
  h.messages = std::move(messages);
  return h;
}

std::vector<HealthMessage> Messages(Store& store, const HealthFilter& filter) {
  auto rows = store.ListHealth(filter);
  INFO(rows.status().ToString());
  REQUIRE(rows.ok());
  std::vector<HealthMessage> out;
  for (const auto& r : *rows) out.push_back(r.message);
  return out;
}

HealthFilter ForDevice(const std::string& device, bool open_only) {
  HealthFilter f;
  f.device = device;
  f.open_only = open_only;
  return f;
}

IssuedCertRow Cert(const std::string& serial, const std::string& kind, const std::string& subject,
                   int64_t issued_at, int64_t not_after) {
  return IssuedCertRow{serial, kind, subject, common::Sha256Hex("key of " + subject),
                       common::Sha256Hex("ca"), issued_at, not_after, 0};
}

ActionRow Action(const std::string& id, const std::string& device, int64_t created_at = kNow,
                 int64_t ttl = kDay, const std::string& kind = "inventory") {
  ActionRow a;
  a.id = id;
  a.kind = kind;
  a.device_id = device;
  a.created_at = created_at;
  a.expires_at = created_at + ttl;
  return a;
}

ActionResult Result(const std::string& device, const std::string& action, bool ok,
                    const std::string& text = "inventory 42 queued") {
  ActionResult r;
  r.device_id = device;
  r.action_id = action;
  r.kind = "inventory";
  r.ok = ok;
  r.started_at = kNow;
  r.finished_at = kNow + 5;
  r.text = text;
  return r;
}

std::string State(Store& store, const std::string& id) {
  auto a = store.GetAction(id);
  INFO(a.status().ToString());
  REQUIRE(a.ok());
  return a->state;
}

inventory::Inventory MinimalInventory(const std::string& device, const std::string& hostname) {
  inventory::Inventory inv;
  inv.device_id = device;
  inv.collected_at = "2026-11-22T16:00:00Z";
  inv.sequence = 1;
  inv.os.hostname = hostname;
  inv.os.pretty_name = "Debian GNU/Linux 12 (bookworm)";
  return inv;
}

// The schema exactly as version 4 of the store created it (a frozen copy:
// this is what the migration to version 5 has to upgrade), with a few rows.
constexpr char kSchemaV4Sql[] = R"sql(
CREATE TABLE devices (
  device_id TEXT PRIMARY KEY, hostname TEXT NOT NULL DEFAULT '', os TEXT NOT NULL DEFAULT '',
  last_seen INTEGER NOT NULL DEFAULT 0, via TEXT NOT NULL DEFAULT '',
  checkin_at INTEGER NOT NULL DEFAULT 0, client_version TEXT NOT NULL DEFAULT '',
  policy_revision INTEGER NOT NULL DEFAULT 0, outbox_depth INTEGER NOT NULL DEFAULT 0,
  peer TEXT NOT NULL DEFAULT '', inventory_at INTEGER NOT NULL DEFAULT 0, inventory_upload TEXT,
  inventory_sequence INTEGER NOT NULL DEFAULT 0);
CREATE INDEX devices_by_hostname ON devices (hostname, device_id);
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
CREATE TABLE files (
  device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
  position INTEGER NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, modified INTEGER NOT NULL,
  sha256 TEXT NOT NULL, PRIMARY KEY (device_id, position));
CREATE TABLE uploads (
  device_id TEXT NOT NULL REFERENCES devices (device_id), upload_id TEXT NOT NULL,
  kind TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, received_at INTEGER NOT NULL,
  via TEXT NOT NULL, imported_at INTEGER NOT NULL, PRIMARY KEY (device_id, upload_id));
CREATE TABLE blobs (
  device_id TEXT NOT NULL, upload_id TEXT NOT NULL, body BLOB NOT NULL,
  PRIMARY KEY (device_id, upload_id),
  FOREIGN KEY (device_id, upload_id) REFERENCES uploads (device_id, upload_id));
CREATE TABLE usage (
  device_id TEXT NOT NULL, upload_id TEXT NOT NULL, program TEXT NOT NULL,
  samples INTEGER NOT NULL, seconds INTEGER NOT NULL, first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL, PRIMARY KEY (device_id, upload_id, program),
  FOREIGN KEY (device_id, upload_id) REFERENCES uploads (device_id, upload_id));
CREATE INDEX uploads_by_device ON uploads (device_id, received_at);
CREATE TABLE enroll_secrets (
  id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, label TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL DEFAULT 0,
  max_uses INTEGER NOT NULL DEFAULT 0, uses INTEGER NOT NULL DEFAULT 0,
  revoked_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, key_sha256 TEXT NOT NULL,
  issuer_sha256 TEXT NOT NULL, issued_at INTEGER NOT NULL, not_after INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0);
CREATE INDEX certificates_by_subject ON certificates (kind, subject);
CREATE INDEX certificates_by_issuer ON certificates (issuer_sha256);
CREATE TABLE enrollments (
  device_id TEXT NOT NULL, request_id TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '', host TEXT NOT NULL DEFAULT '', key_sha256 TEXT NOT NULL,
  secret_id TEXT NOT NULL DEFAULT '', via TEXT NOT NULL DEFAULT '', received_at INTEGER NOT NULL,
  decided_at INTEGER NOT NULL DEFAULT 0, serial TEXT REFERENCES certificates (serial),
  cert_pem TEXT NOT NULL DEFAULT '', csr_pem TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (device_id, request_id));
CREATE INDEX enrollments_by_request ON enrollments (request_id);
CREATE INDEX enrollments_by_state ON enrollments (state, received_at);
CREATE TABLE device_keys (
  device_id TEXT PRIMARY KEY, key_sha256 TEXT NOT NULL, enrolled_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0, clone_reports INTEGER NOT NULL DEFAULT 0,
  clone_last_at INTEGER NOT NULL DEFAULT 0, clone_key_sha256 TEXT NOT NULL DEFAULT '');

-- kDev1: an upload before its stored check-in; kDev2: a check-in only;
-- kDev3: enrolled, never seen.
INSERT INTO devices (device_id, hostname, last_seen, via, checkin_at, client_version,
                     inventory_at, inventory_upload, inventory_sequence) VALUES
  ('11111111-1111-4111-8111-111111111111', 'host-a', 1795363900, 'dmz-1', 1795363900, '0.9',
   1795363200, 'u-inv', 4),
  ('22222222-2222-4222-8222-222222222222', '', 1795363500, 'dmz-2', 1795363500, '0.9', 0, NULL, 0);
INSERT INTO uploads VALUES
  ('11111111-1111-4111-8111-111111111111', 'u-inv', 'inventory', 'aa', 1234, 1795363300, 'dmz-1', 1795363301),
  ('11111111-1111-4111-8111-111111111111', 'u-log', 'logs', 'bb', 2, 1795363310, 'dmz-1', 1795363311);
INSERT INTO blobs VALUES ('11111111-1111-4111-8111-111111111111', 'u-log', X'00FF');
INSERT INTO packages VALUES
  ('11111111-1111-4111-8111-111111111111', 0, 'bash', '5.2-2', 'amd64', 'dpkg');
INSERT INTO certificates VALUES
  ('0a', 'device', '33333333-3333-4333-8333-333333333333', 'k', 'i', 1795000000, 1826536000, 0);
INSERT INTO device_keys (device_id, key_sha256, enrolled_at) VALUES
  ('33333333-3333-4333-8333-333333333333', 'k', 1795000000);
PRAGMA user_version = 4;
)sql";

}  // namespace

TEST_CASE("estate rules default until set, then read back, bad rules are refused", "[estate_store]") {
  testing_support::TempDir dir("estate");
  auto store = MustOpen(dir.path + "/store.sqlite");
  auto rules = store->GetEstateRules();
  REQUIRE(rules.ok());
  CHECK(*rules == inventory::EstateRules{});

  inventory::EstateRules r;
  r.disconnect_after = 5;
  r.default_check_interval = 900;
  r.outbox_backlog = 10;
  r.cert_warn_before = 7 * kDay;
  r.beacon_offline_after = 4;
  r.policy_revision = 12;
  r.policy_since = kNow;
  REQUIRE(store->SetEstateRules(r).ok());
  CHECK(*store->GetEstateRules() == r);
  r.policy_revision = 13;
  REQUIRE(store->SetEstateRules(r).ok());
  CHECK(store->GetEstateRules()->policy_revision == 13);
  CHECK(CountRows(dir.path + "/store.sqlite", "estate_rules") == 1);

  inventory::EstateRules bad = r;
  bad.disconnect_after = 0;
  auto st = store->SetEstateRules(bad);
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("disconnect_after") != std::string::npos);
  CHECK(*store->GetEstateRules() == r);
  // A reader sees the same rules.
  CHECK(*MustOpen(dir.path + "/store.sqlite", true)->GetEstateRules() == r);
}

TEST_CASE("check-ins keep first_seen, the check interval and every path a device used",
          "[estate_store]") {
  testing_support::TempDir dir("estate");
  auto store = MustOpen(dir.path + "/store.sqlite");
  Checkin c{kDev1, kNow + 100, "dmz-1", "1.0", 3, 0, "192.0.2.1", 3600};
  REQUIRE(store->RecordCheckins({c}).ok());
  auto d = store->GetDeviceState(kDev1);
  REQUIRE(d.ok());
  CHECK(d->first_seen == kNow + 100);
  CHECK(d->last_seen == kNow + 100);
  CHECK(d->check_interval == 3600);
  CHECK(d->via == "dmz-1");

  // Newer, through another beacon, not telling its interval: the interval
  // known stays.
  REQUIRE(store->RecordCheckins({Checkin{kDev1, kNow + 200, "branch-7", "1.1", 4, 2, "", 0}}).ok());
  // A late batch, older than both: last_seen and the client state stay; the
  // earlier contact becomes first_seen; its path is remembered.
  REQUIRE(store->RecordCheckins({Checkin{kDev1, kNow + 50, "dmz-2", "0.9", 1, 9, "", 60}}).ok());
  d = store->GetDeviceState(kDev1);
  REQUIRE(d.ok());
  CHECK(d->first_seen == kNow + 50);
  CHECK(d->last_seen == kNow + 200);
  CHECK(d->via == "branch-7");
  CHECK(d->client_version == "1.1");
  CHECK(d->policy_revision == 4);
  CHECK(d->check_interval == 3600);
  // A newer interval replaces it.
  REQUIRE(store->RecordCheckins({Checkin{kDev1, kNow + 300, "dmz-1", "1.1", 4, 0, "", 1800}}).ok());
  CHECK(store->GetDeviceState(kDev1)->check_interval == 1800);

  auto vias = store->DeviceVias(kDev1);
  REQUIRE(vias.ok());
  REQUIRE(vias->size() == 3);
  CHECK((*vias)[0].via == "dmz-1");
  CHECK((*vias)[0].last_seen == kNow + 300);
  CHECK((*vias)[1].via == "branch-7");
  CHECK((*vias)[2].via == "dmz-2");
  CHECK((*vias)[2].last_seen == kNow + 50);
  CHECK(store->DeviceVias(kDev2)->empty());
}

TEST_CASE("device states: reported and enrolled devices, with what their status needs",
          "[estate_store]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  // kDev1: enrolled, checked in, inventoried; three certificates, the one
  // expiring last revoked: the newest unrevoked one counts.
  REQUIRE(store->RecordCertificate(Cert("01", "device", kDev1, kNow - 100 * kDay, kNow + 10 * kDay)).ok());
  REQUIRE(store->RecordCertificate(Cert("02", "device", kDev1, kNow - kDay, kNow + 365 * kDay)).ok());
  REQUIRE(store->RecordCertificate(Cert("03", "device", kDev1, kNow, kNow + 400 * kDay)).ok());
  RawExec(path, "UPDATE certificates SET revoked_at = 1 WHERE serial = '03'");
  REQUIRE(store->RecordCheckins({Checkin{kDev1, kNow, "dmz-1", "1.0", 3, 5, "", 600}}).ok());
  REQUIRE(store->ImportInventory(Upload("inv-1", kDev1, kNow, "inventory"), MinimalInventory(kDev1, "zeta")).ok());
  // kDev2: checked in only (no enrollment record, no inventory).
  REQUIRE(store->RecordCheckins({Checkin{kDev2, kNow, "dmz-1", "1.0", 3, 0, "", 0}}).ok());
  // kDev3: enrolled, never seen, clone reported.
  REQUIRE(store->RecordCertificate(Cert("04", "device", kDev3, kNow - 2 * kDay, kNow + 30 * kDay)).ok());
  RawExec(path, "UPDATE device_keys SET clone_reports = 2 WHERE device_id = '" + std::string(kDev3) + "'");
  // Health of kDev1: one error and one warning open, one cleared.
  REQUIRE(store
              ->ImportHealth(Upload("h-1", kDev1, kNow),
                             DeviceDoc(kDev1, 1,
                                       {Msg("client.disk-short", HealthType::kError, kNow - 10),
                                        Msg("client.outbox-near-cap", HealthType::kWarning, kNow - 10),
                                        Msg("client.old", HealthType::kError, kNow - 99, kNow - 50)}))
              .ok());
  // Actions: two active for kDev1 (one delivered), one finished.
  REQUIRE(store->CreateActions({Action("a-1", kDev1), Action("a-2", kDev1), Action("a-3", kDev1)}).ok());
  REQUIRE(store->MarkActionsDelivered(kDev1, {"a-2"}, kNow + 1).ok());
  REQUIRE(store->CancelAction("a-3", kNow + 2).ok());

  auto reader = MustOpen(path, /*read_only=*/true);
  auto states = reader->ListDeviceStates();
  INFO(states.status().ToString());
  REQUIRE(states.ok());
  REQUIRE(states->size() == 3);
  // By hostname, then id: the two without an inventory have hostname "".
  CHECK((*states)[0].device_id == kDev2);
  CHECK((*states)[1].device_id == kDev3);
  CHECK((*states)[2].device_id == kDev1);

  const DeviceState& one = (*states)[2];
  CHECK(one.hostname == "zeta");
  CHECK(one.os == "Debian GNU/Linux 12 (bookworm)");
  CHECK(one.enrolled_at == kNow - 100 * kDay);
  CHECK(one.first_seen == kNow);
  CHECK(one.check_interval == 600);
  CHECK(one.outbox_depth == 5);
  CHECK(one.inventoried);
  CHECK(one.inventory_sequence == 1);
  CHECK(one.cert_not_after == kNow + 365 * kDay);
  CHECK_FALSE(one.clone_suspected);
  CHECK(one.open_errors == 1);
  CHECK(one.open_warnings == 1);
  CHECK(one.pending_actions == 2);

  const DeviceState& two = (*states)[0];
  CHECK(two.enrolled_at == 0);
  CHECK(two.first_seen == kNow);
  CHECK_FALSE(two.inventoried);
  CHECK(two.cert_not_after == 0);
  CHECK(two.open_errors == 0);
  CHECK(two.pending_actions == 0);

  const DeviceState& three = (*states)[1];
  CHECK(three.enrolled_at == kNow - 2 * kDay);
  CHECK(three.first_seen == 0);
  CHECK(three.last_seen == 0);
  CHECK(three.cert_not_after == kNow + 30 * kDay);
  CHECK(three.clone_suspected);
  CHECK(inventory::DeviceStatusOf(three, inventory::EstateRules{}, kNow).status ==
        inventory::DeviceStatus::kNeverConnected);

  // One device alone reads the same as in the list.
  auto got = reader->GetDeviceState(kDev1);
  REQUIRE(got.ok());
  CHECK(got->open_errors == 1);
  CHECK(got->pending_actions == 2);
  CHECK(got->cert_not_after == kNow + 365 * kDay);
  CHECK(reader->GetDeviceState(kDev3)->clone_suspected);
  CHECK(reader->GetDeviceState("44444444-4444-4444-8444-444444444444").status().code() == Code::kNotFound);

  auto uploads = reader->RecentUploads(kDev1, 10);
  REQUIRE(uploads.ok());
  REQUIRE(uploads->size() == 2);
  CHECK((*uploads)[0].upload_id == "h-1");
  CHECK((*uploads)[0].kind == "health");
  CHECK(reader->RecentUploads(kDev1, 1)->size() == 1);
  CHECK(reader->RecentUploads(kDev1, 0).status().code() == Code::kInvalidArgument);
}

TEST_CASE("a health upload is imported exactly once", "[estate_store]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  const Health doc = DeviceDoc(kDev1, 1, {Msg("client.disk-short", HealthType::kError, kNow)});
  REQUIRE(store->ImportHealth(Upload("h-1", kDev1, kNow), doc).ok());
  CHECK(*store->HasUpload(kDev1, "h-1"));
  // Redelivered, even with other content: AlreadyExists and nothing changes.
  Health changed = doc;
  changed.sequence = 2;
  changed.messages.clear();
  CHECK(store->ImportHealth(Upload("h-1", kDev1, kNow + 60), changed).code() == Code::kAlreadyExists);
  CHECK(Messages(*store, ForDevice(kDev1, true)).size() == 1);
  CHECK(CountRows(path, "uploads") == 1);
  // The same upload id from another device is another upload.
  REQUIRE(store->ImportHealth(Upload("h-1", kDev2, kNow), DeviceDoc(kDev2, 1, {})).ok());
  CHECK(CountRows(path, "uploads") == 2);
}

TEST_CASE("health documents apply in the sender's order, not the arrival order", "[estate_store]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  const HealthMessage disk = Msg("client.disk-short", HealthType::kError, kNow);
  HealthMessage disk_cleared = disk;
  disk_cleared.cleared_at = kNow + 500;
  // Sequence 2 (cleared) arrives first, then the older 1 (open): the
  // message must stay cleared.
  REQUIRE(store->ImportHealth(Upload("h-2", kDev1, kNow + 600), DeviceDoc(kDev1, 2, {disk_cleared})).ok());
  REQUIRE(store->ImportHealth(Upload("h-1", kDev1, kNow + 700), DeviceDoc(kDev1, 1, {disk})).ok());
  CHECK(Messages(*store, ForDevice(kDev1, true)).empty());
  auto all = Messages(*store, ForDevice(kDev1, false));
  REQUIRE(all.size() == 1);
  CHECK(all[0].cleared_at == kNow + 500);
  // The late one is still an upload (a redelivery of it is a duplicate).
  CHECK(*store->HasUpload(kDev1, "h-1"));
  CHECK(store->ImportHealth(Upload("h-1", kDev1, kNow + 800), DeviceDoc(kDev1, 1, {disk})).code() ==
        Code::kAlreadyExists);
  // An equal sequence is not newer either.
  REQUIRE(store->ImportHealth(Upload("h-2b", kDev1, kNow + 900), DeviceDoc(kDev1, 2, {disk})).ok());
  CHECK(Messages(*store, ForDevice(kDev1, true)).empty());
  // Another device's sequence is its own.
  REQUIRE(store->ImportHealth(Upload("h-x", kDev2, kNow + 900), DeviceDoc(kDev2, 1, {disk})).ok());
  CHECK(Messages(*store, ForDevice(kDev2, true)).size() == 1);
}

TEST_CASE("a message a newer document does not carry is cleared, raised again, it is a new occurrence",
          "[estate_store]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  const HealthMessage disk = Msg("client.disk-short", HealthType::kError, kNow);
  const HealthMessage clock = Msg("client.clock-skew", HealthType::kWarning, kNow);
  REQUIRE(store->ImportHealth(Upload("h-1", kDev1, kNow + 10), DeviceDoc(kDev1, 1, {clock, disk})).ok());
  CHECK(Messages(*store, ForDevice(kDev1, true)).size() == 2);

  // Document 2 (the clearing of disk-short) was lost; document 3 carries
  // clock-skew only, with a higher count.
  HealthMessage clock3 = clock;
  clock3.count = 9;
  clock3.last_seen = kNow + 3000;
  REQUIRE(store->ImportHealth(Upload("h-3", kDev1, kNow + 3010), DeviceDoc(kDev1, 3, {clock3})).ok());
  auto open = store->ListHealth(ForDevice(kDev1, true));
  REQUIRE(open.ok());
  REQUIRE(open->size() == 1);
  CHECK((*open)[0].message == clock3);
  CHECK((*open)[0].received_at == kNow + 3010);
  auto all = store->ListHealth(ForDevice(kDev1, false));
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  for (const auto& row : *all) {
    if (row.message.id != "client.disk-short") continue;
    CHECK(row.message.cleared_at == kNow + 3010);  // cleared when the central learnt it
    CHECK(row.source_kind == "device");
    CHECK(row.source == kDev1);
  }

  // The disk is short again: a new occurrence; the history keeps both.
  const HealthMessage disk_again = Msg("client.disk-short", HealthType::kError, kNow + 5000);
  REQUIRE(store->ImportHealth(Upload("h-4", kDev1, kNow + 5010), DeviceDoc(kDev1, 4, {clock3, disk_again}))
              .ok());
  CHECK(Messages(*store, ForDevice(kDev1, true)).size() == 2);
  CHECK(QueryText(path, "SELECT COUNT(*) FROM health_messages WHERE id = 'client.disk-short'") == "2");
  CHECK(QueryText(path,
                  "SELECT COUNT(*) FROM health_messages WHERE id = 'client.disk-short' AND cleared_at = 0") ==
        "1");
  CHECK(store->GetDeviceState(kDev1)->open_errors == 1);
  CHECK(store->GetDeviceState(kDev1)->open_warnings == 1);

  // An empty document clears everything; limit keeps the newest.
  REQUIRE(store->ImportHealth(Upload("h-5", kDev1, kNow + 6000), DeviceDoc(kDev1, 5, {})).ok());
  CHECK(Messages(*store, ForDevice(kDev1, true)).empty());
  HealthFilter one = ForDevice(kDev1, false);
  one.limit = 1;
  CHECK(Messages(*store, one).size() == 1);
  one.limit = 0;
  CHECK(store->ListHealth(one).status().code() == Code::kInvalidArgument);
}

TEST_CASE("cleared messages are purged after their retention, open ones never are", "[estate_store]") {
  testing_support::TempDir dir("estate");
  auto store = MustOpen(dir.path + "/store.sqlite");
  const HealthMessage old_open = Msg("client.clock-skew", HealthType::kWarning, kNow);
  const HealthMessage cleared = Msg("client.disk-short", HealthType::kError, kNow);
  REQUIRE(store->ImportHealth(Upload("p-1", kDev1, kNow), DeviceDoc(kDev1, 1, {old_open, cleared})).ok());
  // Cleared by omission at kNow + 100 (when the central learnt of it).
  REQUIRE(store->ImportHealth(Upload("p-2", kDev1, kNow + 100), DeviceDoc(kDev1, 2, {old_open})).ok());
  CHECK(Messages(*store, ForDevice(kDev1, false)).size() == 2);

  auto none = store->PurgeHealth(kNow + 100);  // not before its clearing was learnt
  REQUIRE(none.ok());
  CHECK(*none == 0);
  auto one = store->PurgeHealth(kNow + 101);
  REQUIRE(one.ok());
  CHECK(*one == 1);
  auto left = Messages(*store, ForDevice(kDev1, false));
  REQUIRE(left.size() == 1);
  CHECK(left[0].id == "client.clock-skew");
  // However old, an open message stays.
  CHECK(*store->PurgeHealth(kNow + 1000 * kDay) == 0);
  CHECK(Messages(*store, ForDevice(kDev1, true)).size() == 1);
  auto ro = MustOpen(dir.path + "/store.sqlite", true);
  CHECK(ro->PurgeHealth(kNow).status().code() == Code::kFailedPrecondition);
}

TEST_CASE("hostile strings are stored verbatim through bound parameters", "[estate_store]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  const std::string evil = "x'); DROP TABLE devices; --\" \\ % _ \xE2\x80\xAE end";
  HealthMessage m = Msg("client.evil", HealthType::kError, kNow, 0, evil);
  m.component = evil;
  REQUIRE(store->ImportHealth(Upload(evil, kDev1, kNow), DeviceDoc(kDev1, 1, {m})).ok());
  auto rows = Messages(*store, ForDevice(kDev1, true));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == m);
  CHECK(CountRows(path, "devices") == 1);

  REQUIRE(store->CreateActions({Action(evil, kDev1)}).ok());
  REQUIRE(store->ImportActionResult(Upload("r-1", kDev1, kNow + 5, "action"), Result(kDev1, evil, false, evil))
              .ok());
  auto a = store->GetAction(evil);
  REQUIRE(a.ok());
  CHECK(a->state == "failed");
  CHECK(a->result == evil);

  // A beacon name full of quotes is a name like any other.
  const std::string name = "b'; DELETE FROM beacons; --";
  REQUIRE(store->ImportHealth(Upload("bh-1", "beacon-uuid", kNow, "beacon-health", name), BeaconDoc(name, 1, {}))
              .ok());
  auto beacons = store->ListBeacons();
  REQUIRE(beacons.ok());
  REQUIRE(beacons->size() == 1);
  CHECK((*beacons)[0].name == name);
}

TEST_CASE("a document about another device or beacon is refused and writes nothing", "[estate_store]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  const HealthMessage m = Msg("client.disk-short", HealthType::kError, kNow);

  auto st = store->ImportHealth(Upload("h-1", kDev1, kNow), DeviceDoc(kDev2, 1, {m}));
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find(kDev2) != std::string::npos);
  // A beacon document must name the beacon that received it.
  st = store->ImportHealth(Upload("h-2", "beacon-uuid", kNow, "beacon-health", "dmz-1"), BeaconDoc("dmz-2", 1, {m}));
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("dmz-2") != std::string::npos);
  // A beacon document without its status, a device one with a status.
  Health no_status = BeaconDoc("dmz-1", 1, {m});
  no_status.beacon.reset();
  CHECK(store->ImportHealth(Upload("h-3", "beacon-uuid", kNow, "beacon-health", "dmz-1"), no_status).code() ==
        Code::kInvalidArgument);
  Health with_status = DeviceDoc(kDev1, 1, {m});
  with_status.beacon = HealthBeacon{};
  CHECK(store->ImportHealth(Upload("h-4", kDev1, kNow), with_status).code() == Code::kInvalidArgument);
  // An action result about another device.
  REQUIRE(store->CreateActions({Action("a-1", kDev2)}).ok());
  CHECK(store->ImportActionResult(Upload("r-1", kDev1, kNow, "action"), Result(kDev2, "a-1", true)).code() ==
        Code::kInvalidArgument);

  for (const char* table : {"devices", "uploads", "beacon_uploads", "health_messages", "health_sources", "beacons"}) {
    INFO(table);
    CHECK(CountRows(path, table) == 0);
  }
  CHECK(State(*store, "a-1") == "pending");
  // The refused ids were not recorded: the right document can still come.
  REQUIRE(store->ImportHealth(Upload("h-1", kDev1, kNow), DeviceDoc(kDev1, 1, {m})).ok());
}

TEST_CASE("beacons: their reports, their certificates, and the central's own report", "[estate_store]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  const HealthMessage low = Msg("beacon.spool-disk-low", HealthType::kWarning, kNow);
  const UploadInfo info = Upload("bh-1", "beacon-uuid", kNow + 5, "beacon-health", "dmz-1");
  REQUIRE(store->ImportHealth(info, BeaconDoc("dmz-1", 1, {low})).ok());
  CHECK(store->ImportHealth(info, BeaconDoc("dmz-1", 1, {low})).code() == Code::kAlreadyExists);
  // A beacon is not a device.
  CHECK(CountRows(path, "devices") == 0);
  CHECK(CountRows(path, "uploads") == 0);
  CHECK(CountRows(path, "beacon_uploads") == 1);

  // Certificates: dmz-1 has one; "branch" has only revoked ones and never
  // reported; "fresh" has one and never reported.
  REQUIRE(store->RecordCertificate(Cert("b1", "beacon", "dmz-1", kNow - kDay, kNow + 300 * kDay)).ok());
  REQUIRE(store->RecordCertificate(Cert("b2", "beacon", "branch", kNow - kDay, kNow + 300 * kDay)).ok());
  REQUIRE(store->RevokeSubject("beacon", "branch", kNow).ok());
  REQUIRE(store->RecordCertificate(Cert("b3", "beacon", "fresh", kNow - kDay, kNow + 200 * kDay)).ok());

  // The central reports itself, with no upload.
  Health own = BeaconDoc("central", 1, {Msg("beacon.rejected-uploads", HealthType::kError, kNow)}, 60);
  own.beacon->central = true;
  REQUIRE(store->RecordOwnHealth(own, kNow + 30).ok());
  CHECK(CountRows(path, "beacon_uploads") == 1);
  // An older own report changes nothing.
  Health stale = own;
  stale.sequence = 0;
  stale.messages.clear();
  REQUIRE(store->RecordOwnHealth(stale, kNow + 40).ok());
  CHECK(store->RecordOwnHealth(DeviceDoc(kDev1, 1, {}), kNow).code() == Code::kInvalidArgument);

  auto beacons = store->ListBeacons();
  REQUIRE(beacons.ok());
  std::map<std::string, inventory::BeaconState> by;
  for (const auto& b : *beacons) by[b.name] = b;
  REQUIRE(beacons->size() == 4);
  CHECK((*beacons)[0].name == "branch");  // by name
  CHECK(by["dmz-1"].last_contact == kNow + 5);
  CHECK(by["dmz-1"].status == *BeaconDoc("dmz-1", 1, {}).beacon);
  CHECK(by["dmz-1"].cert_not_after == kNow + 300 * kDay);
  CHECK_FALSE(by["dmz-1"].revoked);
  CHECK(by["dmz-1"].open_warnings == 1);
  CHECK(by["dmz-1"].open_errors == 0);
  CHECK(by["branch"].revoked);
  CHECK(by["branch"].cert_not_after == 0);
  CHECK(by["branch"].last_contact == 0);
  CHECK(by["fresh"].cert_not_after == kNow + 200 * kDay);
  CHECK_FALSE(by["fresh"].revoked);
  CHECK(by["central"].status.central);
  CHECK(by["central"].last_contact == kNow + 30);
  CHECK(by["central"].open_errors == 1);

  inventory::EstateRules rules;
  CHECK(inventory::BeaconStatusOf(by["dmz-1"], rules, kNow + 600).online);
  CHECK_FALSE(inventory::BeaconStatusOf(by["dmz-1"], rules, kNow + 5 + 901).online);
  CHECK_FALSE(inventory::BeaconStatusOf(by["fresh"], rules, kNow).online);

  HealthFilter f;
  f.beacon = "dmz-1";
  CHECK(Messages(*store, f).size() == 1);
  f.device = kDev1;
  CHECK(store->ListHealth(f).status().code() == Code::kInvalidArgument);

  // A newer report without the message clears it and moves the contact on.
  REQUIRE(store->ImportHealth(Upload("bh-2", "beacon-uuid", kNow + 400, "beacon-health", "dmz-1"),
                              BeaconDoc("dmz-1", 2, {}))
              .ok());
  auto after = store->ListBeacons();
  REQUIRE(after.ok());
  for (const auto& b : *after) {
    if (b.name == "dmz-1") {
      CHECK(b.last_contact == kNow + 400);
      CHECK(b.open_warnings == 0);
    }
  }
}

TEST_CASE("actions: created, delivered, done or failed, cancelled, refusals", "[estate_store]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  ActionRow grouped = Action("a-3", kDev2);
  grouped.group = "web";
  grouped.state = "done";  // ignored: every action starts pending
  REQUIRE(store->CreateActions({Action("a-1", kDev1), Action("a-2", kDev1, kNow + 1), grouped}).ok());
  CHECK(State(*store, "a-3") == "pending");
  CHECK(store->GetAction("a-3")->group == "web");
  CHECK(store->GetAction("nope").status().code() == Code::kNotFound);

  // An id in use anywhere in the batch: nothing created.
  CHECK(store->CreateActions({Action("a-4", kDev1), Action("a-1", kDev1)}).code() == Code::kAlreadyExists);
  CHECK(store->CreateActions({Action("a-5", kDev1), Action("a-5", kDev1)}).code() == Code::kAlreadyExists);
  CHECK(store->GetAction("a-4").status().code() == Code::kNotFound);
  CHECK(CountRows(path, "actions") == 3);
  // Malformed: unknown kind, no device, expiry not after creation.
  CHECK(store->CreateActions({Action("a-6", kDev1, kNow, kDay, "reboot")}).code() == Code::kInvalidArgument);
  CHECK(store->CreateActions({Action("a-6", "")}).code() == Code::kInvalidArgument);
  CHECK(store->CreateActions({Action("a-6", kDev1, kNow, 0)}).code() == Code::kInvalidArgument);

  // Served in kDev1's manifest: pending -> delivered, once; another
  // device's id is left alone.
  REQUIRE(store->MarkActionsDelivered(kDev1, {"a-1", "a-3"}, kNow + 10).ok());
  CHECK(State(*store, "a-1") == "delivered");
  CHECK(store->GetAction("a-1")->delivered_at == kNow + 10);
  CHECK(State(*store, "a-3") == "pending");
  REQUIRE(store->MarkActionsDelivered(kDev1, {"a-1"}, kNow + 20).ok());
  CHECK(store->GetAction("a-1")->delivered_at == kNow + 10);

  auto active = store->ActiveActions(kNow + 30);
  REQUIRE(active.ok());
  CHECK(active->size() == 3);

  // delivered -> done.
  REQUIRE(store->ImportActionResult(Upload("r-1", kDev1, kNow + 40, "action"), Result(kDev1, "a-1", true)).ok());
  auto a1 = store->GetAction("a-1");
  CHECK(a1->state == "done");
  CHECK(a1->finished_at == kNow + 40);
  CHECK(a1->result == "inventory 42 queued");
  // The same result redelivered: AlreadyExists; a second result for a
  // finished action is recorded as an upload and changes nothing.
  CHECK(store->ImportActionResult(Upload("r-1", kDev1, kNow + 50, "action"), Result(kDev1, "a-1", false))
            .code() == Code::kAlreadyExists);
  REQUIRE(store->ImportActionResult(Upload("r-1b", kDev1, kNow + 50, "action"), Result(kDev1, "a-1", false, "x"))
              .ok());
  CHECK(State(*store, "a-1") == "done");
  CHECK(store->GetAction("a-1")->result == "inventory 42 queued");

  // pending -> failed (a device may run an action it saw before the
  // delivery was recorded).
  REQUIRE(store->ImportActionResult(Upload("r-2", kDev1, kNow + 60, "action"), Result(kDev1, "a-2", false, "disk full"))
              .ok());
  CHECK(State(*store, "a-2") == "failed");
  CHECK(store->GetAction("a-2")->result == "disk full");

  // A result from the wrong device for an action it does not own, or for
  // an unknown id: an upload only.
  REQUIRE(store->ImportActionResult(Upload("r-3", kDev1, kNow + 70, "action"), Result(kDev1, "a-3", true)).ok());
  REQUIRE(store->ImportActionResult(Upload("r-4", kDev1, kNow + 70, "action"), Result(kDev1, "ghost", true)).ok());
  CHECK(State(*store, "a-3") == "pending");
  CHECK(*store->HasUpload(kDev1, "r-4"));

  // Cancel: pending -> cancelled; then the result is an upload only.
  auto cancelled = store->CancelAction("a-3", kNow + 80);
  REQUIRE(cancelled.ok());
  CHECK(cancelled->state == "cancelled");
  CHECK(cancelled->finished_at == kNow + 80);
  CHECK(store->GetAction("a-3")->finished_at == kNow + 80);
  CHECK(store->GetAction("a-3")->result == cancelled->result);
  REQUIRE(store->ImportActionResult(Upload("r-5", kDev2, kNow + 90, "action"), Result(kDev2, "a-3", true)).ok());
  CHECK(State(*store, "a-3") == "cancelled");
  // Cancel refuses finished actions, naming the state; NotFound for none.
  for (const char* id : {"a-1", "a-2", "a-3"}) {
    auto st = store->CancelAction(id, kNow + 100);
    CHECK(st.status().code() == Code::kFailedPrecondition);
    CHECK(st.status().message().find(State(*store, id)) != std::string::npos);
  }
  CHECK(store->CancelAction("ghost", kNow).status().code() == Code::kNotFound);
  // delivered -> cancelled.
  REQUIRE(store->CreateActions({Action("a-7", kDev1, kNow + 100)}).ok());
  REQUIRE(store->MarkActionsDelivered(kDev1, {"a-7"}, kNow + 110).ok());
  REQUIRE(store->CancelAction("a-7", kNow + 120).ok());
  CHECK(State(*store, "a-7") == "cancelled");
  CHECK(store->ActiveActions(kNow + 130)->empty());

  // Listing: newest first, by device and by state.
  ActionFilter all;
  auto listed = store->ListActions(all);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 4);
  CHECK(listed->front().id == "a-7");
  ActionFilter by_state;
  by_state.state = "cancelled";
  CHECK(store->ListActions(by_state)->size() == 2);
  by_state.device = kDev2;
  CHECK(store->ListActions(by_state)->size() == 1);
  ActionFilter by_device;
  by_device.device = kDev1;
  CHECK(store->ListActions(by_device)->size() == 3);
  by_device.state = "bogus";
  CHECK(store->ListActions(by_device).status().code() == Code::kInvalidArgument);
}

TEST_CASE("actions expire, an expired one still takes its result, finished ones are purged",
          "[estate_store]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  REQUIRE(store->CreateActions({Action("p", kDev1, kNow, 100), Action("d", kDev1, kNow, 100),
                                Action("late", kDev1, kNow, 100), Action("long", kDev1, kNow, 10 * kDay)})
              .ok());
  REQUIRE(store->MarkActionsDelivered(kDev1, {"d", "late"}, kNow + 10).ok());
  // Not yet expired at kNow + 99; expired from kNow + 100 on.
  CHECK(store->ActiveActions(kNow + 99)->size() == 4);
  CHECK(store->ActiveActions(kNow + 100)->size() == 1);
  auto swept = store->SweepActions(kNow + 99, 0);
  REQUIRE(swept.ok());
  CHECK(*swept == std::make_pair(int64_t{0}, int64_t{0}));
  swept = store->SweepActions(kNow + 100, 0);
  REQUIRE(swept.ok());
  CHECK(*swept == std::make_pair(int64_t{3}, int64_t{0}));
  CHECK(State(*store, "p") == "expired");
  CHECK(store->GetAction("p")->finished_at == kNow + 100);
  CHECK_FALSE(store->GetAction("p")->result.empty());
  CHECK(State(*store, "long") == "pending");
  // The device ran "late" before it learnt of the expiry: its result counts.
  REQUIRE(store->ImportActionResult(Upload("r-late", kDev1, kNow + 200, "action"), Result(kDev1, "late", true))
              .ok());
  CHECK(State(*store, "late") == "done");
  // Cancelling an expired action is refused.
  CHECK(store->CancelAction("p", kNow + 200).status().code() == Code::kFailedPrecondition);

  // Purge what finished before kNow + 150: "p" and "d" (at +100), not
  // "late" (finished at +200) nor the pending "long".
  swept = store->SweepActions(kNow + 300, kNow + 150);
  REQUIRE(swept.ok());
  CHECK(*swept == std::make_pair(int64_t{0}, int64_t{2}));
  CHECK(store->GetAction("p").status().code() == Code::kNotFound);
  CHECK(State(*store, "late") == "done");
  CHECK(State(*store, "long") == "pending");
  swept = store->SweepActions(kNow + 300, kNow + 300);
  CHECK(*swept == std::make_pair(int64_t{0}, int64_t{1}));
  CHECK(CountRows(path, "actions") == 1);
}

TEST_CASE("a read-only store refuses every estate write", "[estate_store]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  MustOpen(path);
  auto ro = MustOpen(path, /*read_only=*/true);
  CHECK(ro->SetEstateRules({}).code() == Code::kFailedPrecondition);
  CHECK(ro->ImportHealth(Upload("h", kDev1, kNow), DeviceDoc(kDev1, 1, {})).code() == Code::kFailedPrecondition);
  CHECK(ro->CreateActions({Action("a", kDev1)}).code() == Code::kFailedPrecondition);
  CHECK(ro->SweepActions(kNow, kNow).status().code() == Code::kFailedPrecondition);
  CHECK(ro->ListDeviceStates()->empty());
}

TEST_CASE("a version 4 store is upgraded to the current version with every row kept", "[estate_store][sqlite_only]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  RawExec(path, "PRAGMA journal_mode = WAL");
  RawExec(path, kSchemaV4Sql);
  // Only a writer migrates.
  CHECK(inventory::OpenSqliteStore(path, /*read_only=*/true).status().code() == Code::kFailedPrecondition);

  auto store = MustOpen(path);
  CHECK(QueryText(path, "PRAGMA user_version") == "9");
  CHECK(QueryText(path, "SELECT COUNT(*) FROM pragma_foreign_key_check") == "0");
  CHECK(CountRows(path, "devices") == 2);
  CHECK(CountRows(path, "uploads") == 2);
  CHECK(QueryText(path, "SELECT hex(body) FROM blobs") == "00FF");
  CHECK(store->GetDevice(kDev1)->packages == 1);
  CHECK(*store->HasUpload(kDev1, "u-log"));
  for (const char* table : {"estate_rules", "health_messages", "health_sources", "beacons", "actions",
                            "beacon_uploads"}) {
    INFO(table);
    CHECK(CountRows(path, table) == 0);
  }
  CHECK(QueryText(path,
                  "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                  "('actions_by_device', 'actions_by_state', 'health_open')") == "3");

  // first_seen is the earliest contact the old store knew of; the path of
  // the last contact is the first known path.
  auto states = store->ListDeviceStates();
  REQUIRE(states.ok());
  REQUIRE(states->size() == 3);
  auto one = store->GetDeviceState(kDev1);
  REQUIRE(one.ok());
  CHECK(one->first_seen == 1795363300);
  CHECK(one->last_seen == 1795363900);
  CHECK(one->inventoried);
  CHECK(one->inventory_sequence == 4);
  CHECK(one->check_interval == 0);
  CHECK(store->GetDeviceState(kDev2)->first_seen == 1795363500);
  auto three = store->GetDeviceState(kDev3);
  REQUIRE(three.ok());
  CHECK(three->enrolled_at == 1795000000);
  CHECK(three->first_seen == 0);
  CHECK(three->cert_not_after == 1826536000);
  auto vias = store->DeviceVias(kDev1);
  REQUIRE(vias.ok());
  REQUIRE(vias->size() == 1);
  CHECK((*vias)[0].via == "dmz-1");
  CHECK((*vias)[0].last_seen == 1795363900);

  // The new tables work at once, and reopening changes nothing.
  REQUIRE(store->CreateActions({Action("a-1", kDev1)}).ok());
  REQUIRE(store->ImportHealth(Upload("h-1", kDev2, kNow), DeviceDoc(kDev2, 1, {})).ok());
  store.reset();
  store = MustOpen(path);
  CHECK(QueryText(path, "PRAGMA user_version") == "9");
  CHECK(CountRows(path, "actions") == 1);
  CHECK(CountRows(path, "uploads") == 3);
}

// 100,000 devices that reported, 20,000 enrolled and never seen, with
// certificates, health and actions spread over them: the listing is a few
// set-based statements, so it finishes and counts every device once. (No
// timing is asserted; bench/ measures.)
TEST_CASE("device states of 100,000 devices are listed whole and counted right", "[estate_store][slow][sqlite_only]") {
  testing_support::TempDir dir("estate");
  const std::string path = dir.path + "/store.sqlite";
  MustOpen(path);
  // Rows made by the database itself (a recursive CTE), as a large estate
  // would have them, but in seconds.
  RawExec(path, R"sql(
    BEGIN;
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 119999)
    INSERT INTO device_keys (device_id, key_sha256, enrolled_at, clone_reports)
      SELECT printf('dev-%06d', i), 'k', 1795000000, CASE WHEN i % 1000 = 0 THEN 1 ELSE 0 END FROM n;
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
    INSERT INTO devices (device_id, hostname, last_seen, first_seen, via, inventory_upload)
      SELECT printf('dev-%06d', i), printf('host-%06d', 99999 - i), 1795363200, 1795360000, 'dmz-1',
             CASE WHEN i % 2 = 0 THEN 'u' ELSE NULL END FROM n;
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 119999)
    INSERT INTO certificates (serial, kind, subject, key_sha256, issuer_sha256, issued_at, not_after)
      SELECT printf('%x', i), 'device', printf('dev-%06d', i), 'k', 'i', 1795000000, 1826536000 FROM n;
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)
    INSERT INTO health_messages (source_kind, source, id, first_seen, component, type, priority, text,
                                 last_seen, count, cleared_at, received_at)
      SELECT 'device', printf('dev-%06d', i * 10), 'client.disk-short', 1, 'disk', 'error', 1, 't', 1, 1,
             CASE WHEN i % 2 = 0 THEN 0 ELSE 5 END, 1 FROM n;
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4999)
    INSERT INTO actions (id, kind, device_id, created_at, expires_at, state)
      SELECT printf('a-%d', i), 'inventory', printf('dev-%06d', i * 20), 1, 2,
             CASE WHEN i % 5 = 0 THEN 'done' ELSE 'pending' END FROM n;
    COMMIT;)sql");

  auto store = MustOpen(path, /*read_only=*/true);
  auto states = store->ListDeviceStates();
  INFO(states.status().ToString());
  REQUIRE(states.ok());
  REQUIRE(states->size() == 120000);
  int64_t never = 0, inventoried = 0, clones = 0, with_cert = 0, errors = 0, actions = 0;
  for (const DeviceState& d : *states) {
    never += d.first_seen == 0 ? 1 : 0;
    inventoried += d.inventoried ? 1 : 0;
    clones += d.clone_suspected ? 1 : 0;
    with_cert += d.cert_not_after == 1826536000 ? 1 : 0;
    errors += d.open_errors;
    actions += d.pending_actions;
  }
  CHECK(never == 20000);
  CHECK(inventoried == 50000);
  CHECK(clones == 120);
  CHECK(with_cert == 120000);
  CHECK(errors == 5000);
  CHECK(actions == 4000);
  // Sorted by hostname, then id: the never-seen ("") first, then host-000000
  // (dev-099999).
  CHECK(states->front().device_id == "dev-100000");
  CHECK((*states)[20000].device_id == "dev-099999");
  CHECK(states->back().device_id == "dev-000000");
}

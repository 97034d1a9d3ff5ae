// The central's importer: one upload, one row set, however often it arrives.
#include "importer.h"

#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>
#include <set>
#include <vector>

#include "common/retry.h"
#include "common/uuid.h"
#include "inventory/inventory.h"
#include "inventory/pack.h"
#include "inventory/usage.h"
#include "support/usage_sample.h"

namespace {

struct Fixture {
  std::string dir;
  std::unique_ptr<common::Spool> spool;
  std::unique_ptr<inventory::Store> store;
  Fixture() {
    char tmpl[] = "/tmp/importer-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
    common::Spool::Options o;
    o.dir = dir + "/spool";
    o.min_free_bytes = 0;
    spool = std::move(common::Spool::Open(o)).value();
    store = std::move(inventory::OpenSqliteStore(dir + "/store.sqlite")).value();
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  common::SpoolMeta Add(const std::string& device, const std::string& kind, const std::string& body) {
    common::SpoolMeta m;
    m.id = common::NewUuid();
    m.device = device;
    m.kind = kind;
    m.via = "dmz";
    REQUIRE(spool->Put(m, body).ok());
    return spool->List().back();
  }
};

inventory::Inventory Sample(const std::string& device, int packages) {
  inventory::Inventory inv;
  inv.device_id = device;
  inv.collected_at = "2026-11-22T10:00:00Z";
  inv.os.name = "Debian GNU/Linux";
  inv.os.pretty_name = "Debian GNU/Linux 12 (bookworm)";
  inv.os.hostname = "host-a";
  for (int i = 0; i < packages; ++i) inv.software.push_back({.name = "pkg" + std::to_string(i), .version = "1.0", .arch = "amd64"});
  return inv;
}

}  // namespace

TEST_CASE("importer: the same upload twice is one row set") {
  Fixture f;
  std::string device = common::NewUuid();
  auto gz = inventory::Gzip(inventory::ToXml(Sample(device, 3)));
  REQUIRE(gz.ok());
  auto meta = f.Add(device, "inventory", *gz);
  REQUIRE(beacon::ImportEntry(*f.store, *f.spool, meta).status.ok());
  auto row = f.store->GetDevice(device);
  REQUIRE(row.ok());
  CHECK(row->hostname == "host-a");
  CHECK(row->packages == 3);
  CHECK(row->via == "dmz");

  // A relayed duplicate: same upload id arriving again.
  CHECK(beacon::ImportEntry(*f.store, *f.spool, meta).status.code() == common::Code::kAlreadyExists);
  CHECK(common::Classify(common::AlreadyExists("")) == common::Outcome::kDone);
  CHECK(f.store->GetDevice(device)->packages == 3);
  CHECK(f.store->DeviceSoftware(device)->size() == 3);
}

TEST_CASE("importer: a delta whose base never arrived asks the device for a full inventory") {
  Fixture f;
  std::string device = common::NewUuid();
  inventory::Inventory one = Sample(device, 3);
  one.sequence = 1;
  auto add = [&](const inventory::Inventory& inv) {
    auto gz = inventory::Gzip(inventory::ToXml(inv));
    REQUIRE(gz.ok());
    return f.Add(device, "inventory", *gz);
  };
  REQUIRE(beacon::ImportEntry(*f.store, *f.spool, add(one)).status.ok());
  // #3 is a delta on #2, which was lost: recorded, not applied, and an
  // inventory action is queued for the device, once.
  inventory::Inventory three = Sample(device, 4);
  three.sequence = 3;
  auto two_digests = inventory::PartDigests(Sample(device, 2));
  inventory::Inventory delta = inventory::MakeDelta(three, two_digests, 2);
  REQUIRE(delta.parts == std::vector<std::string>{"software"});
  REQUIRE(beacon::ImportEntry(*f.store, *f.spool, add(delta)).status.ok());
  CHECK(f.store->GetDevice(device)->inventory_sequence == 1);
  CHECK(f.store->DeviceSoftware(device)->size() == 3);
  inventory::ActionFilter filter;
  filter.device = device;
  auto actions = f.store->ListActions(filter);
  REQUIRE(actions.ok());
  REQUIRE(actions->size() == 1);
  CHECK((*actions)[0].kind == "inventory");
  CHECK((*actions)[0].state == "pending");
  // Another unusable delta while that action is pending asks nothing more.
  inventory::Inventory four = Sample(device, 5);
  four.sequence = 4;
  REQUIRE(beacon::ImportEntry(*f.store, *f.spool, add(inventory::MakeDelta(four, two_digests, 3))).status.ok());
  CHECK(f.store->ListActions(filter)->size() == 1);
  // The full inventory the action brings is applied; a delta on it too.
  inventory::Inventory five = Sample(device, 6);
  five.sequence = 5;
  REQUIRE(beacon::ImportEntry(*f.store, *f.spool, add(five)).status.ok());
  inventory::Inventory six = Sample(device, 7);
  six.sequence = 6;
  REQUIRE(beacon::ImportEntry(*f.store, *f.spool, add(inventory::MakeDelta(six, inventory::PartDigests(five), 5)))
              .status.ok());
  CHECK(f.store->GetDevice(device)->inventory_sequence == 6);
  CHECK(f.store->DeviceSoftware(device)->size() == 7);
  CHECK(f.store->ListActions(filter)->size() == 1);
}

TEST_CASE("importer: bad bodies are rejected, not retried") {
  Fixture f;
  std::string device = common::NewUuid();
  auto not_gzip = f.Add(device, "inventory", "<inventory/>");
  CHECK(common::Classify(beacon::ImportEntry(*f.store, *f.spool, not_gzip).status) == common::Outcome::kReject);

  auto not_xml = f.Add(device, "inventory", *inventory::Gzip("definitely not xml"));
  CHECK(common::Classify(beacon::ImportEntry(*f.store, *f.spool, not_xml).status) == common::Outcome::kReject);

  auto other = f.Add(device, "inventory", *inventory::Gzip(inventory::ToXml(Sample(common::NewUuid(), 1))));
  CHECK(common::Classify(beacon::ImportEntry(*f.store, *f.spool, other).status) == common::Outcome::kReject);

  auto bomb = f.Add(device, "inventory", *inventory::Gzip(std::string(300u << 20, '\0')));
  CHECK(common::Classify(beacon::ImportEntry(*f.store, *f.spool, bomb).status) == common::Outcome::kReject);

  auto bad_checkins = f.Add(device, "checkins", "garbage");
  CHECK(common::Classify(beacon::ImportEntry(*f.store, *f.spool, bad_checkins).status) == common::Outcome::kReject);

  CHECK(f.store->GetDevice(device).status().code() == common::Code::kNotFound);
}

TEST_CASE("importer: check-in batches and blobs") {
  Fixture f;
  std::string device = common::NewUuid();
  std::string body = beacon::EncodeCheckins({{device, 1700000000, "dmz", "0.1.0", 4, 2, "127.0.0.1"}});
  auto meta = f.Add(common::NewUuid(), "checkins", body);
  REQUIRE(beacon::ImportEntry(*f.store, *f.spool, meta).status.ok());
  auto row = f.store->GetDevice(device);
  REQUIRE(row.ok());
  CHECK(row->last_seen == 1700000000);
  CHECK(row->policy_revision == 4);
  CHECK(row->outbox_depth == 2);

  auto logs = f.Add(device, "logs", "some log lines");
  REQUIRE(beacon::ImportEntry(*f.store, *f.spool, logs).status.ok());
  CHECK(*f.store->HasUpload(device, logs.id));
  CHECK(beacon::ImportEntry(*f.store, *f.spool, logs).status.code() == common::Code::kAlreadyExists);
}

TEST_CASE("importer: a check-in dated after the central's clock is stored at the central's clock") {
  Fixture f;
  std::string device = common::NewUuid();
  const int64_t future = static_cast<int64_t>(std::time(nullptr)) + 10 * 365 * 86400;
  auto meta = f.Add(common::NewUuid(), "checkins",
                    beacon::EncodeCheckins({{device, future, "dmz", "0.1.0", 4, 2, "127.0.0.1"}}));
  const int64_t before = static_cast<int64_t>(std::time(nullptr));
  REQUIRE(beacon::ImportEntry(*f.store, *f.spool, meta).status.ok());
  auto row = f.store->GetDevice(device);
  REQUIRE(row.ok());
  CHECK(row->last_seen >= before);
  CHECK(row->last_seen <= static_cast<int64_t>(std::time(nullptr)));
}

TEST_CASE("importer: usage periods are parsed and stored, broken ones rejected") {
  Fixture f;
  std::string device = common::NewUuid();
  inventory::Usage u;
  u.device_id = device;
  u.sample_seconds = 60;
  testing_support::AddSample(&u, 1700000000, {"/usr/bin/vim"});
  auto good = f.Add(device, "usage", *inventory::Gzip(inventory::ToXml(u)));
  REQUIRE(beacon::ImportEntry(*f.store, *f.spool, good).status.ok());
  auto summary = f.store->UsageSummary(device);
  REQUIRE(summary.ok());
  REQUIRE(summary->size() == 1);
  CHECK((*summary)[0].program == "/usr/bin/vim");
  CHECK(beacon::ImportEntry(*f.store, *f.spool, good).status.code() == common::Code::kAlreadyExists);

  // Not gzip, not a usage document, or another device's: rejected, never retried.
  u.device_id = common::NewUuid();
  for (const std::string& body : {std::string("plain text"), *inventory::Gzip("<inventory/>"),
                                  *inventory::Gzip(inventory::ToXml(u))}) {
    auto bad = f.Add(device, "usage", body);
    common::Status st = beacon::ImportEntry(*f.store, *f.spool, bad).status;
    CHECK(st.code() == common::Code::kInvalidArgument);
    CHECK(common::Classify(st) == common::Outcome::kReject);
  }
  CHECK(f.store->UsageSummary(device)->size() == 1);
}

namespace {

// A real store whose writes report damage, as SQLite does for a corrupt
// database file (SQLITE_CORRUPT -> DataLoss): fault injection through the
// Store seam.
class DamagedStore : public inventory::Store {
 public:
  explicit DamagedStore(inventory::Store* real) : real_(real) {}
  common::Status ImportInventory(const inventory::UploadInfo&, const inventory::Inventory&) override { return Damage(); }
  common::Status ImportUsage(const inventory::UploadInfo&, const inventory::Usage&) override { return Damage(); }
  common::Status ImportBlob(const inventory::UploadInfo&, const std::string&) override { return Damage(); }
  common::Status RecordCheckins(const std::vector<inventory::Checkin>&) override { return Damage(); }
  common::StatusOr<bool> HasUpload(const std::string& d, const std::string& u) override { return real_->HasUpload(d, u); }
  common::StatusOr<std::vector<inventory::DeviceRow>> ListDevices() override { return real_->ListDevices(); }
  common::StatusOr<inventory::DeviceRow> GetDevice(const std::string& d) override { return real_->GetDevice(d); }
  common::StatusOr<std::vector<std::string>> DeviceAddresses(const std::string& d) override {
    return real_->DeviceAddresses(d);
  }
  common::StatusOr<std::vector<inventory::UsageRow>> UsageSummary(const std::string& d) override {
    return real_->UsageSummary(d);
  }
  common::StatusOr<std::vector<inventory::FileEvidence>> DeviceFiles(const std::string& d) override {
    return real_->DeviceFiles(d);
  }
  common::StatusOr<inventory::Hardware> DeviceHardware(const std::string& d) override {
    return real_->DeviceHardware(d);
  }
  common::StatusOr<std::vector<inventory::Section>> DeviceSections(const std::string& d) override {
    return real_->DeviceSections(d);
  }
  common::StatusOr<std::vector<inventory::SoftwareRow>> DeviceSoftware(const std::string& d) override {
    return real_->DeviceSoftware(d);
  }
  common::StatusOr<std::vector<inventory::SoftwareRow>> FindSoftware(const std::string& p) override {
    return real_->FindSoftware(p);
  }
  common::StatusOr<std::vector<inventory::ChangeRow>> Changes(int64_t since, const std::string& d) override {
    return real_->Changes(since, d);
  }
  // The identity records (inventory/identity_store.h): writes damaged too.
  common::Status AddEnrollSecret(const inventory::EnrollSecret&, const std::string&) override { return Damage(); }
  common::StatusOr<std::vector<inventory::EnrollSecret>> ListEnrollSecrets() override {
    return real_->ListEnrollSecrets();
  }
  common::Status RevokeEnrollSecret(const std::string&, int64_t) override { return Damage(); }
  common::StatusOr<inventory::Enrollment> DecideEnrollment(const inventory::EnrollmentInput&, int64_t,
                                                           const inventory::IssueFn&) override {
    return Damage();
  }
  common::StatusOr<inventory::Enrollment> GetEnrollment(const std::string& d, const std::string& r) override {
    return real_->GetEnrollment(d, r);
  }
  common::StatusOr<std::vector<inventory::Enrollment>> ListEnrollments(const std::string& s) override {
    return real_->ListEnrollments(s);
  }
  common::StatusOr<inventory::Enrollment> ApproveEnrollment(const std::string&, int64_t,
                                                            const inventory::IssueFn&) override {
    return Damage();
  }
  common::StatusOr<inventory::Enrollment> DenyEnrollment(const std::string&, int64_t) override { return Damage(); }
  common::Status RecordCertificate(const inventory::IssuedCertRow&) override { return Damage(); }
  common::Status AddApiToken(const inventory::ApiToken&, const std::string&) override { return Damage(); }
  common::StatusOr<std::vector<inventory::ApiToken>> ListApiTokens() override { return real_->ListApiTokens(); }
  common::StatusOr<inventory::ApiToken> FindApiToken(const std::string& h) override { return real_->FindApiToken(h); }
  common::StatusOr<inventory::ApiToken> RevokeApiToken(const std::string&, int64_t) override { return Damage(); }
  common::Status RecordEstateSamples(const std::vector<inventory::EstateSample>&) override { return Damage(); }
  common::StatusOr<std::vector<inventory::EstateSample>> EstateHistory(int64_t since) override {
    return real_->EstateHistory(since);
  }
  common::StatusOr<int64_t> PurgeEstateHistory(int64_t) override { return Damage(); }
  common::StatusOr<std::vector<inventory::IssuedCertRow>> ListCertificates() override {
    return real_->ListCertificates();
  }
  common::StatusOr<int64_t> RevokeSubject(const std::string&, const std::string&, int64_t) override {
    return Damage();
  }
  common::StatusOr<std::vector<inventory::IssuedCertRow>> RevokedCertificates(const std::string& i,
                                                                              int64_t now) override {
    return real_->RevokedCertificates(i, now);
  }
  common::StatusOr<std::vector<inventory::IssuedCertRow>> OnlyFromIssuer(const std::string& i,
                                                                         int64_t now) override {
    return real_->OnlyFromIssuer(i, now);
  }
  common::StatusOr<inventory::DeviceKeyRow> GetDeviceKey(const std::string& d) override {
    return real_->GetDeviceKey(d);
  }
  common::StatusOr<std::vector<inventory::DeviceKeyRow>> ListClones() override { return real_->ListClones(); }
  // The estate (inventory/estate.h): writes damaged too.
  common::Status SetEstateRules(const inventory::EstateRules&) override { return Damage(); }
  common::StatusOr<inventory::EstateRules> GetEstateRules() override { return real_->GetEstateRules(); }
  common::StatusOr<std::vector<inventory::DeviceState>> ListDeviceStates() override {
    return real_->ListDeviceStates();
  }
  common::StatusOr<inventory::DeviceState> GetDeviceState(const std::string& d) override {
    return real_->GetDeviceState(d);
  }
  common::StatusOr<std::vector<inventory::DeviceVia>> DeviceVias(const std::string& d) override {
    return real_->DeviceVias(d);
  }
  common::StatusOr<std::vector<inventory::UploadRow>> RecentUploads(const std::string& d, int64_t n) override {
    return real_->RecentUploads(d, n);
  }
  common::Status ImportHealth(const inventory::UploadInfo&, const inventory::Health&) override { return Damage(); }
  common::Status RecordOwnHealth(const inventory::Health&, int64_t) override { return Damage(); }
  common::StatusOr<std::vector<inventory::HealthRow>> ListHealth(const inventory::HealthFilter& f) override {
    return real_->ListHealth(f);
  }
  common::StatusOr<std::vector<inventory::BeaconState>> ListBeacons() override { return real_->ListBeacons(); }
  common::Status CreateActions(const std::vector<inventory::ActionRow>&) override { return Damage(); }
  common::StatusOr<std::vector<inventory::ActionRow>> ListActions(const inventory::ActionFilter& f) override {
    return real_->ListActions(f);
  }
  common::StatusOr<inventory::ActionRow> GetAction(const std::string& id) override { return real_->GetAction(id); }
  common::StatusOr<inventory::ActionRow> CancelAction(const std::string&, int64_t) override { return Damage(); }
  common::StatusOr<std::vector<inventory::ActionRow>> ActiveActions(int64_t now) override {
    return real_->ActiveActions(now);
  }
  common::Status MarkActionsDelivered(const std::string&, const std::vector<std::string>&, int64_t) override {
    return Damage();
  }
  common::Status ImportActionResult(const inventory::UploadInfo&, const inventory::ActionResult&) override {
    return Damage();
  }
  common::StatusOr<std::pair<int64_t, int64_t>> SweepActions(int64_t, int64_t) override { return Damage(); }
  common::StatusOr<int64_t> PurgeHealth(int64_t) override { return Damage(); }

 private:
  static common::Status Damage() { return common::DataLoss("store.sqlite: database disk image is malformed"); }
  inventory::Store* real_;
};

}  // namespace

TEST_CASE("importer: a damaged store stops the importer and rejects no upload") {
  Fixture f;
  DamagedStore damaged(f.store.get());
  std::string device = common::NewUuid();
  auto gz = inventory::Gzip(inventory::ToXml(Sample(device, 2)));
  REQUIRE(gz.ok());
  f.Add(device, "inventory", *gz);
  f.Add(device, "logs", "log lines");
  beacon::Importer importer(f.spool.get(), &damaged, [](const std::string&) {});
  auto pass = importer.RunPass();
  CHECK(pass.backing_off);
  CHECK(pass.rejected == 0);
  CHECK(pass.error.code() == common::Code::kFailedPrecondition);
  CHECK(pass.error.message().find("damaged") != std::string::npos);
  CHECK(f.spool->Count() == 2);
  CHECK(std::filesystem::is_empty(f.dir + "/spool/rejected"));
}

TEST_CASE("importer: one pass imports a backlog in batches, each upload keeps its own fate") {
  Fixture f;
  std::vector<std::string> devices;
  std::set<std::string> notified;
  // More than one batch of inventories, with a duplicate of an imported
  // one, a body that can never be imported, a check-in batch and a delta
  // whose base is missing, all in one backlog.
  const size_t kInventories = beacon::kImportBatch + 6;
  for (size_t i = 0; i < kInventories; ++i) {
    devices.push_back(common::NewUuid());
    inventory::Inventory inv = Sample(devices.back(), 5 + static_cast<int>(i % 3));
    inv.sequence = 1;
    f.Add(devices.back(), "inventory", *inventory::Gzip(inventory::ToXml(inv)));
  }
  const auto imported_before = f.spool->List()[3];
  REQUIRE(beacon::ImportEntry(*f.store, *f.spool, imported_before).status.ok());
  f.Add(devices[0], "inventory", "not gzip");
  f.Add(common::NewUuid(), "checkins", beacon::EncodeCheckins({{devices[1], 1700000000, "dmz", "0.1.0", 4, 2, ""}}));
  inventory::Inventory three = Sample(devices[2], 9);
  three.sequence = 3;
  f.Add(devices[2], "inventory",
        *inventory::Gzip(inventory::ToXml(inventory::MakeDelta(three, inventory::PartDigests(Sample(devices[2], 2)), 2))));

  beacon::Importer importer(f.spool.get(), f.store.get(), [&](const std::string& d) { notified.insert(d); });
  auto pass = importer.RunPass();
  CHECK_FALSE(pass.backing_off);
  CHECK(pass.delivered == kInventories + 2);  // the duplicate among them
  CHECK(pass.rejected == 1);
  CHECK(f.spool->Count() == 0);
  auto rows = f.store->ListDevices();
  REQUIRE(rows.ok());
  CHECK(rows->size() == kInventories);
  for (size_t i = 0; i < kInventories; ++i) {
    INFO(i);
    CHECK(f.store->DeviceSoftware(devices[i])->size() == 5 + i % 3);
  }
  CHECK(f.store->GetDevice(devices[1])->policy_revision == 4);
  // The delta found no base: after the batch's commit, the device is asked
  // for a full inventory.
  inventory::ActionFilter filter;
  filter.device = devices[2];
  auto actions = f.store->ListActions(filter);
  REQUIRE(actions.ok());
  REQUIRE(actions->size() == 1);
  CHECK((*actions)[0].kind == "inventory");
  // Every device whose inventory this pass imported, not the one whose
  // upload was a duplicate.
  CHECK(notified.size() == kInventories - 1);
  CHECK(notified.count(imported_before.device) == 0);
}

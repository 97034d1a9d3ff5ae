// Central beacons on one PostgreSQL store, as real processes
// (docs/store.md "PostgreSQL"): `beacon` processes in the central role
// (store = postgresql, one store_conninfo) on a real PostgreSQL 15 of the
// test's own (support/pg_server.h), devices uploading to them over mutual
// TLS as clients behind a load balancer would; a central's backends
// terminated under it (pg_terminate_backend); the server stopped with
// `pg_ctl stop -m immediate` while a central imports, then started again.
#include <algorithm>
#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/delivery.h"
#include "common/http_client.h"
#include "common/protocol.h"
#include "common/retry.h"
#include "common/sha256.h"
#include "common/uuid.h"
#include "integration/harness.h"
#include "inventory/inventory.h"
#include "inventory/pack.h"
#include "inventory/store.h"
#include "support/pg_server.h"

namespace fs = std::filesystem;
namespace proto = common::protocol;
using harness::CountFiles;
using harness::Estate;
using harness::WaitUntil;
using std::chrono::seconds;

namespace {

constexpr char kDatabase[] = "estate";
constexpr int kPackages = 150;

// A PostgreSQL server of the test's own with the estate's database (not the
// process's shared one: the crash test stops it).
std::unique_ptr<testing_support::PgServer> StartPostgres() {
  auto server = testing_support::PgServer::Start();
  INFO(server.status().ToString());
  REQUIRE(server.ok());
  REQUIRE((*server)->CreateDatabase(kDatabase).ok());
  return std::move(server).value();
}

// The store's connection string for the central `name`: its backends carry
// the name as application_name, so that the test finds them.
std::string ConninfoFor(const testing_support::PgServer& pg, const std::string& name) {
  return pg.Conninfo(kDatabase) + " application_name=" + name;
}

std::string Sql(testing_support::PgServer& pg, const std::string& sql) {
  auto r = pg.Query(kDatabase, sql);
  INFO(sql << ": " << r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

// A central beacon process of the estate and where its files are.
struct Central {
  std::string name;
  std::string data_dir;
  std::string conf;
  std::string log;
  harness::Process* process = nullptr;
  std::unique_ptr<harness::Process> owned;  // a second central's process
  int port = 0;
  std::string Spool(const std::string& folder) const { return data_dir + "/spool/" + folder; }
  bool Drained() const {
    return CountFiles(Spool("ready")) == 0 && CountFiles(Spool("incoming")) == 0;
  }
};

// The estate's own central (Estate::StartCentral), named "central".
Central FirstCentral(Estate& e) {
  Central c;
  c.name = "central";
  c.data_dir = e.dir + "/central";
  c.conf = e.dir + "/central.conf";
  c.log = e.dir + "/central.log";
  c.process = e.central.get();
  c.port = e.central_port;
  return c;
}

// Prepares a second central beside the estate's own: its own name, port,
// certificate, data dir and spool; the same store and policy signing key
// (the file central.conf names); and the same estate CA and published
// policy. A central holds its CA in DATA_DIR/ca and reads published
// revisions from DATA_DIR/policy-state, and no key puts either elsewhere,
// so the second central gets copies of the first's, made after `ca init` and
// `policy publish` and before either starts (docs/store.md "Several
// centrals").
Central PrepareSecondCentral(Estate& e, const std::string& name, const std::string& conninfo) {
  Central c;
  c.name = name;
  c.data_dir = e.dir + "/" + name;
  c.log = e.dir + "/" + name + ".log";
  c.port = harness::FreePort();
  const Estate::Cert cert = e.IssueBeacon(name);
  fs::create_directories(c.data_dir);
  for (const char* shared : {"ca", "policy-state"}) {
    fs::copy(e.dir + "/central/" + shared, c.data_dir + "/" + shared, fs::copy_options::recursive);
  }
  c.conf = e.dir + "/" + name + ".conf";
  fs::copy_file(e.dir + "/central.conf", c.conf);
  harness::MergeConfig(c.conf, "name = " + name + "\nlisten_port = " + std::to_string(c.port) +
                                   "\ntls_cert = " + cert.cert + "\ntls_key = " + cert.key +
                                   "\ndata_dir = " + c.data_dir + "\nstore_conninfo = " + conninfo +
                                   "\n");
  return c;
}

void Start(Central& c) {
  c.owned = std::make_unique<harness::Process>(
      std::vector<std::string>{BEACON_BIN, "--config", c.conf}, c.log);
  c.process = c.owned.get();
  REQUIRE(harness::WaitForBeacon(c.port));
}

struct Device {
  std::string id;
  Estate::Cert cert;
};

std::vector<Device> MakeDevices(Estate& e, int n) {
  std::vector<Device> devices;
  for (int i = 0; i < n; ++i) {
    Device d;
    d.id = common::NewUuid();
    d.cert = e.IssueDevice(d.id);
    devices.push_back(d);
  }
  return devices;
}

// One inventory upload as a client makes it: numbered by the device,
// gzipped XML, its SHA-256, an id of its own kept across every retry.
struct Upload {
  size_t device = 0;  // index into the devices
  int64_t sequence = 0;
  std::string id;
  std::string body;
  std::string sha256;
};

// Sequences 1..`sequences` of every device, oldest first per device.
std::vector<Upload> MakeUploads(const std::vector<Device>& devices, int sequences) {
  std::vector<Upload> uploads;
  for (size_t d = 0; d < devices.size(); ++d) {
    for (int q = 1; q <= sequences; ++q) {
      inventory::Inventory inv;
      inv.device_id = devices[d].id;
      inv.sequence = q;
      inv.collected_at = "2026-12-01T10:00:00Z";
      inv.os.hostname = "pg-host-" + std::to_string(d);
      for (int i = 0; i < kPackages; ++i) {
        inv.software.push_back({"pkg-" + std::to_string(i), std::to_string(q), "amd64", "dpkg"});
      }
      auto body = inventory::Gzip(inventory::ToXml(inv));
      REQUIRE(body.ok());
      Upload u;
      u.device = d;
      u.sequence = q;
      u.id = common::NewUuid();
      u.body = std::move(body).value();
      u.sha256 = common::Sha256Hex(u.body);
      uploads.push_back(std::move(u));
    }
  }
  return uploads;
}

std::unique_ptr<common::HttpClient> Connect(const Estate& e, int port, const Device& d) {
  common::ClientOptions o;
  o.url = "https://127.0.0.1:" + std::to_string(port);
  o.ca_file = e.pki + "/ca.pem";
  o.cert_file = d.cert.cert;
  o.key_file = d.cert.key;
  auto c = common::HttpClient::Create(o);
  REQUIRE(c.ok());
  return std::move(c).value();
}

// PUTs the upload as the client does (common::PutUpload, check-in headers),
// again for as long as the beacon asks for a retry (503 while another copy
// of the same upload is being received; its Retry-After is not waited for
// here). The HTTP status that ended it: 201 spooled, 200 already in that
// spool; 0 when the beacon refused it for good or never took it. Safe to
// call from any thread (no REQUIRE).
int Deliver(common::HttpClient& http, const Device& d, const Upload& u) {
  const common::UploadRef ref{d.id, "inventory", u.id, u.sha256, u.body.size()};
  auto source = [&u](uint64_t off, uint64_t len) -> common::StatusOr<std::string> {
    return u.body.substr(off, len);
  };
  for (int attempt = 0; attempt < 600; ++attempt) {
    common::Attempt a =
        common::PutUpload(http, ref, source, proto::CheckInHeaders(d.id, "test-1", 1, 0));
    switch (common::Classify(a.status)) {
      case common::Outcome::kDone:
        return a.http_status;
      case common::Outcome::kRetry:
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      default:
        return 0;
    }
  }
  return 0;
}

// What the deliveries of one test did, per central.
struct Tally {
  std::atomic<int> spooled{0};          // 201
  std::atomic<int> already_spooled{0};  // 200: the same upload was still in that spool
  std::atomic<int> failed{0};
  void Count(int status) {
    if (status == 201) {
      ++spooled;
    } else if (status == 200) {
      ++already_spooled;
    } else {
      ++failed;
    }
  }
};

// Delivers the uploads numbered `first`..`last` to one central: a client per
// device, each sending its own oldest first, all at once. Returns when all
// are answered.
void DeliverAll(const Estate& e, int port, const std::vector<Device>& devices,
                const std::vector<Upload>& uploads, int64_t first, int64_t last, Tally& tally) {
  std::vector<std::unique_ptr<common::HttpClient>> http;
  for (const Device& d : devices) http.push_back(Connect(e, port, d));
  std::vector<std::thread> clients;
  for (size_t d = 0; d < devices.size(); ++d) {
    clients.emplace_back([&, d] {
      for (const Upload& u : uploads) {
        if (u.device == d && u.sequence >= first && u.sequence <= last) {
          tally.Count(Deliver(*http[d], devices[d], u));
        }
      }
    });
  }
  for (auto& t : clients) t.join();
}

// Lines of a log that contain `needle`, and `and_needle` too if given.
int CountLines(const std::string& log, const std::string& needle,
               const std::string& and_needle = "") {
  std::istringstream in(harness::ReadText(log));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    n += line.find(needle) != std::string::npos && line.find(and_needle) != std::string::npos ? 1
                                                                                              : 0;
  }
  return n;
}

// Lines of a log that are not one event with its time and level (something
// printed bare, or a message broken over several lines).
int BareLines(const std::string& log) {
  std::istringstream in(harness::ReadText(log));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    n += line.size() > 21 && line[4] == '-' && line[10] == 'T' && line[19] == 'Z' ? 0 : 1;
  }
  return n;
}

// What the importer logged (common/drain.cpp): an entry imported, or
// dropped as imported before (by itself or by another central).
int Imported(const Central& c) { return CountLines(c.log, "importer: delivered inventory "); }
int AlreadyImported(const Central& c) {
  return CountLines(c.log, "importer: already delivered inventory ");
}
// Whether the importer has logged an outcome for each of the `spooled`
// entries (it removes an entry from the spool, then logs it).
bool AllLogged(const Central& c, int spooled) {
  return Imported(c) + AlreadyImported(c) >= spooled;
}

// The importer's passes that ended in a backoff (the store failed).
int ImporterRetries(const Central& c) {
  return CountLines(c.log, "beacon: importer: ", "; next try in ");
}

// Every upload is in the store exactly once, and every device's current
// inventory is its newest: sequence `newest`, only that sequence's packages.
void CheckStored(testing_support::PgServer& pg, const std::string& conninfo,
                 const std::vector<Device>& devices, const std::vector<Upload>& uploads,
                 int newest) {
  CHECK(Sql(pg, "SELECT COUNT(*) FROM uploads") == std::to_string(uploads.size()));
  CHECK(Sql(pg,
            "SELECT COUNT(*) FROM (SELECT 1 FROM uploads GROUP BY device_id, upload_id "
            "HAVING COUNT(*) > 1) d") == "0");
  auto store = inventory::OpenPostgresStore(conninfo, /*read_only=*/true);
  REQUIRE(store.ok());
  int missing = 0;
  for (const Upload& u : uploads) {
    auto has = (*store)->HasUpload(devices[u.device].id, u.id);
    REQUIRE(has.ok());
    missing += *has ? 0 : 1;
  }
  CHECK(missing == 0);
  for (const Device& d : devices) {
    INFO("device " << d.id);
    auto row = (*store)->GetDevice(d.id);
    REQUIRE(row.ok());
    CHECK(row->inventory_sequence == newest);
    CHECK(row->packages == static_cast<uint64_t>(kPackages));
    auto software = (*store)->DeviceSoftware(d.id);
    REQUIRE(software.ok());
    CHECK(software->size() == static_cast<size_t>(kPackages));
    CHECK(std::all_of(software->begin(), software->end(), [&](const inventory::SoftwareRow& p) {
      return p.version == std::to_string(newest);
    }));
  }
}

}  // namespace

TEST_CASE("two centrals on one PostgreSQL import the same uploads at once, each exactly once",
          "[pg_central]") {
  auto pg = StartPostgres();
  Estate e(ConninfoFor(*pg, "central"));
  Central b = PrepareSecondCentral(e, "central-b", ConninfoFor(*pg, "central-b"));
  constexpr int kDevices = 8;
  constexpr int kSequences = 12;
  const std::vector<Device> devices = MakeDevices(e, kDevices);
  const std::vector<Upload> uploads = MakeUploads(devices, kSequences);
  e.StartCentral();
  Start(b);
  Central a = FirstCentral(e);
  std::vector<Central*> centrals{&a, &b};

  // Each device sends its inventories oldest first through a load balancer
  // that picks a central at random. A third of them are sent again to the
  // other central once the first answered (the client missed the
  // acknowledgement and retried), a sixth to both at the same time (it
  // retried while the first request was still being handled), a sixth twice
  // to the same central.
  Tally tally[2];
  std::atomic<int> copies{0};
  {
    std::vector<std::array<std::unique_ptr<common::HttpClient>, 2>> connections;
    for (const Device& d : devices)
      connections.push_back({Connect(e, a.port, d), Connect(e, b.port, d)});
    std::vector<std::thread> clients;
    for (size_t d = 0; d < devices.size(); ++d) {
      clients.emplace_back([&, d] {
        std::mt19937 rng(static_cast<uint32_t>(1000 + d));
        auto& http = connections[d];
        for (const Upload& u : uploads) {
          if (u.device != d) continue;
          const int first = static_cast<int>(rng() % 2), other = 1 - first;
          switch (rng() % 6) {
            case 0:
            case 1:
              tally[first].Count(Deliver(*http[first], devices[d], u));
              tally[other].Count(Deliver(*http[other], devices[d], u));
              copies += 2;
              break;
            case 2: {
              std::thread parallel(
                  [&] { tally[other].Count(Deliver(*http[other], devices[d], u)); });
              tally[first].Count(Deliver(*http[first], devices[d], u));
              parallel.join();
              copies += 2;
              break;
            }
            case 3:
              tally[first].Count(Deliver(*http[first], devices[d], u));
              tally[first].Count(Deliver(*http[first], devices[d], u));
              copies += 2;
              break;
            default:
              tally[first].Count(Deliver(*http[first], devices[d], u));
              copies += 1;
              break;
          }
        }
      });
    }
    for (auto& t : clients) t.join();
  }
  REQUIRE(tally[0].failed.load() == 0);
  REQUIRE(tally[1].failed.load() == 0);
  REQUIRE(WaitUntil(
      [&] {
        return a.Drained() && b.Drained() && AllLogged(a, tally[0].spooled.load()) &&
               AllLogged(b, tally[1].spooled.load());
      },
      seconds(120)));

  std::printf(
      "pg two centrals: %zu uploads of %d devices, %d deliveries (%zu duplicates); central: "
      "%d spooled, %d already in its spool, %d imported, %d already imported; central-b: %d "
      "spooled, %d already in its spool, %d imported, %d already imported\n",
      uploads.size(), kDevices, copies.load(), copies.load() - uploads.size(),
      tally[0].spooled.load(), tally[0].already_spooled.load(), Imported(a), AlreadyImported(a),
      tally[1].spooled.load(), tally[1].already_spooled.load(), Imported(b), AlreadyImported(b));
  // Each upload was imported by one central; every other copy that reached a
  // spool was found imported and dropped.
  CHECK(Imported(a) > 0);
  CHECK(Imported(b) > 0);
  CHECK(Imported(a) + Imported(b) == static_cast<int>(uploads.size()));
  CHECK(AlreadyImported(a) + AlreadyImported(b) + static_cast<int>(uploads.size()) ==
        tally[0].spooled.load() + tally[1].spooled.load());
  CheckStored(*pg, ConninfoFor(*pg, "test"), devices, uploads, kSequences);
  // Both centrals stored the check-ins their requests carried, beside the
  // imports: through one of them, every device has been seen.
  CHECK(Sql(*pg,
            "SELECT COUNT(*) FROM devices WHERE last_seen > 0 AND client_version = 'test-1' AND "
            "via IN "
            "('central', 'central-b')") == std::to_string(kDevices));
  CHECK(Sql(*pg, "SELECT COUNT(DISTINCT via) FROM device_vias") == "2");
  for (Central* c : centrals) {
    INFO(c->name << "'s log:\n" << harness::ReadText(c->log));
    CHECK(c->process->Running());
    CHECK(CountFiles(c->Spool("rejected")) == 0);
    CHECK(CountLines(c->log, " ERROR ") == 0);
    CHECK(CountLines(c->log, "deadlock") == 0);
    CHECK(CountLines(c->log, "reject") == 0);
    CHECK(ImporterRetries(*c) == 0);
    CHECK(CountLines(c->log, "check-ins kept in memory") == 0);
    CHECK(BareLines(c->log) == 0);
  }
  // What an administrator sees, through beaconctl on the same database.
  auto listed = e.Ctl({"devices"});
  for (const Device& d : devices) CHECK(listed.output.find(d.id) != std::string::npos);
}

TEST_CASE(
    "a central whose PostgreSQL backends are terminated again and again while it imports "
    "imports every upload once",
    "[pg_central]") {
  auto pg = StartPostgres();
  Estate e(ConninfoFor(*pg, "central"));
  constexpr int kDevices = 6;
  constexpr int kSequences = 8;
  const std::vector<Device> devices = MakeDevices(e, kDevices);
  const std::vector<Upload> uploads = MakeUploads(devices, kSequences);
  e.StartCentral();
  Central a = FirstCentral(e);
  testing_support::PgSession admin(ConninfoFor(*pg, "test-admin")),
      holder(ConninfoFor(*pg, "test-holder"));

  // While the holder keeps SHARE on uploads, an import waits at its key
  // claim, inside its transaction; its backend is terminated there, 15
  // times in a row: more than the store's own attempts (12), so that the
  // importer too meets the lost connection and retries later.
  REQUIRE(holder.Run("BEGIN").ok());
  REQUIRE(holder.Run("LOCK TABLE uploads IN SHARE MODE").ok());
  Tally tally;
  std::atomic<bool> delivered{false};
  std::thread clients([&] {
    DeliverAll(e, a.port, devices, uploads, 1, kSequences, tally);
    delivered = true;
  });
  constexpr int kBlockedTerminations = 15;
  int blocked_terminations = 0, last_pid = 0;
  while (blocked_terminations < kBlockedTerminations) {
    int pid = 0;
    REQUIRE(WaitUntil(
        [&] {
          pid = admin.LockWaiter("central").pid;
          return pid != 0 && pid != last_pid;
        },
        seconds(60)));
    last_pid = pid;
    auto ended = admin.Terminate(pid);
    REQUIRE(ended.ok());
    blocked_terminations += *ended ? 1 : 0;
  }
  REQUIRE(holder.Run("COMMIT").ok());

  // Then, as it drains: whatever backend of the central is busy is
  // terminated, again each time an upload has been imported since the last
  // blow (killed as soon as it exists, a backend would only show that
  // nothing gets done then).
  int storm_terminations = 0;
  std::string progress = "none";
  while (!(delivered.load() && a.Drained())) {
    auto imported = admin.Run("SELECT COUNT(*) FROM uploads");
    REQUIRE(imported.ok());
    if (*imported == progress) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    auto ended = admin.TerminateBusy("central");
    REQUIRE(ended.ok());
    if (*ended > 0) {
      storm_terminations += *ended;
      progress = *imported;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  clients.join();
  REQUIRE(tally.failed.load() == 0);
  REQUIRE(WaitUntil([&] { return AllLogged(a, tally.spooled.load()); }, seconds(30)));

  std::printf(
      "pg terminated central: %zu uploads of %d devices, %d spooled, %d already in the spool; "
      "%d terminations while an import waited, %d more while it drained; the importer backed "
      "off %d time(s); %d imported, %d found already imported\n",
      uploads.size(), kDevices, tally.spooled.load(), tally.already_spooled.load(),
      blocked_terminations, storm_terminations, ImporterRetries(a), Imported(a),
      AlreadyImported(a));
  INFO("central's log:\n" << harness::ReadText(a.log));
  CheckStored(*pg, ConninfoFor(*pg, "test"), devices, uploads, kSequences);
  CHECK(a.process->Running());
  CHECK(CountFiles(a.Spool("rejected")) == 0);
  CHECK(CountLines(a.log, "reject") == 0);
  CHECK(BareLines(a.log) == 0);
  // The store gave up after its own attempts and the importer retried: a
  // lost connection is Unavailable, which the drain loop retries.
  CHECK(ImporterRetries(a) >= 1);
  CHECK(ImporterRetries(a) ==
        CountLines(a.log, "beacon: importer: Unavailable: ", "; next try in "));
  // Every spooled upload ended once: imported, or found imported (a COMMIT
  // whose answer was lost with its connection, found by the retry).
  CHECK(Imported(a) + AlreadyImported(a) == tally.spooled.load());
  CHECK(Imported(a) <= static_cast<int>(uploads.size()));
}

TEST_CASE(
    "PostgreSQL stopped at once while a central imports loses nothing: the central keeps the "
    "uploads, retries, and imports each once after the restart",
    "[pg_central][slow]") {
  auto pg = StartPostgres();
  Estate e(ConninfoFor(*pg, "central"));
  constexpr int kDevices = 6;
  constexpr int kSequences = 10;
  const std::vector<Device> devices = MakeDevices(e, kDevices);
  const std::vector<Upload> uploads = MakeUploads(devices, kSequences);
  e.StartCentral();
  Central a = FirstCentral(e);
  Tally tally;
  {
    // The first import waits inside its transaction (the holder keeps SHARE
    // on uploads) when the server goes down.
    testing_support::PgSession holder(ConninfoFor(*pg, "test-holder"));
    REQUIRE(holder.Run("BEGIN").ok());
    REQUIRE(holder.Run("LOCK TABLE uploads IN SHARE MODE").ok());
    DeliverAll(e, a.port, devices, uploads, 1, kSequences / 2, tally);
    REQUIRE(WaitUntil([&] { return holder.LockWaiter("central").pid != 0; }, seconds(60)));
    REQUIRE(pg->Crash().ok());
  }
  // The central takes uploads while its store is down: they wait in its spool.
  const int64_t down_since = static_cast<int64_t>(std::time(nullptr));
  DeliverAll(e, a.port, devices, uploads, kSequences / 2 + 1, kSequences, tally);
  REQUIRE(tally.failed.load() == 0);
  CHECK(tally.spooled.load() == static_cast<int>(uploads.size()));
  CHECK(CountFiles(a.Spool("ready")) == uploads.size());

  // The importer keeps trying, backing off; it neither rejects nor stops.
  REQUIRE(WaitUntil([&] { return ImporterRetries(a) >= 4; }, seconds(120)));
  const int retries_down = ImporterRetries(a);
  CHECK(a.process->Running());
  CHECK(CountFiles(a.Spool("ready")) == uploads.size());
  CHECK(CountFiles(a.Spool("rejected")) == 0);
  // Backing off, not spinning: by the time it had failed four times, it had
  // not failed many more (each pass of a spinning loop logs a line).
  CHECK(retries_down < 20);

  REQUIRE(pg->Restart().ok());
  REQUIRE(
      WaitUntil([&] { return a.Drained() && AllLogged(a, tally.spooled.load()); }, seconds(180)));
  std::printf(
      "pg crash: %zu uploads of %d devices, %zu delivered while the server was down; the "
      "importer backed off %d time(s) while it was down (%d in all); %d imported, %d found "
      "already imported\n",
      uploads.size(), kDevices, uploads.size() / 2, retries_down, ImporterRetries(a), Imported(a),
      AlreadyImported(a));
  INFO("central's log:\n" << harness::ReadText(a.log));
  CheckStored(*pg, ConninfoFor(*pg, "test"), devices, uploads, kSequences);
  CHECK(Imported(a) == static_cast<int>(uploads.size()));
  CHECK(AlreadyImported(a) == 0);
  CHECK(a.process->Running());
  CHECK(CountFiles(a.Spool("rejected")) == 0);
  CHECK(CountLines(a.log, "reject") == 0);
  CHECK(BareLines(a.log) == 0);
  // Every backoff of the importer was a retry (Unavailable), none a stop
  // (logged at ERROR).
  CHECK(ImporterRetries(a) ==
        CountLines(a.log, "beacon: importer: Unavailable: ", "; next try in "));
  CHECK(CountLines(a.log, "ERROR beacon: importer") == 0);
  // Nothing else called the outage an error either: the periodic tasks
  // (action sweep, health purge, estate rules) warn and try again.
  CHECK(CountLines(a.log, " ERROR ") == 0);
  // The check-ins of the requests made while the store was down were kept
  // and stored after the restart.
  CHECK(WaitUntil(
      [&] {
        auto seen = pg->Query(kDatabase, "SELECT COUNT(*) FROM devices WHERE last_seen >= " +
                                             std::to_string(down_since));
        return seen.ok() && *seen == std::to_string(kDevices);
      },
      seconds(60)));
}

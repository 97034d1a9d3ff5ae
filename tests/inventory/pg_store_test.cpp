// Several centrals on one PostgreSQL database (docs/store.md "Concurrency"):
// separate Store objects, each with its own connections, as separate central
// processes have, importing the same uploads at once. Compiled into
// store_pg_test only (tests/CMakeLists.txt).
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "inventory/inventory.h"
#include "inventory/store.h"
#include "support/pg_server.h"
#include "support/temp_dir.h"
#include "support/test_store.h"
#include "support/wait.h"

namespace {

using common::Code;
using inventory::Checkin;
using inventory::Inventory;
using inventory::Store;
using inventory::UploadInfo;

std::unique_ptr<Store> MustOpen(const std::string& path) {
  auto store = testing_support::OpenTestStore(path);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

std::string Query(const std::string& path, const std::string& sql) {
  auto r = testing_support::QueryTestStore(path, sql);
  INFO(sql << ": " << r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

std::string DeviceId(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", n);
  return buf;
}

// One inventory upload of `device` numbered `sequence`.
struct Delivery {
  int device = 0;
  int sequence = 0;
};

Inventory MakeInventory(const std::string& device, int sequence) {
  Inventory inv;
  inv.device_id = device;
  inv.sequence = sequence;
  inv.collected_at = "2026-11-22T16:00:00Z";
  inv.os.hostname = "host-" + device.substr(30) + "-seq-" + std::to_string(sequence);
  for (int i = 0; i < 20; ++i) {
    inv.software.push_back({"pkg-" + std::to_string(i), std::to_string(sequence), "amd64", "dpkg"});
  }
  return inv;
}

}  // namespace

TEST_CASE("centrals starting together on an empty database create the schema once", "[pg_store]") {
  testing_support::TempDir dir("pg-store");
  const std::string path = dir.path + "/store";
  // The first read-write open creates the database; the schema is created
  // by whichever central takes the advisory lock first.
  REQUIRE(testing_support::ExecTestStore(path, "SELECT 1").code() != Code::kOk);
  std::vector<common::Status> results(4);
  {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < results.size(); ++i) {
      threads.emplace_back([&, i] {
        auto s = testing_support::OpenTestStore(path);
        results[i] = s.status();
      });
    }
    for (auto& t : threads) t.join();
  }
  for (const common::Status& st : results) {
    INFO(st.ToString());
    CHECK(st.ok());
  }
  CHECK(Query(path, "SELECT CASE WHEN version > 0 THEN 1 ELSE 0 END FROM schema_version") == "1");
  CHECK(Query(path, "SELECT COUNT(*) FROM devices") == "0");
  CHECK(Query(path, "SELECT COUNT(*) FROM schema_version") == "1");
}

TEST_CASE("three centrals importing overlapping uploads store each exactly once, newest wins",
          "[pg_store]") {
  testing_support::TempDir dir("pg-store");
  const std::string path = dir.path + "/store";
  constexpr int kCentrals = 3;
  constexpr int kDevices = 12;
  constexpr int kSequences = 6;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kCentrals; ++i) stores.push_back(MustOpen(path));

  // Every upload goes to two or three centrals (a relay retrying after a
  // lost acknowledgement, failover), each central in its own shuffled order.
  std::mt19937 rng(20261130);
  std::vector<std::vector<Delivery>> work(kCentrals);
  int deliveries = 0;
  for (int d = 0; d < kDevices; ++d) {
    for (int q = 1; q <= kSequences; ++q) {
      const int copies = 2 + static_cast<int>(rng() % 2);
      const int first = static_cast<int>(rng() % kCentrals);
      for (int c = 0; c < copies; ++c) work[(first + c) % kCentrals].push_back({d, q});
      deliveries += copies;
    }
  }
  for (auto& w : work) std::shuffle(w.begin(), w.end(), rng);

  std::atomic<int> imported{0}, duplicates{0}, checkins_ok{0};
  std::vector<std::string> errors;
  std::mutex errors_mu;
  auto fail = [&](const common::Status& st) {
    std::lock_guard<std::mutex> lock(errors_mu);
    errors.push_back(st.ToString());
  };
  std::atomic<int> ready{0};
  {
    std::vector<std::thread> threads;
    for (int c = 0; c < kCentrals; ++c) {
      threads.emplace_back([&, c] {
        ++ready;
        while (ready.load() < kCentrals) std::this_thread::yield();  // start together
        std::mt19937 local(static_cast<uint32_t>(c));
        size_t n = 0;
        // Central 0 imports one upload per transaction, the others in
        // batches of 5 (Store::WriteBatch), as the importer does.
        const std::vector<Delivery>& mine = work[static_cast<size_t>(c)];
        const size_t chunk = c == 0 ? 1 : 5;
        for (size_t first = 0; first < mine.size(); first += chunk) {
          const size_t count = std::min(chunk, mine.size() - first);
          auto import = [&](size_t k) {
            const Delivery& d = mine[first + k];
            const std::string device = DeviceId(d.device);
            UploadInfo info{"u-" + std::to_string(d.sequence), device, "inventory",
                            std::string(64, 'a'), 100, 1000 + d.sequence, "central-" + std::to_string(c)};
            return stores[static_cast<size_t>(c)]->ImportInventory(info, MakeInventory(device, d.sequence));
          };
          std::vector<common::Status> results;
          if (count == 1 && chunk == 1) {
            results.push_back(import(0));
          } else {
            results = stores[static_cast<size_t>(c)]->WriteBatch(count, import);
          }
          for (const common::Status& st : results) {
            if (st.ok()) {
              ++imported;
            } else if (st.code() == Code::kAlreadyExists) {
              ++duplicates;
            } else {
              fail(st);
            }
          }
          n += count;
          // Now and then a batch of check-ins over every device, in an order
          // of its own: rows are locked in one order, so no deadlock.
          if (n % 8 < count) {
            std::vector<Checkin> batch;
            for (int k = 0; k < kDevices; ++k) {
              Checkin ci;
              ci.device_id = DeviceId(k);
              ci.seen_at = 2000 + n;
              ci.via = "central-" + std::to_string(c);
              batch.push_back(ci);
            }
            std::shuffle(batch.begin(), batch.end(), local);
            common::Status cs = stores[static_cast<size_t>(c)]->RecordCheckins(batch);
            if (cs.ok()) {
              ++checkins_ok;
            } else {
              fail(cs);
            }
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  std::printf("pg concurrent import: %d centrals, %d deliveries of %d uploads: %d imported, %d "
              "duplicates, %d check-in batches, %zu errors\n",
              kCentrals, deliveries, kDevices * kSequences, imported.load(), duplicates.load(),
              checkins_ok.load(), errors.size());
  for (const std::string& e : errors) UNSCOPED_INFO(e);
  CHECK(errors.empty());
  CHECK(imported.load() == kDevices * kSequences);
  CHECK(imported.load() + duplicates.load() == deliveries);
  CHECK(Query(path, "SELECT COUNT(*) FROM uploads") == std::to_string(kDevices * kSequences));
  CHECK(Query(path, "SELECT COUNT(*) FROM (SELECT device_id, upload_id FROM uploads "
                    "GROUP BY device_id, upload_id HAVING COUNT(*) > 1) d") == "0");
  // The newest inventory by the device's sequence won everywhere, whatever
  // order the centrals committed in, and only its packages are stored.
  CHECK(Query(path, "SELECT COUNT(*) FROM devices WHERE inventory_sequence = " +
                        std::to_string(kSequences) + " AND inventory_upload = 'u-" +
                        std::to_string(kSequences) + "'") == std::to_string(kDevices));
  CHECK(Query(path, "SELECT COUNT(*) FROM packages p JOIN package_versions v ON v.id = p.version_id "
                    "WHERE v.version <> '" + std::to_string(kSequences) + "'") == "0");
  CHECK(Query(path, "SELECT COUNT(*) FROM packages") == std::to_string(kDevices * 20));
  for (auto& s : stores) {
    auto rows = s->ListDevices();
    REQUIRE(rows.ok());
    CHECK(rows->size() == static_cast<size_t>(kDevices));
  }
}

// Lost connections (docs/store.md "PostgreSQL", "Lost connections"): a
// central's backend terminated by an administrator (pg_terminate_backend),
// a failover, a restart. Each Store below connects with an application_name
// of its own, so the test terminates exactly its backends.
namespace {

std::string NewDatabase() {
  static std::atomic<int> next{0};
  const std::string name = "lost" + std::to_string(++next);
  common::Status st = testing_support::SharedPgServer().CreateDatabase(name);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return name;
}

std::string ConninfoAs(const std::string& db, const std::string& application) {
  return testing_support::SharedPgServer().Conninfo(db) + " application_name=" + application;
}

std::unique_ptr<Store> OpenAs(const std::string& db, const std::string& application) {
  auto store = inventory::OpenPostgresStore(ConninfoAs(db, application));
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

// An administrator's session on the test's database.
class Session : public testing_support::PgSession {
 public:
  explicit Session(const std::string& db) : PgSession(ConninfoAs(db, "test-admin")) {}
};

std::string DbQuery(const std::string& db, const std::string& sql) {
  auto r = testing_support::SharedPgServer().Query(db, sql);
  INFO(sql << ": " << r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

UploadInfo InventoryUpload(int device, int sequence, const std::string& via) {
  return UploadInfo{"u-" + std::to_string(sequence),
                    DeviceId(device),
                    "inventory",
                    std::string(64, 'a'),
                    100,
                    1000 + sequence,
                    via};
}

}  // namespace

TEST_CASE("an import whose backend is terminated mid-transaction runs again on a new connection",
          "[pg_store][lost_connection]") {
  const std::string db = NewDatabase();
  const std::string app = "victim-import";
  std::unique_ptr<Store> store = OpenAs(db, app);
  Session admin(db), holder(db);
  const std::string device = DeviceId(1);
  // SHARE on uploads stops an import at its key claim, after it has upserted
  // the device row: the backend waits inside the import's transaction and is
  // terminated there.
  auto hold = [&] {
    REQUIRE(holder.Run("BEGIN").ok());
    REQUIRE(holder.Run("LOCK TABLE uploads IN SHARE MODE").ok());
  };
  // Terminates the import's backend the next time one waits there (each
  // attempt is a new backend: a terminated one may still be listed while it
  // exits).
  int last_pid = 0;
  auto terminate_next = [&](std::chrono::milliseconds timeout) {
    int pid = 0;
    if (!testing_support::WaitUntil(
            [&] {
              pid = admin.LockWaiter(app).pid;
              return pid != 0 && pid != last_pid;
            },
            timeout)) {
      return 0;
    }
    last_pid = pid;
    auto ended = admin.Terminate(pid);
    REQUIRE(ended.ok());
    return *ended ? 1 : 0;
  };

  // A few terminations: the store's own retries absorb them.
  hold();
  common::Status first = common::Internal("not run");
  std::thread import1([&] {
    first = store->ImportInventory(InventoryUpload(1, 1, "c"), MakeInventory(device, 1));
  });
  int terminated = 0;
  for (int i = 0; i < 3; ++i) terminated += terminate_next(std::chrono::seconds(30));
  // The next attempt waits again; then the lock goes.
  REQUIRE(testing_support::WaitUntil(
      [&] {
        const int pid = admin.LockWaiter(app).pid;
        return pid != 0 && pid != last_pid;
      },
      std::chrono::seconds(30)));
  REQUIRE(holder.Run("COMMIT").ok());
  import1.join();
  INFO(first.ToString());
  CHECK(first.ok());
  CHECK(terminated == 3);
  CHECK(DbQuery(db, "SELECT COUNT(*) FROM uploads") == "1");
  CHECK(DbQuery(db, "SELECT inventory_sequence FROM devices") == "1");
  CHECK(DbQuery(db, "SELECT COUNT(*) FROM packages") == "20");

  // Terminated at every attempt: the store gives up with Unavailable (the
  // importer's drain loop retries later), and nothing of the attempts stays.
  hold();
  std::atomic<bool> done{false};
  common::Status second = common::Internal("not run");
  std::thread import2([&] {
    second = store->ImportInventory(InventoryUpload(1, 2, "c"), MakeInventory(device, 2));
    done = true;
  });
  int terminated2 = 0;
  while (!done.load()) terminated2 += terminate_next(std::chrono::milliseconds(100));
  import2.join();
  REQUIRE(holder.Run("COMMIT").ok());
  std::printf(
      "pg lost connection: %d terminations absorbed by one import; %d made the next one "
      "return %s\n",
      terminated, terminated2, second.ToString().c_str());
  CHECK(second.code() == Code::kUnavailable);
  // One line, as it goes into the central's log (libpq breaks it in two).
  CHECK(second.message().find('\n') == std::string::npos);
  CHECK((second.message().find("server closed the connection unexpectedly This probably means") !=
             std::string::npos ||
         second.message().find("terminating connection due to administrator command") !=
             std::string::npos));
  CHECK(terminated2 > 1);
  CHECK(DbQuery(db, "SELECT COUNT(*) FROM uploads") == "1");
  CHECK(DbQuery(db, "SELECT inventory_sequence FROM devices") == "1");
  // The caller's retry, on a connection of the same store, imports it once.
  CHECK(store->ImportInventory(InventoryUpload(1, 2, "c"), MakeInventory(device, 2)).ok());
  CHECK(store->ImportInventory(InventoryUpload(1, 2, "c"), MakeInventory(device, 2)).code() ==
        Code::kAlreadyExists);
  CHECK(DbQuery(db, "SELECT COUNT(*) FROM uploads") == "2");
  CHECK(DbQuery(db, "SELECT inventory_sequence FROM devices") == "2");
  CHECK(DbQuery(db, "SELECT COUNT(*) FROM packages p JOIN package_versions v ON v.id = p.version_id "
                    "WHERE v.version = '2'") == "20");
}

TEST_CASE("queries after their connections were terminated are answered",
          "[pg_store][lost_connection]") {
  const std::string db = NewDatabase();
  const std::string app = "victim-reader";
  std::unique_ptr<Store> store = OpenAs(db, app);
  REQUIRE(store->ImportInventory(InventoryUpload(1, 1, "c"), MakeInventory(DeviceId(1), 1)).ok());
  // Open a few readers (each query leases one), then end every connection
  // of the store, idle ones included, as a server restart would.
  for (int i = 0; i < 3; ++i) REQUIRE(store->ListDevices().ok());
  Session admin(db);
  auto ended = admin.TerminateAll(app);
  REQUIRE(ended.ok());
  CHECK(*ended >= 2);  // the writer and at least one reader
  REQUIRE(testing_support::WaitUntil(
      [&] {
        return DbQuery(db, "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '" +
                               app + "'") == "0";
      },
      std::chrono::seconds(30)));
  for (int i = 0; i < 4; ++i) {
    auto rows = store->ListDevices();
    INFO(i << ": " << rows.status().ToString());
    CHECK(rows.ok());
    auto has = store->HasUpload(DeviceId(1), "u-1");
    INFO(has.status().ToString());
    CHECK((has.ok() && *has));
  }
  CHECK(store->ImportInventory(InventoryUpload(1, 2, "c"), MakeInventory(DeviceId(1), 2)).ok());
}

TEST_CASE("what the server says beside a result goes to the log, one line with time and level",
          "[pg_store]") {
  const std::string db = NewDatabase();
  std::unique_ptr<Store> store = OpenAs(db, "noticed");
  REQUIRE(store->ImportInventory(InventoryUpload(1, 1, "c"), MakeInventory(DeviceId(1), 1)).ok());
  // A trigger an administrator added, which talks: a WARNING and a NOTICE
  // while a check-in batch updates the device.
  Session admin(db);
  REQUIRE(
      admin
          .Run("CREATE FUNCTION talk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               "RAISE WARNING 'device row updated'; RAISE NOTICE 'a second line%', E'\\nof it'; "
               "RETURN NEW; END $$")
          .ok());
  REQUIRE(
      admin.Run("CREATE TRIGGER talk BEFORE UPDATE ON devices FOR EACH ROW EXECUTE FUNCTION talk()")
          .ok());
  testing_support::TempDir logs("pg-log");
  common::SetLogFile(logs.path + "/store.log", 1 << 20);
  Checkin ci;
  ci.device_id = DeviceId(1);
  ci.seen_at = 3000;
  const common::Status st = store->RecordCheckins({ci});
  common::SetLogFile("", 0);
  CHECK(st.ok());
  std::ifstream in(logs.path + "/store.log");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const std::string name = "postgresql database '" + db + "'";
  std::string all;
  for (const std::string& l : lines) all += l + "\n";
  INFO(all);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("Z WARN ") != std::string::npos);
  CHECK(lines[0].find(": " + name + " on ") != std::string::npos);
  CHECK(lines[0].find(": server says: WARNING:  device row updated") != std::string::npos);
  CHECK(lines[1].find("Z INFO ") != std::string::npos);
  CHECK(lines[1].find(": server says: NOTICE:  a second line of it") != std::string::npos);
}

TEST_CASE(
    "two stores importing while their backends are terminated again and again store every "
    "upload once",
    "[pg_store][lost_connection]") {
  const std::string db = NewDatabase();
  constexpr int kCentrals = 2;
  constexpr int kDevices = 8;
  constexpr int kSequences = 10;
  std::vector<std::unique_ptr<Store>> stores;
  for (int c = 0; c < kCentrals; ++c) stores.push_back(OpenAs(db, "storm-" + std::to_string(c)));
  // Every upload goes to both stores, each in its own order.
  std::mt19937 rng(20261201);
  std::vector<std::vector<Delivery>> work(kCentrals);
  for (int d = 0; d < kDevices; ++d) {
    for (int q = 1; q <= kSequences; ++q) {
      for (auto& w : work) w.push_back({d, q});
    }
  }
  for (auto& w : work) std::shuffle(w.begin(), w.end(), rng);

  std::atomic<int> imported{0}, duplicates{0}, unavailable{0}, terminations{0}, running{kCentrals};
  std::vector<std::string> errors;
  std::mutex errors_mu;
  auto fail = [&](const std::string& e) {
    std::lock_guard<std::mutex> lock(errors_mu);
    errors.push_back(e);
  };
  {
    // The killer ends a busy backend of either store (mid-statement or
    // mid-transaction, wherever the import happens to be), waits until some
    // import has finished since, and strikes again, for as long as they
    // import. (Killed as soon as it exists, a backend would only show that
    // nothing gets done then.)
    std::thread killer([&] {
      Session admin(db);
      int progress = -1;
      while (running.load() > 0) {
        const int now = imported.load() + duplicates.load();
        if (now == progress) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        auto n = admin.TerminateBusy("storm-%");
        if (!n.ok()) {
          fail(n.status().ToString());
          return;
        }
        if (*n > 0) {
          terminations += *n;
          progress = now;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
    });
    std::vector<std::thread> threads;
    for (int c = 0; c < kCentrals; ++c) {
      threads.emplace_back([&, c] {
        const std::string via = "central-" + std::to_string(c);
        size_t n = 0;
        for (const Delivery& d : work[static_cast<size_t>(c)]) {
          // As the importer does: Unavailable is retried (its drain loop
          // backs off; here at once), anything else but done is an error.
          for (int attempt = 1;; ++attempt) {
            common::Status st = stores[static_cast<size_t>(c)]->ImportInventory(
                InventoryUpload(d.device, d.sequence, via),
                MakeInventory(DeviceId(d.device), d.sequence));
            if (st.ok()) {
              ++imported;
            } else if (st.code() == Code::kAlreadyExists) {
              ++duplicates;
            } else if (st.code() == Code::kUnavailable && attempt < 100) {
              ++unavailable;
              continue;
            } else {
              fail(st.ToString());
            }
            break;
          }
          if (++n % 10 == 0) {
            std::vector<Checkin> batch;
            for (int k = 0; k < kDevices; ++k) {
              Checkin ci;
              ci.device_id = DeviceId(k);
              ci.seen_at = 2000 + static_cast<int64_t>(n);
              ci.via = via;
              batch.push_back(ci);
            }
            for (int attempt = 1;; ++attempt) {
              common::Status st = stores[static_cast<size_t>(c)]->RecordCheckins(batch);
              if (st.code() == Code::kUnavailable && attempt < 100) continue;
              if (!st.ok()) fail(st.ToString());
              break;
            }
          }
        }
        --running;
      });
    }
    for (auto& t : threads) t.join();
    killer.join();
  }
  const int uploads = kDevices * kSequences;
  std::printf(
      "pg termination storm: %d stores, %d uploads each delivered to both: %d imported, %d "
      "duplicates, %d backends terminated mid-statement or mid-transaction, %d imports "
      "returned Unavailable and were retried, %zu errors\n",
      kCentrals, uploads, imported.load(), duplicates.load(), terminations.load(),
      unavailable.load(), errors.size());
  for (const std::string& e : errors) UNSCOPED_INFO(e);
  CHECK(errors.empty());
  CHECK(terminations.load() > 0);
  CHECK(imported.load() + duplicates.load() == kCentrals * uploads);
  // A terminated COMMIT may have committed: its retry then finds the key
  // claimed (AlreadyExists), so `imported` may count fewer than stored.
  CHECK(imported.load() <= uploads);
  CHECK(DbQuery(db, "SELECT COUNT(*) FROM uploads") == std::to_string(uploads));
  CHECK(DbQuery(db, "SELECT COUNT(*) FROM devices WHERE inventory_sequence = " +
                        std::to_string(kSequences) + " AND inventory_upload = 'u-" +
                        std::to_string(kSequences) + "'") == std::to_string(kDevices));
  CHECK(DbQuery(db, "SELECT COUNT(*) FROM packages p JOIN package_versions v ON v.id = p.version_id "
                    "WHERE v.version <> '" + std::to_string(kSequences) + "'") == "0");
  CHECK(DbQuery(db, "SELECT COUNT(*) FROM packages") == std::to_string(kDevices * 20));
}

// Check-ins and imports on the same device rows (docs/store.md "Isolation"):
// a central's check-in batch covers the devices that upload, and other
// centrals import them meanwhile, each import holding its device's row
// until it commits.
TEST_CASE(
    "a check-in batch meeting other centrals' imports row after row waits for each and is "
    "stored once, not run again",
    "[pg_store][concurrency]") {
  const std::string db = NewDatabase();
  const std::string app = "checkin-batch";
  std::unique_ptr<Store> store = OpenAs(db, app);
  constexpr int kDevices = 16;
  constexpr int kFirst = 2, kLast = 14;  // the devices imported while the batch runs
  for (int d = 0; d < kDevices; ++d) {
    REQUIRE(
        store->ImportInventory(InventoryUpload(d, 1, "central-b"), MakeInventory(DeviceId(d), 1))
            .ok());
  }
  // Two other centrals' importers: each import a serializable transaction
  // that has upserted its device's row (an import's first statement). The
  // next import begins before the one before it commits.
  Session importers[2] = {Session(db), Session(db)};
  auto import_begins = [&](int device) {
    Session& s = importers[device % 2];
    REQUIRE(s.Run("BEGIN ISOLATION LEVEL SERIALIZABLE").ok());
    REQUIRE(
        s.Run(
             "UPDATE devices SET last_seen = last_seen + 1, via = 'central-b' WHERE device_id = '" +
             DeviceId(device) + "'")
            .ok());
  };
  import_begins(kFirst);

  std::vector<Checkin> batch;
  for (int d = 0; d < kDevices; ++d) {
    Checkin ci;
    ci.device_id = DeviceId(d);
    ci.seen_at = 5000;
    ci.via = "central-a";
    ci.client_version = "2.0";
    batch.push_back(ci);
  }
  std::atomic<bool> done{false};
  common::Status recorded = common::Internal("not run");
  std::thread flush([&] {
    recorded = store->RecordCheckins(batch);
    done = true;
  });
  Session watcher(db);
  std::set<std::string> transactions;  // the batch's, by start time
  int waits = 0;
  std::string last_statement;
  for (int device = kFirst; device <= kLast && !done.load(); ++device) {
    testing_support::PgSession::LockWait wait;
    REQUIRE(testing_support::WaitUntil(
        [&] {
          wait = watcher.LockWaiter(app);
          return done.load() || (wait.pid != 0 && wait.statement_start != last_statement);
        },
        std::chrono::seconds(30)));
    if (done.load()) break;
    ++waits;
    last_statement = wait.statement_start;
    transactions.insert(wait.transaction_start);
    if (device < kLast) import_begins(device + 1);
    REQUIRE(importers[device % 2].Run("COMMIT").ok());
  }
  flush.join();
  for (Session& s : importers) (void)s.Run("COMMIT");
  INFO(recorded.ToString());
  std::printf(
      "pg check-ins against imports: the batch waited %d time(s) for a row being imported, in "
      "%zu transaction(s); %s\n",
      waits, transactions.size(), recorded.ToString().c_str());
  CHECK(recorded.ok());
  CHECK(waits == kLast - kFirst + 1);
  CHECK(transactions.size() == 1);
  CHECK(DbQuery(db,
                "SELECT COUNT(*) FROM devices WHERE client_version = '2.0' AND last_seen >= 5000 "
                "AND via = 'central-a'") == std::to_string(kDevices));
}

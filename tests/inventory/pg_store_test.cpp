// Several centrals on one PostgreSQL database (docs/store.md "Concurrency"):
// separate Store objects, each with its own connections, as separate central
// processes have, importing the same uploads at once. Compiled into
// store_pg_test only (tests/CMakeLists.txt).
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "inventory/inventory.h"
#include "inventory/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

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

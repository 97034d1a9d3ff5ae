// beacon-bench-import: the central's import rate (bench/import/run.sh,
// docs/benchmarks.md "Import"). Builds N realistic inventories (1,500
// packages each from a shared pool, with a few versions differing between
// devices, and the detailed sections of a small server), then times, on a
// fresh store:
//   parse     ParseInventoryXml of each document (the importer's parse)
//   first     each device's first full inventory
//   unchanged the same inventory again (the next sequence)
//   delta     a delta with 5 packages upgraded
//   full      a full inventory with 5 more packages upgraded
// each phase in batches of BATCH inventories per transaction (the importer's
// Store::WriteBatch; 1 is a transaction per inventory), and, as the
// reference, the same package rows inserted by raw SQLite in one transaction
// per device (the floor a store on SQLite cannot beat).
// With a PostgreSQL connection string as the fifth argument, the store
// phases run against that database too (bench/import/run.sh starts one).
// Output: one JSON object per phase and backend on stdout.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "inventory/inventory.h"
#include "inventory/store.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string DeviceId(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012x", i + 1, i + 1);
  return buf;
}

inventory::Inventory Make(int device, int packages, int64_t sequence) {
  inventory::Inventory inv;
  inv.device_id = DeviceId(device);
  inv.collected_at = "2026-11-30T08:00:00Z";
  inv.sequence = sequence;
  inv.os = {.name = "Debian GNU/Linux", .id = "debian", .version = "12 (bookworm)", .version_id = "12",
            .pretty_name = "Debian GNU/Linux 12 (bookworm)", .kernel = "6.1.0-18-amd64", .arch = "x86_64",
            .hostname = "host-" + std::to_string(device)};
  inv.hardware.cpu_model = "AMD EPYC";
  inv.hardware.cpu_cores = 2;
  inv.hardware.memory_bytes = 25276026880;
  for (int p = 0; p < packages; ++p) {
    // One package in 50 differs between devices, as point releases do.
    std::string version = "1." + std::to_string(p % 13) + "." + std::to_string(p % 50 == 0 ? device % 3 : 0);
    inv.software.push_back({.name = "package-" + std::to_string(p), .version = version, .arch = "amd64",
                            .installed_at = 1763000000 + p, .size_bytes = 1024u * static_cast<uint64_t>(p % 900),
                            .section = "libs", .maintainer = "Debian Developers <debian-devel@lists.debian.org>",
                            .summary = "library number " + std::to_string(p) + " of the benchmark"});
  }
  for (const char* name : {"bios", "cpus", "drives", "filesystems", "network", "pci", "users", "groups"}) {
    inventory::Section s{.name = name};
    for (int i = 0; i < 20; ++i) {
      inventory::Item item{.key = std::string(name) + "-" + std::to_string(i)};
      item.Add("vendor", "Vendor " + std::to_string(i));
      item.Add("model", "Model " + std::to_string(i % 7));
      item.Add("size_bytes", std::to_string(1u << (i % 30)));
      s.items.push_back(item);
    }
    s.SortItems();
    inv.sections.push_back(s);
  }
  std::sort(inv.sections.begin(), inv.sections.end(),
            [](const inventory::Section& a, const inventory::Section& b) { return a.name < b.name; });
  return inv;
}

void Upgrade(inventory::Inventory* inv, int first, int count) {
  for (int p = first; p < first + count; ++p) inv->software[static_cast<size_t>(p)].version += "+b1";
}

void Report(const std::string& phase, int n, double seconds, const std::string& backend = "-", int batch = 1) {
  std::cout << "{\"backend\":\"" << backend << "\",\"batch\":" << batch << ",\"phase\":\"" << phase
            << "\",\"inventories\":" << n
            << ",\"seconds\":" << seconds
            << ",\"per_second\":" << (seconds > 0 ? n / seconds : 0) << "}" << std::endl;
}

double Time(const std::function<void()>& fn) {
  auto t0 = Clock::now();
  fn();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void Check(const common::Status& st) {
  if (!st.ok()) {
    std::cerr << "beacon-bench-import: " << st.ToString() << "\n";
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: beacon-bench-import DIR DEVICES [PACKAGES [BATCH [POSTGRESQL_CONNINFO]]]\n";
    return 2;
  }
  const std::string dir = argv[1];
  const int devices = std::stoi(argv[2]);
  const int packages = argc > 3 ? std::stoi(argv[3]) : 1500;
  const int batch = argc > 4 ? std::max(1, std::stoi(argv[4])) : 64;
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir + "/store.sqlite");
  std::filesystem::remove(dir + "/raw.sqlite");

  std::vector<inventory::Inventory> invs;
  std::vector<std::string> xml;
  for (int d = 0; d < devices; ++d) {
    invs.push_back(Make(d, packages, 1));
    xml.push_back(inventory::ToXml(invs.back()));
  }
  Report("parse", devices, Time([&] {
           for (const std::string& x : xml) {
             if (!inventory::ParseInventoryXml(x, "bench").ok()) std::exit(1);
           }
         }));

  // The store phases, on one backend; they leave `invs` at sequence 4.
  auto run_store = [&](const std::string& backend, std::unique_ptr<inventory::Store> store,
                       std::vector<inventory::Inventory> inventories) {
    // Imports inventories [0, devices) as `name-<device>`, `batch` per
    // transaction, as the importer does.
    auto import = [&](const std::string& name, const std::vector<inventory::Inventory>& all) {
      for (int first = 0; first < devices; first += batch) {
        const int n = std::min(batch, devices - first);
        std::vector<common::Status> results = store->WriteBatch(static_cast<size_t>(n), [&](size_t k) {
          const inventory::Inventory& inv = all[static_cast<size_t>(first) + k];
          inventory::UploadInfo info{.upload_id = name + "-" + std::to_string(first + static_cast<int>(k)),
                                     .device_id = inv.device_id, .kind = "inventory",
                                     .sha256 = std::string(64, '0'), .size = 1,
                                     .received_at = 1764489600 + inv.sequence, .via = "bench"};
          return store->ImportInventory(info, inv);
        });
        for (const common::Status& st : results) Check(st);
      }
    };
    Report("first", devices, Time([&] { import("first", inventories); }), backend, batch);
    for (auto& inv : inventories) inv.sequence = 2;
    Report("unchanged", devices, Time([&] { import("same", inventories); }), backend, batch);
    std::vector<inventory::Inventory> deltas;
    for (int d = 0; d < devices; ++d) {
      auto before = inventory::PartDigests(inventories[d]);
      inventories[d].sequence = 3;
      Upgrade(&inventories[d], 100, 5);
      deltas.push_back(inventory::MakeDelta(inventories[d], before, 2));
    }
    Report("delta", devices, Time([&] { import("delta", deltas); }), backend, batch);
    for (auto& inv : inventories) {
      inv.sequence = 4;
      Upgrade(&inv, 200, 5);
    }
    Report("full", devices, Time([&] { import("full", inventories); }), backend, batch);
  };
  auto sqlite = inventory::OpenSqliteStore(dir + "/store.sqlite");
  Check(sqlite.status());
  run_store("sqlite", std::move(sqlite).value(), invs);
  if (argc > 5) {
    auto pg = inventory::OpenPostgresStore(argv[5]);
    Check(pg.status());
    run_store("postgresql", std::move(pg).value(), invs);
  }

  // The reference: the same package rows, raw, one transaction per device,
  // with the store's durability (WAL, synchronous FULL).
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/raw.sqlite").c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE p (device TEXT, name TEXT, version TEXT, arch TEXT, PRIMARY KEY (device, name, arch, version))",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO p VALUES (?1, ?2, ?3, ?4)", -1, &ins, nullptr);
  Report("raw-insert", devices, Time([&] {
           for (int d = 0; d < devices; ++d) {
             sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
             for (const auto& p : invs[d].software) {
               sqlite3_bind_text(ins, 1, invs[d].device_id.c_str(), -1, SQLITE_STATIC);
               sqlite3_bind_text(ins, 2, p.name.c_str(), -1, SQLITE_STATIC);
               sqlite3_bind_text(ins, 3, p.version.c_str(), -1, SQLITE_STATIC);
               sqlite3_bind_text(ins, 4, p.arch.c_str(), -1, SQLITE_STATIC);
               sqlite3_step(ins);
               sqlite3_reset(ins);
             }
             sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
           }
         }), "raw-sqlite");
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return 0;
}

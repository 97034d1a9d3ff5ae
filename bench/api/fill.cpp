// beacon-bench-api-fill STORE DEVICES: fills a central's SQLite store with
// DEVICES devices through the Store interface (docs/benchmarks.md, "API"):
// for each, a check-in and an inventory with an OS, an address and 20
// packages, written in the importer's batches (Store::WriteBatch). Device i
// is "cccccccc-0000-4000-8000-<i, 12 digits>", host "host-<i, 6 digits>";
// one in ten is disconnected (last heard of 5 days ago), one in twenty has
// no inventory yet (pending); device 1 also has a second inventory (openssl
// upgraded) and a usage period. Each has one file of evidence. Packages are at version 1.0-1 but
// openssl, 3.0.11-1~deb12u2 on even devices and 3.0.13-1~deb12u1 on odd ones. Prints the time it
// took.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "inventory/store.h"

namespace {

std::string Id(long i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "cccccccc-0000-4000-8000-%012ld", i);
  return buf;
}

inventory::Inventory InventoryOf(long i, const std::string& id) {
  inventory::Inventory inv;
  inv.device_id = id;
  inv.collected_at = "2026-11-22T16:00:00Z";
  inv.sequence = 1;
  char host[32];
  std::snprintf(host, sizeof host, "host-%06ld", i);
  inv.os.hostname = host;
  inv.os.pretty_name = i % 3 == 0 ? "Ubuntu 22.04.4 LTS" : "Debian GNU/Linux 12 (bookworm)";
  inv.os.name = "Debian GNU/Linux";
  inv.os.kernel = "6.1.0-18-amd64";
  inv.os.arch = "x86_64";
  inventory::NetInterface eth;
  eth.name = "eth0";
  eth.addresses = {"10." + std::to_string(i / 65536 % 256) + "." + std::to_string(i / 256 % 256) +
                   "." + std::to_string(i % 256) + "/16"};
  inv.hardware.interfaces.push_back(eth);
  static const char* const kPackages[] = {
      "bash",    "coreutils",      "curl",       "dpkg",    "gzip", "libc6", "libssl3",
      "openssl", "openssh-server", "perl-base",  "python3", "sed",  "sudo",  "systemd",
      "tar",     "tzdata",         "util-linux", "vim",     "wget", "zlib1g"};
  for (const char* name : kPackages) {
    inventory::Package p;
    p.name = name;
    p.version = std::string(name) != "openssl" ? "1.0-1"
                : i % 2 == 0                   ? "3.0.11-1~deb12u2"
                                               : "3.0.13-1~deb12u1";
    p.arch = "amd64";
    inv.software.push_back(p);
  }
  inv.files.push_back({"/etc/ssh/sshd_config", 3262, 1795363200,
                       "0aee1a0e3b2d1c2d8a3b6a1a5f5d0f6c9f1b1e0e1d2c3b4a59687766554433aa"});
  return inv;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: beacon-bench-api-fill STORE DEVICES\n");
    return 2;
  }
  const long devices = std::atol(argv[2]);
  auto opened = inventory::OpenSqliteStore(argv[1]);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 1;
  }
  inventory::Store& store = **opened;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const auto start = std::chrono::steady_clock::now();
  constexpr long kBatch = 500;
  for (long first = 1; first <= devices; first += kBatch) {
    const long count = std::min(kBatch, devices - first + 1);
    std::vector<inventory::Checkin> checkins;
    for (long i = first; i < first + count; ++i) {
      inventory::Checkin c;
      c.device_id = Id(i);
      c.seen_at = i % 10 == 0 ? now - 5 * 86400 : now - (i % 600);
      c.via = i % 4 == 0 ? "dmz-2" : "dmz-1";
      c.client_version = "1.4.0";
      c.policy_revision = 1;
      c.check_interval = 3600;
      checkins.push_back(c);
    }
    if (auto st = store.RecordCheckins(checkins); !st.ok()) {
      std::fprintf(stderr, "%s\n", st.ToString().c_str());
      return 1;
    }
    auto results = store.WriteBatch(static_cast<size_t>(count), [&](size_t k) {
      const long i = first + static_cast<long>(k);
      if (i % 20 == 5) return common::Status::Ok();  // pending: seen, no inventory
      const std::string id = Id(i);
      inventory::UploadInfo u;
      u.upload_id = common::Sha256Hex(id).substr(0, 32);
      u.device_id = id;
      u.kind = "inventory";
      u.sha256 = std::string(64, 'a');
      u.size = 4096;
      u.received_at = checkins[k].seen_at;
      u.via = checkins[k].via;
      return store.ImportInventory(u, InventoryOf(i, id));
    });
    for (const auto& st : results) {
      if (!st.ok() && st.code() != common::Code::kAlreadyExists) {
        std::fprintf(stderr, "%s\n", st.ToString().c_str());
        return 1;
      }
    }
  }
  // Device 1's later days, so that every endpoint has something to show:
  // an inventory with openssl upgraded (a change) and a usage period.
  if (devices >= 1) {
    const std::string id = Id(1);
    inventory::Inventory inv = InventoryOf(1, id);
    inv.sequence = 2;
    inv.collected_at = "2026-11-23T16:00:00Z";
    for (auto& p : inv.software) {
      if (p.name == "openssl") p.version = "3.0.15-1~deb12u1";
    }
    inventory::UploadInfo u;
    u.upload_id = common::Sha256Hex(id + "2").substr(0, 32);
    u.device_id = id;
    u.kind = "inventory";
    u.sha256 = std::string(64, 'b');
    u.size = 4096;
    u.received_at = now - 30;
    u.via = "dmz-1";
    inventory::Usage usage;
    usage.device_id = id;
    usage.period_start = now - 3600;
    usage.period_end = now - 60;
    usage.sample_seconds = 60;
    usage.samples = 60;
    usage.programs = {
        {"/usr/bin/python3", 42, now - 3000, now - 600, "2026-12-01", 3, 2520, {"alice"}},
        {"/usr/sbin/sshd", 60, now - 3600, now - 60, "2026-12-01", 1, 3600, {"root"}}};
    inventory::UploadInfo uu = u;
    uu.upload_id = common::Sha256Hex(id + "usage").substr(0, 32);
    uu.kind = "usage";
    for (auto st : {store.ImportInventory(u, inv), store.ImportUsage(uu, usage)}) {
      if (!st.ok() && st.code() != common::Code::kAlreadyExists) {
        std::fprintf(stderr, "%s\n", st.ToString().c_str());
        return 1;
      }
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("filled %ld devices in %.1f s\n", devices, s);
  return 0;
}

// The hardware collectors on this machine ("/") against the OS's own tools:
// lscpu, lsblk, findmnt, /proc/meminfo, systemd-detect-virt, lspci. Values
// are compared exactly. A tool that is not installed is reported with WARN
// and its comparison is skipped (scripts/install-deps.sh installs them).
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "collect_hw.h"
#include "collectors.h"
#include "common/fs.h"

namespace {

using inventory::Item;
using inventory::Root;
using inventory::Section;
using nlohmann::json;

// Runs `command` (stderr discarded); false when it cannot run or fails.
bool Run(const std::string& command, std::string* out) {
  out->clear();
  FILE* p = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return false;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int status = ::pclose(p);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// systemd-detect-virt exits 1 when it prints "none": keep the output anyway.
std::string RunLine(const std::string& command) {
  std::string out;
  (void)Run(command, &out);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string Str(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return std::string();  // null
}

// lsblk writes flags as JSON booleans (util-linux >= 2.37) or "0"/"1".
std::string Flag(const json& v) {
  std::string s = Str(v);
  if (s == "1") return "true";
  if (s == "0") return "false";
  return s;
}

std::string Trimmed(const std::string& s) { return std::string(inventory::Trim(s)); }

}  // namespace

TEST_CASE("Live: cpus match lscpu", "[inventory][collect][live]") {
  std::string out;
  if (!Run("LC_ALL=C lscpu", &out)) {
    WARN("lscpu is not available");
    return;
  }
  std::map<std::string, std::string> lscpu;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    size_t colon = line.find(':');
    if (colon != std::string::npos) lscpu[line.substr(0, colon)] = Trimmed(line.substr(colon + 1));
  }
  Section cpus = inventory::hw::CollectCpus(Root("/"));
  CAPTURE(out);
  REQUIRE(std::to_string(cpus.items.size()) == lscpu["Socket(s)"]);
  uint64_t threads = 0;
  for (const Item& cpu : cpus.items) {
    CHECK(cpu.Get("vendor") == lscpu["Vendor ID"]);
    CHECK(cpu.Get("model") == lscpu["Model name"]);
    CHECK(cpu.Get("family") == lscpu["CPU family"]);
    CHECK(cpu.Get("model_id") == lscpu["Model"]);
    CHECK(cpu.Get("stepping") == lscpu["Stepping"]);
    CHECK(cpu.Get("arch") == lscpu["Architecture"]);
    CHECK(cpu.Get("cores") == lscpu["Core(s) per socket"]);
    uint64_t t = std::stoull(cpu.Get("threads"));
    uint64_t c = std::stoull(cpu.Get("cores"));
    CHECK(std::to_string(t / c) == lscpu["Thread(s) per core"]);
    threads += t;
  }
  CHECK(std::to_string(threads) == lscpu["CPU(s)"]);
}

TEST_CASE("Live: drives match lsblk", "[inventory][collect][live]") {
  std::string out;
  if (!Run("lsblk -J -b -d -o NAME,MODEL,SERIAL,SIZE,ROTA,RM,TRAN,TYPE", &out)) {
    WARN("lsblk is not available");
    return;
  }
  Root root("/");
  Section drives = inventory::hw::CollectDrives(root);
  std::set<std::string> want;
  // Kept in a variable: a range-for over a member of a temporary dangles.
  const json lsblk = json::parse(out);
  for (const json& dev : lsblk.at("blockdevices")) {
    std::string name = Str(dev.at("name"));
    if (inventory::IsVirtualBlock(root, name)) continue;
    want.insert(name);
    INFO(name << " " << dev.dump());
    const Item* item = drives.Find(name);
    REQUIRE(item != nullptr);
    CHECK(item->Get("size_bytes") == Str(dev.at("size")));
    CHECK(item->Get("rotational") == Flag(dev.at("rota")));
    CHECK(item->Get("removable") == Flag(dev.at("rm")));
    // lsblk leaves model, serial and transport null when it has no source
    // (no udev database in a container); then ours may still know more.
    if (!dev.at("model").is_null()) CHECK(item->Get("model") == Str(dev.at("model")));
    if (!dev.at("serial").is_null()) CHECK(item->Get("serial") == Str(dev.at("serial")));
    if (!dev.at("tran").is_null()) CHECK(item->Get("transport") == Str(dev.at("tran")));
    std::string type = Str(dev.at("type"));
    CHECK(item->Get("type") == (type == "rom" ? "cdrom" : type));
  }
  std::set<std::string> got;
  for (const Item& i : drives.items) got.insert(i.key);
  CHECK(got == want);
}

namespace {
void Flatten(const json& list, std::vector<json>* out) {
  for (const json& fs : list) {
    out->push_back(fs);
    if (fs.contains("children")) Flatten(fs.at("children"), out);
  }
}
}  // namespace

TEST_CASE("Live: filesystems match findmnt", "[inventory][collect][live]") {
  std::string out;
  if (!Run("findmnt -J -b -o TARGET,SOURCE,FSTYPE,SIZE", &out)) {
    WARN("findmnt is not available");
    return;
  }
  std::vector<json> mounts;
  Flatten(json::parse(out).at("filesystems"), &mounts);
  Section fs = inventory::hw::CollectFilesystems(Root("/"));
  std::set<std::string> want;
  for (const json& m : mounts) {
    std::string type = Str(m.at("fstype"));
    if (inventory::hw::IsPseudoFs(type)) continue;
    std::string target = Str(m.at("target"));
    want.insert(target);
    INFO(m.dump());
    const Item* item = fs.Find(target);
    REQUIRE(item != nullptr);
    CHECK(item->Get("type") == type);
    // statvfs is skipped for network file systems (it can hang).
    if (!inventory::hw::IsNetworkFs(type)) CHECK(item->Get("size_bytes") == Str(m.at("size")));
    // A bind mount's source reads "/dev/vda[/sub/dir]" in findmnt.
    std::string source = Str(m.at("source"));
    if (source.find('[') == std::string::npos) CHECK(item->Get("device") == source);
  }
  std::set<std::string> got;
  for (const Item& i : fs.items) {
    got.insert(i.key);
    if (!inventory::hw::IsNetworkFs(i.Get("type"))) CHECK_FALSE(i.Get("free_bytes").empty());
  }
  CHECK(got == want);
}

TEST_CASE("Live: memory total matches /proc/meminfo", "[inventory][collect][live]") {
  auto text = common::ReadFile("/proc/meminfo");
  REQUIRE(text.ok());
  std::map<std::string, uint64_t> kib;
  std::istringstream in(*text);
  for (std::string key; in >> key;) {
    uint64_t v = 0;
    in >> v;
    kib[key] = v;
    in.ignore(1 << 20, '\n');
  }
  Section memory = inventory::hw::CollectMemory(Root("/"));
  const Item* total = memory.Find("total");
  REQUIRE(total != nullptr);
  CHECK(total->Get("total_bytes") == std::to_string(kib.at("MemTotal:") * 1024));
  CHECK(total->Get("swap_total_bytes") == std::to_string(kib.at("SwapTotal:") * 1024));
}

TEST_CASE("Live: virtualization matches systemd-detect-virt", "[inventory][collect][live]") {
  std::string any = RunLine("systemd-detect-virt");
  if (any.empty()) {
    WARN("systemd-detect-virt is not available");
    return;
  }
  std::string container = RunLine("systemd-detect-virt --container");
  std::string vm = RunLine("systemd-detect-virt --vm");
  Section virt = inventory::hw::CollectVirtualization(Root("/"));
  REQUIRE(virt.items.size() == 1);
  const Item& host = virt.items[0];
  INFO(any << " / " << container << " / " << vm);
  CHECK(host.Get("technology") == any);
  if (container != "none") {
    CHECK(host.Get("type") == "container");
    CHECK(host.Get("technology") == container);
    CHECK(host.Get("vm") == (vm == "none" ? "" : vm));
  } else {
    CHECK(host.Get("type") == (vm == "none" ? "none" : "vm"));
  }
}

TEST_CASE("Live: pci matches lspci", "[inventory][collect][live]") {
  std::string out;
  if (!Run("lspci -D -n -mm", &out)) {
    WARN("lspci is not available (apt-get install pciutils)");
    return;
  }
  Section pci = inventory::hw::CollectPci(Root("/"));
  std::set<std::string> want;
  std::istringstream in(out);
  // 0000:00:01.0 "ffff" "1af4" "1045" -r01 -p00 "1af4" "1045"
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> quoted;
    std::map<char, std::string> opts;
    std::istringstream words(line);
    std::string slot;
    words >> slot;
    for (std::string w; words >> w;) {
      if (w.size() >= 2 && w.front() == '"' && w.back() == '"') {
        quoted.push_back(w.substr(1, w.size() - 2));
      } else if (w.size() > 2 && w[0] == '-') {
        opts[w[1]] = w.substr(2);
      }
    }
    REQUIRE(quoted.size() == 5);
    want.insert(slot);
    INFO(line);
    const Item* item = pci.Find(slot);
    REQUIRE(item != nullptr);
    std::string cls = item->Get("class");
    CHECK(cls.substr(0, 4) == quoted[0]);
    CHECK(cls.substr(4) == (opts.count('p') ? opts['p'] : "00"));
    CHECK(item->Get("vendor_id") == quoted[1]);
    CHECK(item->Get("device_id") == quoted[2]);
    CHECK(item->Get("revision") == (opts.count('r') ? opts['r'] : "00"));
    // lspci prints "" for a zero subsystem; sysfs reads 0x0000.
    CHECK(item->Get("subsystem_vendor_id") == (quoted[3].empty() ? "0000" : quoted[3]));
    CHECK(item->Get("subsystem_device_id") == (quoted[4].empty() ? "0000" : quoted[4]));
  }
  std::set<std::string> got;
  for (const Item& i : pci.items) got.insert(i.key);
  CHECK(got == want);
}

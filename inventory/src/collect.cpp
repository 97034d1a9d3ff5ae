// Linux collectors. Each reads plain files under options.root so that tests run
// against a fixture tree; system calls (uname, getifaddrs) are used only when
// root is "/", because their answers describe this machine, not the fixture.
// What each collector reads is listed in docs/inventory.md.

#include "inventory/collect.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "collect_root.h"
#include "collectors.h"
#include "common/fs.h"
#include "common/log.h"

namespace inventory {
namespace {

using common::Status;
using common::StatusOr;

Status CollectOs(const Root& root, OsInfo* os) {
  StatusOr<std::string> text = root.Read("etc/os-release");
  if (!text.ok()) {
    StatusOr<std::string> fallback = root.Read("usr/lib/os-release");
    if (!fallback.ok()) {
      return Status(fallback.status().code(), "os-release: neither " + root.Path("etc/os-release") +
                                                  " nor " + root.Path("usr/lib/os-release") +
                                                  " is readable (" + text.status().message() +
                                                  "; " + fallback.status().message() + ")");
    }
    text = std::move(fallback);
  }
  for (std::string_view line : Lines(*text)) {
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq);
    std::string value = OsReleaseValue(line.substr(eq + 1));
    if (key == "NAME") {
      os->name = value;
    } else if (key == "ID") {
      os->id = value;
    } else if (key == "VERSION") {
      os->version = value;
    } else if (key == "VERSION_ID") {
      os->version_id = value;
    } else if (key == "PRETTY_NAME") {
      os->pretty_name = value;
    }
  }
  // Defaults that os-release(5) itself specifies for absent keys.
  if (os->name.empty()) os->name = "Linux";
  if (os->id.empty()) os->id = "linux";
  if (os->pretty_name.empty()) os->pretty_name = os->name;

  os->kernel = root.ReadTrimmed("proc/sys/kernel/osrelease");
  os->hostname = root.ReadTrimmed("proc/sys/kernel/hostname");
  if (root.is_live()) {
    struct utsname u {};
    if (::uname(&u) == 0) {
      if (os->kernel.empty()) os->kernel = u.release;
      if (os->hostname.empty()) os->hostname = u.nodename;
      os->arch = u.machine;
    }
  }
  return Status::Ok();
}

void CollectCpu(const Root& root, Hardware* hw) {
  StatusOr<std::string> text = root.Read("proc/cpuinfo", 16u << 20);
  if (text.ok()) {
    std::string fallback_model;
    for (std::string_view line : Lines(*text)) {
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view key = Trim(line.substr(0, colon));
      std::string_view value = Trim(line.substr(colon + 1));
      if (key == "processor") {
        ++hw->cpu_cores;
      } else if (key == "model name") {
        if (hw->cpu_model.empty()) hw->cpu_model = value;
      } else if ((key == "Model" || key == "cpu model" || key == "Hardware") &&
                 fallback_model.empty()) {
        // ARM and MIPS kernels have no "model name"; these are the closest.
        fallback_model = value;
      }
    }
    if (hw->cpu_model.empty()) hw->cpu_model = fallback_model;
  }
  // s390 and some ARM kernels format processors differently; on the live
  // system the scheduler's count is the truth anyway.
  if (hw->cpu_cores == 0 && root.is_live()) {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0) hw->cpu_cores = static_cast<uint32_t>(n);
  }
}

void CollectMemory(const Root& root, Hardware* hw) {
  StatusOr<std::string> text = root.Read("proc/meminfo");
  if (!text.ok()) return;
  for (std::string_view line : Lines(*text)) {
    if (!StartsWith(line, "MemTotal:")) continue;
    std::string_view rest = Trim(line.substr(9));
    size_t space = rest.find(' ');
    uint64_t kib = 0;
    // The kernel writes "kB" but means KiB.
    if (ParseU64(rest.substr(0, space), &kib) && kib <= UINT64_MAX / 1024) {
      hw->memory_bytes = kib * 1024;
    }
    break;
  }
}

}  // namespace

// Block devices that are not hardware: loop files, RAM disks, device-mapper
// and md volumes (their disks are listed themselves), network block devices.
bool IsVirtualBlock(const Root& root, const std::string& name) {
  for (std::string_view prefix : {"loop", "ram", "zram", "dm-", "md", "nbd"}) {
    if (StartsWith(name, prefix)) return true;
  }
  return root.LinkTarget("sys/block/" + name).find("/devices/virtual/") != std::string::npos;
}

namespace {

void CollectDisks(const Root& root, Hardware* hw) {
  for (const std::string& name : root.List("sys/block")) {
    if (IsVirtualBlock(root, name)) continue;
    Disk disk;
    disk.name = name;
    disk.model = root.ReadTrimmed("sys/block/" + name + "/device/model");
    uint64_t sectors = 0;
    // The size file counts 512-byte units whatever the device's sector size.
    if (ParseU64(root.ReadTrimmed("sys/block/" + name + "/size"), &sectors) &&
        sectors <= UINT64_MAX / 512) {
      disk.size_bytes = sectors * 512;
    }
    hw->disks.push_back(std::move(disk));
  }
}

int PrefixLength(const sockaddr* mask) {
  if (mask == nullptr) return 0;
  int bits = 0;
  if (mask->sa_family == AF_INET) {
    const auto* m = reinterpret_cast<const sockaddr_in*>(mask);
    bits = std::popcount(static_cast<uint32_t>(m->sin_addr.s_addr));
  } else if (mask->sa_family == AF_INET6) {
    const auto* m = reinterpret_cast<const sockaddr_in6*>(mask);
    for (uint8_t b : m->sin6_addr.s6_addr) bits += std::popcount(b);
  }
  return bits;
}

// "addr/prefix" of every IPv4 and IPv6 address, in the kernel's order.
void CollectAddresses(std::vector<NetInterface>* interfaces) {
  for (const LiveAddress& a : LiveAddresses()) {
    auto itf = std::find_if(interfaces->begin(), interfaces->end(),
                            [&](const NetInterface& i) { return i.name == a.interface; });
    if (itf != interfaces->end()) itf->addresses.push_back(a.address);
  }
}

void CollectInterfaces(const Root& root, Hardware* hw) {
  for (const std::string& name : root.List("sys/class/net")) {
    if (name == "lo") continue;
    NetInterface itf;
    itf.name = name;
    itf.mac = Lower(root.ReadTrimmed("sys/class/net/" + name + "/address"));
    // The same test as for disks: a virtual link's device lives under
    // /sys/devices/virtual/. It is kept (its addresses matter) and marked.
    itf.is_virtual = root.LinkTarget("sys/class/net/" + name).find("/devices/virtual/") != std::string::npos;
    // Tunnels and some virtual links report an all-zero address: no MAC.
    if (itf.mac.find_first_not_of("0:") == std::string::npos) itf.mac.clear();
    hw->interfaces.push_back(std::move(itf));
  }
  if (root.is_live()) CollectAddresses(&hw->interfaces);
}


}  // namespace

std::vector<LiveAddress> LiveAddresses() {
  std::vector<LiveAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || ifa->ifa_name == nullptr) continue;
    int family = ifa->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    const void* addr =
        family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ifa->ifa_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ifa->ifa_addr)->sin6_addr);
    if (::inet_ntop(family, addr, buf, sizeof buf) == nullptr) continue;
    out.push_back({ifa->ifa_name, family == AF_INET6,
                   std::string(buf) + "/" + std::to_string(PrefixLength(ifa->ifa_netmask))});
  }
  ::freeifaddrs(list);
  return out;
}

StatusOr<Inventory> Collect(const std::string& device_id, const CollectOptions& options) {
  Root root(options.root);
  Inventory inv;
  inv.device_id = device_id;
  inv.collected_at = common::NowRfc3339();
  RETURN_IF_ERROR(CollectOs(root, &inv.os));
  if (options.hardware) {
    inv.hardware.vendor = root.ReadTrimmed("sys/class/dmi/id/sys_vendor");
    inv.hardware.model = root.ReadTrimmed("sys/class/dmi/id/product_name");
    inv.hardware.serial = root.ReadTrimmed("sys/class/dmi/id/product_serial");
    CollectCpu(root, &inv.hardware);
    CollectMemory(root, &inv.hardware);
    CollectDisks(root, &inv.hardware);
    CollectInterfaces(root, &inv.hardware);
  }
  if (options.software) {
    Section sources;
    CollectPackages(root, &inv.software, &sources);
    inv.sections.push_back(std::move(sources));
  }
  if (options.hardware) {
    for (std::vector<Section> part : {CollectHardwareSections(root), CollectSystemSections(root)}) {
      for (Section& s : part) inv.sections.push_back(std::move(s));
    }
  }
  std::sort(inv.sections.begin(), inv.sections.end(),
            [](const Section& a, const Section& b) { return a.name < b.name; });
  if (!options.file_rules.empty()) {
    inv.files = CollectFiles(options);
  }
  return inv;
}

}  // namespace inventory

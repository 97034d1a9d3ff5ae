// Batteries (power_supply class) and what the machine runs on
// (virtualization).
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "collect_hw.h"

namespace inventory::hw {
namespace {

constexpr std::string_view kSupplyDir = "sys/class/power_supply";

// ((µAh × µV) / 10^6) is µWh; the division first keeps it in 64 bits for
// any real battery (10^9 µAh × 10^8 µV would overflow otherwise).
uint64_t MicroWattHours(uint64_t micro_amp_hours, uint64_t micro_volts) {
  return (micro_amp_hours / 1000) * (micro_volts / 1000);
}

// The first match of a DMI string against the vendor names systemd-detect-virt
// knows (its technology ids, so both tools say the same).
std::string VmFromDmi(const Root& root) {
  static constexpr std::pair<std::string_view, std::string_view> kVendors[] = {
      {"KVM", "kvm"},
      {"OpenStack", "kvm"},
      {"KubeVirt", "kvm"},
      {"Amazon EC2", "amazon"},
      {"QEMU", "qemu"},
      {"VMware", "vmware"},
      {"VMW", "vmware"},
      {"innotek GmbH", "oracle"},
      {"VirtualBox", "oracle"},
      {"Oracle Corporation", "oracle"},
      {"Xen", "xen"},
      {"Bochs", "bochs"},
      {"Parallels", "parallels"},
      {"BHYVE", "bhyve"},
      {"Hyper-V", "microsoft"},
      {"Apple Virtualization", "apple"},
      {"Google Compute Engine", "google"}};
  for (std::string_view file :
       {"product_name", "sys_vendor", "board_vendor", "bios_vendor", "product_version"}) {
    std::string value = root.ReadTrimmed("sys/class/dmi/id/" + std::string(file));
    if (value.empty()) continue;
    for (const auto& [prefix, id] : kVendors) {
      if (StartsWith(value, prefix)) return std::string(id);
    }
    if (file == "sys_vendor" && value == "Microsoft Corporation" &&
        root.ReadTrimmed("sys/class/dmi/id/product_name") == "Virtual Machine") {
      return "microsoft";
    }
  }
  return std::string();
}

// The hypervisor's CPUID signature (leaf 0x40000000), on x86 and only for the
// live machine: the instruction describes this CPU, not a fixture.
std::string VmFromCpuid() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned int a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0 || (c & (1u << 31)) == 0) return std::string();
  __cpuid(0x40000000, a, b, c, d);
  char sig[13] = {};
  std::memcpy(sig, &b, 4);
  std::memcpy(sig + 4, &c, 4);
  std::memcpy(sig + 8, &d, 4);
  static constexpr std::pair<std::string_view, std::string_view> kSignatures[] = {
      {"KVMKVMKVM", "kvm"},       {"Linux KVM Hv", "kvm"},       {"TCGTCGTCGTCG", "qemu"},
      {"VMwareVMware", "vmware"}, {"Microsoft Hv", "microsoft"}, {"XenVMMXenVMM", "xen"},
      {"VBoxVBoxVBox", "oracle"}, {"bhyve bhyve ", "bhyve"},     {"ACRNACRNACRN", "acrn"},
      {"QNXQVMBSQG", "qnx"},      {"SRESRESRESRE", "sre"},       {"lrpepyh  vr", "parallels"}};
  std::string_view s(sig, std::strlen(sig));
  for (const auto& [signature, id] : kSignatures) {
    if (s == signature) return std::string(id);
  }
  return "vm-other";
#else
  return std::string();
#endif
}

std::string DetectVm(const Root& root) {
  // Device-tree machines (ARM, POWER) name the hypervisor there.
  std::string dt = root.ReadTrimmed("proc/device-tree/hypervisor/compatible");
  if (dt.find("kvm") != std::string::npos) return "kvm";
  if (dt.find("xen") != std::string::npos) return "xen";
  if (dt.find("vmware") != std::string::npos) return "vmware";
  if (root.ReadTrimmed("sys/hypervisor/type") == "xen") return "xen";
  std::string dmi = VmFromDmi(root);
  // QEMU's DMI with KVM acceleration: the CPUID signature tells them apart,
  // as systemd-detect-virt does.
  if (root.is_live() && (dmi.empty() || dmi == "qemu")) {
    std::string cpuid = VmFromCpuid();
    if (!cpuid.empty() && (cpuid != "vm-other" || dmi.empty())) return cpuid;
  }
  if (!dmi.empty()) return dmi;
  common::StatusOr<std::string> cpuinfo = root.Read("proc/cpuinfo", 16u << 20);
  if (cpuinfo.ok()) {
    for (std::string_view line : Lines(*cpuinfo)) {
      if (!StartsWith(line, "flags")) continue;
      std::string padded = " " + std::string(line.substr(line.find(':') + 1)) + " ";
      if (padded.find(" hypervisor ") != std::string::npos) return "vm-other";
      break;
    }
  }
  return std::string();
}

// systemd-detect-virt's container ids, from the marks container managers
// leave. The order follows systemd: explicit declarations first.
std::string DetectContainer(const Root& root, Section* s) {
  if (root.List("proc/vz").size() > 0 && root.List("proc/bc").empty()) return "openvz";
  std::string osrelease = root.ReadTrimmed("proc/sys/kernel/osrelease");
  if (osrelease.find("Microsoft") != std::string::npos ||
      osrelease.find("WSL") != std::string::npos) {
    return "wsl";
  }
  std::string declared = root.ReadTrimmed("run/systemd/container");
  if (!declared.empty()) return declared == "oci" ? "container-other" : declared;
  common::StatusOr<std::string> environ = root.Read("proc/1/environ");
  if (environ.ok()) {
    std::string_view env = *environ;
    while (!env.empty()) {
      size_t nul = env.find('\0');
      std::string_view var = env.substr(0, nul);
      if (StartsWith(var, "container=") && var.size() > 10) {
        std::string v(var.substr(10));
        return v == "oci" ? "container-other" : v;
      }
      if (nul == std::string_view::npos) break;
      env.remove_prefix(nul + 1);
    }
  }
  // Root-only, and denied even to root in containers without CAP_SYS_PTRACE.
  // Worth a note only when no other mark answers (see the end).
  bool environ_denied = !environ.ok() && environ.status().code() == common::Code::kPermissionDenied;
  if (!root.ReadTrimmed("run/host/container-manager").empty()) {
    return root.ReadTrimmed("run/host/container-manager");
  }
  std::error_code ec;
  if (std::filesystem::exists(root.Path("run/.containerenv"), ec)) return "podman";
  if (std::filesystem::exists(root.Path(".dockerenv"), ec)) return "docker";
  common::StatusOr<std::string> cgroup = root.Read("proc/1/cgroup");
  if (cgroup.ok()) {
    if (cgroup->find("/libpod-") != std::string::npos) return "podman";
    if (cgroup->find("/docker") != std::string::npos) return "docker";
    if (cgroup->find("/lxc") != std::string::npos) return "lxc";
  }
  if (environ_denied) {
    s->notes.push_back(environ.status().message() +
                       " (init's environment: a container that leaves no other mark is missed)");
  }
  return std::string();
}

}  // namespace

Section CollectBatteries(const Root& root) {
  Section s;
  s.name = "batteries";
  for (const std::string& name : root.List(kSupplyDir)) {
    std::string dir = std::string(kSupplyDir) + "/" + name + "/";
    if (root.ReadTrimmed(dir + "type") != "Battery") continue;
    // A value that is present but not a number is noted, then left out.
    auto number = [&](const std::string& file, uint64_t* out) {
      std::string text = root.ReadTrimmed(dir + file);
      if (ParseU64(text, out)) return true;
      if (!text.empty()) {
        s.notes.push_back(root.Path(dir + file) + ": '" + text + "' is not a number");
      }
      return false;
    };
    Item item;
    item.key = name;
    item.Add("manufacturer", root.ReadTrimmed(dir + "manufacturer"));
    item.Add("model", root.ReadTrimmed(dir + "model_name"));
    item.Add("serial", root.ReadTrimmed(dir + "serial_number"));
    item.Add("technology", root.ReadTrimmed(dir + "technology"));
    uint64_t design = 0;
    uint64_t full = 0;
    uint64_t volts = 0;
    bool have_volts = number("voltage_min_design", &volts) && volts > 0;
    if (number("energy_full_design", &design)) {
      item.Add("design_capacity_wh", FormatMicro(design));
    } else if (have_volts && number("charge_full_design", &design)) {
      item.Add("design_capacity_wh", FormatMicro(MicroWattHours(design, volts)));
    }
    if (number("energy_full", &full)) {
      item.Add("full_capacity_wh", FormatMicro(full));
    } else if (have_volts && number("charge_full", &full)) {
      item.Add("full_capacity_wh", FormatMicro(MicroWattHours(full, volts)));
    }
    if (have_volts) item.Add("voltage_design_v", FormatMicro(volts));
    uint64_t n = 0;
    if (number("cycle_count", &n)) item.Add("cycle_count", std::to_string(n));
    if (number("capacity", &n)) {
      if (n <= 100) {
        item.Add("capacity_percent", std::to_string(n));
      } else {
        s.notes.push_back(root.Path(dir + "capacity") + ": " + std::to_string(n) +
                          " is not a percentage");
      }
    }
    item.Add("status", root.ReadTrimmed(dir + "status"));
    s.items.push_back(std::move(item));
  }
  s.SortItems();
  return s;
}

Section CollectVirtualization(const Root& root) {
  Section s;
  s.name = "virtualization";
  Item item;
  item.key = "host";
  std::string container = DetectContainer(root, &s);
  std::string vm = DetectVm(root);
  if (!container.empty()) {
    item.Add("type", "container");
    item.Add("technology", container);
    // What the container's host itself runs on, as `systemd-detect-virt --vm`.
    item.Add("vm", vm);
  } else if (!vm.empty()) {
    item.Add("type", "vm");
    item.Add("technology", vm);
  } else {
    item.Add("type", "none");
    item.Add("technology", "none");
  }
  s.items.push_back(std::move(item));
  return s;
}

}  // namespace inventory::hw

// Processors (cpus) and swap areas (swap), from /proc and the CPU topology
// in /sys.
#include <sys/utsname.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collect_hw.h"

namespace inventory::hw {
namespace {

// One "processor" block of /proc/cpuinfo.
struct Processor {
  std::string number;  // "processor" value: the N of /sys/devices/system/cpu/cpuN
  std::map<std::string, std::string, std::less<>> values;

  const std::string& Get(std::string_view key) const {
    static const std::string none;
    auto it = values.find(key);
    return it == values.end() ? none : it->second;
  }
};

// Blocks start at a "processor" line. ARM kernels put a few machine-wide
// lines (Hardware, Revision) after the last block: they land in it, which is
// harmless since those keys are only fallbacks.
std::vector<Processor> ParseCpuinfo(std::string_view text, std::vector<size_t>* bad_lines) {
  std::vector<Processor> out;
  std::map<std::string, std::string, std::less<>> before;  // lines before any block
  size_t line_no = 0;
  for (std::string_view line : Lines(text)) {
    ++line_no;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string key(Trim(line.substr(0, colon)));
    std::string value(Trim(line.substr(colon + 1)));
    if (key == "processor") {
      uint64_t n = 0;
      if (!ParseU64(value, &n)) {
        bad_lines->push_back(line_no);
        continue;
      }
      out.push_back({value, before});
      continue;
    }
    auto& values = out.empty() ? before : out.back().values;
    values.emplace(std::move(key), std::move(value));
  }
  return out;
}

// x86 kernels name no architecture in cpuinfo; the long-mode flag tells
// 64-bit from 32-bit capable parts. Only used for fixture roots: the live
// machine answers with uname().
std::string ArchFromCpuinfo(const Processor& p) {
  const std::string& flags = p.Get("flags");
  if (!flags.empty()) {
    std::string padded = " " + flags + " ";
    return padded.find(" lm ") != std::string::npos ? "x86_64" : "i686";
  }
  const std::string& arm = p.Get("CPU architecture");
  if (arm == "8") return "aarch64";
  if (!arm.empty()) return "armv" + arm;
  return std::string();
}

std::string ModelName(const Processor& p) {
  // ARM and MIPS kernels have no "model name"; these are the closest.
  for (std::string_view key : {"model name", "Model", "cpu model", "Hardware"}) {
    if (!p.Get(key).empty()) return p.Get(key);
  }
  return std::string();
}

struct Package {
  std::vector<const Processor*> threads;
  std::set<std::string> core_ids;
  uint64_t max_khz = 0;
};

}  // namespace

Section CollectCpus(const Root& root) {
  Section s;
  s.name = "cpus";
  common::StatusOr<std::string> text = root.Read("proc/cpuinfo", 16u << 20);
  if (!text.ok()) {
    s.notes.push_back(text.status().message());
    return s;
  }
  std::vector<size_t> bad_lines;
  std::vector<Processor> procs = ParseCpuinfo(*text, &bad_lines);
  for (size_t n : bad_lines) {
    s.notes.push_back(root.Path("proc/cpuinfo") + ":" + std::to_string(n) +
                      ": 'processor' is not a CPU number; line ignored");
  }
  if (procs.empty()) {
    s.notes.push_back(root.Path("proc/cpuinfo") + ": no processor entries");
    return s;
  }
  std::string arch;
  if (root.is_live()) {
    struct utsname u {};
    if (::uname(&u) == 0) arch = u.machine;
  }
  if (arch.empty()) arch = ArchFromCpuinfo(procs.front());

  // Topology from sysfs first (exact on every architecture), else the
  // cpuinfo fields x86 writes, else one package.
  std::map<uint64_t, Package> packages;
  bool guessed = false;
  for (const Processor& p : procs) {
    std::string dir = "sys/devices/system/cpu/cpu" + p.number;
    std::string pkg_text = root.ReadTrimmed(dir + "/topology/physical_package_id");
    if (pkg_text.empty()) pkg_text = p.Get("physical id");
    uint64_t pkg = 0;
    // ARM firmware without package data reports -1: one package.
    if (!ParseU64(pkg_text, &pkg)) {
      pkg = 0;
      guessed = true;
    }
    Package& package = packages[pkg];
    package.threads.push_back(&p);
    std::string core = root.ReadTrimmed(dir + "/topology/core_id");
    if (core.empty()) core = p.Get("core id");
    package.core_ids.insert(core.empty() ? "cpu" + p.number : core);
    uint64_t khz = 0;
    if (ParseU64(root.ReadTrimmed(dir + "/cpufreq/cpuinfo_max_freq"), &khz)) {
      package.max_khz = std::max(package.max_khz, khz);
    }
  }
  if (guessed && packages.size() == 1) {
    s.notes.push_back(
        "no physical package ids (topology not exported): all processors counted as one package");
  }

  // Keys are the packages' ordinals ("cpu0", "cpu1"): stable across boots,
  // unlike package ids on some firmware.
  size_t ordinal = 0;
  for (const auto& [id, package] : packages) {
    const Processor& first = *package.threads.front();
    Item item;
    item.key = "cpu" + std::to_string(ordinal++);
    item.Add("vendor", first.Get("vendor_id").empty() ? first.Get("CPU implementer")
                                                      : first.Get("vendor_id"));
    item.Add("model", ModelName(first));
    item.Add("family", first.Get("cpu family"));
    item.Add("model_id", first.Get("model"));
    item.Add("stepping", first.Get("stepping"));
    item.Add("cores", std::to_string(package.core_ids.size()));
    item.Add("threads", std::to_string(package.threads.size()));
    if (package.max_khz != 0) {
      item.Add("frequency_mhz", std::to_string((package.max_khz + 500) / 1000));
    } else {
      char* end = nullptr;
      const std::string& mhz = first.Get("cpu MHz");
      double v = std::strtod(mhz.c_str(), &end);
      if (!mhz.empty() && end != nullptr && *end == '\0' && std::isfinite(v) && v > 0 && v < 1e6) {
        item.Add("frequency_mhz", std::to_string(static_cast<uint64_t>(std::llround(v))));
      }
    }
    item.Add("arch", arch);
    s.items.push_back(std::move(item));
  }
  s.SortItems();
  return s;
}

Section CollectSwap(const Root& root) {
  Section s;
  s.name = "swap";
  common::StatusOr<std::string> text = root.Read("proc/swaps");
  if (!text.ok()) {
    s.notes.push_back(text.status().message());
    return s;
  }
  std::vector<std::string_view> lines = Lines(*text);
  // Line 1 is the header "Filename Type Size Used Priority".
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string_view> cols;
    std::string_view rest = lines[i];
    while (!(rest = Trim(rest)).empty()) {
      size_t end = rest.find_first_of(" \t");
      cols.push_back(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    }
    if (cols.empty()) continue;
    uint64_t kib = 0;
    if (cols.size() != 5 || !ParseU64(cols[2], &kib) || kib > UINT64_MAX / 1024) {
      s.notes.push_back(root.Path("proc/swaps") + ":" + std::to_string(i + 1) +
                        ": not 'file type size used priority'");
      continue;
    }
    Item item;
    item.key = UnescapeOctal(cols[0]);
    item.Add("type", std::string(cols[1]));
    item.Add("size_bytes", std::to_string(kib * 1024));
    item.Add("priority", std::string(cols[4]));
    s.items.push_back(std::move(item));
  }
  s.SortItems();
  return s;
}

}  // namespace inventory::hw

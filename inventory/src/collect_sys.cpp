// System collectors (collectors.h): the entry point, the helpers of
// collect_sys.h and the "system" section. Sources: docs/inventory_system.md.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collect_sys.h"
#include "collectors.h"
#include "common/time.h"

namespace inventory {
namespace {

// Installation dates before 2000 come from a machine whose clock was not set
// (or from an image built with reproducible, zeroed times): not a real date.
constexpr int64_t kOldestInstallDate = 946684800;  // 2000-01-01T00:00:00Z

std::string FirstLine(std::string_view text) {
  for (std::string_view line : Lines(text)) {
    line = Trim(line);
    if (!line.empty() && line.front() != '#') return std::string(line);
  }
  return {};
}

// The version of "Rocky Linux release 9.3 (Blue Onyx)": the word after
// "release"; the whole line when there is none.
std::string ReleaseVersion(const std::string& line) {
  std::vector<std::string_view> words = Words(line);
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "release") return std::string(words[i + 1]);
  }
  return line;
}

void AddOsRelease(const Root& root, Item* item) {
  common::StatusOr<std::string> text = root.Read("etc/os-release");
  if (!text.ok()) text = root.Read("usr/lib/os-release");
  if (!text.ok()) return;  // Collect() itself fails on this, with the reason
  for (std::string_view line : Lines(*text)) {
    line = Trim(line);
    if (StartsWith(line, "VERSION_CODENAME=")) {
      item->Add("codename", OsReleaseValue(line.substr(17)));
    }
  }
}

void AddPointRelease(const Root& root, Item* item) {
  std::string debian = FirstLine(root.ReadTrimmed("etc/debian_version"));
  if (!debian.empty()) {
    item->Add("point_release", debian);
    return;
  }
  // Distribution-specific first, the generic Red Hat file last (Rocky and
  // Alma ship both, with the same line).
  for (std::string_view rel :
       {"etc/rocky-release", "etc/almalinux-release", "etc/centos-release", "etc/fedora-release",
        "etc/redhat-release", "etc/SuSE-release", "etc/alpine-release"}) {
    std::string line = FirstLine(root.ReadTrimmed(rel));
    if (!line.empty()) {
      item->Add("point_release", ReleaseVersion(line));
      return;
    }
  }
}

void AddInstallDate(const Root& root, Item* item) {
  int64_t best = 0;
  std::string source;
  auto consider = [&](std::optional<int64_t> t, std::string name) {
    if (t && *t >= kOldestInstallDate && (best == 0 || *t < best)) {
      best = *t;
      source = std::move(name);
    }
  };
  // The installers' log folders are written once, at the end of installation.
  consider(ModifiedTime(root, "var/log/installer"), "/var/log/installer");
  consider(ModifiedTime(root, "var/log/anaconda"), "/var/log/anaconda");
  // Written at first boot by systemd-machine-id-setup (or the installer).
  consider(ModifiedTime(root, "etc/machine-id"), "/etc/machine-id");
  if (root.is_live()) {
    // The root file system's creation (ext4, xfs and btrfs keep it); in a
    // container this is the image's, which is the best there is.
    struct statx stx {};
    if (::statx(AT_FDCWD, "/", 0, STATX_BTIME, &stx) == 0 && (stx.stx_mask & STATX_BTIME) != 0) {
      consider(static_cast<int64_t>(stx.stx_btime.tv_sec), "statx(/).btime");
    }
  }
  if (best != 0) {
    item->Add("install_date", common::FormatRfc3339(best));
    item->Add("install_date_source", source);
  }
}

void AddTimezone(const Root& root, Item* item) {
  std::string tz = FirstLine(root.ReadTrimmed("etc/timezone"));
  if (tz.empty()) {
    // /etc/localtime -> /usr/share/zoneinfo/Europe/Paris (or a relative
    // ../usr/share/zoneinfo/...); the posix/ and right/ variants name the
    // same zone.
    std::string target = root.LinkTarget("etc/localtime");
    size_t at = target.find("zoneinfo/");
    if (at != std::string::npos) {
      tz = target.substr(at + 9);
      for (std::string_view prefix : {"posix/", "right/"}) {
        if (StartsWith(tz, prefix)) tz = tz.substr(prefix.size());
      }
    }
  }
  item->Add("timezone", tz);
}

// The fully qualified name the resolver would give without asking DNS: the
// canonical (first) name of the /etc/hosts line that lists the host name.
void AddFqdn(const Root& root, Item* item) {
  std::string host = FirstLine(root.ReadTrimmed("etc/hostname"));
  if (host.empty()) host = root.ReadTrimmed("proc/sys/kernel/hostname");
  if (host.empty() && root.is_live()) {
    struct utsname u {};
    if (::uname(&u) == 0) host = u.nodename;
  }
  std::vector<std::string_view> words = Words(host);
  if (words.empty()) return;
  std::string name(words[0]);
  std::string fqdn = name;
  if (name.find('.') == std::string::npos) {
    std::string hosts = root.ReadTrimmed("etc/hosts");
    bool found = false;
    for (std::string_view line : Lines(hosts)) {
      line = line.substr(0, line.find('#'));
      std::vector<std::string_view> parts = Words(line);
      for (size_t i = 1; i < parts.size() && !found; ++i) {
        if (Lower(parts[i]) == Lower(name)) {
          fqdn = std::string(parts[1]);
          found = true;
        }
      }
      if (found) break;
    }
  }
  item->Add("fqdn", fqdn);
  size_t dot = fqdn.find('.');
  if (dot != std::string::npos) item->Add("domain", fqdn.substr(dot + 1));
}

void AddMachineId(const Root& root, Item* item, Section* section) {
  std::string id = root.ReadTrimmed("etc/machine-id");
  if (id.empty()) return;
  bool hex = id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (hex) {
    item->Add("machine_id", id);
  } else {
    // "uninitialized" (an image before first boot) or damage.
    section->notes.push_back("/etc/machine-id: not 32 lower-case hex digits");
  }
}

}  // namespace

std::string ReadNote(std::string_view rel, const common::Status& status) {
  std::string what = "/" + std::string(rel) + ": ";
  switch (status.code()) {
    case common::Code::kNotFound:
      return what + "not found";
    case common::Code::kPermissionDenied:
      return what + "permission denied (needs root)";
    case common::Code::kResourceExhausted:
      return what + "too large, not read";
    default:
      return what + status.message();
  }
}

std::optional<int64_t> BootTime(const Root& root, Section* section) {
  std::optional<std::string> stat = ReadOrNote(root, "proc/stat", section, 16u << 20);
  if (!stat) return std::nullopt;
  for (std::string_view line : Lines(*stat)) {
    if (!StartsWith(line, "btime ")) continue;
    uint64_t t = 0;
    if (ParseU64(Trim(line.substr(6)), &t) && t <= (uint64_t{1} << 40)) {
      return static_cast<int64_t>(t);
    }
    section->notes.push_back("/proc/stat: btime '" + std::string(Trim(line.substr(6))) +
                             "' is not unix seconds");
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> ReadOrNote(const Root& root, std::string_view rel, Section* section,
                                      uint64_t cap) {
  common::StatusOr<std::string> text = root.Read(rel, cap);
  if (text.ok()) return std::move(*text);
  if (text.status().code() != common::Code::kNotFound) {
    section->notes.push_back(ReadNote(rel, text.status()));
  }
  return std::nullopt;
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t b = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > b) words.push_back(line.substr(b, i - b));
  }
  return words;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return parts;
}

std::string JoinComma(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += ',';
    out += p;
  }
  return out;
}

std::optional<int64_t> ModifiedTime(const Root& root, std::string_view rel) {
  struct stat st {};
  if (::lstat(root.Path(rel).c_str(), &st) != 0) return std::nullopt;
  return static_cast<int64_t>(st.st_mtim.tv_sec);
}

std::string EnablementLink(const Root& root, std::string_view unit) {
  for (const std::string& dir : root.List("etc/systemd/system")) {
    if (dir.size() < 6 || dir.substr(dir.size() - 6) != ".wants") continue;
    std::string rel = "etc/systemd/system/" + dir + "/" + std::string(unit);
    if (!root.LinkTarget(rel).empty()) return "/" + rel;
  }
  return {};
}

Section CollectSystem(const Root& root) {
  Section section = NewSection("system");
  Item item = NewItem("system");
  AddOsRelease(root, &item);
  AddPointRelease(root, &item);
  AddInstallDate(root, &item);
  if (std::optional<int64_t> boot = BootTime(root, &section)) {
    item.Add("boot_time", common::FormatRfc3339(*boot));
  }
  AddTimezone(root, &item);
  AddFqdn(root, &item);
  AddMachineId(root, &item, &section);
  // The kernel's build string, as `uname -v` prints it.
  std::string version = root.ReadTrimmed("proc/sys/kernel/version");
  if (version.empty() && root.is_live()) {
    struct utsname u {};
    if (::uname(&u) == 0) version = u.version;
  }
  item.Add("kernel_version", version);
  section.items.push_back(std::move(item));
  return section;
}

std::vector<Section> CollectSystemSections(const Root& root) {
  std::vector<Section> out;
  out.push_back(CollectSystem(root));
  out.push_back(CollectNetwork(root));
  out.push_back(CollectRoutes(root));
  out.push_back(CollectDns(root));
  Section users = NewSection("users");
  Section groups = NewSection("groups");
  CollectAccounts(root, &users, &groups);
  out.push_back(std::move(users));
  out.push_back(std::move(groups));
  out.push_back(CollectLogins(root));
  out.push_back(CollectFirewall(root));
  out.push_back(CollectRepositories(root));
  out.push_back(CollectEnvironment(root));
  out.push_back(CollectProcesses(root));
  for (Section& s : out) s.SortItems();
  return out;
}

}  // namespace inventory

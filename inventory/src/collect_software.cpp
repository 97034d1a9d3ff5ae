// Software collectors: the dpkg database, the helpers every package reader
// shares, and CollectPackages, which runs every reader and builds the
// package_sources section. See collectors.h and collect_software.h.
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "collect_software.h"
#include "collectors.h"
#include "inventory/collect.h"

namespace inventory {

int64_t MtimeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec);
}

uint64_t SizeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return static_cast<uint64_t>(st.st_size);
}

std::string Reason(const common::Status& status) {
  // ReadFile's messages are "<what> <fixture path>: <reason>"; notes name
  // device paths, so only the reason is kept.
  const std::string& m = status.message();
  const size_t colon = m.rfind(": ");
  return colon == std::string::npos ? m : m.substr(colon + 2);
}

std::vector<Package> ParseDpkgStatus(const std::string& text) {
  std::vector<Package> packages;
  Package pkg;
  std::string status;
  bool in_stanza = false;
  std::string key;  // the field being read, whose continuation lines follow
  // dpkg strips trailing blanks from a field's whole value, not from each
  // line: a synopsis followed by a long description keeps them, and
  // dpkg-query's ${binary:Summary} prints them.
  bool description_continues = false;
  auto finish = [&]() {
    // deb822 stanzas without a name or version are damaged; skip them
    // rather than reporting half a package.
    // Status is "<selection> <flag> <state>". A package is on the machine
    // in every state but not-installed and config-files (what `dpkg -l`
    // shows as ii, iU, iF, iH, iW, it): during an apt run many are
    // unpacked, half-configured or waiting for triggers, and are still
    // installed software. Neither the selection (install, hold, deinstall)
    // nor the flag (ok, reinstreq) changes that.
    const size_t space = status.rfind(' ');
    const std::string state = space == std::string::npos ? "" : status.substr(space + 1);
    const bool installed = std::count(status.begin(), status.end(), ' ') == 2 && !state.empty() &&
                           state != "not-installed" && state != "config-files";
    if (!description_continues) pkg.summary = std::string(Trim(pkg.summary));
    if (in_stanza && installed && !pkg.name.empty() && !pkg.version.empty()) {
      packages.push_back(std::move(pkg));
    }
    pkg = Package();
    status.clear();
    in_stanza = false;
    key.clear();
    description_continues = false;
  };
  for (std::string_view line : Lines(text)) {
    if (Trim(line).empty()) {
      finish();
      continue;
    }
    in_stanza = true;
    // Continuation lines (the long Description, Conffiles) are not reported.
    if (line.front() == ' ' || line.front() == '\t') {
      if (key == "description") description_continues = true;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    // deb822 field names are case-insensitive.
    key = Lower(line.substr(0, colon));
    std::string value(Trim(line.substr(colon + 1)));
    if (key == "package") {
      pkg.name = value;
    } else if (key == "status") {
      status = value;
    } else if (key == "version") {
      pkg.version = value;
    } else if (key == "architecture") {
      pkg.arch = value;
    } else if (key == "installed-size") {
      // KiB, as dpkg-gencontrol computes it. A value that is not a number
      // (or would overflow in bytes) is left out rather than guessed.
      uint64_t kib = 0;
      if (ParseU64(value, &kib) && kib <= UINT64_MAX / 1024) pkg.size_bytes = kib * 1024;
    } else if (key == "section") {
      pkg.section = value;
    } else if (key == "maintainer") {
      pkg.maintainer = value;
    } else if (key == "description") {
      // The synopsis: dpkg-query's ${binary:Summary}. Leading blanks go,
      // trailing ones are decided in finish().
      std::string_view synopsis = line.substr(colon + 1);
      while (!synopsis.empty() && (synopsis.front() == ' ' || synopsis.front() == '\t')) synopsis.remove_prefix(1);
      pkg.summary = std::string(synopsis);
    }
  }
  finish();
  return packages;
}

SourceReport CollectDpkg(const Root& root) {
  SourceReport report;
  const std::string rel = "var/lib/dpkg/status";
  report.database = DevicePath(rel);
  common::StatusOr<std::string> status = root.Read(rel, kDpkgStatusCap);
  // No dpkg database (another distribution) means no dpkg packages, not an error.
  if (status.status().code() == common::Code::kNotFound) return report;
  report.found = true;
  if (!status.ok()) {
    report.notes.push_back(report.database + ": " + Reason(status.status()));
    return report;
  }
  report.packages = ParseDpkgStatus(*status);
  // dpkg writes info/<name>.list when it unpacks a package, and rewrites it
  // on every upgrade, so its mtime is when the installed version arrived.
  // Multi-Arch: same packages, which may be installed for several
  // architectures at once, have info/<name>:<arch>.list instead.
  for (Package& pkg : report.packages) {
    const std::string info = root.Path("var/lib/dpkg/info/");
    pkg.installed_at = MtimeOf(info + pkg.name + ".list");
    if (pkg.installed_at == 0 && !pkg.arch.empty()) {
      pkg.installed_at = MtimeOf(info + pkg.name + ":" + pkg.arch + ".list");
    }
  }
  return report;
}

void CollectPackages(const Root& root, std::vector<Package>* packages, Section* sources) {
  sources->name = "package_sources";
  const std::pair<const char*, SourceReport (*)(const Root&)> readers[] = {
      {"dpkg", CollectDpkg}, {"rpm", CollectRpm}, {"snap", CollectSnap}, {"flatpak", CollectFlatpak}};
  std::vector<Package> all;
  for (const auto& [name, read] : readers) {
    SourceReport report = read(root);
    if (!report.found) continue;
    Item item;
    item.key = name;
    item.Add("database", report.database);
    item.Add("packages", std::to_string(report.packages.size()));
    sources->items.push_back(std::move(item));
    for (std::string& note : report.notes) sources->notes.push_back(std::move(note));
    for (Package& pkg : report.packages) {
      pkg.source = name;
      all.push_back(std::move(pkg));
    }
  }
  // One order whatever the databases' own (dpkg's is by name, rpm's by
  // install order, directories' by the file system), so that two
  // inventories of an unchanged machine are equal.
  std::stable_sort(all.begin(), all.end(), [](const Package& a, const Package& b) {
    return std::tie(a.source, a.name, a.arch) < std::tie(b.source, b.name, b.arch);
  });
  *packages = std::move(all);
  sources->SortItems();
}

}  // namespace inventory

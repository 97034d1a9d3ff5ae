// Software collectors: the package databases (dpkg here; rpm, snap and
// flatpak to come) and the package_sources section. See collectors.h.
#include <string>
#include <vector>

#include "collectors.h"
#include "inventory/collect.h"

namespace inventory {

std::vector<Package> ParseDpkgStatus(const std::string& text) {
  std::vector<Package> packages;
  Package pkg;
  std::string status;
  bool in_stanza = false;
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
    if (in_stanza && installed && !pkg.name.empty() && !pkg.version.empty()) {
      packages.push_back(std::move(pkg));
    }
    pkg = Package();
    status.clear();
    in_stanza = false;
  };
  for (std::string_view line : Lines(text)) {
    if (Trim(line).empty()) {
      finish();
      continue;
    }
    in_stanza = true;
    // Continuation lines (Description, Conffiles) belong to fields we ignore.
    if (line.front() == ' ' || line.front() == '\t') continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    // deb822 field names are case-insensitive.
    std::string key = Lower(line.substr(0, colon));
    std::string value(Trim(line.substr(colon + 1)));
    if (key == "package") {
      pkg.name = value;
    } else if (key == "status") {
      status = value;
    } else if (key == "version") {
      pkg.version = value;
    } else if (key == "architecture") {
      pkg.arch = value;
    }
  }
  finish();
  return packages;
}

void CollectPackages(const Root& root, std::vector<Package>* packages, Section* sources) {
  sources->name = "package_sources";
  common::StatusOr<std::string> status = root.Read("var/lib/dpkg/status", kDpkgStatusCap);
  // No dpkg database (another distribution) means no dpkg packages, not an error.
  if (status.ok()) *packages = ParseDpkgStatus(*status);
}

}  // namespace inventory

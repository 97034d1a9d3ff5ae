// Linux collectors: build an Inventory of the machine this runs on.
//
// Every path is read relative to `root` ("/" in production; a fixture tree in
// tests), so collectors are tested against files in tests/data/inventory/.
// A part that cannot be read (DMI serial without root, no dpkg database) is left
// empty rather than failing the collection; only an unreadable os-release is an
// error. Network addresses come from getifaddrs() only when root == "/".
#pragma once

#include <string>

#include "common/status.h"
#include "inventory/inventory.h"

namespace inventory {

struct CollectOptions {
  std::string root = "/";
  bool hardware = true;
  bool software = true;
};

common::StatusOr<Inventory> Collect(const std::string& device_id, const CollectOptions& options);

// Parses a dpkg status file's text; returns the packages whose Status is
// "<selection> ok installed" (install, hold, ...). Malformed stanzas are skipped.
std::vector<Package> ParseDpkgStatus(const std::string& text);

}  // namespace inventory

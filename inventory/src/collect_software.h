// The package-database readers behind CollectPackages (collectors.h), one
// per source, each in its own collect_software_<source>.cpp. Private to
// inventory/. Formats, fields and notes: docs/inventory_software.md.
//
// Contract for every reader: read files under `root` only, never run a
// program, never throw, never fail. A database that is absent leaves
// `found` false and says nothing; one that is present but (partly)
// unreadable is `found`, keeps what could be read, and explains the rest in
// `notes`, one sentence each, naming device paths ("/var/lib/rpm/..."), not
// the fixture's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collect_root.h"
#include "inventory/inventory.h"

namespace inventory {

struct SourceReport {
  bool found = false;             // the database exists under root
  std::string database{};         // its path on the device, e.g. "/var/lib/dpkg/status"
  std::vector<Package> packages{};  // in no particular order; CollectPackages sorts
  std::vector<std::string> notes{};
};

SourceReport CollectDpkg(const Root& root);     // collect_software.cpp
SourceReport CollectRpm(const Root& root);      // collect_software_rpm.cpp
SourceReport CollectSnap(const Root& root);     // collect_software_snap.cpp
SourceReport CollectFlatpak(const Root& root);  // collect_software_flatpak.cpp

// The file's mtime in unix seconds, or 0 when it does not exist or cannot be
// examined. Follows symbolic links.
int64_t MtimeOf(const std::string& path);

// The file's size in bytes, or 0 when it is not a regular file.
uint64_t SizeOf(const std::string& path);

// "/" + rel: how a path under the root is named in notes and in the
// package_sources section.
inline std::string DevicePath(std::string_view rel) { return "/" + std::string(rel); }

// A ReadFile error as a note's tail: "too large (over 1048576 bytes)",
// "permission denied", ...
std::string Reason(const common::Status& status);

}  // namespace inventory

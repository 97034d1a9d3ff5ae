// Linux collectors: build an Inventory of the machine this runs on.
//
// Every path is read relative to `root` ("/" in production; a fixture tree in
// tests), so collectors are tested against files in tests/data/inventory/.
// A part that cannot be read (DMI serial without root, no dpkg database) is left
// empty rather than failing the collection; only an unreadable os-release is an
// error. Network addresses come from getifaddrs() only when root == "/".
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "inventory/inventory.h"

namespace inventory {

// One file-evidence rule (policy.xml <rule>): regular files under any
// `include` folder, not under any `exclude` folder, whose base name matches
// any of `patterns` (fnmatch globs).
struct FileRule {
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::vector<std::string> patterns;
};

struct CollectOptions {
  std::string root = "/";
  bool hardware = true;
  bool software = true;
  std::vector<FileRule> file_rules;  // empty: no file evidence
  size_t max_files = 10000;          // evidence stops here (a warning is logged)
  uint64_t max_hash_bytes = 256u << 20;  // larger files are reported without a hash
};

common::StatusOr<Inventory> Collect(const std::string& device_id, const CollectOptions& options);

// The files the rules select, sorted by path. Symbolic links are neither
// followed nor reported; /proc, /sys and /dev are never entered; unreadable
// folders are skipped; paths that are not absolute POSIX paths (rules written
// for Windows) select nothing. Reported paths are as on the device, without
// options.root.
std::vector<FileEvidence> CollectFiles(const CollectOptions& options);

// Parses a dpkg status file's text; returns the packages on the machine, in
// file order: every Status state but not-installed and config-files, with
// the details the file holds (size_bytes from Installed-Size, section,
// maintainer, summary: Description's first line as dpkg-query prints it).
// installed_at stays 0 (it comes from info/*.list, see CollectPackages).
// Malformed stanzas are skipped.
std::vector<Package> ParseDpkgStatus(const std::string& text);

}  // namespace inventory

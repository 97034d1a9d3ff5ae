// The inventory document: what one device reports about itself.
//
// Serialized as XML (format in docs/inventory.md) and gzip-compressed for
// upload (inventory/pack.h). ParseInventoryXml rejects anything that does not
// match the format with "<source>:<line>:<column>: message"; it never throws.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "inventory/sections.h"

namespace inventory {

struct OsInfo {
  std::string name;         // os-release NAME, e.g. "Debian GNU/Linux"
  std::string id;           // os-release ID, e.g. "debian"
  std::string version;      // os-release VERSION, e.g. "12 (bookworm)"
  std::string version_id;   // os-release VERSION_ID, e.g. "12"
  std::string pretty_name;  // os-release PRETTY_NAME
  std::string kernel;       // uname release, e.g. "6.1.0-18-amd64"
  std::string arch;         // uname machine, e.g. "x86_64"
  std::string hostname;
  bool operator==(const OsInfo&) const = default;
};

struct Disk {
  std::string name;  // kernel name, e.g. "vda"
  std::string model;
  uint64_t size_bytes = 0;
  bool operator==(const Disk&) const = default;
};

struct NetInterface {
  std::string name;                    // e.g. "eth0"
  std::string mac;                     // lower-case "aa:bb:cc:dd:ee:ff", empty if none
  std::vector<std::string> addresses;  // "192.0.2.1/24", "2001:db8::1/64"
  // A link with no device of its own (under /sys/devices/virtual/net:
  // bridges, tunnels, veth pairs, ifb, VPNs), not network hardware.
  bool is_virtual = false;
  bool operator==(const NetInterface&) const = default;
};

struct Hardware {
  std::string vendor;  // DMI sys_vendor; empty when not readable
  std::string model;   // DMI product_name
  std::string serial;  // DMI product_serial (root only)
  std::string cpu_model;
  uint32_t cpu_cores = 0;  // logical processors
  uint64_t memory_bytes = 0;
  std::vector<Disk> disks;
  std::vector<NetInterface> interfaces;
  bool operator==(const Hardware&) const = default;
};

struct Package {
  std::string name;
  std::string version;
  std::string arch;
  std::string source = "dpkg";  // package database it came from: dpkg, rpm, snap, flatpak
  // Details, each empty/0 when the database does not say.
  int64_t installed_at = 0;  // unix seconds the package was installed or last upgraded
  uint64_t size_bytes = 0;   // installed size
  std::string section{};     // dpkg Section, rpm Group, flatpak/snap kind
  std::string maintainer{};  // dpkg Maintainer, rpm Vendor/Packager, snap publisher
  std::string summary{};     // the one-line description
  bool operator==(const Package&) const = default;
};

// A file reported because its presence proves an installation the package
// database does not show (policy.xml <file-evidence>).
struct FileEvidence {
  std::string path;       // absolute path on the device
  uint64_t size = 0;      // bytes
  int64_t modified = 0;   // mtime, unix seconds
  std::string sha256;     // lower-case hex; empty when the file was over the hashing cap or unreadable
  bool operator==(const FileEvidence&) const = default;
};

struct Inventory {
  std::string device_id;     // UUID of the device
  std::string collected_at;  // RFC 3339 UTC, e.g. "2026-11-22T16:00:00Z"; the device's
                             // clock: recorded, never used to order inventories
  // The device's own inventory counter (1, 2, ...; 0 = not numbered, from an
  // older client). The store keeps the inventory with the highest sequence.
  // Written as the root's `sequence` attribute when > 0; absent reads as 0.
  // At most 999999999999999999 (the decimal parser's 18 digits).
  int64_t sequence = 0;
  OsInfo os;
  Hardware hardware;
  std::vector<Package> software;
  std::vector<FileEvidence> files;  // sorted by path; empty without file-evidence rules
  std::vector<Section> sections{};  // detailed inventory (inventory/sections.h), sorted by name
  // Deltas (docs/inventory.md#deltas). 0: a full inventory. Otherwise the
  // sequence of the inventory this one is relative to: only the parts named
  // in `parts` are carried (an empty one was emptied or is gone), every other
  // part is as it was in that inventory.
  int64_t base = 0;
  // For a delta, the sorted names of the parts it carries: "os", "hardware",
  // "software", "files" and section names (the reader fills it; the writer
  // writes exactly these). Empty for a full inventory.
  std::vector<std::string> parts{};
  bool operator==(const Inventory&) const = default;
};

// The parts of an inventory, for deltas: "os", "hardware", "software",
// "files", then one per section, each with a SHA-256 (hex) of its values
// (each value length-prefixed, in document order). Equal parts have equal
// digests; any change to a part changes its digest. Digests are compared
// only with digests this same function made (client with client, store
// with store), never across the wire. A volatile section (IsVolatileSection:
// logins, processes) is digested by its presence only, not its content: a
// change to it alone makes no delta; it travels in full inventories, and in
// a delta only when it appears or vanishes.
std::map<std::string, std::string> PartDigests(const Inventory& inv);

// `full` as a delta against the inventory numbered `base` whose digests were
// `previous`: only the parts whose digest differs, plus (empty) the parts
// `previous` had that `full` no longer has. Sets base and parts.
Inventory MakeDelta(Inventory full, const std::map<std::string, std::string>& previous, int64_t base);

// Serializes to the XML format of docs/inventory.md (UTF-8, indented). Text
// the reader would refuse (invalid UTF-8, control characters other than tab,
// LF and CR) becomes U+FFFD and values are cut to 8 KiB, so the output always
// parses.
std::string ToXml(const Inventory& inv);

// Parses and validates with the one strict XML reader (common/xml.h, which
// lists what every document refuses and how errors are located). `source`
// names the input in error messages. Errors: InvalidArgument with
// "source:line:column: message" for malformed XML, unknown elements or
// attributes, missing required attributes, bad numbers, times or device id,
// and documents over 256 MiB, 4,000,000 elements or 8 KiB in one value.
common::StatusOr<Inventory> ParseInventoryXml(const std::string& xml, const std::string& source);

}  // namespace inventory

// The hardware collectors behind CollectHardwareSections (collectors.h), one
// function per section, and the parsers they share. Private to inventory/;
// tests reach the parsers directly to feed them hostile input. Every
// collector follows the contract in collectors.h: files under root only,
// system calls only when root.is_live(), never fails (notes instead).
// Sections and fields: docs/inventory_hardware.md.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "collect_root.h"
#include "inventory/sections.h"

namespace inventory::hw {

// collect_hw_firmware.cpp
Section CollectBios(const Root& root);
Section CollectMemory(const Root& root);
// collect_hw_cpu.cpp
Section CollectCpus(const Root& root);
Section CollectSwap(const Root& root);
// collect_hw_storage.cpp
Section CollectDrives(const Root& root);
Section CollectFilesystems(const Root& root);
// collect_hw_bus.cpp
Section CollectPci(const Root& root);
Section CollectVideo(const Root& root);
Section CollectUsb(const Root& root);
// collect_hw_power.cpp
Section CollectBatteries(const Root& root);
Section CollectVirtualization(const Root& root);

// SMBIOS 7.4.1 chassis type (the low 7 bits of the byte; bit 7 is the lock
// flag) as its spec name ("Notebook"), or "" when out of range.
std::string ChassisTypeName(uint64_t type);

// One SMBIOS type 17 (Memory Device) structure, as far as it could be read.
struct MemoryDevice {
  std::string locator;      // Device Locator string, "DIMM A"
  std::string bank;         // Bank Locator string
  uint64_t size_bytes = 0;  // 0: no module installed (or size unknown)
  bool size_known = false;  // false for 0xFFFF "unknown" and truncated structures
  std::string type;         // "DDR4", or "" when the byte is absent or unknown
  uint64_t speed_mts = 0;   // 0: unknown
  std::string manufacturer;
  std::string serial;
  std::string part_number;
};

// Parses one raw structure (as /sys/firmware/dmi/entries/17-N/raw holds it:
// the formatted area then its string set). Every offset is checked against
// both the structure's own length byte and the blob size: a field outside
// either is treated as absent. Returns false (with *problem set) when the
// blob is not a type 17 structure or its header is cut short; returns true
// with *problem set when it is readable but damaged (truncated formatted area,
// unterminated strings), so the caller keeps what was read and notes the rest.
bool ParseMemoryDevice(std::string_view raw, MemoryDevice* out, std::string* problem);

// Vendor, device and class names from a pci.ids or usb.ids file (the same
// grammar: "vvvv  name" lines, "\tdddd  name" device lines under them, and
// "C cc  name" / "\tss  name" class lines). Ids are lower-case hex as written
// in the file.
class IdNames {
 public:
  // Reads the file; keeps only vendors in `vendors` (a full pci.ids is ~1.3
  // MB, a handful of vendors is all a machine needs). Malformed lines are
  // skipped: the file is a lookup aid, never a reason for a note.
  void Parse(std::string_view text, const std::set<std::string>& vendors);
  std::string Vendor(const std::string& vendor) const;
  std::string Device(const std::string& vendor, const std::string& device) const;
  // The subclass name when known ("VGA compatible controller"), else the
  // class name; class_hex is "0300" / "030000" (pci) or "09" (usb).
  std::string Class(const std::string& class_hex) const;

 private:
  std::map<std::string, std::string> vendors_;  // "8086"
  std::map<std::string, std::string> devices_;  // "8086:46a6"
  std::map<std::string, std::string> classes_;  // "03", "0300"
};

// Reads the first ids file that exists among `candidates` (paths under root)
// into *names; returns false when none is readable.
bool LoadIdNames(const Root& root, std::span<const std::string_view> candidates,
                 const std::set<std::string>& vendors, IdNames* names);

// Whether a mount of this file system type is left out of the filesystems
// section: kernel interfaces (proc, sysfs, cgroup, ...) and memory-backed
// file systems (tmpfs, devtmpfs, ramfs).
bool IsPseudoFs(const std::string& type);
// Whether statvfs is skipped for this type: network (and cluster) file
// systems, where it can block for as long as the server is unreachable.
bool IsNetworkFs(const std::string& type);

// "0x8086\n" -> "8086": sysfs hex attributes without the prefix, lower case.
std::string SysfsHex(const std::string& value);

// micro units (µWh, µV) as a decimal with two places: 57020000 -> "57.02".
std::string FormatMicro(uint64_t micro);

// /proc/self/mounts and /proc/swaps escape space, tab, newline and backslash
// as \ooo octal; this undoes it (an invalid escape is kept literally).
std::string UnescapeOctal(std::string_view s);

}  // namespace inventory::hw

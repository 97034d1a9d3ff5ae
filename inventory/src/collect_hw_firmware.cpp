// The firmware's view of the machine: the DMI identity strings (bios) and the
// SMBIOS memory device table (memory). The kernel exports both under
// /sys; nothing here talks to /dev/mem.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collect_hw.h"

namespace inventory::hw {
namespace {

constexpr std::string_view kDmiDir = "sys/class/dmi/id";
constexpr std::string_view kEntriesDir = "sys/firmware/dmi/entries";

// Field names are [a-z0-9_]+; a file with another name is not a DMI value.
bool IsFieldName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// SMBIOS 7.18.2 Memory Device Type, indexed by the byte value.
std::string MemoryTypeName(uint8_t t) {
  // Rows of eight, so an entry's index can be read off.
  // clang-format off
  static constexpr std::string_view kNames[] = {
      /* 0x00 */ "", "Other", "Unknown", "DRAM", "EDRAM", "VRAM", "SRAM", "RAM",
      /* 0x08 */ "ROM", "Flash", "EEPROM", "FEPROM", "EPROM", "CDRAM", "3DRAM", "SDRAM",
      /* 0x10 */ "SGRAM", "RDRAM", "DDR", "DDR2", "DDR2 FB-DIMM", "", "", "",
      /* 0x18 */ "DDR3", "FBD2", "DDR4", "LPDDR", "LPDDR2", "LPDDR3", "LPDDR4",
                 "Logical non-volatile device",
      /* 0x20 */ "HBM", "HBM2", "DDR5", "LPDDR5", "HBM3"};
  // clang-format on
  return t < std::size(kNames) ? std::string(kNames[t]) : std::string();
}

}  // namespace

std::string ChassisTypeName(uint64_t type) {
  // SMBIOS 7.4.1, indexed by the value.
  // Rows of four, so an entry's value can be read off.
  // clang-format off
  static constexpr std::string_view kNames[] = {
      /*  0 */ "", "Other", "Unknown", "Desktop",
      /*  4 */ "Low Profile Desktop", "Pizza Box", "Mini Tower", "Tower",
      /*  8 */ "Portable", "Laptop", "Notebook", "Hand Held",
      /* 12 */ "Docking Station", "All in One", "Sub Notebook", "Space-saving",
      /* 16 */ "Lunch Box", "Main Server Chassis", "Expansion Chassis", "SubChassis",
      /* 20 */ "Bus Expansion Chassis", "Peripheral Chassis", "RAID Chassis", "Rack Mount Chassis",
      /* 24 */ "Sealed-case PC", "Multi-system chassis", "Compact PCI", "AdvancedTCA",
      /* 28 */ "Blade", "Blade Enclosure", "Tablet", "Convertible",
      /* 32 */ "Detachable", "IoT Gateway", "Embedded PC", "Mini PC",
      /* 36 */ "Stick PC"};
  // clang-format on
  type &= 0x7f;
  return type < std::size(kNames) ? std::string(kNames[type]) : std::string();
}

Section CollectBios(const Root& root) {
  Section s;
  s.name = "bios";
  std::vector<std::string> names = root.List(kDmiDir);
  if (names.empty()) {
    s.notes.push_back(root.Path(kDmiDir) + ": absent (no DMI firmware tables, or not exported)");
    return s;
  }
  Item item;
  item.key = "bios";
  std::vector<std::string> unreadable;
  std::string first_error;
  for (const std::string& name : names) {
    // modalias repeats the other values; uevent is the kernel's event text.
    if (name == "modalias" || name == "uevent" || !IsFieldName(name)) continue;
    std::string rel = std::string(kDmiDir) + "/" + name;
    std::error_code ec;
    if (std::filesystem::is_directory(root.Path(rel), ec)) continue;  // power/, subsystem
    common::StatusOr<std::string> text = root.Read(rel);
    if (!text.ok()) {
      unreadable.push_back(name);
      if (first_error.empty()) first_error = text.status().message();
      continue;
    }
    std::string value(Trim(*text));
    item.Add(name, value);
    uint64_t type = 0;
    if (name == "chassis_type" && ParseU64(value, &type)) {
      item.Add("chassis_type_name", ChassisTypeName(type));
    }
  }
  if (!unreadable.empty()) {
    // The kernel makes the serials and the UUID 0400: expected without root.
    s.notes.push_back(root.Path(kDmiDir) + ": " + Join(unreadable, ", ") +
                      " not readable (serial numbers and the UUID need root): " + first_error);
  }
  if (!item.fields.empty()) s.items.push_back(std::move(item));
  return s;
}

bool ParseMemoryDevice(std::string_view raw, MemoryDevice* out, std::string* problem) {
  *out = MemoryDevice{};
  problem->clear();
  if (raw.size() < 4) {
    *problem = "shorter than an SMBIOS header (" + std::to_string(raw.size()) + " bytes)";
    return false;
  }
  auto byte = [&](size_t off) { return static_cast<uint8_t>(raw[off]); };
  if (byte(0) != 17) {
    *problem = "not a memory device structure (type " + std::to_string(byte(0)) + ")";
    return false;
  }
  // A field exists when the structure's declared length covers it (older
  // SMBIOS versions have shorter structures) and the blob really holds it.
  size_t declared = byte(1);
  size_t formatted = std::min(declared, raw.size());
  if (declared > raw.size()) {
    *problem = "length " + std::to_string(declared) + " points past the end of the " +
               std::to_string(raw.size()) + "-byte structure";
  }
  auto has = [&](size_t off, size_t len) { return off + len <= formatted; };
  auto word = [&](size_t off) { return static_cast<uint16_t>(byte(off) | (byte(off + 1) << 8)); };
  auto dword = [&](size_t off) {
    return static_cast<uint32_t>(word(off)) | (static_cast<uint32_t>(word(off + 2)) << 16);
  };
  // The string set follows the formatted area: NUL-terminated strings, the
  // set ending with an empty one. String numbers count from 1; 0 is "none".
  std::vector<std::string_view> strings;
  if (declared <= raw.size()) {
    size_t pos = declared;
    bool terminated = false;
    while (pos < raw.size()) {
      size_t nul = raw.find('\0', pos);
      if (nul == std::string_view::npos) break;
      if (nul == pos) {
        terminated = true;
        break;
      }
      strings.push_back(raw.substr(pos, nul - pos));
      pos = nul + 1;
    }
    if (!terminated && problem->empty()) *problem = "string set is not terminated";
  }
  auto str = [&](size_t off) {
    if (!has(off, 1) || byte(off) == 0 || byte(off) > strings.size()) return std::string();
    return std::string(Trim(strings[byte(off) - 1]));
  };
  out->locator = str(0x10);
  out->bank = str(0x11);
  if (has(0x0c, 2)) {
    uint16_t size = word(0x0c);
    if (size == 0x7fff && has(0x1c, 4)) {
      // Extended Size: MiB in bits 30..0.
      out->size_bytes = static_cast<uint64_t>(dword(0x1c) & 0x7fffffffu) << 20;
      out->size_known = true;
    } else if (size != 0xffff && size != 0x7fff) {
      // Bit 15 set: the rest counts KiB, else MiB.
      out->size_bytes = (size & 0x8000) ? static_cast<uint64_t>(size & 0x7fff) << 10
                                        : static_cast<uint64_t>(size) << 20;
      out->size_known = true;
    }
  }
  if (has(0x12, 1)) out->type = MemoryTypeName(byte(0x12));
  if (has(0x15, 2)) {
    uint16_t speed = word(0x15);
    if (speed == 0xffff && has(0x54, 4)) {
      out->speed_mts = dword(0x54) & 0x7fffffffu;  // Extended Speed (3.3)
    } else if (speed != 0xffff) {
      out->speed_mts = speed;
    }
  }
  out->manufacturer = str(0x17);
  out->serial = str(0x18);
  out->part_number = str(0x1a);
  return true;
}

Section CollectMemory(const Root& root) {
  Section s;
  s.name = "memory";
  std::vector<std::string> entries;
  for (const std::string& e : root.List(kEntriesDir)) {
    if (StartsWith(e, "17-")) entries.push_back(e);
  }
  if (entries.empty()) {
    s.notes.push_back(root.Path(kEntriesDir) +
                      ": no memory device (type 17) entries (no SMBIOS tables, or not exported)");
  }
  std::vector<std::string> unreadable;
  std::string first_error;
  for (const std::string& e : entries) {
    std::string rel = std::string(kEntriesDir) + "/" + e + "/raw";
    // A type 17 structure is under 100 bytes plus a few strings.
    common::StatusOr<std::string> raw = root.Read(rel, 64u << 10);
    if (!raw.ok()) {
      unreadable.push_back(e);
      if (first_error.empty()) first_error = raw.status().message();
      continue;
    }
    MemoryDevice dev;
    std::string problem;
    bool ok = ParseMemoryDevice(*raw, &dev, &problem);
    if (!problem.empty()) s.notes.push_back(root.Path(rel) + ": " + problem);
    if (!ok || (dev.size_known && dev.size_bytes == 0)) continue;  // empty slot
    Item item;
    item.key = dev.locator.empty() ? e : dev.locator;
    item.Add("locator", dev.locator);
    item.Add("bank", dev.bank);
    if (dev.size_known) item.Add("size_bytes", std::to_string(dev.size_bytes));
    item.Add("type", dev.type);
    if (dev.speed_mts != 0) item.Add("speed_mts", std::to_string(dev.speed_mts));
    item.Add("manufacturer", dev.manufacturer);
    item.Add("serial", dev.serial);
    item.Add("part_number", dev.part_number);
    // Two slots may share a locator on odd firmware; the entry name is unique.
    for (const Item& other : s.items) {
      if (other.key == item.key) item.key += " (" + e + ")";
    }
    s.items.push_back(std::move(item));
  }
  if (!unreadable.empty()) {
    s.notes.push_back(root.Path(kEntriesDir) + ": " + Join(unreadable, ", ") +
                      " not readable (memory modules need root): " + first_error);
  }

  Item total;
  total.key = "total";
  common::StatusOr<std::string> meminfo = root.Read("proc/meminfo");
  if (!meminfo.ok()) {
    s.notes.push_back(meminfo.status().message());
  } else {
    for (std::string_view line : Lines(*meminfo)) {
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view key = line.substr(0, colon);
      std::string_view rest = Trim(line.substr(colon + 1));
      uint64_t kib = 0;
      // The kernel writes "kB" and means KiB.
      if (!ParseU64(rest.substr(0, rest.find(' ')), &kib) || kib > UINT64_MAX / 1024) continue;
      if (key == "MemTotal") total.Add("total_bytes", std::to_string(kib * 1024));
      if (key == "SwapTotal") total.Add("swap_total_bytes", std::to_string(kib * 1024));
    }
  }
  if (!total.fields.empty()) s.items.push_back(std::move(total));
  s.SortItems();
  return s;
}

}  // namespace inventory::hw

// Hardware collectors (collectors.h): the entry point, and the small parsers
// the per-area files (collect_hw_*.cpp) share.
#include "collect_hw.h"

#include <cctype>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "collectors.h"

namespace inventory {

std::vector<Section> CollectHardwareSections(const Root& root) {
  std::vector<Section> out;
  out.push_back(hw::CollectBios(root));
  out.push_back(hw::CollectCpus(root));
  out.push_back(hw::CollectMemory(root));
  out.push_back(hw::CollectSwap(root));
  out.push_back(hw::CollectDrives(root));
  out.push_back(hw::CollectFilesystems(root));
  out.push_back(hw::CollectPci(root));
  out.push_back(hw::CollectVideo(root));
  out.push_back(hw::CollectUsb(root));
  out.push_back(hw::CollectBatteries(root));
  out.push_back(hw::CollectVirtualization(root));
  return out;
}

namespace hw {
namespace {

bool IsHex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// "8086  Intel Corporation" -> id "8086", name "Intel Corporation". The ids
// files separate id and name with two spaces; one is tolerated.
bool SplitIdLine(std::string_view line, size_t id_len, std::string* id, std::string* name) {
  if (line.size() < id_len + 2 || line[id_len] != ' ') return false;
  std::string_view hex = line.substr(0, id_len);
  if (!IsHex(hex)) return false;
  *id = Lower(hex);
  *name = std::string(Trim(line.substr(id_len)));
  return !name->empty();
}

}  // namespace

void IdNames::Parse(std::string_view text, const std::set<std::string>& vendors) {
  enum class Block { kNone, kVendor, kSkippedVendor, kClass };
  Block block = Block::kNone;
  std::string vendor;
  std::string cls;
  std::string id;
  std::string name;
  for (std::string_view line : Lines(text)) {
    if (line.empty() || line.front() == '#') continue;
    if (line.front() != '\t') {
      if (StartsWith(line, "C ") && SplitIdLine(line.substr(2), 2, &id, &name)) {
        block = Block::kClass;
        cls = id;
        classes_[cls] = name;
      } else if (SplitIdLine(line, 4, &id, &name)) {
        vendor = id;
        if (vendors.count(vendor) != 0) {
          block = Block::kVendor;
          vendors_[vendor] = name;
        } else {
          block = Block::kSkippedVendor;
        }
      } else {
        // usb.ids has more lists after the vendors (AT, HID, R, ...): their
        // lines are not ours.
        block = Block::kNone;
      }
      continue;
    }
    // Subsystem and programming-interface lines (two tabs) are not used.
    if (line.size() > 1 && line[1] == '\t') continue;
    std::string_view rest = line.substr(1);
    if (block == Block::kVendor && SplitIdLine(rest, 4, &id, &name)) {
      devices_[vendor + ":" + id] = name;
    } else if (block == Block::kClass && SplitIdLine(rest, 2, &id, &name)) {
      classes_[cls + id] = name;
    }
  }
}

std::string IdNames::Vendor(const std::string& vendor) const {
  auto it = vendors_.find(vendor);
  return it == vendors_.end() ? std::string() : it->second;
}

std::string IdNames::Device(const std::string& vendor, const std::string& device) const {
  auto it = devices_.find(vendor + ":" + device);
  return it == devices_.end() ? std::string() : it->second;
}

std::string IdNames::Class(const std::string& class_hex) const {
  if (class_hex.size() >= 4) {
    auto sub = classes_.find(class_hex.substr(0, 4));
    if (sub != classes_.end()) return sub->second;
  }
  auto it = classes_.find(class_hex.substr(0, 2));
  return it == classes_.end() ? std::string() : it->second;
}

bool LoadIdNames(const Root& root, std::span<const std::string_view> candidates,
                 const std::set<std::string>& vendors, IdNames* names) {
  for (std::string_view rel : candidates) {
    // pci.ids is ~1.3 MB and grows; 16 MiB leaves room and still bounds a
    // wrong file.
    common::StatusOr<std::string> text = root.Read(rel, 16u << 20);
    if (!text.ok()) continue;
    names->Parse(*text, vendors);
    return true;
  }
  return false;
}

std::string SysfsHex(const std::string& value) {
  std::string_view v = Trim(value);
  if (StartsWith(v, "0x") || StartsWith(v, "0X")) v.remove_prefix(2);
  return IsHex(v) ? Lower(v) : std::string();
}

std::string FormatMicro(uint64_t micro) {
  uint64_t centi = micro / 10000 + (micro % 10000 >= 5000 ? 1 : 0);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%02llu", static_cast<unsigned long long>(centi / 100),
                static_cast<unsigned long long>(centi % 100));
  return buf;
}

std::string UnescapeOctal(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      std::string_view digits = s.substr(i + 1, 3);
      bool octal = digits[0] <= '3';
      for (char c : digits) octal = octal && c >= '0' && c <= '7';
      if (octal) {
        out += static_cast<char>(((digits[0] - '0') << 6) | ((digits[1] - '0') << 3) |
                                 (digits[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace hw
}  // namespace inventory

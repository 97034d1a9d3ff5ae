#include "inventory/sections.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "collectors.h"

namespace inventory {

const std::string& Item::Get(const std::string& name) const {
  static const std::string kEmpty;
  for (const Field& f : fields) {
    if (f.name == name) return f.value;
  }
  return kEmpty;
}

void Item::Add(const std::string& name, std::string value) {
  if (!value.empty()) fields.push_back({name, std::move(value)});
}

const Item* Section::Find(const std::string& key) const {
  auto it = std::lower_bound(items.begin(), items.end(), key,
                             [](const Item& i, const std::string& k) { return i.key < k; });
  return it != items.end() && it->key == key ? &*it : nullptr;
}

void Section::SortItems() {
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.key < b.key; });
}

bool IsVolatileSection(const std::string& section) {
  return section == "logins" || section == "processes";
}

bool IsVolatileField(const std::string& section, const std::string& field) {
  static const std::set<std::pair<std::string, std::string>> kVolatile = {
      {"filesystems", "free_bytes"},  {"video", "outputs"},           {"batteries", "full_capacity_wh"},
      {"batteries", "cycle_count"},   {"batteries", "capacity_percent"}, {"batteries", "status"},
      {"system", "boot_time"},        {"network", "speed_mbps"},      {"network", "duplex"},
      {"network", "state"},           {"network", "ipv4"},            {"network", "ipv6"},
  };
  return IsVolatileSection(section) || kVolatile.count({section, field}) != 0;
}

std::vector<Section> CollectSections(const std::string& root_path) {
  Root root(root_path);
  std::vector<Section> out = CollectHardwareSections(root);
  for (Section& s : CollectSystemSections(root)) out.push_back(std::move(s));
  std::sort(out.begin(), out.end(), [](const Section& a, const Section& b) { return a.name < b.name; });
  return out;
}

}  // namespace inventory

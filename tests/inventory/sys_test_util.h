// Helpers shared by the system collector tests (collect_sys*_test.cpp).
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "inventory/sections.h"
#include "support/temp_dir.h"

namespace testsupport {

// A copy of the section called `name` (so that it outlives a temporary
// list); throws, failing the test, when absent.
inline inventory::Section FindSection(const std::vector<inventory::Section>& all,
                                      const std::string& name) {
  for (const inventory::Section& s : all) {
    if (s.name == name) return s;
  }
  throw std::runtime_error("no section " + name);
}

// True if some note of `s` starts with `prefix`.
inline bool HasNote(const inventory::Section& s, const std::string& prefix) {
  return std::any_of(s.notes.begin(), s.notes.end(),
                     [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
}

// The detailed sections of tests/data/inventory/<name>/.
inline std::vector<inventory::Section> Fixture(const std::string& name) {
  return inventory::CollectSections(std::string(TEST_DATA_DIR) + "/inventory/" + name);
}

// The keys of a section's items, in order.
inline std::vector<std::string> Keys(const inventory::Section& s) {
  std::vector<std::string> keys;
  for (const inventory::Item& i : s.items) keys.push_back(i.key);
  return keys;
}

// stdout of a shell command (stderr dropped), and whether it exited 0.
struct Output {
  std::string text;
  bool ok = false;
};

inline Output Run(const std::string& command) {
  Output out;
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.text.append(buf, n);
  out.ok = ::pclose(pipe) == 0;
  return out;
}

// A fixture root built by the test, removed at the end.
struct TempRoot {
  testing_support::TempDir dir{"inventory-sys"};
  std::string path = dir.path;
  void Write(const std::string& rel, const std::string& data) const {
    std::filesystem::path p = std::filesystem::path(path) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
  }
};

}  // namespace testsupport

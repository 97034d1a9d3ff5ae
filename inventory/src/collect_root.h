// Shared plumbing of the Linux collectors (collect*.cpp): reading files
// under a root folder ("/" in production, a fixture tree in tests) and the
// small text helpers every /proc and /sys parser needs. Private to inventory/.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/fs.h"
#include "common/status.h"

namespace inventory {

// /proc and /sys files are small; the cap only guards against a fixture or a
// bind mount that puts something huge where a one-line file is expected.
constexpr uint64_t kSmallFileCap = 1u << 20;
// A dpkg status file with tens of thousands of packages is tens of MiB.
constexpr uint64_t kDpkgStatusCap = 256u << 20;

inline std::string_view Trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

inline std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

inline bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return false;
    n = n * 10 + d;
  }
  *out = n;
  return true;
}

// os-release(5): the value of a KEY=VALUE line, with the shell-like quoting
// the spec allows undone; anything fancier is taken literally. Also used for
// other files in that format (/etc/default/*, ufw.conf).
inline std::string OsReleaseValue(std::string_view v) {
  v = Trim(v);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    char quote = v.front();
    v = v.substr(1, v.size() - 2);
    if (quote == '\'') return std::string(v);
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) ++i;
      out += v[i];
    }
    return out;
  }
  return std::string(v);
}

class Root {
 public:
  explicit Root(const std::string& root) : root_(root.empty() ? "/" : root) {}

  bool is_live() const { return root_ == "/"; }

  std::string Path(std::string_view rel) const {
    std::string p = root_;
    if (p.back() != '/') p += '/';
    p += rel;
    return p;
  }

  common::StatusOr<std::string> Read(std::string_view rel, uint64_t cap = kSmallFileCap) const {
    return common::ReadFile(Path(rel), cap);
  }

  // One-line sysfs/procfs values; missing or unreadable (DMI serial needs root)
  // reads as empty, per the collectors' contract.
  std::string ReadTrimmed(std::string_view rel) const {
    common::StatusOr<std::string> text = Read(rel);
    return text.ok() ? std::string(Trim(*text)) : std::string();
  }

  // Entries of a directory, sorted, directories and symlinks alike (sysfs
  // entries under /sys/block and /sys/class/net are symlinks).
  std::vector<std::string> List(std::string_view rel) const {
    std::vector<std::string> names;
    std::error_code ec;
    std::filesystem::directory_iterator it(Path(rel), ec);
    for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // Where a sysfs entry's symlink points, or "" for a plain directory.
  std::string LinkTarget(std::string_view rel) const {
    std::error_code ec;
    std::filesystem::path target = std::filesystem::read_symlink(Path(rel), ec);
    return ec ? std::string() : target.string();
  }

 private:
  std::string root_;
};

}  // namespace inventory

// Snaps: each mounted snap's meta/snap.yaml under the snap mount folder.
// See collect_software.h; the choice of source is explained in
// docs/inventory_software.md#snap.
//
// Why snap.yaml and not /var/lib/snapd/state.json: the state file has the
// list of snaps, their type and revision, but no version (snapd takes that
// from snap.yaml too), is readable by root only, is often megabytes of
// pending changes, and holds the store credentials (macaroons) of the users
// logged in to snapd, which an inventory has no business reading. snap.yaml
// is world-readable and small, and the few keys we need are top-level
// scalars, read here without a YAML library (see ParseSnapYaml).
#include <map>
#include <string>
#include <vector>

#include "collect_software.h"

namespace inventory {
namespace {

// snap.yaml is a few KiB; the cap only stops a damaged file from costing
// memory.
constexpr uint64_t kSnapYamlCap = 256u << 10;

// A YAML scalar as written on one line: quotes removed, with a doubled
// single quote or a backslash escape in them unescaped; a plain scalar ends
// at " #" (a comment).
std::string Scalar(std::string_view v) {
  v = Trim(v);
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
    std::string out;
    v = v.substr(1, v.size() - 2);
    for (size_t i = 0; i < v.size(); ++i) {
      out += v[i];
      if (v[i] == '\'' && i + 1 < v.size() && v[i + 1] == '\'') ++i;
    }
    return out;
  }
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    std::string out;
    v = v.substr(1, v.size() - 2);
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) ++i;
      out += v[i];
    }
    return out;
  }
  const size_t comment = v.find(" #");
  return std::string(Trim(v.substr(0, comment)));
}

// The top-level keys of a snap.yaml that we report. Nested mappings (apps,
// plugs, slots, ...) are skipped by their indentation. A value that is a
// block scalar ("|", ">") yields its first line; a sequence (flow "[a, b]"
// or block "- a") yields its items joined with ",". Errors: a top-level line
// that is neither "key: value", a comment nor a document marker, which no
// snap.yaml snapd accepts contains.
common::StatusOr<std::map<std::string, std::string>> ParseSnapYaml(const std::string& text) {
  std::map<std::string, std::string> out;
  std::string key;  // the last top-level key, for its indented continuation
  bool block_scalar = false;
  int line_no = 0;
  for (std::string_view line : Lines(text)) {
    ++line_no;
    if (Trim(line).empty() || Trim(line).front() == '#') continue;
    if (line.front() == ' ' || line.front() == '\t') {
      if (key.empty()) continue;
      std::string_view item = Trim(line);
      if (block_scalar) {
        if (out[key].empty()) out[key] = std::string(item);
      } else if (item.front() == '-' && key == "architectures") {
        std::string& list = out[key];
        list += (list.empty() ? "" : ",") + Scalar(item.substr(1));
      }
      continue;
    }
    if (line == "---" || line == "...") continue;
    // A block sequence may sit at its key's own indentation ("key:\n- a").
    if (line.front() == '-' && key == "architectures") {
      std::string& list = out[key];
      list += (list.empty() ? "" : ",") + Scalar(line.substr(1));
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return common::InvalidArgument("line " + std::to_string(line_no) + " is not 'key: value'");
    }
    key = std::string(line.substr(0, colon));
    std::string_view value = Trim(line.substr(colon + 1));
    block_scalar = !value.empty() && (value.front() == '|' || value.front() == '>');
    if (block_scalar || value.empty()) {
      out[key] = "";
    } else if (value.front() == '[' && value.back() == ']') {
      std::string list;
      value = value.substr(1, value.size() - 2);
      while (!value.empty()) {
        const size_t comma = value.find(',');
        std::string item = Scalar(value.substr(0, comma));
        if (!item.empty()) list += (list.empty() ? "" : ",") + item;
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
      }
      out[key] = list;
    } else {
      out[key] = Scalar(value);
    }
  }
  return out;
}

// snap.yaml's type ("app" when absent, snapd's default); the core snap of
// Ubuntu Core 16 says "os", reported as "core".
std::string SnapType(const std::string& type) {
  if (type.empty()) return "app";
  if (type == "os") return "core";
  return type;
}

}  // namespace

SourceReport CollectSnap(const Root& root) {
  SourceReport report;
  std::string mount;
  // /snap on Debian and Ubuntu; /var/lib/snapd/snap where the distribution
  // keeps / free of new top-level folders (Fedora, Arch).
  for (const char* dir : {"snap", "var/lib/snapd/snap"}) {
    if (!root.List(dir).empty()) {
      mount = dir;
      break;
    }
  }
  if (mount.empty()) return report;
  report.found = true;
  report.database = DevicePath(mount);
  for (const std::string& name : root.List(mount)) {
    // "current" is how snapd marks a snap folder (bin/ and README have none).
    const std::string rev = root.LinkTarget(mount + "/" + name + "/current");
    if (rev.empty()) continue;
    const std::string rel = mount + "/" + name + "/" + rev + "/meta/snap.yaml";
    common::StatusOr<std::string> text = root.Read(rel, kSnapYamlCap);
    if (!text.ok()) {
      // An offline root has the folders but not the mounted images.
      report.notes.push_back(DevicePath(rel) + ": " + Reason(text.status()) + "; snap " + name + " skipped");
      continue;
    }
    common::StatusOr<std::map<std::string, std::string>> yaml = ParseSnapYaml(*text);
    if (!yaml.ok()) {
      report.notes.push_back(DevicePath(rel) + ": " + yaml.status().message() + "; snap " + name + " skipped");
      continue;
    }
    std::map<std::string, std::string>& y = *yaml;
    if (y["version"].empty()) {
      report.notes.push_back(DevicePath(rel) + ": no version; snap " + name + " skipped");
      continue;
    }
    Package pkg;
    // The folder's name is the instance name `snap list` shows (foo_beta for
    // a second instance of foo), which snap.yaml's name is not.
    pkg.name = name;
    pkg.version = y["version"];
    pkg.arch = y["architectures"].empty() ? "all" : y["architectures"];
    pkg.section = SnapType(y["type"]);
    pkg.summary = y["summary"];
    // snapd downloads <name>_<revision>.snap once per revision: its size is
    // the installed (compressed, mounted as is) size, its mtime the install.
    const std::string image = root.Path("var/lib/snapd/snaps/" + name + "_" + rev + ".snap");
    pkg.size_bytes = SizeOf(image);
    pkg.installed_at = MtimeOf(image);
    report.packages.push_back(std::move(pkg));
  }
  return report;
}

}  // namespace inventory

#include "policy/targeting.h"

#include <fnmatch.h>

#include <pugixml.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <tuple>

#include "common/fs.h"
#include "policy/manifest.h"
#include "policy/object_store.h"

namespace policy {

using common::Status;
using common::StatusOr;

namespace {

// The XML documents that merge part by part, and how a part is named.
bool MergesByPart(const std::string& file) { return file == "policy.xml" || file == "schedule.xml"; }

// The parts of a validated policy.xml or schedule.xml: label -> the element's
// XML. policy.xml parts are named by element, schedule.xml parts by event.
std::map<std::string, std::string> SplitParts(const std::string& file, const std::string& xml) {
  std::map<std::string, std::string> parts;
  pugi::xml_document doc;
  doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  for (pugi::xml_node n : doc.document_element().children()) {
    if (n.type() != pugi::node_element) continue;
    std::string label = file == "schedule.xml" ? "event " + std::string(n.attribute("name").value())
                                               : "<" + std::string(n.name()) + ">";
    std::ostringstream out;
    n.print(out, "", pugi::format_raw);
    parts[label] = out.str();
  }
  return parts;
}

// Every error found, one per line, so an administrator fixes them in one go.
Status JoinErrors(const std::vector<std::string>& errors) {
  std::string all;
  for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
  return common::InvalidArgument(all);
}

bool GlobMatches(const std::string& glob, const std::string& text) {
  return ::fnmatch(glob.c_str(), text.c_str(), FNM_CASEFOLD) == 0;
}

bool RuleMatches(const MemberRule& rule, const DeviceFacts& d) {
  switch (rule.kind) {
    case MemberKind::kEveryone: return true;
    case MemberKind::kDevice: return rule.value == d.device_id;
    case MemberKind::kHostname: return GlobMatches(rule.value, d.hostname);
    case MemberKind::kOs: return GlobMatches(rule.value, d.os);
    case MemberKind::kSubnet:
      return std::any_of(d.addresses.begin(), d.addresses.end(),
                         [&](const std::string& a) { return SubnetContains(rule.value, a); });
  }
  return false;
}

}  // namespace

struct PolicyTree::Group {
  std::string name;
  GroupRules rules;  // priority 0 and no rules for the default group
  // file -> part label -> XML, for the documents that merge by part.
  std::map<std::string, std::map<std::string, std::string>> parts;
  // file -> bytes, for the files that are taken whole.
  std::map<std::string, std::string> whole;

  bool IsDefault() const { return name == kDefaultGroup; }
};

bool IsGroupName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '-' || name[0] == '_') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

PolicyTree::PolicyTree() = default;
PolicyTree::~PolicyTree() = default;

const TreeFiles& PolicyTree::files() const { return files_; }

StatusOr<std::shared_ptr<const PolicyTree>> PolicyTree::FromFiles(const TreeFiles& files,
                                                                  const std::string& source) {
  std::shared_ptr<PolicyTree> tree(new PolicyTree());
  tree->files_ = files;
  std::vector<std::string> errors;
  std::map<std::string, Group> groups;
  for (const auto& [path, data] : files) {
    const std::string where = source + "/" + path;
    size_t slash = path.find('/');
    std::string group = path.substr(0, slash);
    std::string file = slash == std::string::npos ? "" : path.substr(slash + 1);
    if (!IsGroupName(group) || !IsPolicyFileName(file)) {
      errors.push_back(where + ": not group/file (group names are 1..64 of [a-z0-9_-])");
      continue;
    }
    Group& g = groups[group];
    g.name = group;
    Status st;
    if (file == kGroupFile) {
      if (g.IsDefault()) {
        errors.push_back(where + ": the default group holds every device below all others; it takes no group.xml");
        continue;
      }
      auto rules = ParseGroupXml(data, where);
      if (rules.ok()) g.rules = *rules;
      st = rules.status();
    } else if (file == "policy.xml") {
      st = ParsePolicyXml(data, where).status();
    } else if (file == "schedule.xml") {
      st = (g.IsDefault() ? ParseScheduleXml(data, where) : ParseSchedulePartXml(data, where)).status();
    } else if (file == "failover.xml") {
      st = ParseFailoverXml(data, where).status();
    }
    if (!st.ok()) {
      errors.push_back(st.message());
      continue;
    }
    if (file == kGroupFile) continue;
    if (MergesByPart(file)) {
      g.parts[file] = SplitParts(file, data);
    } else {
      g.whole[file] = data;
    }
  }

  if (groups.count(kDefaultGroup) == 0) {
    errors.push_back(source + "/" + kDefaultGroup + ": missing or empty; the default group holds the policy of every device");
  }
  std::map<int, std::string> priorities;
  bool default_has_policy_check = false;
  if (auto d = groups.find(kDefaultGroup); d != groups.end()) {
    auto s = d->second.parts.find("schedule.xml");
    default_has_policy_check = s != d->second.parts.end() && s->second.count("event policy-check") != 0;
  }
  for (const auto& [name, g] : groups) {
    if (g.IsDefault()) continue;
    if (files.count(name + "/" + kGroupFile) == 0) {
      errors.push_back(source + "/" + name + "/" + kGroupFile + ": missing; every group but the default needs one");
      continue;
    }
    if (g.rules.priority == 0) continue;  // its group.xml is broken, already reported
    auto [it, fresh] = priorities.emplace(g.rules.priority, name);
    if (!fresh) {
      errors.push_back(source + "/" + name + "/" + kGroupFile + ": priority " + std::to_string(g.rules.priority) +
                       " is already taken by group '" + it->second + "'; priorities must be unique");
    }
    auto s = g.parts.find("schedule.xml");
    if (s != g.parts.end() && s->second.count("event policy-check") == 0 && !default_has_policy_check) {
      errors.push_back(source + "/" + name + "/schedule.xml: sets no policy-check event, and " +
                       "default/schedule.xml has none to fall back on");
    }
  }
  if (!errors.empty()) {
    return JoinErrors(errors);
  }
  for (auto& [name, g] : groups) tree->groups_.push_back(std::move(g));
  // Most important first: lowest priority value; the default (0) goes last.
  std::sort(tree->groups_.begin(), tree->groups_.end(), [](const Group& a, const Group& b) {
    if (a.IsDefault() != b.IsDefault()) return b.IsDefault();
    return a.rules.priority < b.rules.priority;
  });
  return std::shared_ptr<const PolicyTree>(std::move(tree));
}

StatusOr<Resolution> PolicyTree::Resolve(const DeviceFacts& device) const {
  Resolution r;
  std::vector<const Group*> member;
  for (const Group& g : groups_) {
    bool in = g.IsDefault() ||
              std::any_of(g.rules.rules.begin(), g.rules.rules.end(), [&](const MemberRule& rule) {
                // An unseen device is matched by nothing but the default group.
                return device.inventoried && RuleMatches(rule, device);
              });
    if (in) {
      member.push_back(&g);
      r.groups.push_back(g.name);
    }
  }
  // Part by part: the first (most important) group that sets it wins.
  std::map<std::string, std::map<std::string, std::pair<std::string, std::string>>> merged;  // file -> label -> (group, xml)
  for (const Group* g : member) {
    for (const auto& [file, parts] : g->parts) {
      for (const auto& [label, xml] : parts) merged[file].emplace(label, std::make_pair(g->name, xml));
    }
    for (const auto& [file, data] : g->whole) {
      if (r.files.emplace(file, data).second) r.origins.push_back({file, "", g->name});
    }
  }
  for (const auto& [file, parts] : merged) {
    std::string root = file == "policy.xml" ? "policy" : "schedule";
    std::string xml = "<" + root + " version=\"1\">";
    for (const auto& [label, origin] : parts) {
      xml += origin.second;
      r.origins.push_back({file, label, origin.first});
    }
    xml += "</" + root + ">";
    const std::string what = "merged " + file;
    if (file == "policy.xml") {
      auto doc = ParsePolicyXml(xml, what);
      if (!doc.ok()) return common::Internal(doc.status().message());
      r.files[file] = ToXml(*doc);
    } else {
      auto doc = ParseScheduleXml(xml, what);
      if (!doc.ok()) return common::Internal(doc.status().message());
      r.files[file] = ToXml(*doc);
    }
  }
  // Whole documents the client interprets are served canonical too.
  if (auto f = r.files.find("failover.xml"); f != r.files.end()) {
    auto doc = ParseFailoverXml(f->second, "failover.xml");
    if (!doc.ok()) return common::Internal(doc.status().message());
    f->second = ToXml(*doc);
  }
  std::sort(r.origins.begin(), r.origins.end(), [](const PartOrigin& a, const PartOrigin& b) {
    return std::tie(a.file, a.part) < std::tie(b.file, b.part);
  });
  return r;
}

StatusOr<TreeFiles> ReadTreeFolder(const std::string& dir) {
  namespace fs = std::filesystem;
  TreeFiles files;
  std::vector<std::string> errors;
  std::error_code ec;
  auto list = [&](const fs::path& p) {
    std::vector<fs::directory_entry> out;
    for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().filename().string()[0] != '.') out.push_back(*it);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  auto top = list(dir);
  if (ec) return common::ErrnoStatus("read policy folder " + dir, ec.value());
  for (const auto& g : top) {
    std::string group = g.path().filename().string();
    std::error_code type_ec;
    if (!g.is_directory(type_ec)) {
      errors.push_back(g.path().string() + ": not a group folder; files go inside a group (default/ for every device)");
      continue;
    }
    if (!IsGroupName(group)) {
      errors.push_back(g.path().string() + ": group names are 1..64 of [a-z0-9_-], starting with a letter or digit");
      continue;
    }
    auto entries = list(g.path());
    if (ec) return common::ErrnoStatus("read policy folder " + g.path().string(), ec.value());
    for (const auto& f : entries) {
      std::string name = f.path().filename().string();
      std::error_code file_ec;
      if (!f.is_regular_file(file_ec)) {
        errors.push_back(f.path().string() + ": not a regular file (groups hold files only)");
      } else if (!IsPolicyFileName(name)) {
        errors.push_back(f.path().string() + ": policy file names are 1..64 of [A-Za-z0-9._-]");
      } else {
        auto data = common::ReadFile(f.path().string(), kMaxPolicyFileBytes);
        if (!data.ok()) {
          errors.push_back(data.status().message());
        } else {
          files[group + "/" + name] = std::move(data).value();
        }
      }
    }
  }
  if (!errors.empty()) {
    return JoinErrors(errors);
  }
  return files;
}

}  // namespace policy

// Targeting: which policy each device gets.
//
// A policy tree is what administrators edit and publish: one folder per
// group. `default/` holds the policy of every device. Every other folder is a
// group: its `group.xml` gives its priority and membership rules, and beside
// it lie the documents, or parts of documents, it sets for its members.
//
// The merge rule, the only one: for every part, the device gets it from the
// most important group it belongs to that sets that part; the default group
// comes last. The parts of a document are:
//   policy.xml    each child element of <policy> (<inventory>, <usage>, ...)
//   schedule.xml  each <event>, by name
//   failover.xml, and any other file: the whole file
// Priorities are unique, so the most important group is always well defined.
//
// A device belongs to the default group always, and to another group when any
// of that group's rules matches it. Until the central has imported the
// device's first inventory it is "unseen" and has only the default group,
// whatever the rules say (even `device` and `everyone`): membership starts
// from what the central knows.
//
// The documents a device gets are written by the central in canonical form
// (policy/documents.h ToXml), so two devices with the same effective policy
// get byte-identical files, cached once at every hop.
//
// Everything here is pure; a PolicyTree is immutable and thread-safe.
// Format of the tree and group.xml in docs/policy_format.md#targeting.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "policy/documents.h"

namespace policy {

inline constexpr char kDefaultGroup[] = "default";
inline constexpr char kGroupFile[] = "group.xml";

// A tree's files: "group/name" -> bytes.
using TreeFiles = std::map<std::string, std::string>;

// What the central knows about a device to place it in groups.
struct DeviceFacts {
  std::string device_id;
  bool inventoried = false;  // false: no inventory yet; only the default group applies
  std::string hostname;
  std::string os;                      // the OS's pretty name, as in the store
  std::vector<std::string> addresses;  // "192.0.2.7/24", "2001:db8::7/64"
};

// Group folder names: 1..64 of [a-z0-9_-], starting with a letter or digit.
bool IsGroupName(const std::string& name);

// Where one part of an effective policy came from.
struct PartOrigin {
  std::string file;   // "policy.xml"
  std::string part;   // "<usage>", "event inventory", or "" for the whole file
  std::string group;  // the group that set it
};

// A device's effective policy.
struct Resolution {
  std::vector<std::string> groups;           // its groups, most important first; "default" last
  std::map<std::string, std::string> files;  // file name -> bytes to serve
  std::vector<PartOrigin> origins;           // by file, then part
};

class PolicyTree {
 public:
  // Validates a whole tree: names, every document with its parser (group
  // documents as parts), group.xml in every group but the default, unique
  // priorities, and that every merge that yields a schedule.xml has the
  // policy-check event (a tree may have no schedule.xml at all; clients then
  // keep their configured intervals).
  // InvalidArgument listing every error found, one per line, each
  // "source/group/file:line:column: message" (source names the tree).
  static common::StatusOr<std::shared_ptr<const PolicyTree>> FromFiles(const TreeFiles& files,
                                                                       const std::string& source);
  ~PolicyTree();

  // Internal only if a merge fails, which validation rules out.
  common::StatusOr<Resolution> Resolve(const DeviceFacts& device) const;
  const TreeFiles& files() const;

 private:
  struct Group;
  PolicyTree();
  std::vector<Group> groups_;  // by priority, most important first; the default last
  TreeFiles files_;
};

// Reads a policy folder from disk. Entries whose names start with '.' (a git
// checkout, editor swap files) are skipped. Errors: a file at the top level,
// a folder inside a group, a name that is not a group or policy file name, a
// file over 16 MiB; InvalidArgument listing them all.
common::StatusOr<TreeFiles> ReadTreeFolder(const std::string& dir);

}  // namespace policy

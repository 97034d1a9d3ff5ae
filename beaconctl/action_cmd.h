// beaconctl action create|list|show|cancel: work queued for devices
// (docs/actions.md), delivered in their signed manifests.
//
// create and cancel are beaconctl's only writes to the estate tables. They
// open the store read-write beside the running central, which is safe:
// the store is SQLite in WAL mode, every write is one BEGIN IMMEDIATE
// transaction, and each connection waits up to its busy timeout (5 s) for
// the other writer instead of failing, so the importer and beaconctl queue
// for the write lock while readers go on. The central serves a new action
// from its next manifest on (it reads actions per manifest).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "common/status.h"
#include "inventory/store.h"
#include "output.h"

namespace CLI {
class App;
}

namespace beaconctl {

class ActionCommand {
 public:
  // Declares `action` and its subcommands on `app`; parsing fills this
  // object, which must outlive the parse.
  explicit ActionCommand(CLI::App& app);
  bool Chosen() const;
  // Runs the chosen subcommand on the store at `store_path`, resolving
  // groups with the newest revision in `policy_state`. Bad operands (an
  // unknown kind or state, both or neither of --device and --group, a
  // duration that is not 1s..30d, an id that is not a UUID) are
  // InvalidArgument prefixed "usage: "; an unknown device, group or action
  // NotFound; a group with no devices and the cancel of a finished action
  // FailedPrecondition.
  common::Status Run(const inventory::StoreLocation& store_path, const std::string& policy_state, int64_t now,
                     std::ostream& out) const;

 private:
  CLI::App *action_ = nullptr, *create_ = nullptr, *list_ = nullptr, *show_ = nullptr, *cancel_ = nullptr;
  std::string kind_;     // create KIND
  std::string device_;   // create/list --device
  std::string group_;    // create --group
  std::string expires_;  // create --expires
  std::string state_;    // list --state
  std::string id_;       // show/cancel ID
  FormatFlags format_;
};

}  // namespace beaconctl

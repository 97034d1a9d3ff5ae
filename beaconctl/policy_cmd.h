// beaconctl policy ...: the administrator's side of policy publishing.
//
// The policy folder (sources, which may be a git checkout) is edited and
// validated here, then published into the central's repository
// (policy/repository.h), which the running central picks up within its
// policy_refresh_interval. Only published revisions are ever served.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "common/status.h"
#include "inventory/store.h"
#include "output.h"

namespace CLI {
class App;
}

namespace beaconctl {

struct PolicyPaths {
  std::string folder;  // the sources: DATA_DIR/policy unless --policy-dir
  std::string state;   // the repository: DATA_DIR/policy-state
  inventory::StoreLocation store;  // the store, for resolve
};

// The `policy` command and its subcommands (validate, edit, publish, history,
// diff, rollback, resolve) on a CLI11 command line.
class PolicyCommand {
 public:
  // Declares `policy` on `app`; parsing `app` fills this object, which must
  // outlive the parse.
  explicit PolicyCommand(CLI::App& app);

  // Whether the command line chose `policy`.
  bool Chosen() const;

  // Runs the chosen subcommand. Operands the syntax cannot check (revision
  // numbers, group names, device ids) are InvalidArgument prefixed "usage: ";
  // a refused edit or publish is InvalidArgument listing the errors.
  common::Status Run(const PolicyPaths& paths, std::ostream& out) const;

 private:
  CLI::App* policy_ = nullptr;
  CLI::App* validate_ = nullptr;
  CLI::App* edit_ = nullptr;
  CLI::App* publish_ = nullptr;
  CLI::App* history_ = nullptr;
  CLI::App* diff_ = nullptr;
  CLI::App* rollback_ = nullptr;
  CLI::App* resolve_ = nullptr;
  std::string folder_;                  // validate [FOLDER]
  std::string group_;                   // edit GROUP
  std::vector<std::string> files_;      // edit GROUP [FILE...]
  std::string message_;                 // publish, rollback -m MESSAGE
  std::vector<std::string> revisions_;  // diff REV REV, rollback REV
  std::string device_;                  // resolve DEVICE_ID
  FormatFlags format_;                  // history --json/--csv
};

}  // namespace beaconctl

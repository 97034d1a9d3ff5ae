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

namespace beaconctl {

struct PolicyPaths {
  std::string folder;  // the sources: DATA_DIR/policy unless --policy-dir
  std::string state;   // the repository: DATA_DIR/policy-state
  std::string store;   // the store, for resolve
};

// Runs `policy OPERANDS...`. Usage errors are InvalidArgument prefixed
// "usage: "; a refused edit or publish is InvalidArgument listing the errors.
common::Status RunPolicyCommand(const PolicyPaths& paths, const std::vector<std::string>& operands,
                                std::ostream& out);

}  // namespace beaconctl

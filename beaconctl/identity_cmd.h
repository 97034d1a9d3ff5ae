// beaconctl ca|beacon|device|enroll ...: the administrator's side of
// identity (docs/identity.md): the estate CA, beacon certificates,
// revocation, enrollment secrets and requests.
//
// Every command that changes what the estate trusts (ca init, ca rollover,
// ca retire, beacon revoke, device revoke) writes a new trust bundle at
// once; the running central enforces it within policy_refresh_interval and
// relays within trust_refresh_interval.
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

class IdentityCommand {
 public:
  // Declares the commands on `app`; parsing fills this object.
  explicit IdentityCommand(CLI::App& app);
  bool Chosen() const;
  // Runs the chosen command on the central's data directory.
  common::Status Run(const std::string& data_dir, const inventory::StoreLocation& store_path, std::ostream& out) const;

 private:
  CLI::App *ca_ = nullptr, *ca_init_ = nullptr, *ca_show_ = nullptr, *ca_rollover_ = nullptr, *ca_retire_ = nullptr;
  CLI::App *beacon_ = nullptr, *beacon_issue_ = nullptr, *beacon_revoke_ = nullptr;
  CLI::App *device_ = nullptr, *device_issue_ = nullptr, *device_revoke_ = nullptr;
  CLI::App *enroll_ = nullptr, *secret_ = nullptr, *secret_create_ = nullptr, *secret_list_ = nullptr,
           *secret_revoke_ = nullptr, *enroll_list_ = nullptr, *enroll_pending_ = nullptr, *enroll_approve_ = nullptr,
           *enroll_deny_ = nullptr, *enroll_clones_ = nullptr;
  std::string name_;                // ca --name, beacon NAME
  std::string id_;                  // device ID, secret ID, request ID
  std::vector<std::string> hosts_;  // beacon issue --host
  std::string out_dir_ = ".";       // beacon issue --out
  std::string validity_;            // --validity DURATION
  std::string expires_;             // secret create --expires DURATION
  std::string label_;               // secret create --label
  int64_t uses_ = 0;                // secret create --uses
  std::string state_;               // enroll list --state
  bool force_ = false;              // ca retire --force
  // --json/--csv of the listings
  FormatFlags ca_show_format_, secret_list_format_, list_format_, clones_format_;
};

}  // namespace beaconctl

// beaconctl status|devices|device show|beacons|health: who is not
// reporting, what is broken, and why (DESIGN.md, "Seeing the estate").
//
// Read-only: the store is opened read-only, and statuses are computed at the
// current time from what is stored, with the estate's rules as the central
// recorded them (inventory::DeviceStatusOf, BeaconStatusOf), so beaconctl
// and the central agree. Everything a device or a beacon reported is
// printed through Value::Untrusted (common::Printable).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "common/status.h"
#include "output.h"

namespace CLI {
class App;
}

namespace inventory {
class Store;
}

namespace beaconctl {

class EstateCommand {
 public:
  // Declares status, devices, beacons and health on `app`, and `show` under
  // `device` (the device command of identity_cmd.h); parsing fills this
  // object, which must outlive the parse.
  EstateCommand(CLI::App& app, CLI::App& device);
  bool Chosen() const;
  // Runs the chosen command on the store. Bad option values (an unknown
  // status or condition, a device id that is not one, a limit out of range)
  // are InvalidArgument prefixed "usage: ", naming the valid values.
  common::Status Run(inventory::Store& store, int64_t now, std::ostream& out) const;

 private:
  CLI::App *status_ = nullptr, *devices_ = nullptr, *show_ = nullptr, *beacons_ = nullptr, *health_ = nullptr;
  std::string status_filter_;     // devices --status
  std::string os_glob_;           // devices --os
  std::string name_glob_;         // devices --name
  std::string condition_filter_;  // devices --condition
  std::string device_;            // device show ID, health --device
  std::string beacon_;            // health --beacon
  bool open_only_ = false;        // health --open
  int64_t limit_ = 1000;          // health --limit
  FormatFlags format_;
};

}  // namespace beaconctl

// beaconctl changes [--since TIME] [--device ID]: what changed in the
// estate's inventories (packages installed, removed or upgraded; hardware and
// system items added, removed or changed), oldest first; with --device and
// no --since, the device's whole time line (docs/beaconctl.md).
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

class ChangesCommand {
 public:
  explicit ChangesCommand(CLI::App& app);
  bool Chosen() const;
  // InvalidArgument prefixed "usage: " for a bad time or device id, or
  // neither --since nor --device.
  common::Status Run(inventory::Store& store, std::ostream& out) const;

 private:
  CLI::App* changes_ = nullptr;
  std::string since_;   // RFC 3339, or YYYY-MM-DD (UTC midnight)
  std::string device_;
  FormatFlags format_;
};

}  // namespace beaconctl

// A certificate per simulated device. Every agent endpoint of a beacon needs
// mutual TLS and answers a device only for the device its certificate names
// (docs/identity.md), so each simulated device presents its own, as each
// real device presents the one it got at enrollment.
//
// The swarm issues them itself with the central's CA (the folder
// `beaconctl ca init` made, DATA_DIR/ca), as `beaconctl device issue` does:
// a new ECDSA P-256 key, a request, a certificate naming the device. They
// are not recorded in the central's store (the swarm does not open it), so
// `beaconctl device revoke` would not find them; nothing in the benchmark
// revokes. Enrollment itself (a spooled request per device, decided by the
// importer) is not what the swarm measures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "devices.h"

namespace swarm {

struct IdentityStats {
  uint64_t issued = 0;  // made in this run
  uint64_t reused = 0;  // found in the folder (an earlier run: the outage after the day)
  double seconds = 0;   // wall time of the whole step
  int threads = 0;
};

// Makes sure `dir`/<device id>.pem exists for every device: its certificate
// chain followed by its private key (one file, which common::ClientOptions
// takes as both cert_file and key_file). Missing ones are issued with the CA
// in `ca_dir`, on one thread per core (each with its own loaded CA); files
// already there are kept, unread. Files are renamed into place but not
// fsynced: scratch data a crash may lose, not state.
common::StatusOr<IdentityStats> ProvideIdentities(const std::string& ca_dir, const std::string& dir,
                                                  const std::vector<Device>& devices);

// The file ProvideIdentities wrote for `device`.
std::string IdentityPath(const std::string& dir, const Device& device);

}  // namespace swarm

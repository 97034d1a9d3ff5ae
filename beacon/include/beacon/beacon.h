// The beacon: serves the agent API over HTTPS, keeps uploads durable in its
// spool and, depending on configuration, relays them upstream (a DMZ or
// branch beacon) or imports them into the store (the central).
//
// One executable, two roles: a beacon with `upstream` set relays; a beacon
// with `store` set is the central. Exactly one of the two must be set.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace beacon {

// The configuration keys the beacon accepts (conf/beacon.conf, conf/central.conf).
const std::vector<common::ConfigKey>& ConfigKeys();

class Beacon {
 public:
  // Validates the configuration, opens the spool (clearing incoming/ and
  // re-queueing ready/), the store or the upstream client, and binds the port.
  static common::StatusOr<std::unique_ptr<Beacon>> Create(const common::Config& config);
  ~Beacon();

  int port() const;        // the agent API listener
  int admin_port() const;  // the administrators' listener
  // Serves until Stop(); starts and joins the background threads (relay or
  // importer, check-in flusher). Tells the service manager READY=1 once
  // serving (common/service.h), and while a watchdog is on, keeps it alive
  // only while every I/O thread of the server engine keeps sweeping.
  void Run();
  // Thread-safe and signal-thread-safe: asks Run() to return.
  void Stop();
  // SIGHUP (docs/service.md): takes `config` (the file read again) if all of
  // it is valid: its log_level, and the certificate and key files (the same
  // paths) read again for new connections, upstream ones included. Changed
  // keys that need a restart are logged as such and not applied. Any error
  // (a bad file, a certificate that is not a beacon's, a key that does not
  // match) is returned and nothing is applied. Any thread; one at a time.
  common::Status Reload(const common::Config& config);

 private:
  Beacon();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// main(): parses arguments (--config, --data-dir, --help, --version), loads
// the configuration and runs a Beacon until SIGINT/SIGTERM, reloading on
// SIGHUP (beacon/src/command_line.cpp). Returns the exit code.
int BeaconMain(int argc, char** argv);

}  // namespace beacon

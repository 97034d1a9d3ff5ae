// beacon-swarm: simulated devices against a real relay and central. The
// scenarios are described in scenarios.h; bench/swarm.sh runs both.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "common/log.h"
#include "options.h"
#include "scenarios.h"

int main(int argc, char** argv) {
  swarm::Options o;
  CLI::App app{
      "beacon-swarm: many simulated devices, on a bounded pool of connections, against a real "
      "beacon"};
  app.add_option("--scenario", o.scenario, "day or outage (see bench/swarm/scenarios.h)")
      ->required();
  app.add_option("--server", o.server, "https://host:port of the beacon the devices use")
      ->required();
  app.add_option("--ca-file", o.ca_file, "estate CA bundle (PEM)")->required();
  app.add_option("--ca-dir", o.ca_dir,
                 "the central's CA folder (DATA_DIR/ca): a certificate for every device is issued from it")
      ->required();
  app.add_option("--identity-dir", o.identity_dir,
                 "where the devices' certificates and keys go, and are found again (default: RESULTS/identities)");
  app.add_option("--policy-public-key", o.policy_public_key,
                 "the estate's policy key (PEM Ed25519)")
      ->required();
  app.add_option("--results", o.results_dir, "folder for <scenario>.json, -summary.txt, -acks.tsv")
      ->capture_default_str();
  app.add_option("--devices", o.devices, "simulated devices (ignored with --state-in)")
      ->capture_default_str();
  app.add_option("--conns", o.conns, "worker threads, one connection each")->capture_default_str();
  app.add_flag("--fresh-connections", o.fresh_connections,
               "a new connection (TLS handshake) for every device round, even for the device served last");
  app.add_option("--state-in", o.state_in, "read the devices from this state file");
  app.add_option("--state-out", o.state_out, "write the devices to this state file at the end");
  app.add_option("--backoff-base", o.backoff_base_s, "seconds; 0: the client's default (30)")
      ->capture_default_str();
  app.add_option("--backoff-cap", o.backoff_cap_s, "seconds; 0: the client's default (3600)")
      ->capture_default_str();
  app.add_option("--packages", o.packages, "packages in each synthetic inventory")
      ->capture_default_str();
  app.add_option("--servers-percent", o.servers_percent,
                 "share of devices reported as servers (srv-*, Debian)")
      ->capture_default_str();
  app.add_option("--prime-timeout", o.prime_timeout_s, "seconds the first policy checks may take")
      ->capture_default_str();
  app.add_option("--day-minutes", o.day_minutes, "day: real minutes for the 24 simulated hours")
      ->capture_default_str();
  app.add_option("--finish-timeout", o.finish_timeout_s,
                 "day: seconds for queued uploads after the day")
      ->capture_default_str();
  app.add_option("--ready-file", o.ready_file,
                 "outage: created once the devices are ready for the relay to stop");
  app.add_option("--down-timeout", o.down_timeout_s,
                 "outage: seconds to wait for the relay to stop")
      ->capture_default_str();
  app.add_option("--up-timeout", o.up_timeout_s, "outage: seconds to wait for the relay to return")
      ->capture_default_str();
  app.add_option("--outage-spread", o.outage_spread_s,
                 "outage: seconds over which the failing attempts spread")
      ->capture_default_str();
  app.add_option("--storm-timeout", o.storm_timeout_s,
                 "outage: seconds the reconnect storm may take")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  common::SetLogTag("swarm");
  // As the client: a beacon that closes a connection (every error answer
  // does) must give a write error, not end the process.
  std::signal(SIGPIPE, SIG_IGN);
  common::Status st = swarm::RunScenario(o);
  if (!st.ok()) {
    std::cerr << "beacon-swarm: " << st.ToString() << "\n";
    return 1;
  }
  return 0;
}

// The swarm simulator's settings, from its command line (main.cpp), with
// their defaults. What each scenario does with them is in scenarios.h.
#pragma once

#include <cstdint>
#include <string>

namespace swarm {

struct Options {
  std::string scenario;           // "day" or "outage"
  std::string server;             // https://host:port of the beacon the devices use (the relay)
  std::string ca_file;            // estate CA bundle
  // The central's CA folder (DATA_DIR/ca): every device gets a certificate
  // of its own from it (identities.h), written to identity_dir
  // (default: results_dir/identities), where a later run finds it again.
  std::string ca_dir;
  std::string identity_dir;
  std::string policy_public_key;  // verifies every manifest, as a client does
  std::string results_dir = ".";  // <scenario>.json, <scenario>-acks.tsv, <scenario>-summary.txt

  uint32_t devices = 1000;
  // Worker threads, each with one keep-alive connection to the server; a
  // device event takes whichever worker is free.
  int conns = 64;
  // A connection presents one device's certificate, so a worker opens a new
  // one (a full TLS handshake with a client certificate) whenever it takes
  // up another device, as separate machines would, and keeps it alive while
  // it serves the same device again. fresh_connections: a new connection for
  // every device round, even then.
  bool fresh_connections = false;

  // Device state carried between runs (ids, ETags, revisions, inventory
  // sequences): read before the run if set, written after it if set.
  std::string state_in;
  std::string state_out;

  // The delivery backoff (full jitter above Retry-After), in seconds; 0
  // takes the client's own default (client/settings.h: 30 s and 1 h).
  int backoff_base_s = 0;
  int backoff_cap_s = 0;

  // Synthetic inventories: packages per device, and the share of devices
  // named and reported as servers (srv-*, Debian), which the sample policy's
  // servers group takes after their first inventory.
  int packages = 20;
  int servers_percent = 5;

  // prime: how long the devices' first policy checks may take in all.
  int prime_timeout_s = 1800;

  // day: the 24 hours of the schedule run in this many real minutes.
  double day_minutes = 5;
  // After the day (and after the storm): how long pending uploads may still
  // be retried before the run ends.
  int finish_timeout_s = 180;

  // outage: the file created (with "ready") once the devices are ready, so
  // the driver stops the relay, and to which "down" is appended once the
  // relay is seen down; how long to wait for it to go down and come back;
  // over how many seconds the devices' failing attempts are spread while it
  // is down; and how long the reconnect storm may take.
  std::string ready_file;
  int down_timeout_s = 120;
  int up_timeout_s = 900;
  int outage_spread_s = 10;
  int storm_timeout_s = 900;
};

}  // namespace swarm

// The client's configuration: the key table (what client.conf may say) and
// the typed settings read from it once, at start-up.
//
// ConfigKeys() is the one declaration of every key with its type, default
// and help; it parses the file, rejects unknown keys with file:line and
// prints `--help`. ClientSettings::FromConfig() reads each key once and
// checks its range, so no client code looks a key up by name afterwards.
// The initializers below are the table's defaults (a test keeps them equal).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/env.h"
#include "common/log.h"
#include "common/status.h"

namespace client {

const std::vector<common::ConfigKey>& ConfigKeys();

struct ClientSettings {
  // `server`: https://host[:port] of the beacon this client reports to.
  // Required; no default.
  std::string server;
  // `ca_file`: the estate CA bundle every beacon certificate is verified against.
  std::string ca_file = "/etc/beacon-client/ca.pem";
  // `policy_public_key`: PEM Ed25519 key every manifest must be signed with.
  std::string policy_public_key = "/etc/beacon-client/policy.pub";
  // `state_dir` (or --data-dir): device id, applied policy, outbox, state.
  std::string state_dir = "/var/lib/beacon-client";

  // `proxy` (http://host:port; empty: the applied policy.xml's, else none)
  // and its Basic credentials.
  std::string proxy;
  std::string proxy_username;
  std::string proxy_password;

  // `site`: failover.xml beacons marked for another site are skipped.
  std::string site;
  // `failover_return_after`: 0 to 30 days; default 1 h.
  std::chrono::seconds failover_return_after = std::chrono::hours(1);

  // Used until the applied policy brings a schedule.xml: 1 min to 365 days.
  std::chrono::seconds policy_interval = std::chrono::hours(1);      // `policy_interval`
  std::chrono::seconds inventory_interval = std::chrono::hours(24);  // `inventory_interval`

  // `outbox_max_size`: bytes the outbox may hold; more than 0. Default 256 MiB.
  uint64_t outbox_max_size = uint64_t{256} << 20;

  // Request timeouts: connect 1 s to 5 min (default 10 s), read/write 1 s to
  // 1 h (default 60 s).
  std::chrono::seconds connect_timeout = std::chrono::seconds(10);  // `connect_timeout`
  std::chrono::seconds request_timeout = std::chrono::seconds(60);  // `request_timeout`

  // Delivery retry delays: each 1 s to 1 day, base <= cap. Defaults 30 s, 1 h.
  std::chrono::seconds backoff_base = std::chrono::seconds(30);  // `backoff_base`
  std::chrono::seconds backoff_cap = std::chrono::hours(1);      // `backoff_cap`

  // What an inventory holds unless the applied policy.xml says otherwise.
  bool collect_hardware = true;  // `collect_hardware`
  bool collect_software = true;  // `collect_software`

  // `log_level`; default info. When the file sets it (log_level_set), the
  // applied policy.xml's level is ignored.
  common::LogLevel log_level = common::LogLevel::kInfo;
  bool log_level_set = false;

  // `enroll_secret`: the enrollment secret sent with a first enrollment
  // (docs/identity.md "Enrollment"); empty: approval mode. At most 128
  // printable ASCII characters, no spaces. Never logged.
  std::string enroll_secret;
  // `enroll_wait`: how long `run --once`, `inventory --now` and `enroll`
  // wait for the certificate before giving up (Unavailable); 0 s to 7 days,
  // default 10 min. The daemon waits as long as it takes.
  std::chrono::seconds enroll_wait = std::chrono::minutes(10);

  // Reads every key of ConfigKeys() from `config` (which supplies the
  // defaults), then Validate()s.
  // Not a configuration key: the seam every file access of the client goes
  // through (outbox, state, applied policy, usage and log periods). Null is
  // common::Env::Default(); tests inject a fault Env.
  common::Env* env = nullptr;

  static common::StatusOr<ClientSettings> FromConfig(const common::Config& config);

  // Checks the ranges above, that `server` is an https URL and `proxy` an
  // http one. InvalidArgument names the key: "'connect_timeout' is 0s; it
  // must be from 1s to 5m".
  common::Status Validate() const;

  bool operator==(const ClientSettings&) const = default;
};

}  // namespace client

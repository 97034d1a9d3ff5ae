// The beacon's configuration, read once into typed settings.
//
// The key table (ConfigKeys(), public in beacon/beacon.h) declares every key
// with its type, range, default and help; Settings::FromConfig reads each
// key once, so nothing looks a key up by string while serving.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/http_server.h"
#include "common/status.h"
#include "inventory/store.h"

namespace beacon {

struct Settings {
  std::string name;  // this beacon's name (a token); default: the host name
  std::string data_dir;
  std::string upstream;  // relay: https://host:port of the next hop
  bool central = false;  // store = sqlite or postgresql
  inventory::StoreLocation store;  // central: the store (store, store_conninfo)
  std::string ca_file;
  std::string policy_signing_key;
  std::string listen_host;
  int listen_port = 0;
  std::string admin_listen_host;
  int admin_listen_port = 0;
  std::string dashboard_js_dir;  // central: Debian's JavaScript libraries (the dashboard)
  common::ServerOptions server;  // the engine, for both listeners
  uint64_t max_upload_size = 0;
  int max_concurrent_uploads = 0;
  uint64_t spool_max_size = 0;
  uint64_t spool_max_files = 0;
  uint64_t spool_min_free = 0;
  uint64_t spool_max_rejected = 0;
  std::chrono::seconds retry_after{0};
  std::chrono::seconds policy_cache_ttl{0};
  std::chrono::seconds policy_refresh_interval{0};
  std::chrono::seconds relay_backoff_base{0};
  std::chrono::seconds relay_backoff_cap{0};
  std::chrono::seconds relay_probe_interval{0};
  std::chrono::seconds checkin_flush_interval{0};
  std::string log_level;
  std::chrono::seconds trust_refresh_interval{0};  // relay
  std::chrono::seconds cert_warn_before{0};
  bool enroll_approval = false;                  // central
  std::chrono::seconds device_cert_validity{0};  // central
  std::chrono::seconds crl_validity{0};          // central
  std::chrono::seconds health_interval{0};
  uint64_t health_min_free = 0;
  std::chrono::seconds upstream_warn_after{0};   // relay
  int64_t disconnect_after = 0;                  // central
  int64_t outbox_backlog = 0;                    // central
  std::chrono::seconds action_retention{0};      // central
  std::chrono::seconds health_retention{0};      // central
  std::chrono::seconds history_interval{0};      // central
  std::chrono::seconds history_retention{0};     // central
  std::chrono::seconds metrics_refresh_interval{0};  // central: devices per status in /metrics

  // InvalidArgument for a combination the key table cannot check (exactly
  // one of upstream and store, a bad name).
  static common::StatusOr<Settings> FromConfig(const common::Config& config);
};

}  // namespace beacon

#include "settings.h"

#include <unistd.h>

#include "beacon/beacon.h"
#include "importer.h"
#include "common/uuid.h"

namespace beacon {

using common::KeyType;

const std::vector<common::ConfigKey>& ConfigKeys() {
  static const std::vector<common::ConfigKey> keys = {
      {"name", KeyType::kString, "", "this beacon's name in check-ins and logs ([A-Za-z0-9._:-]); default: the host name"},
      {"listen_host", KeyType::kString, "0.0.0.0", "address to listen on"},
      {"listen_port", KeyType::kInt, "8443", "TCP port to listen on (0 = any free port)", 0, 65535},
      {"tls_cert", KeyType::kString, "/etc/beacon/beacon.pem", "this beacon's certificate chain (beaconctl beacon issue): presented to clients and, on a relay, to its upstream"},
      {"tls_key", KeyType::kString, "/etc/beacon/beacon.key", "PEM private key of tls_cert"},
      {"ca_file", KeyType::kString, "/etc/beacon/ca.pem", "relay: the estate CA bundle it starts from (copied to data_dir/trust.pem at first start; newer bundles come from the upstream)"},
      {"data_dir", KeyType::kString, "/var/lib/beacon", "spool, caches and (central) the store live here"},
      {"upstream", KeyType::kString, "", "https://host:port of the next beacon or the central; set on relays only"},
      {"store", KeyType::kString, "", "'sqlite' (the store at data_dir/store.sqlite) or 'postgresql' (the database of store_conninfo) makes this beacon the central"},
      {"store_conninfo", KeyType::kString, "", "central with store = postgresql: the libpq connection string of its database, e.g. 'host=/run/postgresql dbname=inventory' (several centrals may share one database; never logged with its password)"},
      {"policy_signing_key", KeyType::kString, "/etc/beacon/policy.key", "central: PEM Ed25519 private key that signs every published manifest (openssl genpkey -algorithm ed25519)"},
      {"io_threads", KeyType::kInt, "0", "threads holding the connections (TLS, parsing, deadlines); 0 = one per core", 0, 256},
      {"workers", KeyType::kInt, "16", "threads running the handlers, which may block (spool writes and fsync, store reads, upstream requests)", 1, 1024},
      {"max_queued_work", KeyType::kInt, "256", "requests waiting for a free worker; beyond it a request gets 503 with Retry-After at once", 0, 100000},
      {"backlog", KeyType::kInt, "4096", "listen backlog (connections the kernel queues before they are accepted)", 1, 65535},
      {"max_header_size", KeyType::kBytes, "8K", "request line and header fields together; more gets 431 (414 when the request line alone is longer)"},
      {"max_header_count", KeyType::kInt, "64", "header fields in one request; more gets 431", 1, 1000},
      {"handshake_timeout", KeyType::kDuration, "10s", "longest time from accepting a connection to the end of its TLS handshake", 1, 3600},
      {"header_timeout", KeyType::kDuration, "10s", "longest time from the first byte of a request (or the handshake) to the end of its head", 1, 3600},
      {"keep_alive_timeout", KeyType::kDuration, "30s", "how long an idle keep-alive connection is kept (an idle TLS connection costs a few KiB)", 1, 3600},
      {"write_timeout", KeyType::kDuration, "30s", "longest time to send one response", 1, 3600},
      {"min_body_rate", KeyType::kBytes, "1K", "slowest upload body accepted, in bytes per second: in every body_timeout a body must advance by min_body_rate x body_timeout bytes or end, or it is cut (408) and its spool space freed"},
      {"body_timeout", KeyType::kDuration, "10s", "the period over which min_body_rate is measured", 1, 3600},
      {"stop_timeout", KeyType::kDuration, "20s", "on stop: longest wait for requests in flight before their connections are closed", 1, 3600},
      {"max_connections", KeyType::kInt, "20000", "open connections (both listeners); more are closed at once, counted and logged", 1, 10000000},
      {"max_connections_per_address", KeyType::kInt, "1000", "open connections from one peer address; more are closed at once, counted and logged", 1, 10000000},
      {"admin_listen_host", KeyType::kString, "127.0.0.1", "address of the administrators' listener: metrics on every beacon, the API and dashboard on the central (same TLS certificate)"},
      {"admin_listen_port", KeyType::kInt, "8444", "port of the administrators' listener (0 = any free port)", 0, 65535},
      {"dashboard_js_dir", KeyType::kString, "/usr/share/javascript", "central: the folder of Debian's libjs-bootstrap5 and libjs-chart.js (bootstrap5/, chart.js/); the web dashboard serves a fixed list of their files from it (docs/dashboard.md)"},
      {"max_upload_size", KeyType::kBytes, "64M", "largest upload body accepted (413 above, before reading); at most 256M"},
      {"max_concurrent_uploads", KeyType::kInt, "32", "uploads received at once; more get 503 with Retry-After", 1, 100000},
      {"spool_max_size", KeyType::kBytes, "2G", "bytes the spool may hold; more get 503 with Retry-After"},
      {"spool_max_files", KeyType::kInt, "100000", "uploads the spool may hold; more get 503 with Retry-After", 1, 100000000},
      {"spool_max_rejected", KeyType::kBytes, "256M", "bytes spool/rejected/ may hold; above it a rejected upload keeps only its header and first 4 KiB"},
      {"spool_min_free", KeyType::kBytes, "256M", "disk space always left free; below it uploads get 507"},
      {"retry_after", KeyType::kDuration, "60s", "Retry-After sent with 503 and 507", 1, 86400},
      {"policy_cache_ttl", KeyType::kDuration, "60s", "relay: how long a cached manifest is served before revalidation upstream", 0, 86400},
      {"policy_refresh_interval", KeyType::kDuration, "2s", "central: how often it looks for a revision newly published with beaconctl", 1, 86400},
      {"relay_backoff_base", KeyType::kDuration, "1s", "relay: first retry delay after an upstream failure", 1, 86400},
      {"relay_backoff_cap", KeyType::kDuration, "5m", "relay: longest retry delay", 1, 86400},
      {"relay_probe_interval", KeyType::kDuration, "5s", "relay: while backing off, how often the upstream is asked GET /v1/ping; when it answers, the spool drains at once", 1, 3600},
      {"checkin_flush_interval", KeyType::kDuration, "10s", "how often tracked check-ins are stored (central) or sent upstream (relay)", 1, 86400},
      {"trust_refresh_interval", KeyType::kDuration, "5m", "relay: how often the trust bundle (CAs, revocation lists) is revalidated upstream", 1, 86400},
      {"cert_warn_before", KeyType::kDuration, "14d", "raise beacon.certificate-expiring when this beacon's certificate or a CA expires within this time (central: devices whose certificate does have condition certificate-expiring)", 0, 365 * 86400},
      {"enroll_approval", KeyType::kBool, "false", "central: an enrollment request without a secret waits for `beaconctl enroll approve` instead of being refused"},
      {"device_cert_validity", KeyType::kDuration, "90d", "central: validity of the device certificates it issues (clients renew when a third is left)", 60, 3650 * 86400},
      {"crl_validity", KeyType::kDuration, "7d", "central: validity of its revocation lists; they are signed anew when half of it is left", 60, 365 * 86400},
      {"health_interval", KeyType::kDuration, "60s", "how often this beacon checks itself and reports its status and health messages (docs/health.md); it counts as offline after 3 missed reports", 5, 86400},
      {"health_min_free", KeyType::kBytes, "2G", "message beacon.spool-disk-short while the spool's file system has less free space than this"},
      {"upstream_warn_after", KeyType::kDuration, "10m", "relay: message beacon.upstream-unreachable once the upstream has failed for this long", 1, 30 * 86400},
      {"disconnect_after", KeyType::kInt, "3", "central: a device is disconnected after this many of its expected check intervals without a check-in", 1, 1000},
      {"outbox_backlog", KeyType::kInt, "100", "central: a device whose outbox holds this many uploads has condition outbox-backlog", 1, 100000000},
      {"action_retention", KeyType::kDuration, "7d", "central: finished actions (done, failed, expired, cancelled) are deleted this long after they finished", 3600, 3650 * 86400},
      {"health_retention", KeyType::kDuration, "90d", "central: cleared health messages are deleted this long after the central learnt of their clearing (open ones are kept)", 3600, 3650 * 86400},
      {"history_interval", KeyType::kDuration, "5m", "central: how often the devices per status and the check-ins are recorded as a point of the estate's history (the dashboard's charts)", 1, 86400},
      {"history_retention", KeyType::kDuration, "90d", "central: points of the estate's history older than this are deleted", 3600, 3650 * 86400},
      {"metrics_refresh_interval", KeyType::kDuration, "15s", "central: GET /metrics takes devices per status and open health messages from the estate view (shared with the admin API) at most this often; scrapes in between get the last values", 1, 86400},
      {"log_level", KeyType::kString, "info", "debug, info, warn or error"},
  };
  return keys;
}

namespace {

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "beacon";
  std::string name;
  for (char c : std::string(buf)) name.push_back(common::IsToken(std::string(1, c)) ? c : '-');
  return name.empty() ? "beacon" : name.substr(0, 64);
}

}  // namespace

common::StatusOr<Settings> Settings::FromConfig(const common::Config& c) {
  Settings s;
  s.name = c.GetString("name").empty() ? HostName() : c.GetString("name");
  if (!common::IsToken(s.name)) return common::InvalidArgument("name must match [A-Za-z0-9._:-]{1,64}");
  s.data_dir = c.GetString("data_dir");
  s.upstream = c.GetString("upstream");
  const std::string store = c.GetString("store");
  if (s.upstream.empty() == store.empty()) {
    return common::InvalidArgument("set exactly one of 'upstream' (a relay beacon) or 'store' (the central)");
  }
  if (!store.empty() && store != "sqlite" && store != "postgresql") {
    return common::InvalidArgument("store must be 'sqlite' or 'postgresql'");
  }
  s.central = !store.empty();
  s.store.backend = store.empty() ? "sqlite" : store;
  s.store.path = s.data_dir + "/store.sqlite";
  s.store.conninfo = c.GetString("store_conninfo");
  if (store == "postgresql" && s.store.conninfo.empty()) {
    return common::InvalidArgument("store = postgresql needs store_conninfo (a libpq connection string)");
  }
  if (store != "postgresql" && !s.store.conninfo.empty()) {
    return common::InvalidArgument("store_conninfo is set but store is not 'postgresql'");
  }
  s.ca_file = c.GetString("ca_file");
  s.policy_signing_key = c.GetString("policy_signing_key");
  s.listen_host = c.GetString("listen_host");
  s.listen_port = static_cast<int>(c.GetInt("listen_port"));
  s.admin_listen_host = c.GetString("admin_listen_host");
  s.admin_listen_port = static_cast<int>(c.GetInt("admin_listen_port"));
  s.dashboard_js_dir = c.GetString("dashboard_js_dir");
  common::ServerOptions& o = s.server;
  o.cert_file = c.GetString("tls_cert");
  o.key_file = c.GetString("tls_key");
  o.io_threads = static_cast<int>(c.GetInt("io_threads"));
  o.workers = static_cast<int>(c.GetInt("workers"));
  o.max_queued_work = static_cast<int>(c.GetInt("max_queued_work"));
  o.backlog = static_cast<int>(c.GetInt("backlog"));
  o.max_header_bytes = c.GetBytes("max_header_size");
  o.max_headers = static_cast<size_t>(c.GetInt("max_header_count"));
  o.handshake_timeout = std::chrono::seconds(c.GetSeconds("handshake_timeout"));
  o.header_timeout = std::chrono::seconds(c.GetSeconds("header_timeout"));
  o.keep_alive_timeout = std::chrono::seconds(c.GetSeconds("keep_alive_timeout"));
  o.write_timeout = std::chrono::seconds(c.GetSeconds("write_timeout"));
  o.min_body_rate = c.GetBytes("min_body_rate");
  o.body_timeout = std::chrono::seconds(c.GetSeconds("body_timeout"));
  o.stop_timeout = std::chrono::seconds(c.GetSeconds("stop_timeout"));
  o.max_connections = static_cast<int>(c.GetInt("max_connections"));
  o.max_connections_per_address = static_cast<int>(c.GetInt("max_connections_per_address"));
  if (o.max_header_bytes < 1024 || o.max_header_bytes > (1 << 20)) {
    return common::InvalidArgument("max_header_size must be between 1K and 1M");
  }
  s.max_upload_size = c.GetBytes("max_upload_size");
  if (s.max_upload_size > kMaxImportBody) {
    return common::InvalidArgument("max_upload_size may be at most 256M: the central imports nothing larger");
  }
  s.max_concurrent_uploads = static_cast<int>(c.GetInt("max_concurrent_uploads"));
  s.spool_max_size = c.GetBytes("spool_max_size");
  s.spool_max_files = static_cast<uint64_t>(c.GetInt("spool_max_files"));
  s.spool_min_free = c.GetBytes("spool_min_free");
  s.spool_max_rejected = c.GetBytes("spool_max_rejected");
  s.retry_after = std::chrono::seconds(c.GetSeconds("retry_after"));
  o.retry_after_s = static_cast<int>(s.retry_after.count());
  s.policy_cache_ttl = std::chrono::seconds(c.GetSeconds("policy_cache_ttl"));
  s.policy_refresh_interval = std::chrono::seconds(c.GetSeconds("policy_refresh_interval"));
  s.relay_backoff_base = std::chrono::seconds(c.GetSeconds("relay_backoff_base"));
  s.relay_backoff_cap = std::chrono::seconds(c.GetSeconds("relay_backoff_cap"));
  s.relay_probe_interval = std::chrono::seconds(c.GetSeconds("relay_probe_interval"));
  s.checkin_flush_interval = std::chrono::seconds(c.GetSeconds("checkin_flush_interval"));
  s.log_level = c.GetString("log_level");
  s.trust_refresh_interval = std::chrono::seconds(c.GetSeconds("trust_refresh_interval"));
  s.cert_warn_before = std::chrono::seconds(c.GetSeconds("cert_warn_before"));
  s.enroll_approval = c.GetBool("enroll_approval");
  s.device_cert_validity = std::chrono::seconds(c.GetSeconds("device_cert_validity"));
  s.crl_validity = std::chrono::seconds(c.GetSeconds("crl_validity"));
  s.health_interval = std::chrono::seconds(c.GetSeconds("health_interval"));
  s.health_min_free = c.GetBytes("health_min_free");
  s.upstream_warn_after = std::chrono::seconds(c.GetSeconds("upstream_warn_after"));
  s.disconnect_after = c.GetInt("disconnect_after");
  s.outbox_backlog = c.GetInt("outbox_backlog");
  s.action_retention = std::chrono::seconds(c.GetSeconds("action_retention"));
  s.health_retention = std::chrono::seconds(c.GetSeconds("health_retention"));
  s.history_interval = std::chrono::seconds(c.GetSeconds("history_interval"));
  s.history_retention = std::chrono::seconds(c.GetSeconds("history_retention"));
  s.metrics_refresh_interval = std::chrono::seconds(c.GetSeconds("metrics_refresh_interval"));
  if (s.relay_backoff_cap < s.relay_backoff_base) {
    return common::InvalidArgument("relay_backoff_cap must not be below relay_backoff_base");
  }
  return s;
}

}  // namespace beacon

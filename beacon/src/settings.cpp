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
      {"tls_cert", KeyType::kString, "/etc/beacon/beacon.pem", "PEM certificate chain this beacon presents"},
      {"tls_key", KeyType::kString, "/etc/beacon/beacon.key", "PEM private key of tls_cert"},
      {"ca_file", KeyType::kString, "/etc/beacon/ca.pem", "estate CA bundle used to verify the upstream"},
      {"data_dir", KeyType::kString, "/var/lib/beacon", "spool, caches and (central) the store live here"},
      {"upstream", KeyType::kString, "", "https://host:port of the next beacon or the central; set on relays only"},
      {"store", KeyType::kString, "", "'sqlite' makes this beacon the central (store at data_dir/store.sqlite)"},
      {"policy_signing_key", KeyType::kString, "/etc/beacon/policy.key", "central: PEM Ed25519 private key that signs every published manifest (openssl genpkey -algorithm ed25519)"},
      {"threads", KeyType::kInt, "256", "worker threads; each serves one connection at a time, so connections beyond this wait (even for their TLS handshake)", 1, 4096},
      {"backlog", KeyType::kInt, "4096", "listen backlog (pending connections the kernel queues)", 1, 65535},
      {"read_timeout", KeyType::kDuration, "5s", "longest wait for request bytes before the connection is closed (a body cut short by it is answered 408)", 1, 3600},
      {"write_timeout", KeyType::kDuration, "5s", "longest wait to send response bytes", 1, 3600},
      {"keep_alive_timeout", KeyType::kDuration, "5s", "how long an idle keep-alive connection is kept; it holds a worker thread meanwhile, and shutdown waits for it", 1, 3600},
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
  if (!store.empty() && store != "sqlite") return common::InvalidArgument("store must be 'sqlite'");
  s.central = !store.empty();
  s.ca_file = c.GetString("ca_file");
  s.policy_signing_key = c.GetString("policy_signing_key");
  s.server.host = c.GetString("listen_host");
  s.server.port = static_cast<int>(c.GetInt("listen_port"));
  s.server.cert_file = c.GetString("tls_cert");
  s.server.key_file = c.GetString("tls_key");
  s.server.threads = static_cast<int>(c.GetInt("threads"));
  s.server.backlog = static_cast<int>(c.GetInt("backlog"));
  s.server.read_timeout_s = static_cast<int>(c.GetSeconds("read_timeout"));
  s.server.write_timeout_s = static_cast<int>(c.GetSeconds("write_timeout"));
  s.server.keep_alive_timeout_s = static_cast<int>(c.GetSeconds("keep_alive_timeout"));
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
  s.policy_cache_ttl = std::chrono::seconds(c.GetSeconds("policy_cache_ttl"));
  s.policy_refresh_interval = std::chrono::seconds(c.GetSeconds("policy_refresh_interval"));
  s.relay_backoff_base = std::chrono::seconds(c.GetSeconds("relay_backoff_base"));
  s.relay_backoff_cap = std::chrono::seconds(c.GetSeconds("relay_backoff_cap"));
  s.relay_probe_interval = std::chrono::seconds(c.GetSeconds("relay_probe_interval"));
  s.checkin_flush_interval = std::chrono::seconds(c.GetSeconds("checkin_flush_interval"));
  s.log_level = c.GetString("log_level");
  if (s.relay_backoff_cap < s.relay_backoff_base) {
    return common::InvalidArgument("relay_backoff_cap must not be below relay_backoff_base");
  }
  return s;
}

}  // namespace beacon

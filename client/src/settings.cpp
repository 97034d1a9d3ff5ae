#include "client/settings.h"

#include "common/http_client.h"

namespace client {

using common::KeyType;
using common::Status;
using common::StatusOr;

const std::vector<common::ConfigKey>& ConfigKeys() {
  // One key a line, to read as a table.
  // clang-format off
  static const std::vector<common::ConfigKey> keys = {
      {"server", KeyType::kString, "", "https://host:port of the beacon this client reports to (required)"},
      {"ca_file", KeyType::kString, "/etc/beacon-client/ca.pem", "estate CA bundle; the beacon's certificate and host name are always verified against it"},
      {"policy_public_key", KeyType::kString, "/etc/beacon-client/policy.pub", "the estate's PEM Ed25519 policy public key; a manifest whose signature does not verify with it is refused"},
      {"state_dir", KeyType::kString, "/var/lib/beacon-client", "device id, applied policy, outbox and state live here"},
      {"proxy", KeyType::kString, "", "HTTP proxy (http://host:port) for every request; overrides the applied policy.xml's proxy"},
      {"proxy_username", KeyType::kString, "", "Basic authentication user for `proxy`"},
      {"proxy_password", KeyType::kString, "", "Basic authentication password for `proxy`"},
      {"site", KeyType::kString, "", "this device's site; failover.xml beacons marked for another site are skipped"},
      {"failover_return_after", KeyType::kDuration, "1h", "after failing over, how long to stay on a working beacon before trying the preferred one again (0s to 30d)"},
      {"policy_interval", KeyType::kDuration, "1h", "how often the policy manifest is checked until the applied policy brings a schedule.xml (1m to 365d)"},
      {"inventory_interval", KeyType::kDuration, "24h", "how often an inventory is collected until the applied policy brings a schedule.xml (1m to 365d)"},
      {"outbox_max_size", KeyType::kBytes, "256M", "bytes the outbox may hold; older uploads are kept, new ones refused"},
      {"connect_timeout", KeyType::kDuration, "10s", "TCP + TLS connect timeout (1s to 5m)"},
      {"request_timeout", KeyType::kDuration, "60s", "read/write timeout of a request (1s to 1h)"},
      {"backoff_base", KeyType::kDuration, "30s", "first retry delay after a failed delivery (1s to 1d)"},
      {"backoff_cap", KeyType::kDuration, "1h", "longest retry delay (backoff_base to 1d)"},
      {"collect_hardware", KeyType::kBool, "true", "include hardware (CPU, memory, DMI, disks, network) in the inventory, unless the applied policy.xml says otherwise"},
      {"collect_software", KeyType::kBool, "true", "include installed packages (dpkg) in the inventory, unless the applied policy.xml says otherwise"},
      {"log_level", KeyType::kString, "info", "debug, info, warn or error"},
      {"enroll_secret", KeyType::kString, "", "enrollment secret (beaconctl enroll secret create); empty: wait for an administrator's approval. Never logged"},
      {"enroll_wait", KeyType::kDuration, "10m", "how long `run --once`, `inventory --now` and `enroll` wait for the certificate before giving up (0s to 7d)"},
  };
  // clang-format on
  return keys;
}

namespace {

constexpr int64_t kMinute = 60, kHour = 3600, kDay = 86400;

// "90s", "5m", "1h", "30d": the largest unit that divides the value, as a
// configuration file would write it.
std::string Format(int64_t seconds) {
  for (auto [unit, suffix] :
       {std::pair{kDay, "d"}, std::pair{kHour, "h"}, std::pair{kMinute, "m"}}) {
    if (seconds != 0 && seconds % unit == 0) return std::to_string(seconds / unit) + suffix;
  }
  return std::to_string(seconds) + "s";
}

// `value`, the setting of `key`, must be within [lo, hi] seconds.
Status InRange(const std::string& key, std::chrono::seconds value, int64_t lo, int64_t hi) {
  const int64_t v = value.count();
  if (v < lo || v > hi) {
    return common::InvalidArgument("'" + key + "' is " + Format(v) + "; it must be from " +
                                   Format(lo) + " to " + Format(hi));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ClientSettings> ClientSettings::FromConfig(const common::Config& config) {
  ClientSettings s;
  s.server = config.GetString("server");
  s.ca_file = config.GetString("ca_file");
  s.policy_public_key = config.GetString("policy_public_key");
  s.state_dir = config.GetString("state_dir");
  s.proxy = config.GetString("proxy");
  s.proxy_username = config.GetString("proxy_username");
  s.proxy_password = config.GetString("proxy_password");
  s.site = config.GetString("site");
  s.failover_return_after = std::chrono::seconds(config.GetSeconds("failover_return_after"));
  s.policy_interval = std::chrono::seconds(config.GetSeconds("policy_interval"));
  s.inventory_interval = std::chrono::seconds(config.GetSeconds("inventory_interval"));
  s.outbox_max_size = config.GetBytes("outbox_max_size");
  s.connect_timeout = std::chrono::seconds(config.GetSeconds("connect_timeout"));
  s.request_timeout = std::chrono::seconds(config.GetSeconds("request_timeout"));
  s.backoff_base = std::chrono::seconds(config.GetSeconds("backoff_base"));
  s.backoff_cap = std::chrono::seconds(config.GetSeconds("backoff_cap"));
  s.collect_hardware = config.GetBool("collect_hardware");
  s.collect_software = config.GetBool("collect_software");
  const std::string level = config.GetString("log_level");
  if (!common::ParseLogLevel(level, &s.log_level)) {
    return common::InvalidArgument("'log_level' is '" + level +
                                   "'; it must be debug, info, warn or error");
  }
  s.log_level_set = config.IsSet("log_level");
  s.enroll_secret = config.GetString("enroll_secret");
  s.enroll_wait = std::chrono::seconds(config.GetSeconds("enroll_wait"));
  RETURN_IF_ERROR(s.Validate());
  return s;
}

Status ClientSettings::Validate() const {
  if (server.empty()) return common::InvalidArgument("'server' is not set");
  std::string host;
  int port = 0;
  RETURN_IF_ERROR(common::ParseHttpsUrl(server, &host, &port).WithContext("'server'"));
  if (!proxy.empty()) {
    RETURN_IF_ERROR(common::ParseProxyUrl(proxy, &host, &port).WithContext("'proxy'"));
  }
  if (state_dir.empty()) return common::InvalidArgument("'state_dir' is empty");
  if (outbox_max_size == 0) return common::InvalidArgument("'outbox_max_size' must be more than 0");
  RETURN_IF_ERROR(InRange("failover_return_after", failover_return_after, 0, 30 * kDay));
  RETURN_IF_ERROR(InRange("policy_interval", policy_interval, kMinute, 365 * kDay));
  RETURN_IF_ERROR(InRange("inventory_interval", inventory_interval, kMinute, 365 * kDay));
  // Both go to the HTTP adapter as int seconds: the maxima keep the casts safe.
  RETURN_IF_ERROR(InRange("connect_timeout", connect_timeout, 1, 5 * kMinute));
  RETURN_IF_ERROR(InRange("request_timeout", request_timeout, 1, kHour));
  RETURN_IF_ERROR(InRange("backoff_base", backoff_base, 1, kDay));
  RETURN_IF_ERROR(InRange("backoff_cap", backoff_cap, backoff_base.count(), kDay));
  RETURN_IF_ERROR(InRange("enroll_wait", enroll_wait, 0, 7 * kDay));
  // As the enrollment document takes it (common/enrollment.h); the message
  // never repeats the secret.
  if (enroll_secret.size() > 128) return common::InvalidArgument("'enroll_secret' is longer than 128 characters");
  for (char c : enroll_secret) {
    if (c <= ' ' || c > '~') {
      return common::InvalidArgument("'enroll_secret' may hold only printable ASCII characters, no spaces");
    }
  }
  return Status::Ok();
}

}  // namespace client

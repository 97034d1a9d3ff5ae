// Names shared by every hop of protocol v1 (docs/protocol.md): paths,
// headers and upload kinds. One definition, used by client and beacon alike.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace common::protocol {

inline constexpr char kDeviceHeader[] = "X-Beacon-Device";
inline constexpr char kClientVersionHeader[] = "X-Beacon-Client-Version";
inline constexpr char kPolicyRevisionHeader[] = "X-Beacon-Policy-Revision";
inline constexpr char kOutboxDepthHeader[] = "X-Beacon-Outbox-Depth";
// Seconds the device expects between its policy checks, from its own
// schedule (interval plus spread): how long until it counts as disconnected.
inline constexpr char kCheckIntervalHeader[] = "X-Beacon-Check-Interval";
inline constexpr char kContentSha256Header[] = "X-Beacon-Content-SHA256";
// Set by a relaying beacon: the beacon that received the request from the
// device, and when (unix seconds).
inline constexpr char kViaHeader[] = "X-Beacon-Via";
inline constexpr char kReceivedAtHeader[] = "X-Beacon-Received-At";

inline constexpr char kManifestPath[] = "/v1/devices/:device/manifest";
inline constexpr char kFilePath[] = "/v1/files/:sha256";
inline constexpr char kUploadPath[] = "/v1/devices/:device/uploads/:kind/:upload";
inline constexpr char kPingPath[] = "/v1/ping";
// Enrollment (docs/identity.md): PUT the request, GET the answer; the only
// agent routes that need no client certificate.
inline constexpr char kEnrollPath[] = "/v1/enroll/:device/:request";
// The trust bundle: CA certificates and revocation lists.
inline constexpr char kTrustPath[] = "/v1/trust";

inline std::string ManifestPath(const std::string& device) {
  return "/v1/devices/" + device + "/manifest";
}
inline std::string EnrollPath(const std::string& device, const std::string& request) {
  return "/v1/enroll/" + device + "/" + request;
}
inline std::string FilePath(const std::string& sha256) { return "/v1/files/" + sha256; }
inline std::string UploadPath(const std::string& device, const std::string& kind,
                              const std::string& upload_id) {
  return "/v1/devices/" + device + "/uploads/" + kind + "/" + upload_id;
}

// The check-in headers a device sends with every request (DESIGN.md
// "Check-ins carry status"): its id, client version, applied policy revision
// the uploads waiting in its outbox and its expected check interval (0: not
// sent). Returned as a HeaderList (common/http_client.h), which is this
// same type.
inline std::vector<std::pair<std::string, std::string>> CheckInHeaders(const std::string& device,
                                                                      const std::string& client_version,
                                                                      int64_t policy_revision,
                                                                      uint64_t outbox_depth,
                                                                      int64_t check_interval = 0) {
  std::vector<std::pair<std::string, std::string>> h{{kDeviceHeader, device},
                                                     {kClientVersionHeader, client_version},
                                                     {kPolicyRevisionHeader, std::to_string(policy_revision)},
                                                     {kOutboxDepthHeader, std::to_string(outbox_depth)}};
  if (check_interval > 0) h.emplace_back(kCheckIntervalHeader, std::to_string(check_interval));
  return h;
}

// Upload kinds a beacon accepts on the upload path. ("renew" is a device's
// certificate renewal; enrollment requests travel in the spool as kind
// kEnrollKind but arrive on kEnrollPath.)
// "health" is a device's health document (docs/health.md), "beacon-health"
// a beacon's (accepted from beacon certificates only, like "checkins"),
// "action" the result of an action (docs/actions.md).
inline bool IsUploadKind(const std::string& k) {
  return k == "inventory" || k == "usage" || k == "logs" || k == "checkins" || k == "renew" ||
         k == "health" || k == "beacon-health" || k == "action";
}
// Upload kinds only a beacon certificate may send.
inline bool IsBeaconOnlyKind(const std::string& k) { return k == "checkins" || k == "beacon-health"; }

// Action kinds (docs/actions.md): collect the inventory now, upload the
// logs, check policy now, run diagnostics and upload the bundle.
inline bool IsActionKind(const std::string& k) {
  return k == "inventory" || k == "logs" || k == "policy" || k == "diagnose";
}
inline constexpr char kEnrollKind[] = "enroll";

}  // namespace common::protocol

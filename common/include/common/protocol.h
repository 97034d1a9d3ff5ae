// Names shared by every hop of protocol v1 (docs/protocol.md): paths,
// headers and upload kinds. One definition, used by client and beacon alike.
#pragma once

#include <string>

namespace common::protocol {

inline constexpr char kDeviceHeader[] = "X-Beacon-Device";
inline constexpr char kClientVersionHeader[] = "X-Beacon-Client-Version";
inline constexpr char kPolicyRevisionHeader[] = "X-Beacon-Policy-Revision";
inline constexpr char kOutboxDepthHeader[] = "X-Beacon-Outbox-Depth";
inline constexpr char kContentSha256Header[] = "X-Beacon-Content-SHA256";
// Set by a relaying beacon: the beacon that received the request from the
// device, and when (unix seconds).
inline constexpr char kViaHeader[] = "X-Beacon-Via";
inline constexpr char kReceivedAtHeader[] = "X-Beacon-Received-At";

inline constexpr char kManifestPath[] = "/v1/devices/:device/manifest";
inline constexpr char kFilePath[] = "/v1/files/:sha256";
inline constexpr char kUploadPath[] = "/v1/devices/:device/uploads/:kind/:upload";
inline constexpr char kPingPath[] = "/v1/ping";

inline std::string ManifestPath(const std::string& device) {
  return "/v1/devices/" + device + "/manifest";
}
inline std::string FilePath(const std::string& sha256) { return "/v1/files/" + sha256; }
inline std::string UploadPath(const std::string& device, const std::string& kind,
                              const std::string& upload_id) {
  return "/v1/devices/" + device + "/uploads/" + kind + "/" + upload_id;
}

// Upload kinds a beacon accepts.
inline bool IsUploadKind(const std::string& k) {
  return k == "inventory" || k == "usage" || k == "logs" || k == "checkins";
}

}  // namespace common::protocol

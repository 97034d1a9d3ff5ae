// What diagnose reads from the state folder, without the state lock and
// without changing anything (diagnose.cpp); the bundle (diagnose_bundle.cpp)
// shows the same. Each function tolerates a missing or unreadable file.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "client/settings.h"
#include "policy/documents.h"
#include "policy/manifest.h"

namespace client::diagnose_local {

// STATE_DIR/device-id, "" when absent or not a UUID.
std::string DeviceId(const std::string& state_dir);
// The bundle beacons are verified with: STATE_DIR/trust.pem when present
// (the last bundle accepted), else ca_file (as DeviceIdentity::CaFile).
std::string CaFile(const ClientSettings& settings);
// STATE_DIR/identity/cert.pem and key.pem (as DeviceIdentity).
std::string CertFile(const std::string& state_dir);
std::string KeyFile(const std::string& state_dir);
// Uploads waiting in STATE_DIR/outbox/ready.
size_t OutboxDepth(const std::string& state_dir);
// The applied manifest (STATE_DIR/policy/manifest.xml), if any.
std::optional<policy::Manifest> AppliedManifest(const std::string& state_dir);
// The applied policy.xml, if any (its proxy is used when the configuration
// names none, as BeaconSelector does).
std::optional<policy::ClientPolicy> AppliedPolicyXml(const std::string& state_dir);

}  // namespace client::diagnose_local

// What a simulated device does on the wire, through one worker's
// connection: the client's policy check and inventory upload, made with the
// client's own pieces (common::HttpClient as the Transport, the check-in
// headers of common/protocol.h, policy::AcceptManifest, common::PutUpload,
// common::Backoff with the client's default delays, inventory::ToXml and
// Gzip). Only the device's memory differs: a few fields (devices.h) instead
// of a state folder.
//
// One Agent per worker thread; an Agent serves one device at a time and is
// not thread-safe. Every request is recorded in the PhaseStats passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include "common/http_client.h"
#include "common/retry.h"
#include "common/status.h"
#include "devices.h"
#include "options.h"
#include "policy/signing.h"
#include "policy_table.h"
#include "stats.h"

namespace swarm {

// Every acknowledged upload, one line each: "device<TAB>upload id<TAB>
// sequence<TAB>HTTP status". Compared with the central's store afterwards.
// Thread-safe.
class AckLog {
 public:
  common::Status Open(const std::string& path);
  void Record(const Device& device, int http_status);
  uint64_t count() const;
  common::Status Close();

 private:
  mutable std::mutex mu_;
  std::ofstream out_;
  std::string path_;
  uint64_t count_ = 0;
};

// What every Agent shares (all owned by the scenario, outliving the Agents).
struct Shared {
  const Options* options = nullptr;
  const policy::ManifestVerifier* verifier = nullptr;
  PolicyTable* policies = nullptr;
  AckLog* acks = nullptr;
  std::chrono::steady_clock::time_point start;  // t = 0 of Device::retry_at_ms
};

class Agent {
 public:
  explicit Agent(const Shared& shared);

  // Milliseconds since Shared::start.
  int64_t NowMs() const;
  // Called as a worker takes up a device: with fresh_connections the next
  // request opens a new connection (and TLS handshake). Without, the
  // connection is kept only if it presents this device's certificate
  // (Connection).
  void BeginRound();

  // The policy check: GET the manifest with If-None-Match; a 304 keeps the
  // applied policy; a 200 is accepted only as the client accepts it
  // (policy::AcceptManifest), then every file the device lacks is fetched
  // and checked against its digest, and only then is it applied (ETag,
  // revision, policy index). OK for 304 or an applied manifest.
  common::Status CheckPolicy(Device& device, PhaseStats& stats);
  // When a failed policy check may be tried again: the manifest's
  // Retry-After plus the client's jittered backoff.
  int64_t CheckRetryAtMs();

  // Collects the device's next inventory: the next sequence number and a new
  // upload id, queued (Device::upload). The body is made again, the same
  // bytes, at every send (InventoryBody), so nothing large is kept.
  void QueueInventory(Device& device);

  enum class Sent { kAcked, kRetry, kHeld, kRejected };
  // Sends the queued inventory once, as the client's outbox does: 200/201
  // acknowledge it (AckLog); 503/507/408/transport errors keep it until
  // Retry-After plus the client's jittered backoff (Device::retry_at_ms);
  // 4xx refusals hold it at the backoff's cap; 422 drops it (quarantined).
  Sent SendUpload(Device& device, PhaseStats& stats);

  // The gzip inventory document of the device's queued inventory.
  common::StatusOr<std::string> InventoryBody(const Device& device) const;

 private:
  // The connection for `device`: the open one if it presents this device's
  // certificate (identities.h), else a new one that does.
  common::StatusOr<common::Transport*> Connection(const Device& device);

  const Shared shared_;
  const common::ClientOptions client_options_;  // without a certificate
  std::unique_ptr<common::HttpClient> connection_;
  std::string connection_device_;  // whose certificate connection_ presents
  common::Backoff backoff_;  // the client's delays; each device keeps its own count
  int last_retry_after_s_ = 0;
};

}  // namespace swarm

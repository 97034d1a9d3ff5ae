// The relay beacon's policy cache.
//
// Manifests are cached per device (targeting makes them per device) and
// revalidated upstream with If-None-Match at most once per `ttl_s`. Files are
// content-addressed, verified against their digest and kept forever. When the
// upstream is unreachable, cached manifests keep being served and the
// upstream is not retried for a backoff period, so a down upstream does not
// hold worker threads. No lock is held during upstream requests (each uses
// a pooled connection), so one slow revalidation delays only its own device.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/http_client.h"
#include "common/retry.h"
#include "common/status.h"
#include "policy/object_store.h"

namespace beacon {

struct CachedManifest {
  std::string xml;
  std::string etag;
  int64_t checked_at = 0;  // last successful revalidation (unix seconds)
};

class PolicyCache {
 public:
  // Manifests kept in memory (about 1 KiB each).
  static constexpr size_t kMaxCachedManifests = 100000;

  PolicyCache(std::string dir, common::ClientOptions upstream, std::string beacon_name,
              int64_t ttl_s);
  common::Status Init();

  // The manifest for a device; Unavailable when nothing is cached and the
  // upstream cannot be reached.
  common::StatusOr<CachedManifest> Manifest(const std::string& device,
                                            const std::string& client_version,
                                            int64_t policy_revision);
  // The manifest Manifest() would return without asking the upstream (in
  // memory and revalidated within the TTL), else nothing. Never blocks
  // beyond a short lock (the server's I/O threads call it).
  std::optional<CachedManifest> FreshManifest(const std::string& device) const;
  // A policy file by digest, from cache or upstream.
  common::StatusOr<std::string> File(const std::string& sha256);

  // Any other GET upstream on one of the pooled connections (enrollment
  // answers, the trust bundle); the HTTP status is the caller's to read.
  common::StatusOr<common::HttpResult> UpstreamGet(const std::string& path, uint64_t max_body,
                                                   const common::HeaderList& headers = {});
  // Closes the pooled connections, so the next ones use a new trust bundle.
  void ResetConnections();

 private:
  common::Status FetchFiles(common::HttpClient& client, const std::string& manifest_xml);
  // Upstream connections: Take() one (new if none is idle), Give() it back
  // after a successful exchange; a failed one is dropped.
  common::StatusOr<std::unique_ptr<common::HttpClient>> Take();
  void Give(std::unique_ptr<common::HttpClient> client);
  // Notes an upstream failure (retryable ones start a quiet period) or success.
  void Outcome(const common::Status& status);
  bool IsDown();

  std::string dir_;
  common::ClientOptions upstream_;
  std::string name_;
  int64_t ttl_s_;
  policy::ObjectStore files_;

  mutable std::mutex mu_;  // guards everything below; never held across network I/O
  std::vector<std::unique_ptr<common::HttpClient>> idle_;
  std::unordered_map<std::string, CachedManifest> manifests_;
  common::Backoff backoff_;
  std::chrono::steady_clock::time_point down_until_{};
};

}  // namespace beacon

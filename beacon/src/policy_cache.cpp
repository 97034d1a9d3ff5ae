#include "policy_cache.h"

#include <ctime>
#include <optional>

#include "common/fs.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/sha256.h"
#include "policy/manifest.h"
#include "upstream.h"

namespace beacon {

using common::Status;
using common::StatusOr;

PolicyCache::PolicyCache(std::string dir, common::ClientOptions upstream, std::string beacon_name,
                         int64_t ttl_s)
    : dir_(std::move(dir)),
      upstream_(std::move(upstream)),
      name_(std::move(beacon_name)),
      ttl_s_(ttl_s),
      files_(dir_ + "/files"),
      backoff_(std::chrono::seconds(1), std::chrono::seconds(60)) {}

Status PolicyCache::Init() {
  RETURN_IF_ERROR(files_.Init());
  return common::MakeDirs(dir_ + "/manifests", 0755);
}

bool PolicyCache::IsDown() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::chrono::steady_clock::now() < down_until_;
}

void PolicyCache::Outcome(const Status& st) {
  std::lock_guard<std::mutex> lock(mu_);
  if (st.ok()) {
    backoff_.Reset();
  } else if (common::Classify(st) == common::Outcome::kRetry) {
    down_until_ = std::chrono::steady_clock::now() + backoff_.Next(std::chrono::seconds(1));
  }
}

StatusOr<std::unique_ptr<common::HttpClient>> PolicyCache::Take() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return common::HttpClient::Create(upstream_);
}

void PolicyCache::Give(std::unique_ptr<common::HttpClient> client) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < 8) idle_.push_back(std::move(client));
}

Status PolicyCache::FetchFiles(common::HttpClient& client, const std::string& manifest_xml) {
  ASSIGN_OR_RETURN(policy::Manifest m, policy::ParseManifestXml(manifest_xml, "upstream manifest"));
  return policy::FetchMissingFiles(m, files_, [&](const policy::ManifestFile& f) -> StatusOr<std::string> {
    ASSIGN_OR_RETURN(auto res, client.Get(common::protocol::FilePath(f.sha256), {}));
    RETURN_IF_ERROR(common::StatusFromHttp(res.status, "upstream file " + f.sha256));
    return std::move(res.body);
  });
}

std::optional<CachedManifest> PolicyCache::FreshManifest(const std::string& device) const {
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = manifests_.find(device);
  if (it == manifests_.end() || now - it->second.checked_at >= ttl_s_) return std::nullopt;
  return it->second;
}

StatusOr<CachedManifest> PolicyCache::Manifest(const std::string& device,
                                               const std::string& client_version,
                                               int64_t policy_revision) {
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string path = dir_ + "/manifests/" + device + ".xml";
  std::optional<CachedManifest> cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = manifests_.find(device);
    if (it != manifests_.end()) cached = it->second;
  }
  if (!cached) {
    auto xml = common::ReadFile(path, 1 << 20);
    if (xml.ok()) cached = CachedManifest{*xml, policy::ManifestEtag(*xml), 0};
  }
  if (cached && now - cached->checked_at < ttl_s_) return *cached;
  auto unavailable = [&]() -> StatusOr<CachedManifest> {
    if (cached) return *cached;
    return common::Unavailable("upstream unreachable and no cached policy for this device");
  };
  if (IsDown()) return unavailable();

  std::unique_ptr<common::HttpClient> client;
  CachedManifest fresh;
  Status st = [&]() -> Status {
    ASSIGN_OR_RETURN(client, Take());
    common::HeaderList headers = DeviceHeaders(device, client_version, policy_revision, name_);
    if (cached) headers.emplace_back("If-None-Match", cached->etag);
    ASSIGN_OR_RETURN(auto res, client->Get(common::protocol::ManifestPath(device), headers, 1 << 20));
    if (res.status == 304 && cached) {
      fresh = *cached;
    } else {
      RETURN_IF_ERROR(common::StatusFromHttp(res.status, "upstream manifest"));
      if (res.status != 200) return common::Unavailable("unexpected upstream status");
      RETURN_IF_ERROR(FetchFiles(*client, res.body));
      RETURN_IF_ERROR(common::WriteFileAtomic(path, res.body));
      fresh = CachedManifest{res.body, policy::ManifestEtag(res.body), 0};
    }
    fresh.checked_at = now;
    return Status::Ok();
  }();
  Outcome(st);
  if (!st.ok()) {
    common::LogWarn("policy cache: upstream manifest fetch failed: " + st.ToString());
    return unavailable();
  }
  Give(std::move(client));
  std::lock_guard<std::mutex> lock(mu_);
  // Bounded: any id a stranger sends could grow it. Emptied when full; the
  // files on disk still answer while the upstream is down.
  if (manifests_.size() >= kMaxCachedManifests && !manifests_.count(device)) manifests_.clear();
  manifests_.insert_or_assign(device, fresh);
  return fresh;
}

StatusOr<std::string> PolicyCache::File(const std::string& sha256) {
  auto cached = files_.Get(sha256);
  if (cached.ok()) return cached;
  if (cached.status().code() == common::Code::kDataLoss) {
    // A cached copy that rotted is fetched again rather than refused forever.
    common::LogError("policy cache: " + cached.status().message() + "; fetching it again");
    RETURN_IF_ERROR(files_.Remove(sha256));
  } else if (cached.status().code() != common::Code::kNotFound) {
    return cached;
  }
  if (IsDown()) return common::Unavailable("upstream unreachable");
  ASSIGN_OR_RETURN(auto client, Take());
  auto res = client->Get(common::protocol::FilePath(sha256), {});
  Status st = res.ok() ? common::StatusFromHttp(res->status, "upstream file") : res.status();
  Outcome(st);
  if (!res.ok()) return common::Unavailable("upstream unreachable");
  Give(std::move(client));  // a complete exchange, whatever its status
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(files_.Put(sha256, res->body));
  return std::move(res)->body;
}

StatusOr<common::HttpResult> PolicyCache::UpstreamGet(const std::string& path, uint64_t max_body,
                                                      const common::HeaderList& headers) {
  ASSIGN_OR_RETURN(auto client, Take());
  auto res = client->Get(path, headers, max_body);
  if (res.ok()) Give(std::move(client));
  return res;
}

void PolicyCache::ResetConnections() {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();
}

}  // namespace beacon

#include "policy_cache.h"

#include <ctime>

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
      backoff_(std::chrono::seconds(1), std::chrono::seconds(60),
               static_cast<uint64_t>(std::time(nullptr))) {}

Status PolicyCache::Init() {
  RETURN_IF_ERROR(files_.Init());
  return common::MakeDirs(dir_ + "/manifests", 0755);
}

bool PolicyCache::IsDown() const { return std::chrono::steady_clock::now() < down_until_; }

void PolicyCache::MarkDown() {
  down_until_ = std::chrono::steady_clock::now() + backoff_.Next(std::chrono::seconds(1));
  client_.reset();  // a fresh connection next time
}

StatusOr<common::HttpClient*> PolicyCache::Client() {
  if (!client_) {
    ASSIGN_OR_RETURN(client_, common::HttpClient::Create(upstream_));
  }
  return client_.get();
}

Status PolicyCache::FetchFiles(const std::string& manifest_xml) {
  ASSIGN_OR_RETURN(policy::Manifest m, policy::ParseManifestXml(manifest_xml, "upstream manifest"));
  for (const auto& f : m.files) {
    if (files_.Has(f.sha256)) continue;
    ASSIGN_OR_RETURN(common::HttpClient * cli, Client());
    ASSIGN_OR_RETURN(auto res, cli->Get(common::protocol::FilePath(f.sha256), {}));
    RETURN_IF_ERROR(common::StatusFromHttp(res.status, "upstream file " + f.sha256));
    // Put() refuses bytes that do not hash to the name: a beacon never caches
    // a file the upstream (or the network) altered.
    RETURN_IF_ERROR(files_.Put(f.sha256, res.body));
  }
  return Status::Ok();
}

StatusOr<CachedManifest> PolicyCache::Manifest(const std::string& device,
                                               const std::string& client_version,
                                               int64_t policy_revision) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string path = dir_ + "/manifests/" + device + ".xml";
  auto it = manifests_.find(device);
  if (it == manifests_.end()) {
    auto xml = common::ReadFile(path, 1 << 20);
    if (xml.ok()) {
      it = manifests_.emplace(device, CachedManifest{*xml, policy::ManifestEtag(*xml), 0}).first;
    }
  }
  bool have = it != manifests_.end();
  if (have && now - it->second.checked_at < ttl_s_) return it->second;
  if (IsDown()) {
    if (have) return it->second;
    return common::Unavailable("upstream unreachable and no cached policy for this device");
  }
  auto fetch = [&]() -> Status {
    ASSIGN_OR_RETURN(common::HttpClient * cli, Client());
    common::HeaderList headers = DeviceHeaders(device, client_version, policy_revision, name_);
    if (have) headers.emplace_back("If-None-Match", it->second.etag);
    ASSIGN_OR_RETURN(auto res, cli->Get(common::protocol::ManifestPath(device), headers, 1 << 20));
    if (res.status == 304 && have) {
      it->second.checked_at = now;
      return Status::Ok();
    }
    RETURN_IF_ERROR(common::StatusFromHttp(res.status, "upstream manifest"));
    if (res.status != 200) return common::Unavailable("unexpected upstream status");
    RETURN_IF_ERROR(FetchFiles(res.body));
    RETURN_IF_ERROR(common::WriteFileAtomic(path, res.body));
    CachedManifest fresh{res.body, policy::ManifestEtag(res.body), now};
    it = manifests_.insert_or_assign(device, std::move(fresh)).first;
    have = true;
    return Status::Ok();
  };
  Status st = fetch();
  if (st.ok()) {
    backoff_.Reset();
    return it->second;
  }
  common::LogWarn("policy cache: upstream manifest fetch failed: " + st.ToString());
  if (common::Classify(st) == common::Outcome::kRetry) MarkDown();
  if (have) return it->second;
  return common::Unavailable("upstream unreachable and no cached policy for this device");
}

StatusOr<std::string> PolicyCache::File(const std::string& sha256) {
  auto cached = files_.Get(sha256);
  if (cached.ok() || cached.status().code() != common::Code::kNotFound) return cached;
  std::lock_guard<std::mutex> lock(mu_);
  if (IsDown()) return common::Unavailable("upstream unreachable");
  ASSIGN_OR_RETURN(common::HttpClient * cli, Client());
  auto res = cli->Get(common::protocol::FilePath(sha256), {});
  if (!res.ok()) {
    MarkDown();
    return common::Unavailable("upstream unreachable");
  }
  RETURN_IF_ERROR(common::StatusFromHttp(res->status, "upstream file"));
  RETURN_IF_ERROR(files_.Put(sha256, res->body));
  return res->body;
}

}  // namespace beacon

#include "policy/object_store.h"
#include "policy/policy_set.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>


#include "common/fs.h"
#include "common/log.h"
#include "common/sha256.h"

namespace policy {

using common::Status;
using common::StatusOr;

constexpr uint64_t kMaxPolicyFile = 16u << 20;
constexpr size_t kMaxCachedManifests = 200000;

Status ObjectStore::Init() const { return common::MakeDirs(dir_, 0755); }

bool ObjectStore::Has(const std::string& sha256) const {
  if (!common::IsHexDigest(sha256)) return false;
  struct stat sb {};
  return ::stat((dir_ + "/" + sha256).c_str(), &sb) == 0;
}

Status ObjectStore::Put(const std::string& sha256, const std::string& data) const {
  if (!common::IsHexDigest(sha256)) return common::InvalidArgument("bad object digest");
  if (common::Sha256Hex(data) != sha256) {
    return common::InvalidArgument("object content does not match its SHA-256 " + sha256);
  }
  if (Has(sha256)) return Status::Ok();
  return common::WriteFileAtomic(dir_ + "/" + sha256, data);
}

StatusOr<std::string> ObjectStore::Get(const std::string& sha256) const {
  if (!common::IsHexDigest(sha256)) return common::InvalidArgument("bad object digest");
  ASSIGN_OR_RETURN(std::string data, common::ReadFile(dir_ + "/" + sha256, kMaxPolicyFile));
  if (common::Sha256Hex(data) != sha256) return common::DataLoss("object " + sha256 + " is corrupt");
  return data;
}

Status ObjectStore::Remove(const std::string& sha256) const {
  if (!common::IsHexDigest(sha256)) return common::InvalidArgument("bad object digest");
  if (::unlink((dir_ + "/" + sha256).c_str()) != 0 && errno != ENOENT) {
    return common::ErrnoStatus("remove object " + sha256, errno);
  }
  return common::SyncDir(dir_);
}

Status FetchMissingFiles(const Manifest& manifest, const ObjectStore& store,
                         const std::function<StatusOr<std::string>(const ManifestFile&)>& fetch) {
  for (const auto& f : manifest.files) {
    if (store.Has(f.sha256)) continue;
    ASSIGN_OR_RETURN(std::string data, fetch(f));
    Status put = store.Put(f.sha256, data);
    if (put.code() == common::Code::kInvalidArgument) {
      return common::DataLoss("policy file " + f.name + ": " + put.message());
    }
    RETURN_IF_ERROR(put);
  }
  return Status::Ok();
}

PolicySource::PolicySource(const std::string& state_dir, const ManifestSigner* signer, FactsLookup facts)
    : repo_(state_dir), signer_(signer), facts_(std::move(facts)) {}

StatusOr<std::unique_ptr<PolicySource>> PolicySource::Open(const std::string& state_dir,
                                                           const ManifestSigner* signer,
                                                           FactsLookup facts) {
  std::unique_ptr<PolicySource> s(new PolicySource(state_dir, signer, std::move(facts)));
  RETURN_IF_ERROR(s->repo_.Init());
  // A damaged newest revision stops the central at start: serving an older
  // one would be refused by every client that applied the newest.
  RETURN_IF_ERROR(s->Refresh());
  return s;
}

int64_t PolicySource::revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return revision_;
}

Status PolicySource::Refresh() {
  std::lock_guard<std::mutex> refresh_lock(refresh_mu_);
  ASSIGN_OR_RETURN(int64_t latest, repo_.Latest());
  if (latest == revision()) return Status::Ok();
  ASSIGN_OR_RETURN(Revision rev, repo_.Get(latest));
  ASSIGN_OR_RETURN(TreeFiles files, repo_.Files(rev));
  ASSIGN_OR_RETURN(auto tree, PolicyTree::FromFiles(files, "revision " + std::to_string(latest)));
  std::lock_guard<std::mutex> lock(mu_);
  revision_ = latest;
  tree_ = std::move(tree);
  manifests_.clear();
  ++generation_;
  common::LogInfo("policy: revision " + std::to_string(latest) + " in service (" +
                  std::to_string(rev.files.size()) + " source files)");
  return Status::Ok();
}

void PolicySource::Forget(const std::string& device_id) {
  std::lock_guard<std::mutex> lock(mu_);
  manifests_.erase(device_id);
  ++generation_;
}

StatusOr<std::shared_ptr<const PolicySnapshot>> PolicySource::ManifestFor(const std::string& device_id) {
  int64_t revision = 0;
  uint64_t generation = 0;
  std::shared_ptr<const PolicyTree> tree;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = manifests_.find(device_id); it != manifests_.end()) return it->second;
    revision = revision_;
    generation = generation_;
    tree = tree_;
  }
  if (tree == nullptr) return common::NotFound("no policy has been published yet");
  // Resolved outside the lock: the store lookup and the signature are the
  // slow part, and check-ins of other devices must not wait for them.
  auto facts = facts_(device_id);
  if (!facts.ok() && facts.status().code() != common::Code::kNotFound) return facts.status();
  DeviceFacts device = facts.ok() ? *facts : DeviceFacts{};
  device.device_id = device_id;
  ASSIGN_OR_RETURN(Resolution resolved, tree->Resolve(device));
  auto snap = std::make_shared<PolicySnapshot>();
  snap->manifest.revision = revision;
  snap->manifest.device = device_id;
  for (const auto& [name, data] : resolved.files) {
    std::string sha = common::Sha256Hex(data);
    RETURN_IF_ERROR(objects().Put(sha, data));
    snap->manifest.files.push_back({name, sha, data.size()});
  }
  if (signer_ != nullptr) RETURN_IF_ERROR(signer_->Sign(&snap->manifest));
  snap->xml = ToXml(snap->manifest);
  snap->etag = ManifestEtag(snap->xml);
  std::lock_guard<std::mutex> lock(mu_);
  // Cached only if no revision and no device's facts changed meanwhile (the
  // answer may be stale then; the next request resolves again). A bounded
  // map (a device costs about 1 KiB), emptied when full.
  if (generation_ == generation) {
    if (manifests_.size() >= kMaxCachedManifests) manifests_.clear();
    manifests_[device_id] = snap;
  }
  return std::shared_ptr<const PolicySnapshot>(std::move(snap));
}

}  // namespace policy

#include "policy/policy_set.h"

#include "common/config.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/sha256.h"

namespace policy {

using common::Status;
using common::StatusOr;

constexpr size_t kMaxCachedManifests = 200000;
constexpr char kServedHighFile[] = "highest-revision";

PolicySource::PolicySource(const std::string& repository_dir, const std::string& served_dir,
                           const ManifestSigner* signer, FactsLookup facts, ActionsLookup actions)
    : repo_(repository_dir),
      served_(served_dir),
      signer_(signer),
      facts_(std::move(facts)),
      actions_(std::move(actions)) {}

StatusOr<std::unique_ptr<PolicySource>> PolicySource::Open(const std::string& repository_dir,
                                                           const std::string& served_dir,
                                                           const ManifestSigner* signer, FactsLookup facts,
                                                           ActionsLookup actions) {
  std::unique_ptr<PolicySource> s(
      new PolicySource(repository_dir, served_dir, signer, std::move(facts), std::move(actions)));
  RETURN_IF_ERROR(s->repo_.Init());
  RETURN_IF_ERROR(s->served_.Init());
  auto high = common::ReadFile(served_dir + "/" + kServedHighFile, 64);
  if (high.ok()) {
    if (!common::ParseDecimal(high->substr(0, high->find('\n')), &s->served_high_)) {
      return common::DataLoss(served_dir + "/" + kServedHighFile + " is damaged");
    }
  } else if (high.status().code() != common::Code::kNotFound) {
    return high.status();
  }
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
  if (latest != 0 && latest == revision()) return Status::Ok();
  int64_t high = std::max(revision(), served_high_);
  if (latest < high) {
    // Records were removed or an older backup restored: going back would make
    // every client that applied the newer revision refuse the policy.
    return common::DataLoss("revision " + std::to_string(high) + " was served but the newest record is " +
                            std::to_string(latest) + "; restore the missing revision records");
  }
  if (latest == 0) return Status::Ok();  // nothing published yet
  ASSIGN_OR_RETURN(Revision rev, repo_.Get(latest));
  ASSIGN_OR_RETURN(TreeFiles files, repo_.Files(rev));
  ASSIGN_OR_RETURN(auto tree, PolicyTree::FromFiles(files, "revision " + std::to_string(latest)));
  if (latest > served_high_) {
    RETURN_IF_ERROR(common::WriteFileAtomic(served_.dir() + "/" + kServedHighFile, std::to_string(latest) + "\n"));
    served_high_ = latest;
  }
  std::lock_guard<std::mutex> lock(mu_);
  revision_ = latest;
  tree_ = std::move(tree);
  manifests_.clear();
  resolving_.clear();
  stored_.clear();
  common::LogInfo("policy: revision " + std::to_string(latest) + " in service (" +
                  std::to_string(rev.files.size()) + " source files)");
  return Status::Ok();
}

void PolicySource::Forget(const std::string& device_id) {
  std::lock_guard<std::mutex> lock(mu_);
  manifests_.erase(device_id);
  resolving_.erase(device_id);
}

std::shared_ptr<const PolicySnapshot> PolicySource::CachedManifestFor(const std::string& device_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = manifests_.find(device_id);
  return it == manifests_.end() ? nullptr : it->second;
}

StatusOr<std::shared_ptr<const PolicySnapshot>> PolicySource::ManifestFor(const std::string& device_id) {
  int64_t revision = 0;
  uint64_t token = 0;
  std::shared_ptr<const PolicyTree> tree;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = manifests_.find(device_id); it != manifests_.end()) return it->second;
    revision = revision_;
    tree = tree_;
    token = ++next_token_;
    resolving_[device_id] = token;
  }
  // The in-flight mark goes on every way out, errors included, so the map
  // holds only resolutions under way (at most one per worker thread).
  struct Unmark {
    PolicySource* source;
    const std::string& device;
    uint64_t token;
    ~Unmark() {
      std::lock_guard<std::mutex> lock(source->mu_);
      auto it = source->resolving_.find(device);
      if (it != source->resolving_.end() && it->second == token) source->resolving_.erase(it);
    }
  };
  Unmark unmark{this, device_id, token};
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
    // Devices with the same effective policy share documents: each is
    // written (and a rotten copy repaired) once per revision, not per device.
    bool stored = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stored = stored_.count(sha) != 0;
    }
    if (!stored) {
      RETURN_IF_ERROR(served_.Put(sha, data));
      std::lock_guard<std::mutex> lock(mu_);
      stored_.insert(sha);
    }
    snap->manifest.files.push_back({name, sha, data.size()});
  }
  if (actions_) snap->manifest.actions = actions_(device_id);
  if (signer_ != nullptr) RETURN_IF_ERROR(signer_->Sign(&snap->manifest));
  snap->xml = ToXml(snap->manifest);
  snap->etag = ManifestEtag(snap->xml);
  std::lock_guard<std::mutex> lock(mu_);
  // Cached only if neither the revision nor this device's facts changed
  // meanwhile (the answer may be stale then; the next request resolves
  // again). A bounded map (a device costs about 1 KiB), emptied when full.
  auto pending = resolving_.find(device_id);
  if (pending != resolving_.end() && pending->second == token) {
    resolving_.erase(pending);
    if (manifests_.size() >= kMaxCachedManifests) manifests_.clear();
    manifests_[device_id] = snap;
  }
  return std::shared_ptr<const PolicySnapshot>(std::move(snap));
}

}  // namespace policy

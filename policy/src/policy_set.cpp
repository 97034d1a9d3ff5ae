#include "policy/policy_set.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <sstream>

#include "common/fs.h"
#include "common/log.h"
#include "common/sha256.h"
#include "policy/documents.h"

namespace policy {

using common::Status;
using common::StatusOr;

constexpr uint64_t kMaxPolicyFile = 16u << 20;

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

Status ValidateDocument(const std::string& name, const std::string& data, const std::string& source) {
  if (name == "policy.xml") return ParsePolicyXml(data, source).status();
  if (name == "schedule.xml") return ParseScheduleXml(data, source).status();
  if (name == "failover.xml") return ParseFailoverXml(data, source).status();
  return Status::Ok();
}

PolicySource::PolicySource(std::string policy_dir, std::string state_dir, const ManifestSigner* signer)
    : policy_dir_(std::move(policy_dir)),
      state_dir_(std::move(state_dir)),
      signer_(signer),
      objects_(state_dir_ + "/objects"),
      current_(std::make_shared<PolicySnapshot>()) {}

StatusOr<std::unique_ptr<PolicySource>> PolicySource::Open(const std::string& policy_dir,
                                                           const std::string& state_dir,
                                                           const ManifestSigner* signer) {
  std::unique_ptr<PolicySource> s(new PolicySource(policy_dir, state_dir, signer));
  RETURN_IF_ERROR(common::MakeDirs(policy_dir, 0755));
  RETURN_IF_ERROR(s->objects_.Init());
  // The revision survives restarts so that it only ever increases.
  // A damaged record must stop the central: starting again at 0 would make
  // every client refuse the next revision as older than the one it has.
  const std::string record = state_dir + "/policy-revision";
  auto saved = common::ReadFile(record, 4096);
  if (saved.ok()) {
    auto snap = std::make_shared<PolicySnapshot>();
    std::istringstream in(*saved);
    if (!(in >> snap->manifest.revision >> s->content_key_) || snap->manifest.revision < 0 ||
        !common::IsHexDigest(s->content_key_)) {
      return common::DataLoss(record + ": not '<revision> <sha256>'; restore it from a backup");
    }
    s->current_ = snap;
  } else if (saved.status().code() != common::Code::kNotFound) {
    return saved.status();
  }
  RETURN_IF_ERROR(s->Rescan());
  return s;
}

std::shared_ptr<const PolicySnapshot> PolicySource::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

Status PolicySource::Rescan() {
  std::lock_guard<std::mutex> scan_lock(scan_mu_);
  ASSIGN_OR_RETURN(auto names, common::ListDir(policy_dir_));
  auto snap = std::make_shared<PolicySnapshot>();
  std::string key_text;
  for (const auto& name : names) {
    if (!IsPolicyFileName(name)) {
      common::LogWarn("policy: ignoring file with unsupported name in " + policy_dir_);
      continue;
    }
    ASSIGN_OR_RETURN(std::string data, common::ReadFile(policy_dir_ + "/" + name, kMaxPolicyFile));
    // Documents the client interprets are validated before anything is
    // published: a broken edit keeps the last good revision in service.
    RETURN_IF_ERROR(ValidateDocument(name, data, policy_dir_ + "/" + name));
    std::string sha = common::Sha256Hex(data);
    RETURN_IF_ERROR(objects_.Put(sha, data));
    snap->manifest.files.push_back({name, sha, data.size()});
    key_text += name + " " + sha + "\n";
  }
  std::string key = common::Sha256Hex(key_text);
  std::shared_ptr<const PolicySnapshot> old = Current();
  if (key == content_key_ && !old->xml.empty()) return Status::Ok();
  snap->manifest.revision = old->manifest.revision + (key != content_key_ ? 1 : 0);
  if (key != content_key_) {
    RETURN_IF_ERROR(common::WriteFileAtomic(state_dir_ + "/policy-revision",
                                            std::to_string(snap->manifest.revision) + " " + key + "\n"));
    common::LogInfo("policy: published revision " + std::to_string(snap->manifest.revision) + " (" +
                    std::to_string(snap->manifest.files.size()) + " files)");
  }
  if (signer_ != nullptr) RETURN_IF_ERROR(signer_->Sign(&snap->manifest));
  content_key_ = key;
  snap->xml = ToXml(snap->manifest);
  snap->etag = ManifestEtag(snap->xml);
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(snap);
  return Status::Ok();
}

}  // namespace policy

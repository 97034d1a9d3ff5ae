#include "policy/policy_set.h"

#include <sys/stat.h>

#include <ctime>
#include <sstream>

#include "common/fs.h"
#include "common/log.h"
#include "common/sha256.h"

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

PolicySource::PolicySource(std::string policy_dir, std::string state_dir, int64_t rescan_interval_s)
    : policy_dir_(std::move(policy_dir)),
      state_dir_(std::move(state_dir)),
      rescan_interval_s_(rescan_interval_s),
      objects_(state_dir_ + "/objects") {}

StatusOr<std::unique_ptr<PolicySource>> PolicySource::Open(const std::string& policy_dir,
                                                           const std::string& state_dir,
                                                           int64_t rescan_interval_s) {
  std::unique_ptr<PolicySource> s(new PolicySource(policy_dir, state_dir, rescan_interval_s));
  RETURN_IF_ERROR(common::MakeDirs(policy_dir, 0755));
  RETURN_IF_ERROR(s->objects_.Init());
  // The revision survives restarts so that it only ever increases.
  auto saved = common::ReadFile(state_dir + "/policy-revision", 4096);
  if (saved.ok()) {
    std::istringstream in(*saved);
    in >> s->snapshot_.manifest.revision >> s->content_key_;
  }
  RETURN_IF_ERROR(s->Rescan());
  s->last_scan_ = static_cast<int64_t>(std::time(nullptr));
  return s;
}

Status PolicySource::Rescan() {
  ASSIGN_OR_RETURN(auto names, common::ListDir(policy_dir_));
  Manifest m;
  std::string key_text;
  for (const auto& name : names) {
    if (!IsPolicyFileName(name)) {
      common::LogWarn("policy: ignoring file with unsupported name in " + policy_dir_);
      continue;
    }
    ASSIGN_OR_RETURN(std::string data, common::ReadFile(policy_dir_ + "/" + name, kMaxPolicyFile));
    std::string sha = common::Sha256Hex(data);
    RETURN_IF_ERROR(objects_.Put(sha, data));
    m.files.push_back({name, sha, data.size()});
    key_text += name + " " + sha + "\n";
  }
  std::string key = common::Sha256Hex(key_text);
  if (key != content_key_ || snapshot_.xml.empty()) {
    m.revision = snapshot_.manifest.revision + (key != content_key_ ? 1 : 0);
    if (key != content_key_) {
      RETURN_IF_ERROR(common::WriteFileAtomic(state_dir_ + "/policy-revision",
                                              std::to_string(m.revision) + " " + key + "\n"));
      common::LogInfo("policy: published revision " + std::to_string(m.revision) + " (" +
                      std::to_string(m.files.size()) + " files)");
    }
    content_key_ = key;
    snapshot_.manifest = std::move(m);
    snapshot_.xml = ToXml(snapshot_.manifest);
    snapshot_.etag = ManifestEtag(snapshot_.xml);
  }
  return Status::Ok();
}

StatusOr<PolicySnapshot> PolicySource::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (now - last_scan_ >= rescan_interval_s_) {
    last_scan_ = now;
    Status st = Rescan();
    // A broken edit keeps the last good snapshot in service.
    if (!st.ok()) common::LogError("policy: rescan failed, serving revision " +
                                   std::to_string(snapshot_.manifest.revision) + ": " + st.ToString());
  }
  return snapshot_;
}

}  // namespace policy

#include "policy/object_store.h"

#include "common/fs.h"
#include "common/sha256.h"

namespace policy {

using common::Status;
using common::StatusOr;

Status ObjectStore::Init() const { return env_->MakeDirs(dir_, 0755); }

bool ObjectStore::Has(const std::string& sha256) const {
  return common::IsHexDigest(sha256) && env_->FileSize(dir_ + "/" + sha256).ok();
}

Status ObjectStore::Put(const std::string& sha256, const std::string& data) const {
  if (!common::IsHexDigest(sha256)) return common::InvalidArgument("bad object digest");
  if (common::Sha256Hex(data) != sha256) {
    return common::InvalidArgument("object content does not match its SHA-256 " + sha256);
  }
  // An object already there is kept only if it is still intact: a copy that
  // rotted on disk is replaced rather than served forever.
  if (Get(sha256).ok()) return Status::Ok();
  return common::WriteFileAtomic(dir_ + "/" + sha256, data, 0644, env_);
}

StatusOr<std::string> ObjectStore::Get(const std::string& sha256) const {
  if (!common::IsHexDigest(sha256)) return common::InvalidArgument("bad object digest");
  ASSIGN_OR_RETURN(std::string data, env_->ReadFile(dir_ + "/" + sha256, kMaxPolicyFileBytes));
  if (common::Sha256Hex(data) != sha256) return common::DataLoss("object " + sha256 + " is corrupt");
  return data;
}

Status ObjectStore::Remove(const std::string& sha256) const {
  if (!common::IsHexDigest(sha256)) return common::InvalidArgument("bad object digest");
  Status removed = env_->Remove(dir_ + "/" + sha256);
  if (!removed.ok() && removed.code() != common::Code::kNotFound) return removed;
  return env_->SyncDir(dir_);
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

}  // namespace policy

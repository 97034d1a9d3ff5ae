#include "support/fault_env.h"

#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "common/fs.h"

namespace testing_support {

using common::Status;
using common::StatusOr;

class FaultFile : public common::WritableFile {
 public:
  FaultFile(FaultEnv* env, std::string path, std::unique_ptr<common::WritableFile> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}
  Status Append(std::string_view data) override {
    RETURN_IF_ERROR(env_->Check(FaultEnv::kAppend, "write " + path_));
    RETURN_IF_ERROR(base_->Append(data));
    size_ += data.size();
    return Status::Ok();
  }
  Status Sync() override {
    RETURN_IF_ERROR(env_->Check(FaultEnv::kSync, "fsync " + path_));
    RETURN_IF_ERROR(base_->Sync());
    env_->Synced(path_, size_);
    return Status::Ok();
  }
  Status Close() override { return base_->Close(); }

 private:
  FaultEnv* env_;
  std::string path_;
  std::unique_ptr<common::WritableFile> base_;
  uint64_t size_ = 0;
};

void FaultEnv::FailNth(unsigned ops, int n, int err, bool sticky) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_ops_ = ops;
  fail_at_ = n;
  fail_seen_ = 0;
  fail_err_ = err;
  sticky_ = sticky;
  failing_ = false;
}

void FaultEnv::FailReadsOf(const std::string& path, int err) {
  std::lock_guard<std::mutex> lock(mu_);
  bad_read_path_ = path;
  bad_read_err_ = err;
}

void FaultEnv::Heal() {
  std::lock_guard<std::mutex> lock(mu_);
  fail_ops_ = 0;
  failing_ = false;
  bad_read_path_.clear();
}

int FaultEnv::Count(unsigned ops) const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& [op, count] : counts_) n += (op & ops) ? count : 0;
  return n;
}

Status FaultEnv::Check(Op op, const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[op];
  if (op == kRead && !bad_read_path_.empty() && what.find(bad_read_path_) != std::string::npos) {
    return common::ErrnoStatus(what, bad_read_err_);
  }
  if ((op & fail_ops_) == 0) return Status::Ok();
  if (failing_) return common::ErrnoStatus(what, fail_err_);
  if (++fail_seen_ != fail_at_) return Status::Ok();
  if (sticky_) {
    failing_ = true;
  } else {
    fail_ops_ = 0;
  }
  return common::ErrnoStatus(what, fail_err_);
}

void FaultEnv::Synced(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  synced_size_[path] = size;
}

void FaultEnv::PowerCut() {
  std::lock_guard<std::mutex> lock(mu_);
  // Bytes never fsynced are gone...
  for (const auto& [path, size] : synced_size_) {
    auto current = base_->FileSize(path);
    if (current.ok() && *current > size) (void)::truncate(path.c_str(), static_cast<off_t>(size));
  }
  // ...and so are name changes in folders never synced since, newest first.
  for (auto it = changes_.rbegin(); it != changes_.rend(); ++it) {
    switch (it->kind) {
      case NameChange::kCreated:
        (void)base_->Remove(it->path);
        break;
      case NameChange::kRenamed:
        if (base_->FileSize(it->path).ok()) (void)base_->Rename(it->path, it->from);
        break;
      case NameChange::kRemoved:
        std::ofstream(it->path, std::ios::binary) << it->content;
        break;
    }
  }
  changes_.clear();
  synced_size_.clear();
  fail_ops_ = 0;
  failing_ = false;
}

void FaultEnv::SetNow(int64_t unix_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ = unix_seconds;
}

StatusOr<std::unique_ptr<common::WritableFile>> FaultEnv::NewWritableFile(const std::string& path, int mode,
                                                                          bool exclusive) {
  RETURN_IF_ERROR(Check(kCreate, "create " + path));
  ASSIGN_OR_RETURN(auto file, base_->NewWritableFile(path, mode, exclusive));
  {
    std::lock_guard<std::mutex> lock(mu_);
    synced_size_[path] = 0;
    changes_.push_back({NameChange::kCreated, common::ParentDir(path), path, "", ""});
  }
  return std::unique_ptr<common::WritableFile>(new FaultFile(this, path, std::move(file)));
}

StatusOr<std::string> FaultEnv::ReadFile(const std::string& path, uint64_t max_bytes) {
  RETURN_IF_ERROR(Check(kRead, "read " + path));
  return base_->ReadFile(path, max_bytes);
}

StatusOr<std::string> FaultEnv::ReadAt(const std::string& path, uint64_t offset, uint64_t len) {
  RETURN_IF_ERROR(Check(kRead, "read " + path));
  return base_->ReadAt(path, offset, len);
}

StatusOr<uint64_t> FaultEnv::FileSize(const std::string& path) {
  RETURN_IF_ERROR(Check(kRead, "stat " + path));
  return base_->FileSize(path);
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(Check(kRename, "rename " + from));
  auto old = base_->ReadFile(to, 1 << 30);
  RETURN_IF_ERROR(base_->Rename(from, to));
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = synced_size_.find(from); it != synced_size_.end()) {
    synced_size_[to] = it->second;
    synced_size_.erase(it);
  }
  // A replaced target comes back (with its old bytes) if the rename is undone.
  if (old.ok()) changes_.push_back({NameChange::kRemoved, common::ParentDir(to), to, "", *old});
  changes_.push_back({NameChange::kRenamed, common::ParentDir(to), to, from, ""});
  return Status::Ok();
}

Status FaultEnv::RenameNoReplace(const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(Check(kRename, "rename " + from));
  RETURN_IF_ERROR(base_->RenameNoReplace(from, to));
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = synced_size_.find(from); it != synced_size_.end()) {
    synced_size_[to] = it->second;
    synced_size_.erase(it);
  }
  changes_.push_back({NameChange::kRenamed, common::ParentDir(to), to, from, ""});
  return Status::Ok();
}

Status FaultEnv::SyncDir(const std::string& dir) {
  RETURN_IF_ERROR(Check(kSyncDir, "fsync dir " + dir));
  RETURN_IF_ERROR(base_->SyncDir(dir));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<NameChange> kept;
  for (auto& c : changes_) {
    if (c.dir != dir) kept.push_back(std::move(c));
  }
  changes_ = std::move(kept);
  return Status::Ok();
}

Status FaultEnv::Remove(const std::string& path) {
  RETURN_IF_ERROR(Check(kRemove, "remove " + path));
  auto content = base_->ReadFile(path, 1 << 30);
  RETURN_IF_ERROR(base_->Remove(path));
  std::lock_guard<std::mutex> lock(mu_);
  synced_size_.erase(path);
  changes_.push_back({NameChange::kRemoved, common::ParentDir(path), path, "", content.ok() ? *content : ""});
  return Status::Ok();
}

StatusOr<std::vector<std::string>> FaultEnv::ListDir(const std::string& dir) {
  RETURN_IF_ERROR(Check(kList, "list " + dir));
  return base_->ListDir(dir);
}

Status FaultEnv::MakeDirs(const std::string& dir, int mode) { return base_->MakeDirs(dir, mode); }

StatusOr<uint64_t> FaultEnv::FreeBytes(const std::string& dir) { return base_->FreeBytes(dir); }

int64_t FaultEnv::NowSeconds() {
  std::lock_guard<std::mutex> lock(mu_);
  return now_ ? *now_ : base_->NowSeconds();
}

}  // namespace testing_support

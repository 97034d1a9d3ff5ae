// A fault-injecting Env for crash and full-disk tests (DESIGN.md, "Seams").
//
// It forwards to a real Env (POSIX, on a test's temporary folder) and can:
//   - fail the n-th operation of chosen kinds with an errno (ENOSPC, EIO),
//     once or from then on ("the process died here");
//   - simulate a power cut: everything not made durable is undone. File
//     bytes appended after the last Sync() are cut off; names created,
//     renamed or removed in a folder since that folder's last SyncDir() are
//     put back as they were (a created file disappears, a rename is undone,
//     a removed file comes back);
//   - step the clock (NowSeconds) back and forward.
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"

namespace testing_support {

class FaultEnv : public common::Env {
 public:
  enum Op : unsigned {
    kCreate = 1u << 0,
    kAppend = 1u << 1,
    kSync = 1u << 2,
    kRename = 1u << 3,  // Rename and RenameNoReplace
    kSyncDir = 1u << 4,
    kRemove = 1u << 5,
    kRead = 1u << 6,  // ReadFile, ReadAt, FileSize
    kList = 1u << 7,
    kAll = 0xffu,
  };

  explicit FaultEnv(common::Env* base = common::Env::Default()) : base_(base) {}

  // The n-th (1-based, counted from this call) operation whose kind is in
  // `ops` fails with `err` and does nothing; with `sticky`, so does every
  // later operation of those kinds. Replaces an earlier plan.
  void FailNth(unsigned ops, int n, int err, bool sticky = false);
  // Fails reads of one path (a damaged sector), until cleared with "".
  void FailReadsOf(const std::string& path, int err);
  // Stops failing anything.
  void Heal();
  // Operations of the kinds in `ops` performed (or failed) so far.
  int Count(unsigned ops) const;

  // Undoes everything not durable, then forgets the history (as after a
  // reboot). Call it when nothing is using the files (the "process" died).
  void PowerCut();

  void SetNow(int64_t unix_seconds);

  // Env
  common::StatusOr<std::unique_ptr<common::WritableFile>> NewWritableFile(const std::string& path, int mode,
                                                                          bool exclusive) override;
  common::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes) override;
  common::StatusOr<std::string> ReadAt(const std::string& path, uint64_t offset, uint64_t len) override;
  common::StatusOr<uint64_t> FileSize(const std::string& path) override;
  common::Status Rename(const std::string& from, const std::string& to) override;
  common::Status RenameNoReplace(const std::string& from, const std::string& to) override;
  common::Status SyncDir(const std::string& dir) override;
  common::Status Remove(const std::string& path) override;
  common::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override;
  common::Status MakeDirs(const std::string& dir, int mode) override;
  common::StatusOr<uint64_t> FreeBytes(const std::string& dir) override;
  int64_t NowSeconds() override;

 private:
  friend class FaultFile;
  // A change of names in a folder, undone by a power cut unless the folder
  // was synced after it.
  struct NameChange {
    enum Kind { kCreated, kRenamed, kRemoved } kind;
    std::string dir;  // the folder whose sync makes it durable
    std::string path;  // created/removed path, or the rename's target
    std::string from;  // the rename's source
    std::string content;  // a removed file's bytes
  };
  // Counts the operation; the injected error if it must fail.
  common::Status Check(Op op, const std::string& what);
  void Appended(const std::string& path, uint64_t size);
  void Synced(const std::string& path, uint64_t size);

  common::Env* base_;
  mutable std::mutex mu_;
  std::map<unsigned, int> counts_;
  unsigned fail_ops_ = 0;
  int fail_at_ = 0;  // counted in fail_seen_
  int fail_seen_ = 0;
  int fail_err_ = 0;
  bool sticky_ = false;
  bool failing_ = false;  // a sticky failure has happened
  std::string bad_read_path_;
  int bad_read_err_ = 0;
  std::map<std::string, uint64_t> synced_size_;  // by current path, files written through us
  std::vector<NameChange> changes_;
  std::optional<int64_t> now_;
};

}  // namespace testing_support

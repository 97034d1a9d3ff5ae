// Env: the seam for every file-system and clock access of the durable parts
// (the spool and the client's outbox, atomic state files, the object store,
// the policy repository and caches), as leveldb's Env is.
//
// Production uses Env::Default() (POSIX). Tests inject their own Env to fail
// the Nth operation with ENOSPC or EIO, to drop what was not fsynced (a
// simulated power cut) or to step the clock (tests/support/fault_env.h).
//
// Errors follow ErrnoStatus (common/fs.h): ENOENT -> NotFound, EEXIST ->
// AlreadyExists, ENOSPC/EDQUOT -> ResourceExhausted, EACCES/EPERM ->
// PermissionDenied, anything else (EIO) -> Internal. The message names the
// operation and the path. Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace common {

// A file being written. Not thread-safe; close it (or destroy it) once.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all of `data` (short writes and EINTR are retried).
  virtual Status Append(std::string_view data) = 0;
  // fsync: once OK, the bytes appended so far survive a power cut (the
  // file's name does only after its directory is synced too).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX Env; never destroyed.
  static Env* Default();

  // Creates `path` for writing with `mode`. exclusive: AlreadyExists if it
  // exists; otherwise an existing file is truncated.
  virtual StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, int mode,
                                                                  bool exclusive) = 0;
  // Whole file; ResourceExhausted above max_bytes (nothing read past the cap).
  virtual StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes) = 0;
  // Up to `len` bytes at `offset` (fewer at the end of the file).
  virtual StatusOr<std::string> ReadAt(const std::string& path, uint64_t offset, uint64_t len) = 0;
  virtual StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // rename(2): replaces `to`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // renameat2(RENAME_NOREPLACE): AlreadyExists if `to` exists.
  virtual Status RenameNoReplace(const std::string& from, const std::string& to) = 0;
  // fsync of a directory, so that names created, renamed or removed in it
  // survive a power cut.
  virtual Status SyncDir(const std::string& dir) = 0;
  // unlink(2); NotFound if absent.
  virtual Status Remove(const std::string& path) = 0;
  // Names of the regular files in `dir` (not recursive), sorted.
  virtual StatusOr<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // mkdir -p; the created directories get `mode`.
  virtual Status MakeDirs(const std::string& dir, int mode) = 0;
  // Bytes an unprivileged writer may still use on the file system of `dir`.
  virtual StatusOr<uint64_t> FreeBytes(const std::string& dir) = 0;
  // Wall-clock time, unix seconds. Recorded for people; never used to order
  // anything, because it may step back or forward.
  virtual int64_t NowSeconds() = 0;
};

}  // namespace common

// File-system helpers with the durability rules the project relies on. Each
// goes through an Env (common/env.h); `env` null means Env::Default().
//
// WriteFileAtomic is the only way small state files are written: the data goes
// to a temporary sibling, is fsynced, renamed over the target, and the parent
// directory is fsynced, so a crash leaves either the old or the new file, never
// a torn one. All functions are thread-safe (they share no state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace common {

// Reads a whole file. NotFound if it does not exist; ResourceExhausted if it is
// larger than max_bytes (nothing is read beyond the cap).
StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes = 64u << 20,
                               Env* env = nullptr);

// Durably replaces `path` with `data` (temp file, fsync, rename, fsync dir).
// On failure the temporary file is removed and the target is either unchanged
// or (when only the final directory fsync failed) replaced but perhaps not
// yet durable.
Status WriteFileAtomic(const std::string& path, std::string_view data, int mode = 0644,
                       Env* env = nullptr);

// fsyncs a directory so that renames and unlinks inside it are durable.
Status SyncDir(const std::string& dir, Env* env = nullptr);

// mkdir -p with the given mode for the directories it creates.
Status MakeDirs(const std::string& dir, int mode = 0755, Env* env = nullptr);

// Names of the regular files in a directory (not recursive, no "."/".."),
// sorted. NotFound if the directory does not exist.
StatusOr<std::vector<std::string>> ListDir(const std::string& dir, Env* env = nullptr);

// Bytes free for an unprivileged writer on the file system holding `dir`.
StatusOr<uint64_t> FreeBytes(const std::string& dir, Env* env = nullptr);

// Writes all bytes to fd, retrying on EINTR and short writes (for the Env
// implementations and for descriptors that are not files, such as pipes).
Status WriteAll(int fd, const char* data, size_t len, const std::string& what);

// The folder part of a path ("a/b" -> "a", "b" -> ".", "/b" -> "/").
std::string ParentDir(const std::string& path);

// True if something exists at `path` (an unreadable parent counts as not).
bool FileExists(const std::string& path);

// "Internal: open /x/y: No such file or directory" style errno mapping:
// ENOENT -> NotFound, EEXIST -> AlreadyExists, ENOSPC/EDQUOT ->
// ResourceExhausted, EACCES/EPERM -> PermissionDenied, everything else
// (EIO, ...) Internal.
Status ErrnoStatus(const std::string& what, int err);

}  // namespace common

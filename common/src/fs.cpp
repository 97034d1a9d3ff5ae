#include "common/fs.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace common {
namespace {
Env* Or(Env* env) { return env != nullptr ? env : Env::Default(); }
}  // namespace

Status ErrnoStatus(const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  switch (err) {
    case ENOENT: return NotFound(msg);
    case EEXIST: return AlreadyExists(msg);
    case ENOSPC:
    case EDQUOT: return ResourceExhausted(msg);
    case EACCES:
    case EPERM: return PermissionDenied(msg);
    default: return Internal(msg);
  }
}

StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes, Env* env) {
  return Or(env)->ReadFile(path, max_bytes);
}

Status WriteAll(int fd, const char* data, size_t len, const std::string& what) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write " + what, errno);
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SyncDir(const std::string& dir, Env* env) { return Or(env)->SyncDir(dir); }

std::string ParentDir(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

Status WriteFileAtomic(const std::string& path, std::string_view data, int mode, Env* env) {
  env = Or(env);
  static std::atomic<unsigned> counter{0};
  // A hidden sibling ("dir/.name.tmp.PID.N"): a crash leaves it behind, and
  // folder scans that skip dot files (the policy tree) must never take it
  // for a file of their own.
  size_t slash = path.rfind('/');
  std::string tmp = path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".tmp." +
                    std::to_string(::getpid()) + "." + std::to_string(counter++);
  Status st;
  {
    auto file = env->NewWritableFile(tmp, mode, /*exclusive=*/true);
    if (!file.ok()) return file.status();
    st = (*file)->Append(data);
    if (st.ok()) st = (*file)->Sync();
    Status closed = (*file)->Close();
    if (st.ok()) st = closed;
  }
  if (st.ok()) st = env->Rename(tmp, path);
  if (!st.ok()) {
    (void)env->Remove(tmp);
    return st;
  }
  return env->SyncDir(ParentDir(path));
}

Status MakeDirs(const std::string& dir, int mode, Env* env) { return Or(env)->MakeDirs(dir, mode); }

StatusOr<std::vector<std::string>> ListDir(const std::string& dir, Env* env) {
  return Or(env)->ListDir(dir);
}

StatusOr<uint64_t> FreeBytes(const std::string& dir, Env* env) { return Or(env)->FreeBytes(dir); }

bool FileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace common

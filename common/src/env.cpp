#include "common/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common/fs.h"

namespace common {
namespace {

class PosixWritableFile : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Append(std::string_view data) override {
    if (fd_ < 0) return FailedPrecondition("write " + path_ + ": file is closed");
    return WriteAll(fd_, data.data(), data.size(), path_);
  }
  Status Sync() override {
    if (fd_ < 0) return FailedPrecondition("fsync " + path_ + ": file is closed");
    if (::fsync(fd_) != 0) return ErrnoStatus("fsync " + path_, errno);
    return Status::Ok();
  }
  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return ErrnoStatus("close " + path_, errno);
    return Status::Ok();
  }

 private:
  std::string path_;
  int fd_;
};

class PosixEnv : public Env {
 public:
  StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, int mode,
                                                          bool exclusive) override {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC);
    int fd = ::open(path.c_str(), flags, mode);
    if (fd < 0) return ErrnoStatus("create " + path, errno);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
  }

  StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open " + path, errno);
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return ErrnoStatus("read " + path, err);
      }
      if (n == 0) break;
      if (out.size() + static_cast<size_t>(n) > max_bytes) {
        ::close(fd);
        return ResourceExhausted(path + ": larger than " + std::to_string(max_bytes) + " bytes");
      }
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  StatusOr<std::string> ReadAt(const std::string& path, uint64_t offset, uint64_t len) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open " + path, errno);
    std::string out(len, '\0');
    uint64_t got = 0;
    while (got < len) {
      ssize_t n = ::pread(fd, out.data() + got, len - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return ErrnoStatus("read " + path, err);
      }
      if (n == 0) break;
      got += static_cast<uint64_t>(n);
    }
    ::close(fd);
    out.resize(got);
    return out;
  }

  StatusOr<uint64_t> FileSize(const std::string& path) override {
    struct stat sb {};
    if (::stat(path.c_str(), &sb) != 0) return ErrnoStatus("stat " + path, errno);
    return static_cast<uint64_t>(sb.st_size);
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename " + from + " to " + to, errno);
    return Status::Ok();
  }

  Status RenameNoReplace(const std::string& from, const std::string& to) override {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
      return ErrnoStatus("rename " + from + " to " + to, errno);
    }
    return Status::Ok();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open dir " + dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus("fsync dir " + dir, err);
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("remove " + path, errno);
    return Status::Ok();
  }

  StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return ErrnoStatus("opendir " + dir, errno);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (e->d_type == DT_DIR) continue;
      if (e->d_type == DT_UNKNOWN) {
        struct stat sb {};
        if (::stat((dir + "/" + name).c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
      }
      names.push_back(std::move(name));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status MakeDirs(const std::string& dir, int mode) override {
    if (dir.empty()) return Status::Ok();
    size_t i = 0;
    while (i <= dir.size()) {
      size_t next = dir.find('/', i);
      if (next == std::string::npos) next = dir.size();
      std::string cur = dir.substr(0, next);
      i = next + 1;
      if (cur.empty()) continue;
      if (::mkdir(cur.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
        return ErrnoStatus("mkdir " + cur, errno);
      }
    }
    struct stat sb {};
    if (::stat(dir.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
      return FailedPrecondition(dir + ": not a directory");
    }
    return Status::Ok();
  }

  StatusOr<uint64_t> FreeBytes(const std::string& dir) override {
    struct statvfs vfs {};
    if (::statvfs(dir.c_str(), &vfs) != 0) return ErrnoStatus("statvfs " + dir, errno);
    return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  }

  int64_t NowSeconds() override { return static_cast<int64_t>(std::time(nullptr)); }
};

}  // namespace

Env* Env::Default() {
  static Env* env = new PosixEnv;
  return env;
}

}  // namespace common

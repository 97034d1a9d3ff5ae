// File evidence: walking the folders policy names, without following links.
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <system_error>

#include "common/log.h"
#include "common/sha256.h"
#include "inventory/collect.h"

namespace inventory {

namespace {

namespace fs = std::filesystem;

// Pseudo file systems: endless, volatile or dangerous to read.
bool IsPseudo(const std::string& path) {
  for (const char* p : {"/proc", "/sys", "/dev"}) {
    std::string prefix = p;
    if (path == prefix || path.rfind(prefix + "/", 0) == 0) return true;
  }
  return false;
}

bool Under(const std::string& path, const std::string& folder) {
  std::string f = folder;
  while (f.size() > 1 && f.back() == '/') f.pop_back();
  return path == f || (path.rfind(f, 0) == 0 && (f == "/" || path[f.size()] == '/'));
}

// The SHA-256 of a file, read without following a link swapped in since it
// was listed; "" if it cannot be read or is larger than the cap.
std::string HashFile(const std::string& path, const struct stat& listed, uint64_t cap) {
  if (static_cast<uint64_t>(listed.st_size) > cap) return "";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return "";
  struct stat sb {};
  if (::fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_ino != listed.st_ino || sb.st_dev != listed.st_dev) {
    ::close(fd);  // replaced since it was listed
    return "";
  }
  common::Sha256 h;
  char buf[65536];
  uint64_t total = 0;
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n < 0) continue;
    total += static_cast<uint64_t>(n);
    if (total > cap) break;
    h.Update(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (n < 0 || total > cap) return "";
  return h.HexDigest();
}

}  // namespace

std::vector<FileEvidence> CollectFiles(const CollectOptions& options) {
  std::string root = options.root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root == "/") root.clear();
  std::map<std::string, FileEvidence> found;  // by path: rules may overlap
  bool capped = false;
  for (const FileRule& rule : options.file_rules) {
    for (const std::string& include : rule.include) {
      if (include.empty() || include[0] != '/') continue;
      // The include itself must be a real folder: a symbolic link in its
      // path (a user's ~/apps pointing at /root) would lead the walk, run as
      // root, somewhere the policy never named. "." and ".." are resolved
      // the same way, so "/opt/../proc" is recognised as /proc.
      std::error_code ec;
      fs::path lexical = fs::path(root + include).lexically_normal();
      if (lexical.has_filename() == false) lexical = lexical.parent_path();
      fs::path real = fs::canonical(lexical, ec);
      if (ec || real != lexical) continue;
      std::string walked = real.string().substr(root.size());
      if (IsPseudo(walked.empty() ? "/" : walked)) continue;
      fs::recursive_directory_iterator it(real, fs::directory_options::skip_permission_denied, ec);
      for (fs::recursive_directory_iterator end; !ec && it != end && !capped; it.increment(ec)) {
        std::string device_path = it->path().string().substr(root.size());
        std::error_code sec;
        fs::file_status st = it->symlink_status(sec);
        if (sec) continue;
        bool excluded = IsPseudo(device_path) ||
                        std::any_of(rule.exclude.begin(), rule.exclude.end(),
                                    [&](const std::string& x) { return Under(device_path, x); });
        if (fs::is_directory(st)) {
          if (excluded) it.disable_recursion_pending();
          continue;
        }
        if (excluded || !fs::is_regular_file(st) || found.count(device_path) != 0) continue;
        std::string name = it->path().filename().string();
        if (std::none_of(rule.patterns.begin(), rule.patterns.end(),
                         [&](const std::string& p) { return ::fnmatch(p.c_str(), name.c_str(), 0) == 0; })) {
          continue;
        }
        struct stat sb {};
        if (::lstat(it->path().c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        if (found.size() >= options.max_files) {
          capped = true;
          break;
        }
        FileEvidence f;
        f.path = device_path;
        f.size = static_cast<uint64_t>(sb.st_size);
        f.modified = std::max<int64_t>(0, sb.st_mtime);
        f.sha256 = HashFile(it->path().string(), sb, options.max_hash_bytes);
        found.emplace(device_path, std::move(f));
      }
    }
  }
  if (capped) {
    common::LogWarn("file evidence stopped at " + std::to_string(options.max_files) +
                    " files; narrow the policy's <file-evidence> rules");
  }
  std::vector<FileEvidence> out;
  out.reserve(found.size());
  for (auto& [path, f] : found) out.push_back(std::move(f));
  return out;
}

}  // namespace inventory

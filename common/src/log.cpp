#include "common/log.h"

#include "common/time.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace common {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mu;
std::string g_tag = "beacon";
std::string g_file;  // guarded by g_mu
uint64_t g_file_max = 0;
const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kError: return "ERROR";
  }
  return "?";
}
}  // namespace

void SetLogFile(const std::string& path, uint64_t max_bytes) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_file = path;
  g_file_max = max_bytes;
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool ParseLogLevel(const std::string& s, LogLevel* out) {
  if (s == "debug") *out = LogLevel::kDebug;
  else if (s == "info") *out = LogLevel::kInfo;
  else if (s == "warn") *out = LogLevel::kWarn;
  else if (s == "error") *out = LogLevel::kError;
  else return false;
  return true;
}

void SetLogTag(const std::string& tag) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_tag = tag;
}

std::string NowRfc3339() { return FormatRfc3339(static_cast<int64_t>(std::time(nullptr))); }

void Log(LogLevel level, const std::string& message) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::string line = NowRfc3339() + " " + LevelName(level) + " ";
  std::lock_guard<std::mutex> lock(g_mu);
  line += g_tag + ": " + message + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  if (g_file.empty()) return;
  int fd = ::open(g_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  ssize_t written = ::write(fd, line.data(), line.size());
  struct stat sb {};
  bool full = written > 0 && ::fstat(fd, &sb) == 0 && static_cast<uint64_t>(sb.st_size) > g_file_max;
  ::close(fd);
  if (full) ::rename(g_file.c_str(), (g_file + ".1").c_str());
}

}  // namespace common

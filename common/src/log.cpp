#include "common/log.h"

#include "common/config.h"
#include "common/time.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string_view>

namespace common {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mu;
std::string g_tag = "beacon";
std::string g_file;  // guarded by g_mu
uint64_t g_file_max = 0;
std::atomic<bool> g_journal{false};
const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kError: return "ERROR";
  }
  return "?";
}
// sd-daemon(3)'s prefixes (SD_DEBUG, SD_INFO, SD_WARNING, SD_ERR), written
// out here so that only common/src/service.cpp includes systemd's headers.
const char* JournalPrefix(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "<7>";
    case LogLevel::kInfo: return "<6>";
    case LogLevel::kWarn: return "<4>";
    case LogLevel::kError: return "<3>";
  }
  return "<6>";
}
}  // namespace

bool UseJournalIfConnected() {
  bool journal = false;
  const char* env = std::getenv("JOURNAL_STREAM");
  const std::string_view stream = env == nullptr ? std::string_view() : std::string_view(env);
  const size_t colon = stream.find(':');
  int64_t dev = 0, ino = 0;
  struct stat sb {};
  if (colon != std::string_view::npos && ParseDecimal(stream.substr(0, colon), &dev) &&
      ParseDecimal(stream.substr(colon + 1), &ino) && ::fstat(STDERR_FILENO, &sb) == 0) {
    journal = static_cast<uint64_t>(sb.st_dev) == static_cast<uint64_t>(dev) &&
              static_cast<uint64_t>(sb.st_ino) == static_cast<uint64_t>(ino);
  }
  g_journal = journal;
  return journal;
}

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
  const std::string rest = std::string(LevelName(level)) + " ";
  std::lock_guard<std::mutex> lock(g_mu);
  const std::string tail = g_tag + ": " + message + "\n";
  // The file keeps the time: it is read (and uploaded) away from the journal.
  const std::string line = NowRfc3339() + " " + rest + tail;
  const std::string out = g_journal ? JournalPrefix(level) + rest + tail : line;
  std::fwrite(out.data(), 1, out.size(), stderr);
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

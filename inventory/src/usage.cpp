#include "inventory/usage.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <string_view>
#include <system_error>

#include "common/fs.h"
#include "common/text.h"

namespace inventory {

void Usage::AddSample(int64_t now, const std::vector<std::string>& running) {
  // A clock stepped back must not put a sample before the period's end.
  if (samples != 0) now = std::max(now, period_end);
  if (samples == 0) period_start = now;
  period_end = std::max(period_end, now);
  ++samples;
  std::set<std::string> unique(running.begin(), running.end());
  for (const std::string& name : unique) {
    auto it = std::lower_bound(programs.begin(), programs.end(), name,
                               [](const ProgramUsage& p, const std::string& n) { return p.program < n; });
    if (it == programs.end() || it->program != name) it = programs.insert(it, ProgramUsage{name, 0, now, now});
    ++it->samples;
    it->last_seen = std::max(it->last_seen, now);
  }
}

std::vector<std::string> RunningPrograms(const std::string& proc_root) {
  namespace fs = std::filesystem;
  std::set<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(proc_root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string pid = it->path().filename().string();
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      continue;
    }
    // Kernel threads have an empty command line; processes may exit while listed.
    auto cmdline = common::ReadFile(it->path().string() + "/cmdline", 64 * 1024);
    if (!cmdline.ok() || cmdline->empty()) continue;
    char target[4096];
    // A process in another root (a chroot) runs a file of that tree: its
    // path names nothing here, so it is not one of this machine's programs.
    // (An unreadable root link, another user's process without privileges,
    // is given the benefit of the doubt.)
    ssize_t root_len = ::readlink((it->path().string() + "/root").c_str(), target, sizeof(target) - 1);
    if (root_len > 0 && std::string_view(target, static_cast<size_t>(root_len)) != "/") continue;
    ssize_t n = ::readlink((it->path().string() + "/exe").c_str(), target, sizeof(target) - 1);
    std::string program;
    if (n > 0) {
      program.assign(target, static_cast<size_t>(n));
      const std::string deleted = " (deleted)";
      if (program.size() > deleted.size() && program.compare(program.size() - deleted.size(), deleted.size(), deleted) == 0) {
        program.resize(program.size() - deleted.size());
      }
      // Code run from memory (memfd_create) has a pseudo-path, not a file.
      if (program.rfind("/memfd:", 0) == 0 || program.front() != '/') continue;
    } else {
      program = cmdline->substr(0, cmdline->find('\0'));
    }
    // Names reach XML and terminals: leave out anything that is not clean
    // UTF-8 (two names that differ only in invalid bytes would otherwise
    // become one after the XML writer's repair).
    if (!program.empty() && program.size() <= 4096 && common::IsValidUtf8(program) &&
        std::none_of(program.begin(), program.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
      out.insert(program);
    }
  }
  return {out.begin(), out.end()};
}

}  // namespace inventory

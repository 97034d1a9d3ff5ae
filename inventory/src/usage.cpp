#include "inventory/usage.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <string_view>
#include <system_error>
#include <tuple>

#include "common/config.h"
#include "common/fs.h"
#include "common/text.h"
#include "common/time.h"

namespace inventory {
namespace {

std::string UtcDay(int64_t t) { return common::FormatRfc3339(t).substr(0, 10); }

bool ByPidStart(const RunningProcess& a, const RunningProcess& b) {
  return std::tie(a.pid, a.start) < std::tie(b.pid, b.start);
}

}  // namespace

void Usage::AddSample(int64_t now, const std::vector<RunningProcess>& running, ProcessTable* table) {
  // A clock stepped back must not put a sample before the period's end.
  if (samples != 0) now = std::max(now, period_end);
  if (samples == 0) period_start = now;
  period_end = std::max(period_end, now);
  ++samples;
  // The first sample ever has no previous one: it credits one interval at
  // most, and counts as launches only processes started within it.
  const int64_t previous = table->sampled_at > 0 ? table->sampled_at : now - sample_seconds;
  const std::string day = UtcDay(now);

  std::map<std::string, ProgramUsage> today;  // this sample's figures by program
  for (const RunningProcess& p : running) {
    ProgramUsage& u = today[p.program];
    u.program = p.program;
    const bool known = std::binary_search(table->processes.begin(), table->processes.end(), p, ByPidStart);
    if (!known && p.start >= previous) ++u.launches;
    u.run_seconds += std::max<int64_t>(0, now - std::max(p.start, previous));
    if (!p.user.empty()) u.users.push_back(p.user);
  }
  for (auto& [name, add] : today) {
    auto it = std::lower_bound(programs.begin(), programs.end(), std::tie(name, day),
                               [](const ProgramUsage& a, const std::tuple<const std::string&, const std::string&>& k) {
                                 return std::tie(a.program, a.day) < k;
                               });
    if (it == programs.end() || it->program != name || it->day != day) {
      it = programs.insert(it, ProgramUsage{.program = name, .first_seen = now, .day = day});
    }
    ++it->samples;
    it->last_seen = std::max(it->last_seen, now);
    it->launches += add.launches;
    it->run_seconds += add.run_seconds;
    it->users.insert(it->users.end(), add.users.begin(), add.users.end());
    std::sort(it->users.begin(), it->users.end());
    it->users.erase(std::unique(it->users.begin(), it->users.end()), it->users.end());
  }
  table->sampled_at = now;
  table->processes = running;
  std::sort(table->processes.begin(), table->processes.end(), ByPidStart);
}

std::string SerializeProcessTable(const ProcessTable& table) {
  std::string out = "sampled " + std::to_string(table.sampled_at) + "\n";
  for (const RunningProcess& p : table.processes) {
    out += std::to_string(p.pid) + "\t" + std::to_string(p.start) + "\t" + common::EscapeBytes(p.user) + "\t" +
           p.program + "\n";
  }
  return out;
}

common::StatusOr<ProcessTable> ParseProcessTable(const std::string& text, const std::string& source) {
  ProcessTable table;
  size_t line_no = 0;
  size_t pos = 0;
  auto bad = [&](const std::string& what) {
    return common::InvalidArgument(source + ":" + std::to_string(line_no) + ": " + what);
  };
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    ++line_no;
    if (nl == std::string::npos) return bad("the last line is not terminated (a cut write?)");
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (line_no == 1) {
      if (line.substr(0, 8) != "sampled " || !common::ParseDecimal(line.substr(8), &table.sampled_at)) {
        return bad("expected 'sampled <unix seconds>'");
      }
      continue;
    }
    std::vector<std::string_view> f;
    for (size_t at = 0; f.size() < 3;) {
      size_t tab = line.find('\t', at);
      if (tab == std::string_view::npos) break;
      f.push_back(line.substr(at, tab - at));
      at = tab + 1;
      if (f.size() == 3) f.push_back(line.substr(at));
    }
    RunningProcess p;
    std::string user;
    if (f.size() != 4 || !common::ParseDecimal(f[0], &p.pid) || !common::ParseDecimal(f[1], &p.start) ||
        !common::UnescapeBytes(f[2], &user) || f[3].empty() || !common::IsValidUtf8(f[3])) {
      return bad("expected 'pid<TAB>start<TAB>user<TAB>program'");
    }
    p.user = user;
    p.program = std::string(f[3]);
    if (!table.processes.empty() && !ByPidStart(table.processes.back(), p)) {
      return bad("processes must be sorted by pid and start time, each once");
    }
    table.processes.push_back(std::move(p));
  }
  if (line_no == 0) return common::InvalidArgument(source + ": empty");
  return table;
}

std::vector<RunningProcess> RunningProcesses(const std::string& proc_root) {
  namespace fs = std::filesystem;
  // Start times are in clock ticks since boot (proc(5), stat field 22).
  int64_t boot = 0;
  if (auto stat = common::ReadFile(proc_root + "/stat", 1u << 20); stat.ok()) {
    size_t at = stat->find("\nbtime ");
    if (at != std::string::npos) {
      size_t end = stat->find('\n', at + 1);
      (void)common::ParseDecimal(std::string_view(*stat).substr(at + 7, end - at - 7), &boot);
    }
  }
  const int64_t hz = std::max<long>(1, ::sysconf(_SC_CLK_TCK));
  std::map<uint32_t, std::string> user_names;
  auto user_of = [&](uint32_t uid) -> std::string {
    auto it = user_names.find(uid);
    if (it != user_names.end()) return it->second;
    std::string name = std::to_string(uid);
    struct passwd pw {};
    struct passwd* found = nullptr;
    char buf[4096];
    if (::getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found != nullptr) {
      name = common::EscapeBytes(found->pw_name);
    }
    return user_names[uid] = name;
  };

  std::vector<RunningProcess> out;
  std::error_code ec;
  for (fs::directory_iterator it(proc_root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string pid = it->path().filename().string();
    RunningProcess p;
    if (!common::ParseDecimal(pid, &p.pid)) continue;
    const std::string dir = it->path().string();
    // Kernel threads have an empty command line; processes may exit while listed.
    auto cmdline = common::ReadFile(dir + "/cmdline", 64 * 1024);
    if (!cmdline.ok() || cmdline->empty()) continue;
    char target[4096];
    // A process in another root (a chroot) runs a file of that tree: its
    // path names nothing here, so it is not one of this machine's programs.
    // (An unreadable root link, another user's process without privileges,
    // is given the benefit of the doubt.)
    ssize_t root_len = ::readlink((dir + "/root").c_str(), target, sizeof(target) - 1);
    if (root_len > 0 && std::string_view(target, static_cast<size_t>(root_len)) != "/") continue;
    ssize_t n = ::readlink((dir + "/exe").c_str(), target, sizeof(target) - 1);
    std::string program;
    if (n > 0) {
      program.assign(target, static_cast<size_t>(n));
      const std::string deleted = " (deleted)";
      if (program.size() > deleted.size() &&
          program.compare(program.size() - deleted.size(), deleted.size(), deleted) == 0) {
        program.resize(program.size() - deleted.size());
      }
      // Code run from memory (memfd_create) has a pseudo-path, not a file.
      if (program.rfind("/memfd:", 0) == 0 || program.front() != '/') continue;
    } else {
      program = cmdline->substr(0, cmdline->find('\0'));
    }
    if (program.empty() || program.size() > 4096) continue;
    p.program = common::EscapeBytes(program);
    // stat: "pid (comm) state ppid ..."; comm may hold spaces and ')', so
    // the fields are counted from the last ')'. starttime is field 22.
    auto stat = common::ReadFile(dir + "/stat", 64 * 1024);
    if (stat.ok()) {
      size_t close = stat->rfind(')');
      std::string_view rest = close == std::string::npos ? "" : std::string_view(*stat).substr(close + 2);
      int field = 3;
      size_t at = 0;
      while (field < 22 && at < rest.size()) {
        at = rest.find(' ', at);
        if (at == std::string_view::npos) break;
        ++at;
        ++field;
      }
      int64_t ticks = 0;
      if (field == 22 && at < rest.size() &&
          common::ParseDecimal(rest.substr(at, rest.find(' ', at) - at), &ticks)) {
        p.start = boot + ticks / hz;
      }
    }
    // status: "Uid:\t<real>\t<effective>...".
    if (auto status = common::ReadFile(dir + "/status", 64 * 1024); status.ok()) {
      size_t at = status->find("\nUid:\t");
      int64_t uid = 0;
      if (at != std::string::npos &&
          common::ParseDecimal(std::string_view(*status).substr(at + 6, status->find('\t', at + 6) - at - 6), &uid) &&
          uid <= 0xffffffff) {
        p.user = user_of(static_cast<uint32_t>(uid));
      }
    }
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(), ByPidStart);
  return out;
}

}  // namespace inventory

// The "environment" and "processes" sections (collect_sys.h): the client's
// own environment with secrets redacted, and the processes of /proc/[pid],
// what fusioninventory-agent reports as ENVS and PROCESSES. Fields, units and
// the redaction rule: docs/inventory_system.md.
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collect_sys.h"
#include "common/env.h"
#include "common/text.h"
#include "common/time.h"

namespace inventory {
namespace {

// Name parts that suggest a secret, matched case-insensitively anywhere in a
// variable's name (DB_PASSWORD, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, ...). A
// false positive (SSH_AUTH_SOCK, XDG_SESSION_ID) hides a harmless value; a
// false negative would send a secret to the central, so the list is broad.
constexpr std::string_view kSecretWords[] = {"pass", "secret", "token",   "key",    "credential",
                                             "auth", "cookie", "session", "private"};
constexpr char kRedacted[] = "(redacted)";

// USER_HZ, the unit of the tick counts in /proc/[pid]/stat: 100 on every
// architecture we build for. A live root asks sysconf(_SC_CLK_TCK).
constexpr uint64_t kUserHz = 100;
// Bounds for numbers from hostile files, so that no sum or product wraps:
// 2^40 seconds is 34,000 years; 2^50 KiB is an exbibyte.
constexpr uint64_t kMaxSeconds = uint64_t{1} << 40;
constexpr uint64_t kMaxKib = uint64_t{1} << 50;

bool SecretName(std::string_view name) {
  const std::string lower = Lower(name);
  for (std::string_view word : kSecretWords) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

// A URL that carries a password (scheme://user:password@host), as proxy
// settings often do: http_proxy=http://user:pw@proxy:3128.
bool HasUrlPassword(std::string_view value) {
  for (size_t at = value.find("://"); at != std::string_view::npos; at = value.find("://", at)) {
    at += 3;
    std::string_view authority = value.substr(at, value.find_first_of("/?# \t", at) - at);
    size_t end = authority.rfind('@');
    if (end != std::string_view::npos &&
        authority.substr(0, end).find(':') != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

// The process's environment in /proc/self/environ's form (NAME=value\0...):
// the `environ` array, which is what getenv() and child processes see.
// /proc/self/environ keeps the environment the process started with and
// misses every later setenv().
std::string LiveEnviron() {
  std::string out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    out += *e;
    out += '\0';
  }
  return out;
}

struct ProcStat {
  std::string comm;
  std::string state;
  uint64_t ppid = 0;
  uint64_t tty_nr = 0;
  uint64_t utime = 0;
  uint64_t stime = 0;
  uint64_t starttime = 0;
  uint64_t vsize = 0;
};

// proc(5): "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt
// cminflt majflt cmajflt utime stime cutime cstime priority nice num_threads
// itrealvalue starttime vsize rss ...". comm is whatever the process called
// itself, spaces and parentheses included, so it ends at the LAST ')': no
// field after it can hold one.
bool ParseStat(std::string_view text, std::string_view pid, ProcStat* out) {
  size_t open = text.find(" (");
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open + 2 ||
      text.substr(0, open) != pid) {
    return false;
  }
  out->comm = std::string(text.substr(open + 2, close - open - 2));
  std::vector<std::string_view> w = Words(text.substr(close + 1));
  if (w.size() < 21 || w[0].size() != 1 || !std::isalpha(static_cast<unsigned char>(w[0][0]))) {
    return false;
  }
  out->state = std::string(w[0]);
  return ParseU64(w[1], &out->ppid) && ParseU64(w[4], &out->tty_nr) &&
         ParseU64(w[11], &out->utime) && ParseU64(w[12], &out->stime) &&
         ParseU64(w[19], &out->starttime) && ParseU64(w[20], &out->vsize);
}

// From /proc/[pid]/status: the effective uid (the second number of "Uid:",
// whose user ps shows) and VmRSS in KiB (absent for kernel threads and
// zombies, which have no memory of their own: 0).
struct ProcStatus {
  std::optional<uint64_t> euid;
  uint64_t rss_kib = 0;
};

ProcStatus ParseStatus(std::string_view text) {
  ProcStatus out;
  for (std::string_view line : Lines(text)) {
    std::vector<std::string_view> w = Words(line);
    uint64_t n = 0;
    if (w.size() >= 3 && w[0] == "Uid:" && ParseU64(w[2], &n)) out.euid = n;
    if (w.size() >= 2 && w[0] == "VmRSS:" && ParseU64(w[1], &n)) out.rss_kib = n;
  }
  return out;
}

// The terminal of tty_nr (the kernel's encoding of a dev_t: minor in bits
// 0-7 and 20-31, major in bits 8-19) by the name ps gives it.
std::string TtyName(uint64_t tty_nr) {
  if (tty_nr == 0) return {};
  const uint64_t major = (tty_nr >> 8) & 0xfff;
  const uint64_t minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return "pts/" + std::to_string((major - 136) * 256 + minor);
  if (major == 4 && minor < 64) return "tty" + std::to_string(minor);
  if (major == 4) return "ttyS" + std::to_string(minor - 64);
  if (major == 5 && minor == 0) return "tty";
  if (major == 5 && minor == 1) return "console";
  return std::to_string(major) + ":" + std::to_string(minor);
}

std::string Seconds(uint64_t ticks, uint64_t hz) {
  const uint64_t centis = ticks % hz * 100 / hz;
  std::string frac = std::to_string(centis);
  return std::to_string(ticks / hz) + "." + (centis < 10 ? "0" : "") + frac;
}

// The command line: arguments joined by spaces, escaped, cut to kValueCap.
// Reads only kValueCap + 2 bytes: more means it is longer than the cap even
// without its final NUL. nullopt when the file cannot be read.
std::optional<std::string> CommandLine(const Root& root, const std::string& pid, bool* cut) {
  constexpr uint64_t kRead = kValueCap + 2;
  common::StatusOr<std::string> raw =
      common::Env::Default()->ReadAt(root.Path("proc/" + pid + "/cmdline"), 0, kRead);
  if (!raw.ok()) return std::nullopt;
  std::string args = std::move(*raw);
  *cut = args.size() >= kRead;
  if (!*cut) {
    while (!args.empty() && args.back() == '\0') args.pop_back();
  }
  for (char& c : args) {
    if (c == '\0') c = ' ';
  }
  std::string text = common::EscapeBytes(args);
  if (CutEscaped(&text, kValueCap)) *cut = true;
  return text;
}

}  // namespace

bool CutEscaped(std::string* text, size_t cap) {
  if (text->size() <= cap) return false;
  size_t i = 0;
  while (i < text->size()) {
    const unsigned char c = static_cast<unsigned char>((*text)[i]);
    size_t len = 1;
    if (c == '\\') {
      len = i + 1 < text->size() && (*text)[i + 1] == 'x' ? 4 : 2;
    } else if (c >= 0xf0) {
      len = 4;
    } else if (c >= 0xe0) {
      len = 3;
    } else if (c >= 0xc0) {
      len = 2;
    }
    if (i + len > cap) break;
    i += len;
  }
  text->resize(i);
  return true;
}

void ParseEnviron(std::string_view data, const std::string& source, Section* section) {
  std::set<std::string> seen;
  size_t malformed = 0;
  size_t repeated = 0;
  for (std::string_view entry : Split(data, '\0')) {
    if (entry.empty()) continue;  // after the final NUL
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      ++malformed;
      continue;
    }
    std::string name = common::EscapeBytes(entry.substr(0, eq));
    // getenv() returns the first of a name given twice.
    if (!seen.insert(name).second) {
      ++repeated;
      continue;
    }
    const std::string_view value = entry.substr(eq + 1);
    Item item = NewItem(name);
    if (SecretName(name) || HasUrlPassword(value)) {
      item.Add("value", kRedacted);
      item.Add("redacted", "true");
    } else {
      std::string text = common::EscapeBytes(value);
      const bool cut = CutEscaped(&text, kValueCap);
      item.Add("value", std::move(text));
      if (cut) item.Add("truncated", "true");
    }
    section->items.push_back(std::move(item));
  }
  if (malformed != 0) {
    section->notes.push_back(source + ": " + std::to_string(malformed) +
                             " entry(ies) not NAME=value, skipped");
  }
  if (repeated != 0) {
    section->notes.push_back(source + ": " + std::to_string(repeated) +
                             " name(s) given again, the first value kept");
  }
  section->SortItems();
}

Section CollectEnvironment(const Root& root) {
  Section section = NewSection("environment");
  if (root.is_live()) {
    ParseEnviron(LiveEnviron(), "environment", &section);
  } else if (std::optional<std::string> data =
                 ReadOrNote(root, "proc/self/environ", &section, 16u << 20)) {
    ParseEnviron(*data, "/proc/self/environ", &section);
  }
  return section;
}

Section CollectProcesses(const Root& root) {
  Section section = NewSection("processes");
  uint64_t hz = kUserHz;
  if (root.is_live()) {
    const long tck = ::sysconf(_SC_CLK_TCK);
    if (tck > 0) hz = static_cast<uint64_t>(tck);
  }
  const std::optional<int64_t> boot = BootTime(root, &section);
  const std::map<uint64_t, std::string> users = UserNames(root);
  size_t denied = 0;
  for (const std::string& pid : root.List("proc")) {
    uint64_t number = 0;
    if (!ParseU64(pid, &number)) continue;  // self, sys, meminfo, ...
    const std::string dir = "proc/" + pid + "/";
    // A process can end between any two reads: a failed read of one of its
    // files means it is gone, and it is left out without a note.
    common::StatusOr<std::string> stat_text = root.Read(dir + "stat");
    if (!stat_text.ok()) {
      if (stat_text.status().code() == common::Code::kPermissionDenied) ++denied;
      continue;
    }
    ProcStat stat;
    if (!ParseStat(*stat_text, pid, &stat)) {
      section.notes.push_back("/" + dir + "stat: not 'pid (comm) state ppid ...', skipped");
      continue;
    }
    common::StatusOr<std::string> status_text = root.Read(dir + "status");
    if (!status_text.ok()) continue;
    const ProcStatus status = ParseStatus(*status_text);
    bool cut = false;
    std::optional<std::string> cmdline = CommandLine(root, pid, &cut);
    if (!cmdline) continue;

    Item item = NewItem(pid);
    item.Add("ppid", std::to_string(stat.ppid));
    if (status.euid) {
      auto user = users.find(*status.euid);
      item.Add("user", user != users.end() ? user->second : std::to_string(*status.euid));
    } else {
      section.notes.push_back("/" + dir + "status: no 'Uid:' line with numbers, user left out");
    }
    item.Add("state", stat.state);
    if (boot && stat.starttime / hz < kMaxSeconds) {
      item.Add("started", common::FormatRfc3339(*boot + static_cast<int64_t>(stat.starttime / hz)));
    }
    if (stat.utime / hz < kMaxSeconds && stat.stime / hz < kMaxSeconds) {
      item.Add("cpu_seconds", Seconds(stat.utime + stat.stime, hz));
    }
    if (status.rss_kib < kMaxKib) item.Add("rss_bytes", std::to_string(status.rss_kib * 1024));
    item.Add("vsz_bytes", std::to_string(stat.vsize));
    item.Add("tty", TtyName(stat.tty_nr));
    item.Add("command", common::EscapeBytes(stat.comm));
    item.Add("cmdline", std::move(*cmdline));
    if (cut) item.Add("cmdline_truncated", "true");
    // Another user's link needs CAP_SYS_PTRACE: unreadable is empty.
    item.Add("executable", common::EscapeBytes(root.LinkTarget(dir + "exe")));
    section.items.push_back(std::move(item));
  }
  if (denied != 0) {
    section.notes.push_back("/proc: " + std::to_string(denied) +
                            " process(es) not readable (permission denied: /proc mounted with "
                            "hidepid?), left out");
  }
  section.SortItems();
  return section;
}

}  // namespace inventory

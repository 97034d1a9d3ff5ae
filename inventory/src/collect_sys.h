// The system collectors behind CollectSystemSections (collectors.h), one
// function per section, and the helpers they share. Private to inventory/;
// every function follows the collectors' contract (read under the root only,
// system calls only when live, never fail: problems become notes). Fields and
// sources: docs/inventory_system.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collect_root.h"
#include "common/status.h"
#include "inventory/sections.h"

namespace inventory {

// collect_sys.cpp
Section CollectSystem(const Root& root);
// The boot time, `btime` of proc/stat, in unix seconds; nullopt when it is
// absent, and then a note on `section` when the file cannot be read or the
// value is not a plausible time.
std::optional<int64_t> BootTime(const Root& root, Section* section);
// collect_sys_fw.cpp
Section CollectFirewall(const Root& root);
// The number of nftables rules in the running kernel, every table and family,
// from one NFT_MSG_GETRULE netlink dump; nullopt and `error` (strerror text)
// when it cannot be read. Needs CAP_NET_ADMIN (the kernel answers EPERM
// otherwise); a 2-second receive timeout bounds a kernel that never answers.
std::optional<uint64_t> NftRuleCount(std::string* error);
// collect_sys_net.cpp
Section CollectNetwork(const Root& root);
Section CollectRoutes(const Root& root);
Section CollectDns(const Root& root);
// collect_sys_users.cpp: users and groups come from the same two files.
void CollectAccounts(const Root& root, Section* users, Section* groups);
Section CollectLogins(const Root& root);
// uid -> name from etc/passwd, the first line of a uid winning (what
// getpwuid() answers for local accounts), lines the users section skips
// skipped. Empty when the file cannot be read; the users section notes why.
std::map<uint64_t, std::string> UserNames(const Root& root);
// utmp records (the whole file's bytes) into `logins`; exposed for tests.
void ParseUtmp(std::string_view data, const std::string& file, Section* logins);
// collect_sys_repos.cpp
Section CollectRepositories(const Root& root);
// collect_sys_procs.cpp: the client process's own environment (secrets
// redacted) and the process list.
Section CollectEnvironment(const Root& root);
Section CollectProcesses(const Root& root);
// The longest value the environment and processes sections write (a command
// line, a variable's value), in bytes of escaped text; longer ones are cut.
constexpr size_t kValueCap = 4096;
// Environment entries in /proc/self/environ's form ("NAME=value" each ended
// by a NUL, the last NUL optional) into `section`; `source` names them in
// notes. Exposed for tests.
void ParseEnviron(std::string_view data, const std::string& source, Section* section);
// Cuts text made by common::EscapeBytes to at most `cap` bytes, never inside
// an escape ("\x41", "\\") or a UTF-8 character; true if it cut.
bool CutEscaped(std::string* text, size_t cap);

inline Section NewSection(std::string name) {
  Section s;
  s.name = std::move(name);
  return s;
}
inline Item NewItem(std::string key) {
  Item i;
  i.key = std::move(key);
  return i;
}

// The note for a file that could not be read: "/etc/passwd: permission
// denied". `rel` is relative to the root, so notes read the same for a fixture
// and for the live machine.
std::string ReadNote(std::string_view rel, const common::Status& status);

// Reads `rel`; NotFound yields nullopt silently (a missing file is normal for
// most sources), any other failure yields nullopt and a note on `section`.
std::optional<std::string> ReadOrNote(const Root& root, std::string_view rel, Section* section,
                                      uint64_t cap = kSmallFileCap);

// Whitespace-separated words of a line.
std::vector<std::string_view> Words(std::string_view line);

// Splits on one character, keeping empty parts ("a::b" -> "a", "", "b").
std::vector<std::string_view> Split(std::string_view s, char sep);

// Joins with "," (the list form of every multi-valued field).
std::string JoinComma(const std::vector<std::string>& parts);

// A file's modification time in unix seconds, or nullopt when it cannot be
// stat'ed (lstat: a symbolic link's own time).
std::optional<int64_t> ModifiedTime(const Root& root, std::string_view rel);

// "etc/systemd/system/multi-user.target.wants/nftables.service" when `unit`
// is enabled by a link in some *.wants folder of etc/systemd/system, else "".
// This is what `systemctl enable` writes; presets and generators are not
// evaluated, so an enablement they make is not seen.
std::string EnablementLink(const Root& root, std::string_view unit);

}  // namespace inventory

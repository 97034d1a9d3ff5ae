// The "users", "groups" and "logins" sections (collect_sys.h): local
// accounts from /etc/passwd and /etc/group (never /etc/shadow: password
// hashes are not inventory), sessions from the utmp file.
#include <utmp.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collect_sys.h"
#include "common/time.h"

namespace inventory {
namespace {

// useradd's defaults when login.defs does not say (shadow's login.defs(5)).
constexpr uint64_t kDefaultUidMin = 1000;
constexpr uint64_t kDefaultUidMax = 60000;

// A number of login.defs(5) ("UID_MIN  1000"), or `fallback`.
uint64_t LoginDefsNumber(const std::string& text, std::string_view key, uint64_t fallback) {
  for (std::string_view line : Lines(text)) {
    std::vector<std::string_view> w = Words(line);
    uint64_t n = 0;
    if (w.size() >= 2 && w[0] == key && ParseU64(w[1], &n)) fallback = n;
  }
  return fallback;
}

bool ParseId(std::string_view s, uint64_t* id) { return ParseU64(s, id) && *id <= UINT32_MAX; }

// An account line of /etc/passwd split into its seven fields, with its uid
// and gid; false for what is not a local account (wrong number of fields,
// empty name, ids that are not numbers, NIS "+"/"-" compat entries).
bool PasswdLine(std::string_view line, std::vector<std::string_view>* f, uint64_t* uid,
                uint64_t* gid) {
  *f = Split(line, ':');
  return f->size() == 7 && !(*f)[0].empty() && ParseId((*f)[2], uid) && ParseId((*f)[3], gid) &&
         (*f)[0][0] != '+' && (*f)[0][0] != '-';
}

std::string Location(std::string_view file, size_t line) {
  return "/" + std::string(file) + ":" + std::to_string(line);
}

// A fixed-size utmp text field: NUL-terminated unless it fills the array.
template <size_t N>
std::string Text(const char (&chars)[N]) {
  return std::string(chars, ::strnlen(chars, N));
}

}  // namespace

void CollectAccounts(const Root& root, Section* users, Section* groups) {
  // Supplementary groups by user, in /etc/group's order.
  std::map<std::string, std::vector<std::string>> member_of;
  std::map<std::string, std::string> group_names;  // gid -> name, the first one
  if (std::optional<std::string> text = ReadOrNote(root, "etc/group", groups)) {
    std::vector<std::string_view> lines = Lines(*text);
    std::set<std::string> seen;
    for (size_t n = 0; n < lines.size(); ++n) {
      std::string_view line = lines[n];
      if (Trim(line).empty() || line[0] == '#') continue;
      std::vector<std::string_view> f = Split(line, ':');
      uint64_t gid = 0;
      if (f.size() != 4 || f[0].empty() || !ParseId(f[2], &gid) || f[0][0] == '+' ||
          f[0][0] == '-') {
        groups->notes.push_back(Location("etc/group", n + 1) +
                                ": not name:password:gid:members, skipped");
        continue;
      }
      std::string name(f[0]);
      // getgrnam() returns the first entry of a name; so do we.
      if (!seen.insert(name).second) continue;
      group_names.emplace(std::to_string(gid), name);
      std::vector<std::string> members;
      for (std::string_view m : Split(f[3], ',')) {
        m = Trim(m);
        if (m.empty()) continue;
        members.emplace_back(m);
        member_of[std::string(m)].push_back(name);
      }
      Item item = NewItem(name);
      item.Add("gid", std::to_string(gid));
      item.Add("members", JoinComma(members));
      groups->items.push_back(std::move(item));
    }
  }
  groups->SortItems();

  uint64_t uid_min = kDefaultUidMin;
  uint64_t uid_max = kDefaultUidMax;
  if (std::optional<std::string> defs = ReadOrNote(root, "etc/login.defs", users)) {
    uid_min = LoginDefsNumber(*defs, "UID_MIN", uid_min);
    uid_max = LoginDefsNumber(*defs, "UID_MAX", uid_max);
  }
  std::optional<std::string> text = ReadOrNote(root, "etc/passwd", users);
  if (!text) return;
  std::vector<std::string_view> lines = Lines(*text);
  std::set<std::string> seen;
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string_view line = lines[n];
    if (Trim(line).empty() || line[0] == '#') continue;
    std::vector<std::string_view> f;
    uint64_t uid = 0;
    uint64_t gid = 0;
    if (!PasswdLine(line, &f, &uid, &gid)) {
      users->notes.push_back(Location("etc/passwd", n + 1) +
                             ": not name:password:uid:gid:gecos:home:shell, skipped");
      continue;
    }
    std::string name(f[0]);
    if (!seen.insert(name).second) {
      users->notes.push_back(Location("etc/passwd", n + 1) + ": '" + name +
                             "' listed again, the first entry kept");
      continue;
    }
    Item item = NewItem(name);
    item.Add("uid", std::to_string(uid));
    item.Add("gid", std::to_string(gid));
    item.Add("home", std::string(f[5]));
    item.Add("shell", std::string(f[6]));
    // Bytes as written (often Latin-1 on old systems); the document writer
    // replaces what is not UTF-8.
    item.Add("gecos", std::string(f[4]));
    // Regular accounts are those useradd gives out: UID_MIN..UID_MAX. Below
    // are system accounts, above are nobody (65534) and its kind.
    item.Add("system", uid < uid_min || uid > uid_max ? "true" : "false");
    item.Add("primary_group", group_names.count(std::to_string(gid)) != 0
                                  ? group_names[std::to_string(gid)]
                                  : std::string());
    item.Add("groups", JoinComma(member_of[name]));
    users->items.push_back(std::move(item));
  }
  users->SortItems();
}

std::map<uint64_t, std::string> UserNames(const Root& root) {
  std::map<uint64_t, std::string> names;
  common::StatusOr<std::string> text = root.Read("etc/passwd");
  if (!text.ok()) return names;
  for (std::string_view line : Lines(*text)) {
    std::vector<std::string_view> f;
    uint64_t uid = 0;
    uint64_t gid = 0;
    if (Trim(line).empty() || line[0] == '#' || !PasswdLine(line, &f, &uid, &gid)) continue;
    names.emplace(uid, std::string(f[0]));  // the first line of a uid wins, as for getpwuid()
  }
  return names;
}

void ParseUtmp(std::string_view data, const std::string& file, Section* logins) {
  constexpr size_t kRecord = sizeof(struct utmp);
  size_t whole = data.size() / kRecord;
  if (data.size() % kRecord != 0) {
    logins->notes.push_back(file + ": ends with a truncated record (" +
                            std::to_string(data.size() % kRecord) + " of " +
                            std::to_string(kRecord) + " bytes), ignored");
  }
  std::map<std::string, Item> by_line;
  size_t unnamed = 0;
  for (size_t i = 0; i < whole; ++i) {
    struct utmp u {};
    std::memcpy(&u, data.data() + i * kRecord, kRecord);
    if (u.ut_type != USER_PROCESS) continue;
    std::string line = Text(u.ut_line);
    if (line.empty()) {
      ++unnamed;
      continue;
    }
    Item item = NewItem(line);
    item.Add("user", Text(u.ut_user));
    item.Add("host", Text(u.ut_host));
    // ut_tv.tv_sec is 32 bits on-disk on 64-bit glibc; a negative one is junk.
    int64_t since = u.ut_tv.tv_sec;
    if (since > 0) item.Add("since", common::FormatRfc3339(since));
    // A slot is reused per line, so a later record for a line is newer.
    by_line[line] = std::move(item);
  }
  if (unnamed != 0) {
    logins->notes.push_back(file + ": " + std::to_string(unnamed) +
                            " user session record(s) without a line, skipped");
  }
  for (auto& [line, item] : by_line) logins->items.push_back(std::move(item));
  logins->SortItems();
}

Section CollectLogins(const Root& root) {
  Section section = NewSection("logins");
  // utmp holds a few records per terminal; 16 MiB is tens of thousands.
  if (std::optional<std::string> data = ReadOrNote(root, "run/utmp", &section, 16u << 20)) {
    ParseUtmp(*data, "/run/utmp", &section);
  }
  return section;
}

}  // namespace inventory

// The users, groups and logins collectors (inventory/src/collect_sys_users.cpp)
// on fixture trees, an over-sized file and generated utmp files: good, torn
// and random.
#include <utmp.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "collect_sys.h"
#include "inventory/sections.h"
#include "inventory/sys_test_util.h"

namespace {

using inventory::Item;
using inventory::Section;
using testsupport::FindSection;
using testsupport::Fixture;
using testsupport::HasNote;
using testsupport::Keys;
using testsupport::TempRoot;

struct utmp UserRecord(const char* line, const char* user, const char* host, int32_t since) {
  struct utmp u {};
  u.ut_type = USER_PROCESS;
  u.ut_pid = 4242;
  std::strncpy(u.ut_line, line, sizeof u.ut_line);
  std::strncpy(u.ut_user, user, sizeof u.ut_user);
  std::strncpy(u.ut_host, host, sizeof u.ut_host);
  u.ut_tv.tv_sec = since;
  return u;
}

std::string Bytes(const std::vector<struct utmp>& records) {
  return std::string(reinterpret_cast<const char*>(records.data()),
                     records.size() * sizeof(struct utmp));
}

}  // namespace

TEST_CASE("users and groups from /etc/passwd and /etc/group", "[collect][sys]") {
  auto all = Fixture("root");
  const Section& users = FindSection(all, "users");
  CHECK(Keys(users) ==
        std::vector<std::string>{"alice", "bob", "daemon", "nobody", "root", "www-data"});
  const Item* alice = users.Find("alice");
  CHECK(alice->fields == std::vector<inventory::Field>{{"uid", "1000"},
                                                       {"gid", "1000"},
                                                       {"home", "/home/alice"},
                                                       {"shell", "/bin/bash"},
                                                       {"gecos", "Alice Martin,,,"},
                                                       {"system", "false"},
                                                       {"primary_group", "alice"},
                                                       {"groups", "sudo,adm"}});
  CHECK(users.Find("root")->Get("system") == "true");
  CHECK(users.Find("nobody")->Get("system") == "true");  // above UID_MAX
  CHECK(users.Find("bob")->Get("groups") == "adm");
  CHECK(users.notes.empty());

  const Section& groups = FindSection(all, "groups");
  CHECK(groups.items.size() == 8);
  CHECK(groups.Find("adm")->Get("gid") == "4");
  CHECK(groups.Find("adm")->Get("members") == "alice,bob");
  CHECK(groups.Find("root")->Get("members").empty());
}

TEST_CASE("users: malformed lines are skipped with notes, odd bytes kept", "[collect][sys]") {
  auto all = Fixture("sys_broken");
  const Section& users = FindSection(all, "users");
  CHECK(Keys(users) == std::vector<std::string>{"caf\xe9", "root"});
  CHECK(users.Find("root")->Get("home") == "/root");  // the first entry wins
  CHECK(users.Find("caf\xe9")->Get("gecos") == "Ren\xe9 Fran\xe7ois");
  CHECK(users.Find("caf\xe9")->Get("groups") == "staff");
  // UID_MIN unparsable: the default 1000 applies.
  CHECK(users.Find("caf\xe9")->Get("system") == "false");
  for (int line : {2, 3, 4, 5, 8, 9}) {
    CHECK(HasNote(users, "/etc/passwd:" + std::to_string(line) + ": not name:password"));
  }
  CHECK(HasNote(users, "/etc/passwd:7: 'root' listed again"));
  const Section& groups = FindSection(all, "groups");
  CHECK(Keys(groups) == std::vector<std::string>{"root", "staff"});
  CHECK(groups.Find("staff")->Get("members") == "caf\xe9,root");
  CHECK(HasNote(groups, "/etc/group:2:"));
  CHECK(HasNote(groups, "/etc/group:3:"));
}

TEST_CASE("a file above the read cap is not read", "[collect][sys]") {
  TempRoot root;
  root.Write("etc/os-release", "ID=debian\n");
  std::string huge;
  while (huge.size() <= inventory::kSmallFileCap) huge += "u:x:1000:1000::/home/u:/bin/sh\n";
  root.Write("etc/passwd", huge);
  const Section& users = FindSection(inventory::CollectSections(root.path), "users");
  CHECK(users.items.empty());
  CHECK(HasNote(users, "/etc/passwd: too large"));
}

TEST_CASE("logins from utmp records", "[collect][sys]") {
  std::vector<struct utmp> records;
  records.push_back(UserRecord("pts/0", "alice", "192.0.2.7", 1717236000));
  struct utmp login {};
  login.ut_type = LOGIN_PROCESS;
  std::strncpy(login.ut_line, "tty1", sizeof login.ut_line);
  records.push_back(login);
  // Fields that fill their arrays carry no NUL: read up to the array's end.
  records.push_back(UserRecord("tty2", "", "", 1717236060));
  std::memset(records.back().ut_user, 'z', sizeof records.back().ut_user);
  struct utmp dead = UserRecord("pts/1", "bob", "", 1717236000);
  dead.ut_type = DEAD_PROCESS;
  records.push_back(dead);

  TempRoot root;
  root.Write("etc/os-release", "ID=debian\n");
  root.Write("run/utmp", Bytes(records));
  const Section& s = FindSection(inventory::CollectSections(root.path), "logins");
  CHECK(Keys(s) == std::vector<std::string>{"pts/0", "tty2"});
  CHECK(s.Find("pts/0")->fields ==
        std::vector<inventory::Field>{
            {"user", "alice"}, {"host", "192.0.2.7"}, {"since", "2024-06-01T10:00:00Z"}});
  CHECK(s.Find("tty2")->Get("user") == std::string(sizeof(utmp::ut_user), 'z'));
  CHECK(s.notes.empty());

  // The truncated twin: the whole records are read, the torn one refused.
  std::string torn = Bytes(records) + Bytes({UserRecord("pts/9", "eve", "", 1)}).substr(0, 100);
  Section t = inventory::NewSection("logins");
  inventory::ParseUtmp(torn, "/run/utmp", &t);
  CHECK(Keys(t) == Keys(s));
  CHECK(HasNote(t, "/run/utmp: ends with a truncated record (100 of"));
}

TEST_CASE("logins: garbage utmp never crashes", "[collect][sys]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::string junk(sizeof(struct utmp) * 3 + static_cast<size_t>(round), '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    // Every other round, make the records claim to be sessions.
    if (round % 2 == 0) {
      for (size_t r = 0; r + sizeof(struct utmp) <= junk.size(); r += sizeof(struct utmp)) {
        short type = USER_PROCESS;
        std::memcpy(&junk[r], &type, sizeof type);
      }
    }
    Section s = inventory::NewSection("logins");
    inventory::ParseUtmp(junk, "/run/utmp", &s);
    for (const Item& i : s.items) CHECK(!i.key.empty());
  }
}

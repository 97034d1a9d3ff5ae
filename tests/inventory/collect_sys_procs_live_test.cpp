// The environment and processes collectors on this machine (root "/"):
// processes compared value by value with ps(1), the environment with this
// test process's own.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "collect_sys.h"
#include "common/text.h"
#include "inventory/sections.h"
#include "inventory/sys_test_util.h"

extern char** environ;

namespace {

using inventory::Item;
using inventory::Section;
using testsupport::Output;
using testsupport::Run;

// The values ps and the processes section both give, in ps's units.
struct Row {
  std::string ppid, user, rss_kib, vsz_kib, tty, comm;
  bool operator==(const Row&) const = default;
};

std::string Kib(const std::string& bytes) {
  return bytes.empty() ? bytes : std::to_string(std::stoull(bytes) / 1024);
}

std::map<std::string, Row> Ours() {
  std::map<std::string, Row> rows;
  for (const Item& i : inventory::CollectProcesses(inventory::Root("/")).items) {
    rows[i.key] = {i.Get("ppid"),           i.Get("user"), Kib(i.Get("rss_bytes")),
                   Kib(i.Get("vsz_bytes")), i.Get("tty"),  i.Get("command")};
  }
  return rows;
}

// `ps -e` as rows by pid; user names up to 64 bytes are not cut, and comm,
// which may hold spaces, is the rest of the line.
std::map<std::string, Row> Ps(bool* ok) {
  Output out = Run("ps -eo pid=,ppid=,user:64=,rss=,vsz=,tty=,comm=");
  *ok = out.ok;
  std::map<std::string, Row> rows;
  std::istringstream lines(out.text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string pid;
    Row r;
    if (!(in >> pid >> r.ppid >> r.user >> r.rss_kib >> r.vsz_kib >> r.tty)) continue;
    std::getline(in >> std::ws, r.comm);
    if (r.tty == "?") r.tty.clear();
    rows[pid] = r;
  }
  return rows;
}

}  // namespace

TEST_CASE("live processes match ps -eo pid,ppid,user,rss,vsz,tty,comm", "[collect][sys][live]") {
  const std::string self = std::to_string(::getpid());
  const std::string parent = std::to_string(::getppid());
  // A child that does nothing, so that one process with memory of its own
  // certainly holds still (this test's own memory grows as it collects).
  pid_t child_pid = 0;
  char arg0[] = "sleep";
  char arg1[] = "300";
  char* argv[] = {arg0, arg1, nullptr};
  REQUIRE(::posix_spawnp(&child_pid, "sleep", nullptr, nullptr, argv, environ) == 0);
  const std::string child = std::to_string(child_pid);
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{child_pid};
  // A process's values are compared when they did not change between two
  // collections taken before and after ps ran: then ps saw the same.
  std::map<std::string, Row> stable;
  std::map<std::string, Row> ps;
  size_t listed = 0;
  for (int attempt = 0; attempt < 10; ++attempt) {
    std::map<std::string, Row> before = Ours();
    bool ok = false;
    ps = Ps(&ok);
    if (!ok) {
      WARN("ps not usable here: comparison skipped");
      return;
    }
    std::map<std::string, Row> after = Ours();
    listed = after.size();
    stable.clear();
    for (const auto& [pid, row] : before) {
      auto a = after.find(pid);
      if (a != after.end() && a->second == row && ps.count(pid) != 0) stable[pid] = row;
    }
    const bool exec_done = stable.count(child) && stable[child].comm == "sleep";
    if (stable.count("1") && stable.count(parent) && exec_done && stable.count(self)) break;
  }
  REQUIRE(stable.count("1") == 1);
  REQUIRE(stable.count(parent) == 1);
  REQUIRE(stable.count(child) == 1);
  CHECK(stable[child].ppid == self);
  CHECK(stable[child].comm == "sleep");
  size_t equal = 0;
  for (const auto& [pid, ours] : stable) {
    const Row& theirs = ps.at(pid);
    INFO("pid " << pid << " (" << theirs.comm << ")");
    CHECK(ours.ppid == theirs.ppid);
    CHECK(ours.user == theirs.user);
    CHECK(ours.rss_kib == theirs.rss_kib);
    CHECK(ours.vsz_kib == theirs.vsz_kib);
    CHECK(ours.tty == theirs.tty);
    CHECK(ours.comm == theirs.comm);
    if (ours == theirs) ++equal;
  }
  WARN(stable.size() << " of " << listed << " processes stable across the ps run and compared ("
                     << ps.size() << " listed by ps); " << equal << " equal in all 6 values; "
                     << "this test's own process " << (stable.count(self) ? "was" : "was not")
                     << " among them");
  // This process: running (it reads its own stat), command line and
  // executable as ps and readlink show them.
  auto line = [](const std::string& command) {
    std::string text = Run(command).text;
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  };
  Section now = inventory::CollectProcesses(inventory::Root("/"));
  const Item* me = now.Find(self);
  REQUIRE(me != nullptr);
  CHECK(me->Get("state") == "R");
  // ps prints printable bytes as they are (under ctest the arguments hold
  // backslashes, which the section doubles).
  CHECK(me->Get("cmdline") == common::EscapeBytes(line("ps -ww -o args= -p " + self)));
  CHECK(me->Get("executable") == line("readlink /proc/" + self + "/exe"));
  CHECK(!me->Get("started").empty());
}

TEST_CASE("live environment is this process's, secrets redacted", "[collect][sys][live]") {
  REQUIRE(::setenv("BEACON_TEST_SECRET_TOKEN", "s3cr3t-value", 1) == 0);
  REQUIRE(::setenv("BEACON_TEST_PLAIN", "plain \xc3\xbc \\ value", 1) == 0);
  const Section env = inventory::CollectEnvironment(inventory::Root("/"));
  ::unsetenv("BEACON_TEST_SECRET_TOKEN");
  ::unsetenv("BEACON_TEST_PLAIN");

  const Item* secret = env.Find("BEACON_TEST_SECRET_TOKEN");
  REQUIRE(secret != nullptr);
  CHECK(secret->fields ==
        std::vector<inventory::Field>{{"value", "(redacted)"}, {"redacted", "true"}});
  const Item* plain = env.Find("BEACON_TEST_PLAIN");
  REQUIRE(plain != nullptr);
  CHECK(plain->fields == std::vector<inventory::Field>{{"value", "plain \xc3\xbc \\\\ value"}});

  // Every variable of this process: present, and equal unless redacted.
  std::map<std::string, std::string> mine;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    size_t eq = entry.find('=');
    if (eq != std::string::npos && eq > 0) mine.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  mine["BEACON_TEST_SECRET_TOKEN"] = "s3cr3t-value";
  mine["BEACON_TEST_PLAIN"] = "plain \xc3\xbc \\ value";
  CHECK(env.items.size() == mine.size());
  size_t redacted = 0;
  for (const auto& [name, value] : mine) {
    INFO(name);
    const Item* item = env.Find(common::EscapeBytes(name));
    REQUIRE(item != nullptr);
    if (item->Get("redacted") == "true") {
      ++redacted;
      CHECK(item->Get("value") == "(redacted)");
      continue;
    }
    std::string expected = common::EscapeBytes(value);
    inventory::CutEscaped(&expected, inventory::kValueCap);
    CHECK(item->Get("value") == expected);
  }
  CHECK(env.notes.empty());
  WARN(mine.size() << " variables compared, " << redacted << " redacted");
}

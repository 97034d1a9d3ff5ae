// The environment and processes collectors (inventory/src/collect_sys_procs.cpp)
// on the fixture trees procs/ and procs_broken/ (written by
// tests/data/inventory/make_proc_fixtures.py), an empty environ and random
// bytes.
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "collect_sys.h"
#include "common/text.h"
#include "inventory/sections.h"
#include "inventory/sys_test_util.h"

namespace {

using inventory::Field;
using inventory::Item;
using inventory::Section;
using testsupport::FindSection;
using testsupport::Fixture;
using testsupport::HasNote;
using testsupport::Keys;
using testsupport::TempRoot;

}  // namespace

TEST_CASE("environment: one item per variable, secrets redacted", "[collect][sys][procs]") {
  const Section s = FindSection(Fixture("procs"), "environment");
  CHECK(Keys(s) == std::vector<std::string>{"DB_PASSWORD", "EMPTY", "EQUALS", "GitHub_Token",
                                            "HOME", "LANG", "PATH", "SSH_AUTH_SOCK", "WINPATH",
                                            "http_proxy", "no_proxy"});
  CHECK(s.Find("HOME")->fields == std::vector<Field>{{"value", "/root"}});
  CHECK(s.Find("EQUALS")->Get("value") == "a=b");          // split at the first '='
  CHECK(s.Find("EMPTY")->fields.empty());                  // empty values are left out
  CHECK(s.Find("WINPATH")->Get("value") == "C:\\\\temp");  // escaped: the backslash doubled
  CHECK(s.Find("no_proxy")->Get("value") == "localhost,.corp");
  for (const char* secret : {"DB_PASSWORD", "GitHub_Token", "SSH_AUTH_SOCK", "http_proxy"}) {
    INFO(secret);
    CHECK(s.Find(secret)->fields ==
          std::vector<Field>{{"value", "(redacted)"}, {"redacted", "true"}});
  }
  CHECK(s.notes.empty());
  CHECK(!inventory::IsVolatileSection("environment"));
}

TEST_CASE("environment: odd entries, bytes and no final NUL", "[collect][sys][procs]") {
  const Section s = FindSection(Fixture("procs_broken"), "environment");
  CHECK(Keys(s) == std::vector<std::string>{"A", "BIG", "CTRL", "LATIN", "N\\xffX", "TRAILING"});
  CHECK(s.Find("A")->Get("value") == "first");  // getenv() finds the first
  CHECK(s.Find("LATIN")->Get("value") == "caf\\xe9");
  CHECK(s.Find("CTRL")->Get("value") == "a\\x0ab");
  CHECK(s.Find("TRAILING")->Get("value") == "no final NUL");
  CHECK(s.Find("BIG")->Get("value") == std::string(inventory::kValueCap, 'x'));
  CHECK(s.Find("BIG")->Get("truncated") == "true");
  CHECK(s.Find("LATIN")->Get("truncated").empty());
  CHECK(HasNote(s, "/proc/self/environ: 2 entry(ies) not NAME=value, skipped"));
  CHECK(HasNote(s, "/proc/self/environ: 1 name(s) given again, the first value kept"));
  CHECK(s.notes.size() == 2);

  TempRoot empty;
  empty.Write("proc/self/environ", "");
  const Section e = FindSection(inventory::CollectSections(empty.path), "environment");
  CHECK(e.items.empty());
  CHECK(e.notes.empty());
  // A root without the file (every other fixture) reports nothing, silently.
  const Section none = FindSection(Fixture("root"), "environment");
  CHECK(none.items.empty());
  CHECK(none.notes.empty());
}

TEST_CASE("processes: one item per /proc/[pid], fields as ps shows them", "[collect][sys][procs]") {
  const Section s = FindSection(Fixture("procs"), "processes");
  // Keys are decimal pids, sorted as text.
  CHECK(Keys(s) ==
        std::vector<std::string>{"1", "2", "4242", "4300", "4301", "5000", "6000", "812"});
  CHECK(s.Find("1")->fields == std::vector<Field>{{"ppid", "0"},
                                                  {"user", "root"},  // not toor: the first line
                                                  {"state", "S"},
                                                  {"started", "2024-06-01T10:00:00Z"},
                                                  {"cpu_seconds", "4.00"},
                                                  {"rss_bytes", "13107200"},
                                                  {"vsz_bytes", "170000384"},
                                                  {"command", "systemd"},
                                                  {"cmdline", "/sbin/init splash"},
                                                  {"executable", "/usr/lib/systemd/systemd"}});
  // A kernel thread: no command line, no memory, no executable.
  CHECK(s.Find("2")->fields == std::vector<Field>{{"ppid", "0"},
                                                  {"user", "root"},
                                                  {"state", "S"},
                                                  {"started", "2024-06-01T10:00:00Z"},
                                                  {"cpu_seconds", "0.00"},
                                                  {"rss_bytes", "0"},
                                                  {"vsz_bytes", "0"},
                                                  {"command", "kthreadd"}});
  const Item* bash = s.Find("4242");
  CHECK(bash->Get("user") == "alice");
  CHECK(bash->Get("ppid") == "812");
  CHECK(bash->Get("tty") == "pts/3");
  CHECK(bash->Get("started") == "2024-06-01T11:00:00Z");  // 360000 ticks after boot
  CHECK(bash->Get("cpu_seconds") == "0.07");
  CHECK(bash->Get("rss_bytes") == "5242880");
  CHECK(bash->Get("cmdline") == "-bash");
  CHECK(s.Find("4300")->Get("command") == "tmux: server");
  CHECK(s.Find("4300")->Get("tty") == "tty1");
  CHECK(s.Find("4300")->Get("cmdline") == "tmux new -s work");
  CHECK(s.Find("4300")->Get("executable").empty());
  CHECK(s.Find("4301")->Get("tty") == "pts/300");  // a minor above 255
  CHECK(s.Find("5000")->Get("tty") == "ttyS0");
  CHECK(s.Find("5000")->Get("user") == "1001");  // no passwd line: the number
  CHECK(s.Find("6000")->Get("state") == "Z");
  CHECK(s.Find("6000")->Get("cmdline").empty());
  CHECK(s.Find("812")->Get("cmdline") == "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups");
  CHECK(s.notes.empty());
  CHECK(inventory::IsVolatileSection("processes"));
  CHECK(inventory::IsVolatileField("processes", "cpu_seconds"));
}

TEST_CASE("processes: hostile stat lines, vanished processes, huge command lines",
          "[collect][sys][procs]") {
  const Section s = FindSection(Fixture("procs_broken"), "processes");
  // 102, 103, 108 and 113 are malformed (notes); 106 and 107 vanished half
  // read (silently); abc is not a pid.
  CHECK(Keys(s) == std::vector<std::string>{"100", "101", "104", "105", "109", "110", "111", "112",
                                            "114", "115"});
  // comm ends at the last ')'.
  CHECK(s.Find("100")->Get("command") == "a) (b");
  CHECK(s.Find("100")->Get("state") == "S");
  CHECK(s.Find("101")->Get("command") == ") R 1 2 3");
  CHECK(s.Find("101")->Get("ppid") == "7");
  CHECK(s.Find("100")->Get("user") == "0");  // no /etc/passwd
  // The bad btime: no start times, a note.
  CHECK(s.Find("100")->Get("started").empty());
  CHECK(HasNote(s, "/proc/stat: btime 'soon' is not unix seconds"));
  for (const char* pid : {"102", "103", "108", "113"}) {
    CHECK(HasNote(s, std::string("/proc/") + pid + "/stat: not 'pid (comm) state ppid ...'"));
  }
  CHECK(HasNote(s, "/proc/109/status: no 'Uid:' line"));
  CHECK(s.Find("109")->Get("user").empty());
  CHECK(s.notes.size() == 6);

  const Item* longer = s.Find("104");
  CHECK(longer->Get("cmdline") ==
        "/usr/bin/long --arg=" + std::string(inventory::kValueCap - 20, 'y'));
  CHECK(longer->Get("cmdline_truncated") == "true");
  CHECK(s.Find("105")->Get("cmdline") == "/opt/caf\\xe9/run --name a\\x0ab");
  CHECK(s.Find("105")->Get("command") == "latin");
  // 5000 bytes that are not UTF-8: cut between escapes, 1024 of them.
  std::string escaped;
  for (int i = 0; i < 1024; ++i) escaped += "\\xff";
  CHECK(s.Find("110")->Get("cmdline") == escaped);
  CHECK(s.Find("110")->Get("cmdline_truncated") == "true");
  CHECK(s.Find("111")->Get("command").empty());
  // Numbers past any real value: those fields are left out.
  CHECK(s.Find("112")->Get("cpu_seconds").empty());
  CHECK(s.Find("112")->Get("ppid") == "1");
  // Exactly the cap (and its final NUL): whole, not marked.
  CHECK(s.Find("114")->Get("cmdline") == std::string(inventory::kValueCap, 'z'));
  CHECK(s.Find("114")->Get("cmdline_truncated").empty());
  // Padding NULs after a rewritten argv are dropped.
  CHECK(s.Find("115")->Get("cmdline") == "nginx: worker process");
}

TEST_CASE("CutEscaped never splits an escape or a character", "[collect][sys][procs]") {
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    std::string bytes(static_cast<size_t>(rng() % 64), '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (round % 3 == 0) bytes += "\xc3\xa9\xe2\x82\xac\\";  // é € and a backslash
    std::string text = common::EscapeBytes(bytes);
    const size_t cap = rng() % 80;
    const bool cut = inventory::CutEscaped(&text, cap);
    if (cut) {
      CHECK(text.size() <= cap);
    } else {
      CHECK(text == common::EscapeBytes(bytes));
    }
    std::string back;
    INFO("round " << round << " cap " << cap);
    REQUIRE(common::UnescapeBytes(text, &back));
    CHECK(common::IsValidUtf8(text));
    CHECK(bytes.compare(0, back.size(), back) == 0);  // a prefix of the original
  }
}

TEST_CASE("environment: random bytes never crash", "[collect][sys][procs]") {
  std::mt19937 rng(5);
  for (int round = 0; round < 100; ++round) {
    std::string junk(static_cast<size_t>(rng() % 300), '\0');
    for (char& c : junk) c = static_cast<char>(rng() % 4 == 0 ? (rng() % 2 ? '=' : '\0') : rng());
    Section s = inventory::NewSection("environment");
    inventory::ParseEnviron(junk, "env", &s);
    for (size_t i = 0; i < s.items.size(); ++i) {
      CHECK(!s.items[i].key.empty());
      if (i > 0) CHECK(s.items[i - 1].key < s.items[i].key);
    }
  }
}

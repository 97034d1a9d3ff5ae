#include "inventory/usage.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "support/mutate.h"

namespace {

const std::string kDevice = "0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6";

constexpr int64_t kT0 = 1763800000;  // 2025-11-22T08:26:40Z

inventory::RunningProcess Proc(int64_t pid, int64_t start, const std::string& user, const std::string& program) {
  return {.pid = pid, .start = start, .user = user, .program = program};
}

// Three samples five minutes apart: a long-running bash, a second bash
// started within the first interval, a firefox started just before the first
// sample, and a vim that lived under a second before the third.
inventory::Usage Sample(inventory::ProcessTable* table = nullptr) {
  inventory::ProcessTable local;
  if (table == nullptr) table = &local;
  inventory::Usage u;
  u.device_id = kDevice;
  u.sample_seconds = 300;
  u.AddSample(kT0,
              {Proc(100, kT0 - 1000, "anna", "/usr/bin/bash"), Proc(101, kT0 - 100, "root", "/usr/bin/bash"),
               Proc(200, kT0 - 10, "anna", "/usr/bin/firefox-esr")},
              table);
  u.AddSample(kT0 + 300, {Proc(100, kT0 - 1000, "anna", "/usr/bin/bash")}, table);
  u.AddSample(kT0 + 600,
              {Proc(100, kT0 - 1000, "anna", "/usr/bin/bash"), Proc(300, kT0 + 599, "anna", "/usr/bin/vim")},
              table);
  return u;
}

std::string ErrorOf(const std::string& xml) {
  auto r = inventory::ParseUsageXml(xml, "u.xml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == common::Code::kInvalidArgument);
  return r.status().message();
}

}  // namespace

TEST_CASE("usage: run time comes from start times, launches are counted once", "[inventory][usage]") {
  inventory::ProcessTable table;
  inventory::Usage u = Sample(&table);
  CHECK(u.samples == 3);
  CHECK(u.period_start == kT0);
  CHECK(u.period_end == kT0 + 600);
  REQUIRE(u.programs.size() == 3);
  // bash #100 was running before the first sample: no launch, one interval
  // credited then, the full intervals after; bash #101 started within the
  // first interval: a launch, 100 s.
  CHECK(u.programs[0] == inventory::ProgramUsage{.program = "/usr/bin/bash", .samples = 3, .first_seen = kT0,
                                                 .last_seen = kT0 + 600, .day = "2025-11-22", .launches = 1,
                                                 .run_seconds = 300 + 100 + 300 + 300, .users = {"anna", "root"}});
  CHECK(u.programs[1] == inventory::ProgramUsage{.program = "/usr/bin/firefox-esr", .samples = 1, .first_seen = kT0,
                                                 .last_seen = kT0, .day = "2025-11-22", .launches = 1,
                                                 .run_seconds = 10, .users = {"anna"}});
  // Under a second of life is one second, not a sample interval.
  CHECK(u.programs[2] == inventory::ProgramUsage{.program = "/usr/bin/vim", .samples = 1, .first_seen = kT0 + 600,
                                                 .last_seen = kT0 + 600, .day = "2025-11-22", .launches = 1,
                                                 .run_seconds = 1, .users = {"anna"}});
  auto back = inventory::ParseUsageXml(inventory::ToXml(u), "u.xml");
  REQUIRE(back.ok());
  CHECK(*back == u);

  // The table survives a restart: the same processes are neither launched
  // again nor credited twice.
  auto reread = inventory::ParseProcessTable(inventory::SerializeProcessTable(table), "processes");
  REQUIRE(reread.ok());
  CHECK(*reread == table);
  inventory::Usage after = u;
  after.AddSample(kT0 + 900, {Proc(100, kT0 - 1000, "anna", "/usr/bin/bash"), Proc(300, kT0 + 599, "anna", "/usr/bin/vim")},
                  &*reread);
  CHECK(after.programs[0].launches == 1);
  CHECK(after.programs[0].run_seconds == 1000 + 300);
  CHECK(after.programs[2].launches == 1);
  CHECK(after.programs[2].run_seconds == 1 + 300);
  // A new pid with a recycled number is another process: a launch.
  after.AddSample(kT0 + 1200, {Proc(300, kT0 + 1000, "anna", "/usr/bin/vim")}, &*reread);
  CHECK(after.programs[2].launches == 2);
  CHECK(after.programs[2].run_seconds == 301 + 200);

  // Another day is another entry.
  after.AddSample(kT0 + 86400, {Proc(300, kT0 + 1000, "anna", "/usr/bin/vim")}, &*reread);
  REQUIRE(after.programs.size() == 4);
  CHECK(after.programs[3].day == "2025-11-23");
  CHECK(after.programs[3].launches == 0);

  // A clock stepped back counts as the period's end and credits nothing.
  inventory::Usage back_in_time = u;
  inventory::ProcessTable t2 = table;
  back_in_time.AddSample(kT0 - 100000, {Proc(100, kT0 - 1000, "anna", "/usr/bin/bash")}, &t2);
  CHECK(back_in_time.period_end == kT0 + 600);
  CHECK(back_in_time.programs[0].run_seconds == 1000);
  CHECK(inventory::ParseUsageXml(inventory::ToXml(back_in_time), "b.xml").ok());
}

TEST_CASE("usage: documents of older clients (no days) are still read", "[inventory][usage]") {
  const std::string old =
      "<usage version=\"1\" device=\"" + kDevice +
      "\" from=\"1763800000\" to=\"1763800600\" sample-interval=\"300\" samples=\"3\">"
      "<program path=\"/usr/bin/bash\" samples=\"3\" first-seen=\"1763800000\" last-seen=\"1763800600\"/></usage>";
  auto u = inventory::ParseUsageXml(old, "old.xml");
  REQUIRE(u.ok());
  CHECK(u->programs[0].day.empty());
  CHECK(u->programs[0].run_seconds == 0);
}

TEST_CASE("usage: a damaged process table is refused with its line", "[inventory][usage]") {
  CHECK(inventory::ParseProcessTable("", "p").status().message() == "p: empty");
  CHECK(inventory::ParseProcessTable("sampled x\n", "p").status().message() ==
        "p:1: expected 'sampled <unix seconds>'");
  CHECK(inventory::ParseProcessTable("sampled 5\n1\t2\troot\n", "p").status().message() ==
        "p:2: expected 'pid<TAB>start<TAB>user<TAB>program'");
  CHECK(inventory::ParseProcessTable("sampled 5\n1\t2\troot\t/bin/sh", "p").status().message() ==
        "p:2: the last line is not terminated (a cut write?)");
  CHECK(inventory::ParseProcessTable("sampled 5\n2\t2\troot\t/bin/sh\n1\t2\troot\t/bin/sh\n", "p")
            .status()
            .message() == "p:3: processes must be sorted by pid and start time, each once");
  CHECK(inventory::ParseProcessTable("sampled 5\n1\t2\troot\t/bin/\xff\n", "p").status().code() ==
        common::Code::kInvalidArgument);
  for (const auto& m : testing_support::Mutations("sampled 5\n1\t2\troot\t/bin/sh\n7\t9\tanna\t/usr/bin/vim\n", 2000)) {
    auto r = inventory::ParseProcessTable(m, "mutant");
    if (r.ok()) CHECK(*inventory::ParseProcessTable(inventory::SerializeProcessTable(*r), "again") == *r);
  }
}

TEST_CASE("usage: broken documents are refused with their location", "[inventory][usage]") {
  std::string good = inventory::ToXml(Sample());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string x = good;
    size_t at = x.find(from);
    REQUIRE(at != std::string::npos);
    return x.replace(at, from.size(), to);
  };
  CHECK(ErrorOf(with("samples=\"3\"", "samples=\"three\"")).find("u.xml:2:") == 0);
  CHECK(ErrorOf(with("samples=\"3\" first-seen", "samples=\"4\" first-seen")).find("<program> 'samples': '4' is not a decimal integer 0 .. 3") !=
        std::string::npos);  // more samples than the period has
  CHECK(ErrorOf(with("to=\"1763800600\"", "to=\"1763700000\"")).find("the period ends before it starts") !=
        std::string::npos);
  CHECK(ErrorOf(with("/usr/bin/vim", "/usr/bin/a")).find("sorted by path and day, each pair once") != std::string::npos);
  CHECK(ErrorOf(with("<user name=\"root\"", "<proc name=\"root\"")).find("unknown element <proc> in <program>") !=
        std::string::npos);
  CHECK(ErrorOf(with("sample-interval=\"300\"", "sample-interval=\"0\"")).find("<usage> 'sample-interval': '0' is not a decimal integer 1 .. 86400") !=
        std::string::npos);
  CHECK(ErrorOf("<inventory/>").find("root element is <inventory>, expected <usage>") != std::string::npos);
  for (const auto& m : testing_support::Mutations(good, 2000)) {
    auto r = inventory::ParseUsageXml(m, "mutant.xml");
    if (r.ok()) {
      CHECK(*inventory::ParseUsageXml(inventory::ToXml(*r), "again.xml") == *r);
    } else {
      CHECK(r.status().message().rfind("mutant.xml:", 0) == 0);
    }
  }
}

TEST_CASE("usage: hostile documents are refused with their location", "[inventory][usage]") {
  std::string good = inventory::ToXml(Sample());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string x = good;
    size_t at = x.find(from);
    REQUIRE(at != std::string::npos);
    return x.replace(at, from.size(), to);
  };
  const std::string laughs =
      "<!DOCTYPE usage [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n<usage";
  CHECK(ErrorOf(with("<usage", laughs)) == "u.xml:2:1: a DOCTYPE is not allowed (no DTD, no entities)");
  CHECK(ErrorOf(with("path=\"/usr/bin/vim\"", "path=\"/usr/bin/&b;\"")) ==
        "u.xml:10:27: entity reference '&b;' is not allowed: only &amp; &lt; &gt; &quot; &apos; and character references");
  CHECK(ErrorOf(with("path=\"/usr/bin/vim\"", "path=\"/usr/bin/vim\" path=\"/x\"")) ==
        "u.xml:10:3: duplicate attribute 'path' on <program>");
  CHECK(ErrorOf(with("path=\"/usr/bin/vim\"", "path=\"/usr/bin/\x1b[31mvim\"")) ==
        "u.xml:10:27: control character U+001B is not allowed");
  CHECK(ErrorOf(with("path=\"/usr/bin/vim\"", "path=\"/" + std::string(10000, 'v') + "\"")) ==
        "u.xml:10:3: <program> 'path' is 10001 bytes long, more than the 8192 allowed");
  CHECK(ErrorOf(with("samples=\"3\"", "samples=\"03\"")) ==
        "u.xml:2:1: <usage> 'samples': '03' is not a decimal integer 0 .. 999999999999999999");
}

TEST_CASE("usage: running processes come from /proc", "[inventory][usage]") {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "proc.XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const int64_t hz = ::sysconf(_SC_CLK_TCK);
  std::ofstream(tmpl + "/stat") << "cpu  1 2 3\nbtime 1763700000\nprocesses 99\n";
  auto proc = [&](const std::string& pid, const std::string& cmdline, const std::string& exe, int64_t ticks = 0) {
    fs::create_directories(tmpl + "/" + pid);
    std::ofstream(tmpl + "/" + pid + "/cmdline") << cmdline;
    if (!exe.empty()) fs::create_symlink(exe, tmpl + "/" + pid + "/exe");
    // comm with a space and a parenthesis: fields count from the last ')'.
    std::ofstream(tmpl + "/" + pid + "/stat")
        << pid << " (my (odd) name) S 1 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 " << ticks
        << " 1000 100 18446744073709551615\n";
    std::ofstream(tmpl + "/" + pid + "/status") << "Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
  };
  proc("1", std::string("/sbin/init\0splash", 17), "/usr/lib/systemd/systemd", 5 * hz);
  proc("42", std::string("vim\0notes.txt", 13), "/usr/bin/vim.basic (deleted)", 1000 * hz);
  proc("43", std::string("python3\0-m\0http.server", 22), "");  // exe unreadable: argv[0]
  proc("2", "", "");                                             // a kernel thread
  proc("45", "x", std::string("/tmp/\xe8"));                     // not UTF-8: kept, escaped
  proc("46", "sh", "/memfd:payload (deleted)");                   // run from memory: skipped
  proc("47", "bash", "/bin/bash");                                // in a chroot: skipped
  fs::create_symlink("/srv/chroot/bookworm", tmpl + "/47/root");
  proc("48", "top", "/usr/bin/top");                              // in this root: kept
  fs::create_symlink("/", tmpl + "/48/root");
  fs::create_directories(tmpl + "/self");                        // not a pid
  auto running = inventory::RunningProcesses(tmpl);
  REQUIRE(running.size() == 5);
  CHECK(running[0] == Proc(1, 1763700005, "root", "/usr/lib/systemd/systemd"));
  CHECK(running[1] == Proc(42, 1763701000, "root", "/usr/bin/vim.basic"));
  CHECK(running[2] == Proc(43, 1763700000, "root", "python3"));
  CHECK(running[3] == Proc(45, 1763700000, "root", "/tmp/\\xe8"));
  CHECK(running[4] == Proc(48, 1763700000, "root", "/usr/bin/top"));
  fs::remove_all(tmpl);

  // On this machine: at least this test itself, started after boot, by us.
  auto live = inventory::RunningProcesses();
  auto self = std::find_if(live.begin(), live.end(), [](const inventory::RunningProcess& p) { return p.pid == ::getpid(); });
  REQUIRE(self != live.end());
  CHECK(self->program == fs::read_symlink("/proc/self/exe").string());
  CHECK(self->start > 1700000000);
  CHECK(self->start <= ::time(nullptr));
  CHECK_FALSE(self->user.empty());
}

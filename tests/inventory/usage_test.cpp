#include "inventory/usage.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "support/mutate.h"

namespace {

const std::string kDevice = "0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6";

inventory::Usage Sample() {
  inventory::Usage u;
  u.device_id = kDevice;
  u.sample_seconds = 300;
  u.AddSample(1763800000, {"/usr/bin/bash", "/usr/bin/firefox-esr", "/usr/bin/bash"});
  u.AddSample(1763800300, {"/usr/bin/bash"});
  u.AddSample(1763800600, {"/usr/bin/vim", "/usr/bin/bash"});
  return u;
}

std::string ErrorOf(const std::string& xml) {
  auto r = inventory::ParseUsageXml(xml, "u.xml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == common::Code::kInvalidArgument);
  return r.status().message();
}

}  // namespace

TEST_CASE("usage: samples add up per program", "[inventory][usage]") {
  inventory::Usage u = Sample();
  CHECK(u.samples == 3);
  CHECK(u.period_start == 1763800000);
  CHECK(u.period_end == 1763800600);
  REQUIRE(u.programs.size() == 3);
  CHECK(u.programs[0] == inventory::ProgramUsage{"/usr/bin/bash", 3, 1763800000, 1763800600});
  CHECK(u.programs[1] == inventory::ProgramUsage{"/usr/bin/firefox-esr", 1, 1763800000, 1763800000});
  CHECK(u.programs[2] == inventory::ProgramUsage{"/usr/bin/vim", 1, 1763800600, 1763800600});
  // A clock stepped back counts as the period's end: the document stays valid.
  inventory::Usage back_in_time = u;
  back_in_time.AddSample(1763700000, {"/usr/bin/top"});
  CHECK(back_in_time.period_end == 1763800600);
  CHECK(inventory::ParseUsageXml(inventory::ToXml(back_in_time), "b.xml").ok());
  auto back = inventory::ParseUsageXml(inventory::ToXml(u), "u.xml");
  REQUIRE(back.ok());
  CHECK(*back == u);
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
  CHECK(ErrorOf(with("/usr/bin/vim", "/usr/bin/a")).find("sorted by path and unique") != std::string::npos);
  CHECK(ErrorOf(with("<program path=\"/usr/bin/vim\"", "<proc path=\"/usr/bin/vim\"")).find("unknown element <proc>") !=
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
        "u.xml:5:27: entity reference '&b;' is not allowed: only &amp; &lt; &gt; &quot; &apos; and character references");
  CHECK(ErrorOf(with("path=\"/usr/bin/vim\"", "path=\"/usr/bin/vim\" path=\"/x\"")) ==
        "u.xml:5:3: duplicate attribute 'path' on <program>");
  CHECK(ErrorOf(with("path=\"/usr/bin/vim\"", "path=\"/usr/bin/\x1b[31mvim\"")) ==
        "u.xml:5:27: control character U+001B is not allowed");
  CHECK(ErrorOf(with("path=\"/usr/bin/vim\"", "path=\"/" + std::string(10000, 'v') + "\"")) ==
        "u.xml:5:3: <program> 'path' is 10001 bytes long, more than the 8192 allowed");
  CHECK(ErrorOf(with("samples=\"3\"", "samples=\"03\"")) ==
        "u.xml:2:1: <usage> 'samples': '03' is not a decimal integer 0 .. 999999999999999999");
}

TEST_CASE("usage: running programs come from /proc", "[inventory][usage]") {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "proc.XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  auto proc = [&](const std::string& pid, const std::string& cmdline, const std::string& exe) {
    fs::create_directories(tmpl + "/" + pid);
    std::ofstream(tmpl + "/" + pid + "/cmdline") << cmdline;
    if (!exe.empty()) fs::create_symlink(exe, tmpl + "/" + pid + "/exe");
  };
  proc("1", std::string("/sbin/init\0splash", 17), "/usr/lib/systemd/systemd");
  proc("42", std::string("vim\0notes.txt", 13), "/usr/bin/vim.basic (deleted)");
  proc("43", std::string("python3\0-m\0http.server", 22), "");  // exe unreadable: argv[0]
  proc("44", std::string("vim\0other", 9), "/usr/bin/vim.basic");  // counted once
  proc("2", "", "");                                             // a kernel thread
  proc("45", "x", std::string("/tmp/\xe8"));                     // not UTF-8: skipped
  proc("46", "sh", "/memfd:payload (deleted)");                   // run from memory: skipped
  proc("47", "bash", "/bin/bash");                                // in a chroot: skipped
  fs::create_symlink("/srv/chroot/bookworm", tmpl + "/47/root");
  proc("48", "top", "/usr/bin/top");                              // in this root: kept
  fs::create_symlink("/", tmpl + "/48/root");
  fs::create_directories(tmpl + "/self");                        // not a pid
  auto running = inventory::RunningPrograms(tmpl);
  CHECK(running ==
        std::vector<std::string>{"/usr/bin/top", "/usr/bin/vim.basic", "/usr/lib/systemd/systemd", "python3"});
  fs::remove_all(tmpl);

  // On this machine: at least this test itself.
  auto live = inventory::RunningPrograms();
  CHECK(std::find(live.begin(), live.end(), fs::read_symlink("/proc/self/exe").string()) != live.end());
}

// Tests of the package databases (inventory/src/collect_software*.cpp) against
// the fixture roots in tests/data/inventory/ (rpmroot, snaproot, flatpakroot
// and their broken twins) and, live, against dpkg-query and rpm.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "collectors.h"
#include "inventory/collect.h"
#include "rpm_header.h"

namespace {

namespace fs = std::filesystem;
using inventory::Package;
using inventory::Root;
using inventory::Section;

const std::string kDir = std::string(TEST_DATA_DIR) + "/inventory/";

struct Collected {
  std::vector<Package> packages;
  Section sources;
};

Collected CollectAt(const std::string& root) {
  Collected c;
  inventory::CollectPackages(Root(root), &c.packages, &c.sources);
  return c;
}

// The lines a shell command prints; `ok` false when it could not run or failed.
std::vector<std::string> Run(const std::string& command, bool* ok) {
  std::vector<std::string> lines;
  FILE* p = ::popen(command.c_str(), "r");
  *ok = p != nullptr;
  if (p == nullptr) return lines;
  std::string line;
  for (int c = std::fgetc(p); c != EOF; c = std::fgetc(p)) {
    if (c == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line += static_cast<char>(c);
    }
  }
  *ok = ::pclose(p) == 0;
  return lines;
}

// A fresh copy of a fixture root, for tests that add files to it or run a
// program that writes beside a database (rpm creates its lock file).
std::string CopyOf(const std::string& fixture) {
  std::string tmpl = (fs::temp_directory_path() / "collect_software.XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  fs::copy(kDir + fixture, tmpl, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  return tmpl;
}

// A header blob: entries (tag, type, offset, count) over `data`.
std::string Blob(const std::vector<std::array<uint32_t, 4>>& entries, const std::string& data) {
  auto be32 = [](std::string* out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
  };
  std::string b;
  be32(&b, static_cast<uint32_t>(entries.size()));
  be32(&b, static_cast<uint32_t>(data.size()));
  for (const auto& e : entries) {
    for (uint32_t v : e) be32(&b, v);
  }
  return b + data;
}

}  // namespace

TEST_CASE("rpm: the real rpmdb.sqlite fixture is read in full", "[inventory][collect]") {
  Collected c = CollectAt(kDir + "rpmroot");
  REQUIRE(c.packages.size() == 2);
  const Package& epoch = c.packages[0];
  CHECK(epoch.source == "rpm");
  CHECK(epoch.name == "beacon-epoch");
  CHECK(epoch.version == "2:0.9-1.fc40");
  CHECK(epoch.arch == "noarch");
  CHECK(epoch.size_bytes == 19);
  CHECK(epoch.section == "Development/Libraries");
  CHECK(epoch.maintainer == "Beacon Test <test@example.invalid>");  // no vendor: the packager
  CHECK(epoch.summary == "Fixture package with an epoch");
  CHECK(epoch.installed_at == 1796072149);
  const Package& hello = c.packages[1];
  CHECK(hello.name == "beacon-hello");
  CHECK(hello.version == "1.2.3-4");
  CHECK(hello.arch == "x86_64");
  CHECK(hello.size_bytes == 6);
  CHECK(hello.maintainer == "Beacon Fixtures");
  CHECK(hello.section == "Applications/System");
  CHECK(hello.summary == "Tiny fixture package for the inventory tests");

  REQUIRE(c.sources.items.size() == 1);
  CHECK(c.sources.items[0].key == "rpm");
  CHECK(c.sources.items[0].Get("database") == "/var/lib/rpm/rpmdb.sqlite");
  CHECK(c.sources.items[0].Get("packages") == "2");
  CHECK(c.sources.notes.empty());
  // Opened immutable: nothing is written beside the database.
  CHECK_FALSE(fs::exists(kDir + "rpmroot/var/lib/rpm/rpmdb.sqlite-wal"));
  CHECK_FALSE(fs::exists(kDir + "rpmroot/var/lib/rpm/rpmdb.sqlite-shm"));
}

TEST_CASE("rpm: hostile headers and other formats give notes, not crashes", "[inventory][collect]") {
  Collected bad = CollectAt(kDir + "rpmroot_bad");
  REQUIRE(bad.packages.size() == 1);
  CHECK(bad.packages[0].name == "beacon-hello");
  REQUIRE(bad.sources.notes.size() == 3);
  CHECK(bad.sources.notes[0] ==
        "/var/lib/rpm/rpmdb.sqlite: package 2 skipped: rpm header: is 500 bytes, its preamble says 1936");
  CHECK(bad.sources.notes[1] ==
        "/var/lib/rpm/rpmdb.sqlite: package 3 skipped: rpm header: tag 1000 points outside the data store");
  CHECK(bad.sources.notes[2] ==
        "/var/lib/rpm/rpmdb.sqlite: package 4 skipped: rpm header: tag 1009 reaches outside the data store");
  CHECK(bad.sources.items[0].Get("packages") == "1");

  Collected text = CollectAt(kDir + "rpmroot_notsqlite");
  CHECK(text.packages.empty());
  REQUIRE(text.sources.items.size() == 1);
  CHECK(text.sources.items[0].Get("database") == "/usr/lib/sysimage/rpm/rpmdb.sqlite");
  REQUIRE(text.sources.notes.size() == 1);
  CHECK(text.sources.notes[0] == "/usr/lib/sysimage/rpm/rpmdb.sqlite: file is not a database");

  Collected bdb = CollectAt(kDir + "rpmroot_bdb");
  CHECK(bdb.packages.empty());
  REQUIRE(bdb.sources.notes.size() == 1);
  CHECK(bdb.sources.notes[0] ==
        "/var/lib/rpm/Packages: unsupported rpm database format (Berkeley DB); only rpmdb.sqlite is read");
}

TEST_CASE("ParseRpmHeader checks every count, offset and length it uses", "[inventory][collect]") {
  using inventory::ParseRpmHeader;
  const std::string data = std::string("name\0", 5) + "1.0" + std::string(1, '\0') + std::string("\0\0\0\x07", 4);
  // NAME at 0, VERSION at 5, EPOCH (INT32) at 9.
  auto good = ParseRpmHeader(Blob({{1000, 6, 0, 1}, {1001, 6, 5, 1}, {1003, 4, 9, 1}}, data));
  REQUIRE(good.ok());
  CHECK(good->name == "name");
  CHECK(good->version == "7:1.0");
  CHECK(good->source == "rpm");

  auto bad = [&](const std::vector<std::array<uint32_t, 4>>& entries, const std::string& d) {
    auto r = ParseRpmHeader(Blob(entries, d));
    CHECK(r.status().code() == common::Code::kInvalidArgument);
    return r.ok() ? std::string() : r.status().message();
  };
  CHECK(ParseRpmHeader("").status().code() == common::Code::kInvalidArgument);
  CHECK(ParseRpmHeader(std::string(7, '\0')).status().code() == common::Code::kInvalidArgument);
  CHECK(bad({}, "") == "rpm header: 0 index entries");
  // More entries than rpm allows, without the bytes to back them.
  CHECK(ParseRpmHeader(std::string("\x00\x01\x00\x00\x00\x00\x00\x00", 8)).status().message() ==
        "rpm header: 65536 index entries");
  CHECK(ParseRpmHeader(std::string("\x00\x00\x00\x01\x10\x00\x00\x00", 8)).status().message() ==
        "rpm header: 268435456 data bytes");
  // Lengths that disagree with the preamble, both ways.
  CHECK_FALSE(ParseRpmHeader(Blob({{1000, 6, 0, 1}}, data) + "x").ok());
  CHECK_FALSE(ParseRpmHeader(Blob({{1000, 6, 0, 1}}, data).substr(0, 20)).ok());
  CHECK(bad({{1000, 6, 13, 1}, {1001, 6, 5, 1}}, data) == "rpm header: tag 1000 points outside the data store");
  CHECK(bad({{1000, 6, 0xffffffff, 1}, {1001, 6, 5, 1}}, data) ==
        "rpm header: tag 1000 points outside the data store");
  CHECK(bad({{1000, 4, 0, 1}, {1001, 6, 5, 1}}, data) == "rpm header: tag 1000 has type 4, not a string");
  CHECK(bad({{1000, 6, 0, 2}, {1001, 6, 5, 1}}, data) == "rpm header: tag 1000 has count 2");
  CHECK(bad({{1000, 9, 0, 0xffffffff}, {1001, 6, 5, 1}}, data) ==
        "rpm header: tag 1000 count reaches outside the data store");
  // The last string runs to the end of the store without its NUL.
  CHECK(bad({{1000, 6, 0, 1}, {1001, 6, 5, 1}}, std::string("name\0" "1.0", 8)) ==
        "rpm header: tag 1001 string is not NUL-terminated");
  // INT32 at the very end, an INT64 one byte short, a count whose byte size
  // overflows 32 bits.
  CHECK(bad({{1000, 6, 0, 1}, {1001, 6, 5, 1}, {1003, 4, 10, 1}}, data) ==
        "rpm header: tag 1003 reaches outside the data store");
  CHECK(bad({{1000, 6, 0, 1}, {1001, 6, 5, 1}, {5009, 5, 9, 1}}, data) ==
        "rpm header: tag 5009 reaches outside the data store");
  CHECK(bad({{1000, 6, 0, 1}, {1001, 6, 5, 1}, {1009, 4, 9, 0x40000000}}, data) ==
        "rpm header: tag 1009 reaches outside the data store");
  CHECK(bad({{1000, 6, 0, 1}, {1001, 6, 5, 1}, {1009, 6, 0, 1}}, data) ==
        "rpm header: tag 1009 has type 6, not a number");
  CHECK(bad({{1001, 6, 5, 1}}, data) == "rpm header: no NAME");
  CHECK(bad({{1000, 6, 0, 1}}, data) == "rpm header: no VERSION");
  // Tags we do not read are not checked: a package is not lost to them.
  CHECK(ParseRpmHeader(Blob({{1000, 6, 0, 1}, {1001, 6, 5, 1}, {1005, 7, 0xffffffff, 0xffffffff}}, data)).ok());
}

TEST_CASE("snap: each mounted snap's snap.yaml", "[inventory][collect]") {
  Collected c = CollectAt(kDir + "snaproot");
  REQUIRE(c.packages.size() == 3);
  const Package& core = c.packages[0];
  CHECK(core.source == "snap");
  CHECK(core.name == "core22");
  CHECK(core.version == "20231123");
  CHECK(core.arch == "amd64");
  CHECK(core.section == "base");
  CHECK(core.summary == "Runtime environment based on Ubuntu 22.04");
  CHECK(core.size_bytes == 26);  // var/lib/snapd/snaps/core22_1033.snap
  CHECK(core.installed_at > 0);
  const Package& hello = c.packages[1];
  CHECK(hello.name == "hello-world");
  CHECK(hello.version == "6.4");  // not the commented-out one under apps:
  CHECK(hello.arch == "all");
  CHECK(hello.section == "app");
  CHECK(hello.summary == "The 'hello-world' of snaps");
  const Package& snapd = c.packages[2];
  CHECK(snapd.name == "snapd");
  CHECK(snapd.version == "2.61.1");  // the comment after it is not the version
  CHECK(snapd.section == "snapd");
  CHECK(snapd.arch == "amd64");
  REQUIRE(c.sources.items.size() == 1);
  CHECK(c.sources.items[0].key == "snap");
  CHECK(c.sources.items[0].Get("database") == "/snap");
  CHECK(c.sources.items[0].Get("packages") == "3");
  CHECK(c.sources.notes.empty());
}

TEST_CASE("snap: damaged snaps are skipped with a note each", "[inventory][collect]") {
  const std::string root = CopyOf("snaproot_bad");
  // Too large to commit: a snap.yaml over the 256 KiB cap.
  fs::create_directories(root + "/snap/huge/5/meta");
  fs::create_symlink("5", root + "/snap/huge/current");
  std::ofstream(root + "/snap/huge/5/meta/snap.yaml") << "name: huge\nversion: 1\nsummary: " << std::string(300000, 'x');
  Collected c = CollectAt(root);
  REQUIRE(c.packages.size() == 1);
  CHECK(c.packages[0].name == "hello-world");
  CHECK(c.sources.items[0].Get("packages") == "1");
  std::vector<std::string> want = {
      "/snap/broken/3/meta/snap.yaml: line 3 is not 'key: value'; snap broken skipped",
      "/snap/huge/5/meta/snap.yaml: larger than 262144 bytes; snap huge skipped",
      "/snap/noversion/7/meta/snap.yaml: no version; snap noversion skipped",
      "/snap/unmounted/12/meta/snap.yaml: No such file or directory; snap unmounted skipped",
  };
  CHECK(c.sources.notes == want);
  fs::remove_all(root);
}

TEST_CASE("flatpak: apps and runtimes of the system installation", "[inventory][collect]") {
  Collected c = CollectAt(kDir + "flatpakroot");
  REQUIRE(c.packages.size() == 3);
  const Package& platform = c.packages[0];
  CHECK(platform.source == "flatpak");
  CHECK(platform.name == "org.freedesktop.Platform");
  CHECK(platform.version == "23.08.12");
  CHECK(platform.arch == "x86_64");
  CHECK(platform.section == "runtime");
  CHECK(platform.summary == "Runtime platform for applications");
  CHECK(platform.maintainer == "freedesktop-sdk");
  CHECK(platform.installed_at > 0);
  const Package& calc = c.packages[1];
  CHECK(calc.name == "org.gnome.Calculator");
  CHECK(calc.version == "45.0.2");  // the newest release, listed first
  CHECK(calc.section == "app");
  CHECK(calc.summary == "Perform arithmetic, scientific or financial calculations");  // not the German one
  CHECK(calc.maintainer == "The GNOME Project");
  const Package& gnome = c.packages[2];
  CHECK(gnome.name == "org.gnome.Platform");
  CHECK(gnome.version == "45");  // no metainfo: the branch
  CHECK(gnome.summary.empty());
  REQUIRE(c.sources.items.size() == 1);
  CHECK(c.sources.items[0].Get("database") == "/var/lib/flatpak");
  CHECK(c.sources.items[0].Get("packages") == "3");
  CHECK(c.sources.notes.empty());
}

TEST_CASE("flatpak: damaged deployments give partial data and notes", "[inventory][collect]") {
  const std::string root = CopyOf("flatpakroot_bad");
  const std::string files = "/var/lib/flatpak/app/org.gnome.Calculator/x86_64/stable/active/files/share/metainfo/";
  // Too large to commit: a metainfo over the 1 MiB cap replaces the good one.
  fs::remove(root + files + "org.gnome.Calculator.metainfo.xml");
  std::ofstream(root + files + "org.gnome.Calculator.appdata.xml")
      << "<component><summary>" << std::string(2u << 20, 'x') << "</summary></component>";
  Collected c = CollectAt(root);
  REQUIRE(c.packages.size() == 2);
  CHECK(c.packages[0].name == "org.example.NotXml");
  CHECK(c.packages[0].version == "beta");
  CHECK(c.packages[1].name == "org.gnome.Calculator");
  CHECK(c.packages[1].version == "stable");
  CHECK(c.packages[1].summary.empty());
  std::vector<std::string> want = {
      "/var/lib/flatpak/app/org.example.NoName/x86_64/stable/active/metadata: no name in [Application]; "
      "org.example.NoName skipped",
      "/var/lib/flatpak/app/org.example.NotXml/x86_64/beta/active/files/share/metainfo/"
      "org.example.NotXml.metainfo.xml: not an AppStream document (No document element found)",
      "/var/lib/flatpak/app/org.gnome.Calculator/x86_64/stable/active/files/share/metainfo/"
      "org.gnome.Calculator.appdata.xml: larger than 1048576 bytes",
  };
  CHECK(c.sources.notes == want);
  fs::remove_all(root);
}

TEST_CASE("package_sources lists each database found, packages are sorted", "[inventory][collect]") {
  // A root with every source at once: the fixtures merged.
  std::string root = CopyOf("rpmroot");
  for (const char* other : {"snaproot", "flatpakroot"}) {
    fs::copy(kDir + other, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }
  fs::create_directories(root + "/var/lib/dpkg");
  std::ofstream(root + "/var/lib/dpkg/status")
      << "Package: zlib1g\nStatus: install ok installed\nInstalled-Size: 164\nMaintainer: Mark Brown\n"
         "Architecture: amd64\nMulti-Arch: same\nVersion: 1:1.2.13\nSection: libs\n"
         "Description: compression library - runtime\n zlib is a library.\n\n"
         "Package: adduser\nStatus: install ok installed\nVersion: 3.134\nArchitecture: all\n\n";
  fs::create_directories(root + "/var/lib/dpkg/info");
  std::ofstream(root + "/var/lib/dpkg/info/zlib1g:amd64.list") << "/.\n";
  Collected c = CollectAt(root);
  std::vector<std::string> got;
  for (const Package& p : c.packages) got.push_back(p.source + " " + p.name);
  std::vector<std::string> want = {"dpkg adduser",
                                   "dpkg zlib1g",
                                   "flatpak org.freedesktop.Platform",
                                   "flatpak org.gnome.Calculator",
                                   "flatpak org.gnome.Platform",
                                   "rpm beacon-epoch",
                                   "rpm beacon-hello",
                                   "snap core22",
                                   "snap hello-world",
                                   "snap snapd"};
  CHECK(got == want);
  CHECK(c.packages[0].installed_at == 0);  // no info/adduser.list
  CHECK(c.packages[1].installed_at > 0);   // info/zlib1g:amd64.list
  CHECK(c.packages[1].size_bytes == 164 * 1024);
  CHECK(c.packages[1].summary == "compression library - runtime");
  std::vector<std::string> keys;
  for (const auto& item : c.sources.items) keys.push_back(item.key + "=" + item.Get("packages"));
  CHECK(keys == std::vector<std::string>{"dpkg=2", "flatpak=3", "rpm=2", "snap=3"});
  fs::remove_all(root);

  // No database at all: an empty section, no notes.
  Collected none = CollectAt(kDir + "missing_os_release");
  CHECK(none.packages.empty());
  CHECK(none.sources.name == "package_sources");
}

// Every package dpkg-query knows, field for field. dpkg-query prints sizes in
// KiB as the status file has them.
TEST_CASE("dpkg details equal dpkg-query's for every package", "[inventory][collect][live]") {
  if (::access("/usr/bin/dpkg-query", X_OK) != 0) return;
  bool ok = false;
  std::vector<std::string> lines = Run(
      "/usr/bin/dpkg-query -W -f='${db:Status-Abbrev}\\t${Package}\\t${Architecture}\\t${Installed-Size}\\t${Section}"
      "\\t${Maintainer}\\t${binary:Summary}\\n'",
      &ok);
  REQUIRE(ok);
  std::map<std::string, std::string> want;
  for (const std::string& l : lines) {
    if (l.size() < 5 || l[1] == 'n' || l[1] == 'c') continue;  // not installed, config files only
    const std::string rest = l.substr(l.find('\t') + 1);
    const size_t tab1 = rest.find('\t');
    const size_t tab2 = rest.find('\t', tab1 + 1);
    want[rest.substr(0, tab2)] = rest.substr(tab2 + 1);
  }
  Collected c = CollectAt("/");
  std::map<std::string, std::string> got;
  size_t with_time = 0;
  for (const Package& p : c.packages) {
    if (p.source != "dpkg") continue;
    got[p.name + "\t" + p.arch] = (p.size_bytes == 0 ? std::string() : std::to_string(p.size_bytes / 1024)) + "\t" +
                                  p.section + "\t" + p.maintainer + "\t" + p.summary;
    if (p.installed_at > 0) ++with_time;
  }
  size_t equal = 0;
  for (const auto& [key, value] : want) {
    auto it = got.find(key);
    if (it != got.end() && it->second == value) ++equal;
  }
  WARN(equal << " of " << want.size() << " packages equal in size/section/maintainer/summary; " << with_time
             << " with an install time");
  CHECK(got == want);
  CHECK(with_time == got.size());  // every installed package has its .list file
}

TEST_CASE("rpm fixture reads as rpm itself reads it", "[inventory][collect][live]") {
  if (::access("/usr/bin/rpm", X_OK) != 0) {
    WARN("rpm is not installed: the rpm comparison is skipped (scripts/install-deps.sh installs it)");
    return;
  }
  // A copy: rpm creates a lock file beside the database.
  const std::string root = CopyOf("rpmroot");
  bool ok = false;
  std::vector<std::string> lines =
      Run("/usr/bin/rpm -qa --dbpath " + root + "/var/lib/rpm --qf '%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}"
          "\\t%{ARCH}\\t%{SIZE}\\t%{SUMMARY}\\n' 2>/dev/null | sort",
          &ok);
  REQUIRE(ok);
  Collected c = CollectAt(root);
  std::vector<std::string> got;
  for (const Package& p : c.packages) {
    const std::string evr = p.version.find(':') == std::string::npos ? "0:" + p.version : p.version;
    got.push_back(p.name + "\t" + evr + "\t" + p.arch + "\t" + std::to_string(p.size_bytes) + "\t" + p.summary);
  }
  CHECK(lines.size() == 2);
  CHECK(got == lines);
  fs::remove_all(root);
}

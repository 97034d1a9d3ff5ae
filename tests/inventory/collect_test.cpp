#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/sha256.h"
#include "inventory/collect.h"

namespace {

using common::Code;
using inventory::Collect;
using inventory::CollectOptions;
using inventory::Package;
using inventory::ParseDpkgStatus;

const std::string kDir = std::string(TEST_DATA_DIR) + "/inventory/";
const std::string kDevice = "0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6";

CollectOptions FixtureRoot(const std::string& name) {
  CollectOptions options;
  options.root = kDir + name;
  return options;
}

}  // namespace

TEST_CASE("Collect reads every part of a fixture root", "[inventory][collect]") {
  auto inv = Collect(kDevice, FixtureRoot("root"));
  REQUIRE(inv.ok());
  CHECK(inv->device_id == kDevice);
  CHECK(inv->collected_at.size() == 20);
  CHECK(inv->collected_at[10] == 'T');
  CHECK(inv->collected_at.back() == 'Z');

  CHECK(inv->os.name == "Debian GNU/Linux");
  CHECK(inv->os.id == "debian");
  CHECK(inv->os.version == "12 (bookworm)");
  CHECK(inv->os.version_id == "12");
  CHECK(inv->os.pretty_name == "Debian GNU/Linux 12 (bookworm)");
  CHECK(inv->os.kernel == "6.1.0-18-amd64");
  CHECK(inv->os.hostname == "web-01");
  // uname() describes the machine, not the fixture.
  CHECK(inv->os.arch.empty());

  const auto& hw = inv->hardware;
  CHECK(hw.vendor == "QEMU");
  CHECK(hw.model == "Standard PC (Q35 + ICH9, 2009)");
  CHECK(hw.serial == "SN-0042");
  CHECK(hw.cpu_model == "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz");
  CHECK(hw.cpu_cores == 2);
  CHECK(hw.memory_bytes == 4028892ull * 1024);

  REQUIRE(hw.disks.size() == 2);  // loop0 is skipped
  CHECK(hw.disks[0] == inventory::Disk{"sda", "Samsung SSD 870", 1953525168ull * 512});
  CHECK(hw.disks[1] == inventory::Disk{"vda", "QEMU HARDDISK", 41943040ull * 512});

  REQUIRE(hw.interfaces.size() == 2);  // lo is skipped
  CHECK(hw.interfaces[0].name == "eth0");
  CHECK(hw.interfaces[0].mac == "52:54:00:ab:cd:ef");
  CHECK(hw.interfaces[0].addresses.empty());
  CHECK_FALSE(hw.interfaces[0].is_virtual);
  // ifb0's device is under /sys/devices/virtual: kept, and marked virtual.
  CHECK(hw.interfaces[1].name == "ifb0");
  CHECK(hw.interfaces[1].mac == "5a:11:22:33:44:55");
  CHECK(hw.interfaces[1].is_virtual);

  std::vector<Package> want = {{.name = "adduser", .version = "3.134", .arch = "all", .summary = "add and remove users and groups"},
                               {.name = "libc6", .version = "2.36-9+deb12u4", .arch = "amd64", .summary = "GNU C Library: Shared libraries"},
                               {.name = "zlib1g", .version = "1:1.2.13.dfsg-1", .arch = "amd64"}};
  CHECK(inv->software == want);
}

TEST_CASE("Collect honours the hardware and software switches", "[inventory][collect]") {
  CollectOptions options = FixtureRoot("root");
  options.hardware = false;
  options.software = false;
  auto inv = Collect(kDevice, options);
  REQUIRE(inv.ok());
  CHECK(inv->os.name == "Debian GNU/Linux");
  CHECK(inv->hardware == inventory::Hardware{});
  CHECK(inv->software.empty());
}

TEST_CASE("Collect falls back to usr/lib/os-release and its defaults", "[inventory][collect]") {
  auto inv = Collect(kDevice, FixtureRoot("usr_lib_root"));
  REQUIRE(inv.ok());
  CHECK(inv->os.id == "alpine");
  CHECK(inv->os.version_id == "3.19.1");
  CHECK(inv->os.name == "Linux");
  CHECK(inv->os.pretty_name == "Linux");
  CHECK(inv->os.kernel.empty());
  CHECK(inv->hardware.cpu_cores == 0);
  CHECK(inv->hardware.disks.empty());
  CHECK(inv->software.empty());
}

TEST_CASE("Collect fails without an os-release", "[inventory][collect]") {
  auto inv = Collect(kDevice, FixtureRoot("missing_os_release"));
  REQUIRE_FALSE(inv.ok());
  CHECK(inv.status().code() == Code::kNotFound);
  CHECK_THAT(inv.status().message(), Catch::Contains("os-release"));
  CHECK_THAT(inv.status().message(), Catch::Contains("missing_os_release/etc/os-release"));

  auto none = Collect(kDevice, FixtureRoot("no_such_root"));
  REQUIRE_FALSE(none.ok());
}

TEST_CASE("ParseDpkgStatus keeps every package on the machine, in any installed state", "[inventory][collect]") {
  const std::string text =
      "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n"
      "Description: first\n more text\n .\n Package: fake\n\n"
      "package: b\nstatus: install ok installed\nversion: 2\r\n\r\n"
      "Package: c\nStatus: deinstall ok config-files\nVersion: 3\n\n\n\n"
      "Package: d\nStatus: install ok half-installed\nVersion: 4\n\n"
      "Status: install ok installed\nVersion: 5\n\n"
      "Package: h\nStatus: hold ok installed\nVersion: 7\n\n"
      "Package: e\nStatus: install ok installed\nVersion: 6\n\n"
      // Mid-upgrade states are still installed software (dpkg -l: iW, it,
      // iU, iF, iH); not-installed and config-files are not.
      "Package: w\nStatus: install ok triggers-awaited\nVersion: 8\n\n"
      "Package: t\nStatus: install ok triggers-pending\nVersion: 9\n\n"
      "Package: u\nStatus: install ok unpacked\nVersion: 10\n\n"
      "Package: f\nStatus: install ok half-configured\nVersion: 11\n\n"
      "Package: r\nStatus: install reinstreq half-installed\nVersion: 12\n\n"
      "Package: n\nStatus: purge ok not-installed\nVersion: 13\n\n"
      "Package: x\nStatus: installed\nVersion: 14\n";
  std::vector<Package> want = {{.name = "a", .version = "1", .arch = "amd64", .summary = "first"}, {.name = "b", .version = "2", .arch = ""},  {.name = "d", .version = "4", .arch = ""},
                               {.name = "h", .version = "7", .arch = ""},      {.name = "e", .version = "6", .arch = ""},  {.name = "w", .version = "8", .arch = ""},
                               {.name = "t", .version = "9", .arch = ""},      {.name = "u", .version = "10", .arch = ""}, {.name = "f", .version = "11", .arch = ""},
                               {.name = "r", .version = "12", .arch = ""}};
  CHECK(ParseDpkgStatus(text) == want);
  CHECK(ParseDpkgStatus("").empty());
  CHECK(ParseDpkgStatus("\n\n \n").empty());
}

TEST_CASE("Collect on the real machine is sane", "[inventory][collect][live]") {
  auto inv = Collect(kDevice, CollectOptions{});
  REQUIRE(inv.ok());
  CHECK_FALSE(inv->os.name.empty());
  CHECK_FALSE(inv->os.kernel.empty());
  CHECK_FALSE(inv->os.arch.empty());
  CHECK_FALSE(inv->os.hostname.empty());
  CHECK(inv->hardware.cpu_cores > 0);
  CHECK(inv->hardware.memory_bytes > 0);
  for (const auto& itf : inv->hardware.interfaces) CHECK(itf.name != "lo");
  if (::access("/var/lib/dpkg/status", R_OK) == 0) CHECK_FALSE(inv->software.empty());
}

// The packages dpkg itself counts as on the machine: every status but
// not-installed (n) and config-files (c), in dpkg-query's own words.
TEST_CASE("Collect lists exactly the packages dpkg-query lists", "[inventory][collect][live]") {
  if (::access("/usr/bin/dpkg-query", X_OK) != 0) return;
  FILE* p = ::popen("/usr/bin/dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version} ${Architecture}\\n'", "r");
  REQUIRE(p != nullptr);
  std::set<std::string> want;
  char line[4096];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    std::string l(line);
    if (!l.empty() && l.back() == '\n') l.pop_back();
    // "<3-letter abbreviation> <package> <version> <arch>"
    if (l.size() < 5 || l[1] == 'n' || l[1] == 'c') continue;
    want.insert(l.substr(4));
  }
  REQUIRE(::pclose(p) == 0);
  auto inv = Collect(kDevice, CollectOptions{});
  REQUIRE(inv.ok());
  std::set<std::string> got;
  for (const auto& pkg : inv->software) got.insert(pkg.name + " " + pkg.version + " " + pkg.arch);
  CHECK(got.size() == inv->software.size());  // no package listed twice
  CHECK(got == want);
}

TEST_CASE("CollectFiles follows the rules and nothing else", "[inventory][collect]") {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "collect_files.XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const std::string root = tmpl;
  auto write = [&](const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(root + path).parent_path());
    std::ofstream(root + path) << text;
  };
  write("/opt/app/lib/app.jar", "jar bytes");
  write("/opt/app/lib/readme.txt", "not evidence");
  write("/opt/cache/old.jar", "excluded");
  write("/opt/app/big.jar", std::string(2048, 'x'));
  write("/elsewhere/secret.jar", "outside every include");
  fs::create_symlink(root + "/elsewhere", root + "/opt/link");            // a folder link: not followed
  fs::create_symlink(root + "/elsewhere/secret.jar", root + "/opt/s.jar");  // a file link: not reported

  CollectOptions options;
  options.root = root;
  options.max_hash_bytes = 1024;
  options.file_rules = {{{"/opt", "C:\\Program Files"}, {"/opt/cache"}, {"*.jar"}}};
  auto files = inventory::CollectFiles(options);
  REQUIRE(files.size() == 2);
  CHECK(files[0].path == "/opt/app/big.jar");
  CHECK(files[0].size == 2048);
  CHECK(files[0].sha256.empty());  // over max_hash_bytes
  CHECK(files[1].path == "/opt/app/lib/app.jar");
  CHECK(files[1].size == 9);
  CHECK(files[1].sha256 == common::Sha256Hex("jar bytes"));
  CHECK(files[1].modified > 0);

  // Overlapping rules report a file once; the cap stops the walk.
  options.file_rules.push_back({{"/opt/app"}, {}, {"*"}});
  auto all = inventory::CollectFiles(options);
  CHECK(all.size() == 3);  // big.jar, app.jar, readme.txt
  options.max_files = 1;
  CHECK(inventory::CollectFiles(options).size() == 1);

  // An include that is, or passes through, a symbolic link is not walked;
  // ".." is resolved before the pseudo file systems are recognised.
  options.max_files = 100;
  options.file_rules = {{{"/opt/link"}, {}, {"*"}}, {{"/opt/app/../../elsewhere"}, {}, {"*.txt"}}};
  CHECK(inventory::CollectFiles(options).empty());
  options.file_rules = {{{"/opt/app/../app/lib/"}, {}, {"*.jar"}}};
  REQUIRE(inventory::CollectFiles(options).size() == 1);
  CHECK(inventory::CollectFiles(options)[0].path == "/opt/app/lib/app.jar");

  // Collect() includes them only when there are rules.
  options.max_files = 100;
  options.hardware = options.software = false;
  CHECK(inventory::CollectFiles(CollectOptions{}).empty());
  fs::remove_all(root);
}

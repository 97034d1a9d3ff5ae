// The system collectors (inventory/src/collect_sys*.cpp) against the fixture
// trees tests/data/inventory/{root,rhel,sys_broken}/ and generated utmp files.
// The live comparisons against the OS's own tools are in
// collect_sys_live_test.cpp.
#include <sys/stat.h>
#include <unistd.h>
#include <utmp.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
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
using testsupport::HasNote;
using testsupport::TempRoot;

const std::string kDir = std::string(TEST_DATA_DIR) + "/inventory/";

std::vector<Section> Fixture(const std::string& name) {
  return inventory::CollectSections(kDir + name);
}

std::vector<std::string> Keys(const Section& s) {
  std::vector<std::string> keys;
  for (const Item& i : s.items) keys.push_back(i.key);
  return keys;
}

int64_t MTime(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mtim.tv_sec;
}

void SetMTime(const std::string& path, int64_t t) {
  std::filesystem::last_write_time(
      path, std::chrono::file_clock::from_sys(std::chrono::sys_seconds(std::chrono::seconds(t))));
}

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

TEST_CASE("system section of a Debian fixture", "[collect][sys]") {
  auto all = Fixture("root");
  const Section& s = FindSection(all, "system");
  REQUIRE(s.items.size() == 1);
  const Item& i = s.items[0];
  CHECK(i.key == "system");
  CHECK(i.Get("codename") == "bookworm");
  CHECK(i.Get("point_release") == "12.5");
  CHECK(i.Get("boot_time") == "2024-06-01T10:00:00Z");
  CHECK(i.Get("timezone") == "Europe/Paris");
  CHECK(i.Get("fqdn") == "web-01.corp.example.com");
  CHECK(i.Get("domain") == "corp.example.com");
  CHECK(i.Get("machine_id") == "4c4c4544004d3510804ab4c04f4e4d32");
  CHECK(i.Get("kernel_version") == "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)");
  // Checkout times: the older of the two candidates wins.
  int64_t installer = MTime(kDir + "root/var/log/installer");
  int64_t machine_id = MTime(kDir + "root/etc/machine-id");
  CHECK(i.Get("install_date_source") ==
        (installer <= machine_id ? "/var/log/installer" : "/etc/machine-id"));
  CHECK(!i.Get("install_date").empty());
  CHECK(s.notes.empty());
}

TEST_CASE("install_date is the oldest plausible candidate", "[collect][sys]") {
  TempRoot root;
  root.Write("etc/os-release", "ID=debian\n");
  root.Write("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
  std::filesystem::create_directories(root.path + "/var/log/installer");
  SetMTime(root.path + "/var/log/installer", 1577836800);  // 2020-01-01
  SetMTime(root.path + "/etc/machine-id", 1609459200);     // 2021-01-01
  const Item a = FindSection(inventory::CollectSections(root.path), "system").items.at(0);
  CHECK(a.Get("install_date") == "2020-01-01T00:00:00Z");
  CHECK(a.Get("install_date_source") == "/var/log/installer");
  // An unset clock at installation (1980) is not a date.
  SetMTime(root.path + "/var/log/installer", 315532800);
  const Item b = FindSection(inventory::CollectSections(root.path), "system").items.at(0);
  CHECK(b.Get("install_date") == "2021-01-01T00:00:00Z");
  CHECK(b.Get("install_date_source") == "/etc/machine-id");
}

TEST_CASE("system section of a Rocky fixture", "[collect][sys]") {
  auto all = Fixture("rhel");
  const Item i = FindSection(all, "system").items.at(0);
  CHECK(i.Get("codename").empty());
  CHECK(i.Get("point_release") == "9.3");
  CHECK(i.Get("timezone") == "America/New_York");  // from the /etc/localtime link
  CHECK(i.Get("fqdn") == "db01.lab.example.net");
  CHECK(i.Get("domain") == "lab.example.net");
}

TEST_CASE("network section reads /sys/class/net", "[collect][sys]") {
  auto all = Fixture("root");
  const Section& s = FindSection(all, "network");
  CHECK(Keys(s) == std::vector<std::string>{"eth0", "ifb0", "lo"});
  const Item* eth0 = s.Find("eth0");
  REQUIRE(eth0 != nullptr);
  CHECK(eth0->fields == std::vector<inventory::Field>{{"mac", "52:54:00:ab:cd:ef"},
                                                      {"mtu", "1500"},
                                                      {"speed_mbps", "1000"},
                                                      {"duplex", "full"},
                                                      {"state", "up"},
                                                      {"driver", "virtio_net"},
                                                      {"type", "ether"},
                                                      {"virtual", "false"}});
  const Item* ifb0 = s.Find("ifb0");
  CHECK(ifb0->Get("virtual") == "true");
  CHECK(ifb0->Get("state") == "down");
  CHECK(ifb0->Get("speed_mbps").empty());
  const Item* lo = s.Find("lo");
  CHECK(lo->Get("type") == "loopback");
  CHECK(lo->Get("mac").empty());   // all zeros
  CHECK(lo->Get("ipv4").empty());  // addresses only when live
}

TEST_CASE("routes section lists default gateways", "[collect][sys]") {
  auto all = Fixture("root");
  const Section& s = FindSection(all, "routes");
  // eth3's default is unreachable (RTF_REJECT), lo's IPv6 one is the kernel's catch-all.
  CHECK(Keys(s) == std::vector<std::string>{"ipv4 default dev ppp0",
                                            "ipv4 default via 10.0.0.1 dev eth0",
                                            "ipv6 default via fe80::1 dev eth0"});
  CHECK(s.Find("ipv4 default dev ppp0")->Get("gateway").empty());
  CHECK(s.Find("ipv4 default dev ppp0")->Get("metric") == "50");
  const Item* v4 = s.Find("ipv4 default via 10.0.0.1 dev eth0");
  CHECK(v4->Get("family") == "ipv4");
  CHECK(v4->Get("gateway") == "10.0.0.1");
  CHECK(v4->Get("interface") == "eth0");
  CHECK(v4->Get("metric") == "100");
  CHECK(s.Find("ipv6 default via fe80::1 dev eth0")->Get("metric") == "1024");
  CHECK(s.notes.empty());
}

TEST_CASE("routes: bad lines become notes", "[collect][sys]") {
  auto all = Fixture("sys_broken");
  const Section& s = FindSection(all, "routes");
  CHECK(Keys(s) == std::vector<std::string>{"ipv4 default via 192.168.1.1 dev eth1"});
  CHECK(HasNote(s, "/proc/net/route:2: not a route line"));
  CHECK(HasNote(s, "/proc/net/route:3: not a route line"));
  CHECK(HasNote(s, "/proc/net/route:6: bad metric"));
  CHECK(HasNote(s, "/proc/net/ipv6_route:1: not a route line"));
  CHECK(HasNote(s, "/proc/net/ipv6_route:2: not a route line"));
}

TEST_CASE("dns follows systemd-resolved's stub to its upstream file", "[collect][sys]") {
  auto all = Fixture("root");
  const Section& s = FindSection(all, "dns");
  CHECK(Keys(s) == std::vector<std::string>{"10.0.0.2", "127.0.0.53", "2001:db8::53", "search"});
  CHECK(s.Find("127.0.0.53")->Get("order") == "1");
  CHECK(s.Find("127.0.0.53")->Get("source") == "/etc/resolv.conf");
  CHECK(s.Find("10.0.0.2")->Get("order") == "2");
  CHECK(s.Find("10.0.0.2")->Get("source") == "/run/systemd/resolve/resolv.conf");
  CHECK(s.Find("2001:db8::53")->Get("order") == "3");
  CHECK(s.Find("search")->Get("domains") == "corp.example.com,example.com");

  const Section& rhel = FindSection(Fixture("rhel"), "dns");
  CHECK(Keys(rhel) == std::vector<std::string>{"192.168.122.1", "search"});
  CHECK(rhel.Find("search")->Get("domains") == "lab.example.net");  // "domain" directive

  const Section& broken = FindSection(Fixture("sys_broken"), "dns");
  CHECK(Keys(broken) == std::vector<std::string>{"10.1.1.1"});
}

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

TEST_CASE("firewall frameworks of the fixtures", "[collect][sys]") {
  const Section& deb = FindSection(Fixture("root"), "firewall");
  CHECK(Keys(deb) == std::vector<std::string>{"nftables", "ufw"});  // empty ip_tables_names
  CHECK(deb.Find("nftables")->Get("status") == "enabled");
  CHECK(deb.Find("nftables")->Get("evidence") ==
        "nftables.service enabled (/etc/systemd/system/sysinit.target.wants/nftables.service); "
        "/etc/nftables.conf present");
  CHECK(deb.Find("ufw")->Get("status") == "disabled");
  CHECK(deb.Find("ufw")->Get("evidence") == "/etc/ufw/ufw.conf ENABLED=no");

  const Section& rhel = FindSection(Fixture("rhel"), "firewall");
  CHECK(Keys(rhel) == std::vector<std::string>{"firewalld", "nftables"});
  CHECK(rhel.Find("firewalld")->Get("status") == "enabled");
  CHECK(rhel.Find("nftables")->Get("status") == "disabled");
  CHECK(rhel.Find("nftables")->Get("evidence").find("masked") != std::string::npos);

  const Section& broken = FindSection(Fixture("sys_broken"), "firewall");
  CHECK(broken.Find("ufw")->Get("status") == "unknown");
}

TEST_CASE("APT repositories in both forms", "[collect][sys]") {
  const Section& s = FindSection(Fixture("root"), "repositories");
  CHECK(Keys(s) == std::vector<std::string>{
                       "deb http://deb.debian.org/debian bookworm",
                       "deb http://deb.debian.org/debian bookworm-backports",
                       "deb http://deb.debian.org/debian bookworm-updates",
                       "deb http://ftp.example.org/flat ./",
                       "deb http://security.debian.org/debian-security bookworm-security",
                       "deb https://download.docker.com/linux/debian bookworm",
                       "deb-src http://deb.debian.org/debian bookworm",
                       "deb-src http://security.debian.org/debian-security bookworm-security"});
  const Item* main = s.Find("deb http://deb.debian.org/debian bookworm");
  CHECK(main->fields ==
        std::vector<inventory::Field>{{"type", "deb"},
                                      {"uri", "http://deb.debian.org/debian"},
                                      {"suite", "bookworm"},
                                      {"components", "main,contrib,non-free-firmware"},
                                      {"file", "/etc/apt/sources.list"},
                                      {"enabled", "true"}});
  const Item* docker = s.Find("deb https://download.docker.com/linux/debian bookworm");
  CHECK(docker->Get("signed_by") == "/etc/apt/keyrings/docker.gpg");
  CHECK(docker->Get("components") == "stable");
  const Item* updates = s.Find("deb http://deb.debian.org/debian bookworm-updates");
  CHECK(updates->Get("file") == "/etc/apt/sources.list.d/debian.sources");
  CHECK(updates->Get("signed_by") == "/usr/share/keyrings/debian-archive-keyring.gpg");
  const Item* flat = s.Find("deb http://ftp.example.org/flat ./");
  CHECK(flat->Get("enabled") == "false");
  CHECK(flat->Get("signed_by") == "embedded key");
  CHECK(flat->Get("components").empty());
  CHECK(s.notes.empty());
}

TEST_CASE("yum and zypper repositories", "[collect][sys]") {
  const Section& s = FindSection(Fixture("rhel"), "repositories");
  CHECK(
      Keys(s) ==
      std::vector<std::string>{
          "yum http://dl.rockylinux.org/$contentdir/$releasever/AppStream/$basearch/os/ appstream",
          "yum "
          "https://mirrors.fedoraproject.org/"
          "metalink?repo=epel-9&arch=$basearch&infra=$infra&content=$contentdir epel",
          "yum "
          "https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever$rltype "
          "baseos",
          "yum "
          "https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=Devel-$releasever$rltype "
          "devel",
          "zypp http://download.opensuse.org/distribution/leap/15.5/repo/oss/ repo-oss"});
  const Item* base = &s.items[2];
  CHECK(base->Get("name") == "Rocky Linux $releasever - BaseOS");
  CHECK(base->Get("enabled") == "true");
  CHECK(base->Get("gpgcheck") == "true");
  CHECK(base->Get("signed_by") == "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9");
  CHECK(base->Get("file") == "/etc/yum.repos.d/rocky.repo");
  CHECK(s.items[3].Get("enabled") == "false");
  CHECK(s.items[4].Get("gpgcheck").empty());
  CHECK(s.notes.empty());
}

TEST_CASE("repositories: broken lines and stanzas become notes", "[collect][sys]") {
  const Section& s = FindSection(Fixture("sys_broken"), "repositories");
  CHECK(Keys(s) == std::vector<std::string>{"deb http://good.example/debian bookworm",
                                            "deb http://ok.example/debian bookworm",
                                            "yum http://ok.example/el9/ ok"});
  CHECK(s.Find("yum http://ok.example/el9/ ok")->Get("enabled") == "true");
  for (int line : {1, 2, 3}) {
    CHECK(HasNote(s, "/etc/apt/sources.list:" + std::to_string(line) + ": not 'deb|deb-src"));
  }
  CHECK(HasNote(
      s, "/etc/apt/sources.list:5: 'deb http://ok.example/debian bookworm' configured again"));
  CHECK(HasNote(
      s, "/etc/apt/sources.list.d/broken.sources:1-3: stanza without Types, URIs or Suites"));
  CHECK(HasNote(s, "/etc/apt/sources.list.d/broken.sources:5: not 'Field: value'"));
  CHECK(HasNote(s, "/etc/yum.repos.d/broken.repo:1: not 'key=value'"));
  CHECK(HasNote(s, "/etc/yum.repos.d/broken.repo:2: [nourl] has no baseurl"));
}

TEST_CASE("system: broken inputs give partial data and notes", "[collect][sys]") {
  auto all = Fixture("sys_broken");
  const Section& s = FindSection(all, "system");
  CHECK(s.items.at(0).Get("machine_id").empty());
  CHECK(s.items.at(0).Get("boot_time").empty());
  CHECK(HasNote(s, "/etc/machine-id: not 32 lower-case hex digits"));
  CHECK(HasNote(s, "/proc/stat: btime 'notanumber' is not unix seconds"));
  // Every section is there, whatever is missing.
  for (const char* name : {"system", "network", "routes", "dns", "users", "groups", "logins",
                           "firewall", "repositories"}) {
    CHECK_NOTHROW(FindSection(all, name));
  }
}

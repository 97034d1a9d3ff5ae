// The system collectors (inventory/src/collect_sys.cpp, collect_sys_net.cpp,
// collect_sys_fw.cpp) against the fixture trees
// tests/data/inventory/{root,rhel,sys_broken}/. Users, logins and repositories
// have their own test files; the live comparisons with the OS's own tools are
// in collect_sys_live_test.cpp.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

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

const std::string fixture_dir = std::string(TEST_DATA_DIR) + "/inventory/";

int64_t MTime(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mtim.tv_sec;
}

void SetMTime(const std::string& path, int64_t t) {
  std::filesystem::last_write_time(
      path, std::chrono::file_clock::from_sys(std::chrono::sys_seconds(std::chrono::seconds(t))));
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
  int64_t installer = MTime(fixture_dir + "root/var/log/installer");
  int64_t machine_id = MTime(fixture_dir + "root/etc/machine-id");
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
  CHECK(Keys(rhel) == std::vector<std::string>{"firewalld", "iptables", "nftables"});
  CHECK(rhel.Find("iptables")->Get("status") == "enabled");
  CHECK(rhel.Find("iptables")->Get("evidence") ==
        "legacy tables loaded: filter,nat; saved rules present (/etc/iptables/rules.v4 or "
        "/etc/sysconfig/iptables)");
  CHECK(rhel.Find("firewalld")->Get("status") == "enabled");
  CHECK(rhel.Find("nftables")->Get("status") == "disabled");
  CHECK(rhel.Find("nftables")->Get("evidence").find("masked") != std::string::npos);

  const Section& broken = FindSection(Fixture("sys_broken"), "firewall");
  CHECK(broken.Find("ufw")->Get("status") == "unknown");
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

TEST_CASE("network: odd sysfs values are left out", "[collect][sys]") {
  const Section s = FindSection(Fixture("sys_broken"), "network");
  CHECK(Keys(s) == std::vector<std::string>{"eth9"});  // bonding_masters is a file
  const Item& eth9 = s.items.at(0);
  CHECK(eth9.Get("mtu").empty());         // not a number
  CHECK(eth9.Get("speed_mbps").empty());  // -1: unknown
  CHECK(eth9.Get("duplex").empty());
  CHECK(eth9.Get("state") == "up");
  CHECK(eth9.Get("type") == "9999");  // an ARPHRD number without a name
  CHECK(eth9.Get("mac").empty());     // not hex
  CHECK(s.notes.empty());
}

// The system collectors on this machine (root "/"), compared value by value
// with what the OS's own tools report: ip(8), getent(1), who(1), apt-get(8).
// A tool that is missing skips its comparison (with a WARN); a tool that runs
// and disagrees fails the test.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "collect_sys.h"
#include "inventory/sections.h"
#include "inventory/sys_test_util.h"

namespace {

using inventory::Item;
using inventory::Section;
using testsupport::FindSection;
using testsupport::Output;
using testsupport::Run;

std::vector<std::string> SplitOn(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!s.empty() && s.back() == sep) parts.push_back("");
  return parts;
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> lines;
  for (const std::string& l : SplitOn(s, '\n')) {
    if (!l.empty()) lines.push_back(l);
  }
  return lines;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string StripSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

const std::vector<Section>& Live() {
  static const std::vector<Section> sections = inventory::CollectSections("/");
  return sections;
}

}  // namespace

TEST_CASE("live network matches ip -j link and ip -j addr", "[collect][sys][live]") {
  Output link = Run("ip -j link");
  Output addr = Run("ip -j addr");
  if (!link.ok || !addr.ok) {
    WARN("ip(8) not usable here: comparison skipped");
    return;
  }
  Section net = FindSection(Live(), "network");
  nlohmann::json links = nlohmann::json::parse(link.text);
  CHECK(net.items.size() == links.size());
  for (const auto& l : links) {
    std::string name = l.at("ifname");
    INFO("interface " << name);
    const Item* item = net.Find(name);
    REQUIRE(item != nullptr);
    CHECK(item->Get("mtu") == std::to_string(l.at("mtu").get<int64_t>()));
    CHECK(item->Get("state") == Lower(l.at("operstate")));
    std::string mac = l.value("address", "");
    if (mac.find_first_not_of("0:") == std::string::npos) mac.clear();
    CHECK(item->Get("mac") == mac);
    CHECK(item->Get("type") == l.value("link_type", ""));
  }
  for (const auto& a : nlohmann::json::parse(addr.text)) {
    std::string name = a.at("ifname");
    INFO("interface " << name);
    std::multiset<std::string> v4;
    std::multiset<std::string> v6;
    for (const auto& info : a.at("addr_info")) {
      std::string text = info.at("local").get<std::string>() + "/" +
                         std::to_string(info.at("prefixlen").get<int>());
      (info.at("family") == "inet6" ? v6 : v4).insert(text);
    }
    const Item* item = net.Find(name);
    REQUIRE(item != nullptr);
    auto ours = [&](const char* field) {
      std::multiset<std::string> set;
      if (!item->Get(field).empty()) {
        for (const std::string& s : SplitOn(item->Get(field), ',')) set.insert(s);
      }
      return set;
    };
    CHECK(ours("ipv4") == v4);
    CHECK(ours("ipv6") == v6);
  }
}

TEST_CASE("live default routes match ip route show default", "[collect][sys][live]") {
  Section routes = FindSection(Live(), "routes");
  size_t theirs = 0;
  for (const char* family : {"ipv4", "ipv6"}) {
    Output out =
        Run(std::string("ip ") + (family[3] == '6' ? "-6 " : "") + "-j route show default");
    if (!out.ok) {
      WARN("ip(8) not usable here: comparison skipped");
      return;
    }
    for (const auto& r : nlohmann::json::parse(out.text)) {
      // Unreachable and blackhole defaults carry no device; we leave them out too.
      if (!r.contains("dev")) continue;
      ++theirs;
      std::string gw = r.value("gateway", "");
      std::string key = std::string(family) + " default" + (gw.empty() ? "" : " via " + gw) +
                        " dev " + r.at("dev").get<std::string>();
      INFO(key);
      const Item* item = routes.Find(key);
      REQUIRE(item != nullptr);
      CHECK(item->Get("gateway") == gw);
      CHECK(item->Get("metric") == std::to_string(r.value("metric", 0)));
    }
  }
  CHECK(routes.items.size() == theirs);
}

TEST_CASE("live users and groups match getent", "[collect][sys][live]") {
  Output passwd = Run("getent passwd");
  Output group = Run("getent group");
  if (!passwd.ok || !group.ok) {
    WARN("getent not usable here: comparison skipped");
    return;
  }
  Section users = FindSection(Live(), "users");
  size_t n = 0;
  for (const std::string& line : SplitLines(passwd.text)) {
    std::vector<std::string> f = SplitOn(line, ':');
    REQUIRE(f.size() == 7);
    INFO(line);
    const Item* item = users.Find(f[0]);
    REQUIRE(item != nullptr);
    CHECK(item->Get("uid") == f[2]);
    CHECK(item->Get("gid") == f[3]);
    CHECK(item->Get("home") == f[5]);
    CHECK(item->Get("shell") == f[6]);
    CHECK(item->Get("gecos") == f[4]);
    ++n;
  }
  CHECK(users.items.size() == n);

  Section groups = FindSection(Live(), "groups");
  n = 0;
  for (const std::string& line : SplitLines(group.text)) {
    std::vector<std::string> f = SplitOn(line, ':');
    REQUIRE(f.size() == 4);
    INFO(line);
    const Item* item = groups.Find(f[0]);
    REQUIRE(item != nullptr);
    CHECK(item->Get("gid") == f[2]);
    CHECK(item->Get("members") == f[3]);
    ++n;
  }
  CHECK(groups.items.size() == n);
}

TEST_CASE("live logins match who", "[collect][sys][live]") {
  Output who = Run("who");
  if (!who.ok) {
    WARN("who not usable here: comparison skipped");
    return;
  }
  std::set<std::pair<std::string, std::string>> theirs;
  for (const std::string& line : SplitLines(who.text)) {
    std::istringstream in(line);
    std::string user, tty;
    in >> user >> tty;
    theirs.emplace(tty, user);
  }
  std::set<std::pair<std::string, std::string>> ours;
  for (const Item& i : FindSection(Live(), "logins").items) ours.emplace(i.key, i.Get("user"));
  CHECK(ours == theirs);
}

TEST_CASE("live APT repositories match apt-get indextargets", "[collect][sys][live]") {
  Output out = Run("apt-get indextargets --format '$(TARGET_OF) $(REPO_URI) $(RELEASE)'");
  if (!out.ok) {
    WARN("apt-get not usable here: comparison skipped");
    return;
  }
  std::set<std::string> theirs;
  for (const std::string& line : SplitLines(out.text)) {
    std::istringstream in(line);
    std::string type, uri, suite;
    in >> type >> uri >> suite;
    theirs.insert(type + " " + StripSlash(uri) + " " + suite);
  }
  std::set<std::string> ours;
  for (const Item& i : FindSection(Live(), "repositories").items) {
    if ((i.Get("type") == "deb" || i.Get("type") == "deb-src") && i.Get("enabled") == "true") {
      ours.insert(i.Get("type") + " " + StripSlash(i.Get("uri")) + " " + i.Get("suite"));
    }
  }
  CHECK(ours == theirs);
}

TEST_CASE("live system values match the OS", "[collect][sys][live]") {
  Item system = FindSection(Live(), "system").items.at(0);
  Output tz = Run("cat /etc/timezone");
  if (tz.ok) CHECK(system.Get("timezone") == SplitLines(tz.text).at(0));
  Output td = Run("timedatectl show --property=Timezone --value");
  if (td.ok) {
    CHECK(system.Get("timezone") == SplitLines(td.text).at(0));
  } else {
    WARN("timedatectl not usable here (no systemd as PID 1)");
  }
  Output uname = Run("uname -v");
  REQUIRE(uname.ok);
  CHECK(system.Get("kernel_version") == SplitLines(uname.text).at(0));
  Output id = Run("cat /etc/machine-id");
  if (id.ok) CHECK(system.Get("machine_id") == SplitLines(id.text).at(0));
  CHECK(!system.Get("boot_time").empty());
  CHECK(!system.Get("install_date").empty());
}

TEST_CASE("live nftables rule count matches nft", "[collect][sys][live]") {
  std::string error;
  std::optional<uint64_t> rules = inventory::NftRuleCount(&error);
  if (::geteuid() != 0) {
    // Without CAP_NET_ADMIN the kernel refuses the dump; the collector notes it.
    CHECK(!rules);
    CHECK(!error.empty());
    return;
  }
  INFO(error);
  REQUIRE(rules);
  Output nft = Run("nft -j list ruleset");
  if (!nft.ok) {
    WARN("nft not installed: the count (" << *rules << ") is not compared");
    return;
  }
  uint64_t theirs = 0;
  for (const auto& entry : nlohmann::json::parse(nft.text).at("nftables")) {
    if (entry.contains("rule")) ++theirs;
  }
  CHECK(*rules == theirs);
  Section firewall = FindSection(Live(), "firewall");
  if (const Item* item = firewall.Find("nftables"))
    CHECK(item->Get("rules") == std::to_string(theirs));
}

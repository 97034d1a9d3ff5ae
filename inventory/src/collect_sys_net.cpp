// The "network", "routes" and "dns" sections (collect_sys.h): interfaces
// from /sys/class/net, default routes from /proc/net/{route,ipv6_route},
// resolvers from /etc/resolv.conf. No name is ever resolved.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "collect_sys.h"
#include "collectors.h"

namespace inventory {
namespace {

// route(8) flags (linux/route.h, ipv6_route.h), as the /proc files print them.
constexpr uint32_t kRouteUp = 0x0001;
constexpr uint32_t kRouteReject = 0x0200;

// The ARPHRD_* numbers of linux/if_arp.h that a machine shows in practice,
// by the names `ip link` gives them.
std::string LinkType(const std::string& number) {
  static const std::map<std::string, std::string> names = {
      {"1", "ether"},       {"24", "ieee1394"},
      {"32", "infiniband"}, {"256", "slip"},
      {"512", "ppp"},       {"519", "rawip"},
      {"768", "ipip"},      {"769", "tunnel6"},
      {"776", "sit"},       {"778", "gre"},
      {"772", "loopback"},  {"280", "can"},
      {"801", "ieee80211"}, {"803", "ieee80211_radiotap"},
      {"823", "ip6gre"},    {"65534", "none"},
      {"65535", "void"}};
  auto it = names.find(number);
  return it != names.end() ? it->second : number;
}

bool IsHex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

uint32_t HexU32(std::string_view s) {
  return static_cast<uint32_t>(std::stoul(std::string(s), nullptr, 16));
}

// A default route as the routes section reports it; the key names the
// family, gateway and interface, which identify it across inventories.
void AddRoute(const char* family, const std::string& gateway, const std::string& dev,
              uint32_t metric, Section* section) {
  Item item;
  item.key =
      std::string(family) + " default" + (gateway.empty() ? "" : " via " + gateway) + " dev " + dev;
  for (const Item& seen : section->items) {
    if (seen.key == item.key) return;  // the kernel lists the first match first
  }
  item.Add("family", family);
  item.Add("gateway", gateway);
  item.Add("interface", dev);
  item.Add("metric", std::to_string(metric));
  section->items.push_back(std::move(item));
}

// /proc/net/route: a header, then "Iface Destination Gateway Flags RefCnt Use
// Metric Mask MTU Window IRTT"; addresses are 8 hex digits of the kernel's
// in-memory (network order) word printed as a host integer, so on the
// little-endian machines we run on (and in fixtures) 0100A8C0 is 192.168.0.1.
void ParseIpv4Routes(const std::string& text, Section* section) {
  std::vector<std::string_view> lines = Lines(text);
  for (size_t n = 1; n < lines.size(); ++n) {
    std::vector<std::string_view> f = Words(lines[n]);
    if (f.empty()) continue;
    if (f.size() < 8 || !IsHex(f[1]) || !IsHex(f[2]) || !IsHex(f[3]) || !IsHex(f[7]) ||
        f[1].size() > 8 || f[2].size() > 8 || f[3].size() > 8 || f[7].size() > 8) {
      section->notes.push_back("/proc/net/route:" + std::to_string(n + 1) +
                               ": not a route line, skipped");
      continue;
    }
    uint64_t metric = 0;
    if (!ParseU64(f[6], &metric) || metric > UINT32_MAX) {
      section->notes.push_back("/proc/net/route:" + std::to_string(n + 1) + ": bad metric");
      continue;
    }
    uint32_t flags = HexU32(f[3]);
    if (HexU32(f[1]) != 0 || HexU32(f[7]) != 0 || (flags & kRouteUp) == 0 ||
        (flags & kRouteReject) != 0) {
      continue;  // not a default route, or an unreachable one
    }
    uint32_t gw = HexU32(f[2]);
    std::string gateway;
    if (gw != 0) {
      gateway = std::to_string(gw & 0xff) + "." + std::to_string((gw >> 8) & 0xff) + "." +
                std::to_string((gw >> 16) & 0xff) + "." + std::to_string(gw >> 24);
    }
    AddRoute("ipv4", gateway, std::string(f[0]), static_cast<uint32_t>(metric), section);
  }
}

// /proc/net/ipv6_route: "dest plen src plen nexthop metric refcnt use flags
// dev", addresses as 32 hex digits in network order, numbers in hex. The
// kernel's unreachable catch-all (flags without RTF_UP, or with RTF_REJECT)
// is not a default route.
void ParseIpv6Routes(const std::string& text, Section* section) {
  std::vector<std::string_view> lines = Lines(text);
  for (size_t n = 0; n < lines.size(); ++n) {
    std::vector<std::string_view> f = Words(lines[n]);
    if (f.empty()) continue;
    if (f.size() < 10 || f[0].size() != 32 || f[4].size() != 32 || !IsHex(f[0]) || !IsHex(f[1]) ||
        !IsHex(f[4]) || !IsHex(f[5]) || !IsHex(f[8]) || f[1].size() > 2 || f[5].size() > 8 ||
        f[8].size() > 8) {
      section->notes.push_back("/proc/net/ipv6_route:" + std::to_string(n + 1) +
                               ": not a route line, skipped");
      continue;
    }
    uint32_t flags = HexU32(f[8]);
    if (HexU32(f[1]) != 0 || (flags & kRouteUp) == 0 || (flags & kRouteReject) != 0) continue;
    in6_addr addr{};
    for (size_t i = 0; i < 16; ++i) {
      addr.s6_addr[i] =
          static_cast<uint8_t>(std::stoul(std::string(f[4].substr(2 * i, 2)), nullptr, 16));
    }
    std::string gateway;
    if (!IN6_IS_ADDR_UNSPECIFIED(&addr)) {
      char buf[INET6_ADDRSTRLEN] = {};
      if (::inet_ntop(AF_INET6, &addr, buf, sizeof buf) != nullptr) gateway = buf;
    }
    AddRoute("ipv6", gateway, std::string(f[9]), HexU32(f[5]), section);
  }
}

// resolv.conf(5): "nameserver ADDR" lines in order; "search" and "domain"
// replace each other, the last one wins.
struct Resolv {
  std::vector<std::string> nameservers;
  std::vector<std::string> search;
};

Resolv ParseResolv(const std::string& text) {
  Resolv r;
  for (std::string_view line : Lines(text)) {
    std::vector<std::string_view> w = Words(line);
    if (w.empty() || w[0][0] == '#' || w[0][0] == ';') continue;
    if (w[0] == "nameserver" && w.size() >= 2) {
      r.nameservers.emplace_back(w[1]);
    } else if ((w[0] == "search" || w[0] == "domain") && w.size() >= 2) {
      r.search.clear();
      for (size_t i = 1; i < w.size() && w[i][0] != '#' && w[i][0] != ';'; ++i) {
        r.search.emplace_back(w[i]);
      }
    }
  }
  return r;
}

}  // namespace

Section CollectNetwork(const Root& root) {
  Section section = NewSection("network");
  std::map<std::string, std::vector<std::string>> v4;
  std::map<std::string, std::vector<std::string>> v6;
  if (root.is_live()) {
    for (const LiveAddress& a : LiveAddresses())
      (a.ipv6 ? v6 : v4)[a.interface].push_back(a.address);
  }
  for (const std::string& name : root.List("sys/class/net")) {
    std::string dir = "sys/class/net/" + name + "/";
    // bonding_masters and other plain files sit beside the interfaces.
    std::error_code ec;
    if (!std::filesystem::is_directory(root.Path("sys/class/net/" + name), ec)) continue;
    Item item = NewItem(name);
    std::string mac = Lower(root.ReadTrimmed(dir + "address"));
    // All zeros: none (lo, tunnels). Anything but hex and colons is not an
    // address the kernel writes.
    if (mac.find_first_not_of("0:") == std::string::npos ||
        mac.find_first_not_of("0123456789abcdef:") != std::string::npos) {
      mac.clear();
    }
    item.Add("mac", mac);
    uint64_t mtu = 0;
    if (ParseU64(root.ReadTrimmed(dir + "mtu"), &mtu)) item.Add("mtu", std::to_string(mtu));
    std::string state = root.ReadTrimmed(dir + "operstate");
    // The kernel refuses to read speed and duplex of a link that is down
    // (EINVAL) and reports -1 or 0 when it does not know.
    uint64_t speed = 0;
    if (state == "up" && ParseU64(root.ReadTrimmed(dir + "speed"), &speed) && speed > 0 &&
        speed < UINT32_MAX) {
      item.Add("speed_mbps", std::to_string(speed));
      std::string duplex = root.ReadTrimmed(dir + "duplex");
      if (duplex != "unknown") item.Add("duplex", duplex);
    }
    item.Add("state", state);
    std::string driver = root.LinkTarget(dir + "device/driver");
    item.Add("driver", driver.substr(driver.find_last_of('/') + 1));
    std::string type = root.ReadTrimmed(dir + "type");
    item.Add("type", type.empty() ? "" : LinkType(type));
    item.Add("virtual",
             root.LinkTarget("sys/class/net/" + name).find("/devices/virtual/") != std::string::npos
                 ? "true"
                 : "false");
    item.Add("ipv4", JoinComma(v4[name]));
    item.Add("ipv6", JoinComma(v6[name]));
    section.items.push_back(std::move(item));
  }
  section.SortItems();
  return section;
}

Section CollectRoutes(const Root& root) {
  Section section = NewSection("routes");
  if (std::optional<std::string> text = ReadOrNote(root, "proc/net/route", &section)) {
    ParseIpv4Routes(*text, &section);
  }
  if (std::optional<std::string> text = ReadOrNote(root, "proc/net/ipv6_route", &section)) {
    ParseIpv6Routes(*text, &section);
  }
  section.SortItems();
  return section;
}

Section CollectDns(const Root& root) {
  Section section = NewSection("dns");
  std::optional<std::string> text = ReadOrNote(root, "etc/resolv.conf", &section);
  if (!text) return section;
  Resolv resolv = ParseResolv(*text);
  std::vector<std::pair<std::string, std::string>> servers;  // address, source
  for (const std::string& ns : resolv.nameservers) servers.emplace_back(ns, "/etc/resolv.conf");
  std::string search_source = "/etc/resolv.conf";
  // systemd-resolved's stub forwards to the servers it lists in its own file;
  // those are the ones that answer.
  bool stub = false;
  for (const std::string& ns : resolv.nameservers) stub = stub || ns == "127.0.0.53";
  if (stub) {
    if (std::optional<std::string> up =
            ReadOrNote(root, "run/systemd/resolve/resolv.conf", &section)) {
      Resolv upstream = ParseResolv(*up);
      for (const std::string& ns : upstream.nameservers) {
        servers.emplace_back(ns, "/run/systemd/resolve/resolv.conf");
      }
      if (resolv.search.empty()) {
        resolv.search = upstream.search;
        search_source = "/run/systemd/resolve/resolv.conf";
      }
    }
  }
  std::set<std::string> seen;
  int order = 0;
  for (const auto& [address, source] : servers) {
    if (!seen.insert(address).second) continue;
    Item item = NewItem(address);
    item.Add("source", source);
    item.Add("order", std::to_string(++order));
    section.items.push_back(std::move(item));
  }
  if (!resolv.search.empty()) {
    Item item = NewItem("search");
    item.Add("domains", JoinComma(resolv.search));
    item.Add("source", search_source);
    section.items.push_back(std::move(item));
  }
  section.SortItems();
  return section;
}

}  // namespace inventory

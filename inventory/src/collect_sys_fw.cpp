// The "firewall" section (collect_sys.h): one item per framework found.
//
// No program is run (no `nft list ruleset`, no `ufw status`): the status
// comes from configuration files, systemd's enablement links and, for
// nftables on the live machine, the kernel itself through a netlink dump of
// the rules (plain sockets, no library). Sources: docs/inventory_system.md.
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "collect_sys.h"

namespace inventory {
namespace {

// What systemd would do with `unit` at boot: "enabled" (an enablement link),
// "masked" (etc/systemd/system/<unit> -> /dev/null) or "".
std::string UnitState(const Root& root, const std::string& unit, std::string* evidence) {
  if (root.LinkTarget("etc/systemd/system/" + unit) == "/dev/null") {
    *evidence = unit + " masked (/etc/systemd/system/" + unit + " -> /dev/null)";
    return "masked";
  }
  std::string link = EnablementLink(root, unit);
  if (!link.empty()) {
    *evidence = unit + " enabled (" + link + ")";
    return "enabled";
  }
  return {};
}

bool Exists(const Root& root, const std::string& rel) {
  return ModifiedTime(root, rel).has_value();
}

void AddFramework(const std::string& name, const std::string& status,
                  const std::vector<std::string>& evidence, Section* section, Item extra = {}) {
  Item item = NewItem(name);
  item.Add("status", status);
  std::string joined;
  for (const std::string& e : evidence) joined += (joined.empty() ? "" : "; ") + e;
  item.Add("evidence", joined);
  for (Field& f : extra.fields) item.fields.push_back(std::move(f));
  section->items.push_back(std::move(item));
}

void CollectNftables(const Root& root, Section* section) {
  std::vector<std::string> evidence;
  std::string unit_evidence;
  std::string unit = UnitState(root, "nftables.service", &unit_evidence);
  if (!unit.empty()) evidence.push_back(unit_evidence);
  bool conf = Exists(root, "etc/nftables.conf");
  if (conf) evidence.push_back("/etc/nftables.conf present");
  std::optional<uint64_t> rules;
  if (root.is_live()) {
    std::string error;
    rules = NftRuleCount(&error);
    if (rules) {
      evidence.push_back(std::to_string(*rules) + " rules in the kernel (netlink)");
    } else {
      section->notes.push_back("nftables: the kernel's rules could not be read over netlink (" +
                               error + "; reading them needs root)");
    }
  }
  if (unit.empty() && !conf && (!rules || *rules == 0)) return;  // not in use here
  std::string status = "disabled";
  if ((rules && *rules > 0) || unit == "enabled") status = "enabled";
  Item extra;
  if (rules) extra.Add("rules", std::to_string(*rules));
  AddFramework("nftables", status, evidence, section, std::move(extra));
}

void CollectIptables(const Root& root, Section* section) {
  std::vector<std::string> evidence;
  std::vector<std::string> tables;
  for (std::string_view rel : {"proc/net/ip_tables_names", "proc/net/ip6_tables_names"}) {
    for (std::string_view line : Lines(root.ReadTrimmed(rel))) {
      if (!Trim(line).empty()) tables.emplace_back(Trim(line));
    }
  }
  // x_tables loaded with tables: the legacy back end is filtering.
  if (!tables.empty()) evidence.push_back("legacy tables loaded: " + JoinComma(tables));
  std::string unit;
  for (const std::string& name :
       {std::string("netfilter-persistent.service"), std::string("iptables.service")}) {
    std::string e;
    std::string state = UnitState(root, name, &e);
    if (!state.empty()) {
      evidence.push_back(e);
      if (unit != "enabled") unit = state;
    }
  }
  bool saved = Exists(root, "etc/iptables/rules.v4") || Exists(root, "etc/sysconfig/iptables");
  if (saved)
    evidence.push_back("saved rules present (/etc/iptables/rules.v4 or /etc/sysconfig/iptables)");
  if (tables.empty() && unit.empty() && !saved) return;
  std::string status = !tables.empty() || unit == "enabled" ? "enabled" : "disabled";
  AddFramework("iptables", status, evidence, section);
}

void CollectUfw(const Root& root, Section* section) {
  std::optional<std::string> conf = ReadOrNote(root, "etc/ufw/ufw.conf", section);
  if (!conf) return;
  std::string status = "unknown";
  std::vector<std::string> evidence = {"/etc/ufw/ufw.conf has no ENABLED="};
  for (std::string_view line : Lines(*conf)) {
    line = Trim(line);
    if (!StartsWith(line, "ENABLED=")) continue;
    std::string value = Lower(OsReleaseValue(line.substr(8)));
    status = value == "yes" ? "enabled" : value == "no" ? "disabled" : "unknown";
    evidence = {"/etc/ufw/ufw.conf ENABLED=" + OsReleaseValue(line.substr(8))};
  }
  AddFramework("ufw", status, evidence, section);
}

void CollectFirewalld(const Root& root, Section* section) {
  std::vector<std::string> evidence;
  std::string unit_evidence;
  std::string unit = UnitState(root, "firewalld.service", &unit_evidence);
  if (!unit.empty()) evidence.push_back(unit_evidence);
  bool conf = Exists(root, "etc/firewalld/firewalld.conf");
  if (conf) evidence.push_back("/etc/firewalld/firewalld.conf present");
  if (unit.empty() && !conf) return;
  AddFramework("firewalld", unit == "enabled" ? "enabled" : "disabled", evidence, section);
}

}  // namespace

std::optional<uint64_t> NftRuleCount(std::string* error) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    *error = std::strerror(errno);
    return std::nullopt;
  }
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  struct {
    nlmsghdr header;
    nfgenmsg body;
  } request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = 1;
  request.body.nfgen_family = AF_UNSPEC;  // every family
  request.body.version = NFNETLINK_V0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &request, sizeof request, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0) {
    *error = std::strerror(errno);
    ::close(fd);
    return std::nullopt;
  }
  std::vector<char> buffer(1u << 16);
  uint64_t rules = 0;
  while (true) {
    ssize_t got = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      *error = got < 0 ? std::strerror(errno) : "the kernel closed the socket";
      ::close(fd);
      return std::nullopt;
    }
    int len = static_cast<int>(got);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        ::close(fd);
        return rules;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        *error = h->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr)) ? std::strerror(-e->error)
                                                                : "a short error message";
        ::close(fd);
        return std::nullopt;
      }
      if (h->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE)) ++rules;
    }
  }
}

Section CollectFirewall(const Root& root) {
  Section section = NewSection("firewall");
  CollectNftables(root, &section);
  CollectIptables(root, &section);
  CollectUfw(root, &section);
  CollectFirewalld(root, &section);
  section.SortItems();
  return section;
}

}  // namespace inventory

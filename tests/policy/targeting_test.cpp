#include "policy/targeting.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "common/fs.h"
#include "support/mutate.h"

namespace {

const std::string kPilotDevice = "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";

std::string Policy(const std::string& body) { return "<policy version=\"1\">" + body + "</policy>"; }
std::string Group(int priority, const std::string& body) {
  return "<group version=\"1\" priority=\"" + std::to_string(priority) + "\">" + body + "</group>";
}

// Four overlapping groups; see the cases below for who belongs where.
policy::TreeFiles Estate(int servers_priority = 20) {
  return {
      {"default/policy.xml", Policy("<inventory hardware=\"true\" software=\"true\"/><usage enabled=\"false\"/>"
                                    "<log level=\"info\"/>")},
      {"default/schedule.xml",
       "<schedule version=\"1\"><event name=\"policy-check\" interval=\"1h\" start-within=\"10m\"/>"
       "<event name=\"inventory\" window-start=\"01:00\" window-end=\"05:00\" start-within=\"4h\"/></schedule>"},
      {"default/failover.xml", "<failover version=\"1\"><beacon url=\"https://dmz.example.com\" priority=\"1\"/></failover>"},
      {"servers/group.xml", Group(servers_priority, "<hostname glob=\"srv-*\"/><os glob=\"Debian*\"/>")},
      {"servers/policy.xml", Policy("<usage enabled=\"true\" sample-interval=\"1m\"/><log level=\"warn\"/>")},
      {"servers/schedule.xml", "<schedule version=\"1\"><event name=\"inventory\" interval=\"6h\"/></schedule>"},
      {"pilot/group.xml", Group(10, "<device id=\"" + kPilotDevice + "\"/><subnet cidr=\"10.9.0.0/16\"/>")},
      {"pilot/policy.xml", Policy("<log level=\"debug\"/>")},
      {"pilot/failover.xml", "<failover version=\"1\"><beacon url=\"https://pilot.example.com\" priority=\"1\"/></failover>"},
      {"everyone/group.xml", Group(30, "<everyone/>")},
      {"everyone/policy.xml", Policy("<upload max-size=\"8M\"/><usage enabled=\"false\" sample-interval=\"10m\"/>")},
  };
}

policy::DeviceFacts Device(const std::string& id, const std::string& host, const std::string& os,
                           std::vector<std::string> addresses) {
  policy::DeviceFacts d;
  d.device_id = id;
  d.inventoried = true;
  d.hostname = host;
  d.os = os;
  d.addresses = std::move(addresses);
  return d;
}

std::string OriginOf(const policy::Resolution& r, const std::string& file, const std::string& part) {
  for (const auto& o : r.origins) {
    if (o.file == file && o.part == part) return o.group;
  }
  return "(none)";
}

policy::ClientPolicy EffectivePolicy(const policy::Resolution& r) {
  auto p = policy::ParsePolicyXml(r.files.at("policy.xml"), "effective policy.xml");
  REQUIRE(p.ok());
  return *p;
}

std::shared_ptr<const policy::PolicyTree> Tree(const policy::TreeFiles& files) {
  auto t = policy::PolicyTree::FromFiles(files, "policy");
  INFO(t.status().ToString());
  REQUIRE(t.ok());
  return *t;
}

std::string Refusal(const policy::TreeFiles& files) {
  auto t = policy::PolicyTree::FromFiles(files, "policy");
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == common::Code::kInvalidArgument);
  return t.status().message();
}

}  // namespace

TEST_CASE("targeting: each part comes from the most important group that sets it") {
  auto tree = Tree(Estate());

  // In all four groups: pilot (10) > servers (20) > everyone (30) > default.
  auto all = tree->Resolve(Device(kPilotDevice, "srv-db1", "Debian GNU/Linux 12 (bookworm)", {"10.9.1.2/24"}));
  REQUIRE(all.ok());
  CHECK(all->groups == std::vector<std::string>{"pilot", "servers", "everyone", "default"});
  policy::ClientPolicy p = EffectivePolicy(*all);
  CHECK(p.log_level == policy::LogLevel::kDebug);  // pilot beats servers' warn
  CHECK(OriginOf(*all, "policy.xml", "<log>") == "pilot");
  CHECK(p.usage_enabled);  // servers beats everyone's "false"
  CHECK(p.usage_sample_seconds == 60);
  CHECK(OriginOf(*all, "policy.xml", "<usage>") == "servers");
  CHECK(p.max_upload_bytes == 8u << 20);  // only everyone sets it
  CHECK(OriginOf(*all, "policy.xml", "<upload>") == "everyone");
  CHECK(OriginOf(*all, "policy.xml", "<inventory>") == "default");
  auto sched = policy::ParseScheduleXml(all->files.at("schedule.xml"), "effective schedule.xml");
  REQUIRE(sched.ok());
  REQUIRE(sched->Find(policy::EventKind::kInventory) != nullptr);
  CHECK(sched->Find(policy::EventKind::kInventory)->interval_seconds == 6 * 3600);
  CHECK(OriginOf(*all, "schedule.xml", "event inventory") == "servers");
  CHECK(OriginOf(*all, "schedule.xml", "event policy-check") == "default");
  CHECK(all->files.at("failover.xml").find("pilot.example.com") != std::string::npos);
  CHECK(OriginOf(*all, "failover.xml", "") == "pilot");  // taken whole

  // A workstation: everyone and default only.
  auto ws = tree->Resolve(Device("11111111-2222-4333-8444-555555555555", "ws-7", "Ubuntu 24.04", {"192.168.1.5/24"}));
  REQUIRE(ws.ok());
  CHECK(ws->groups == std::vector<std::string>{"everyone", "default"});
  CHECK_FALSE(EffectivePolicy(*ws).usage_enabled);
  CHECK(EffectivePolicy(*ws).log_level == policy::LogLevel::kInfo);
  CHECK(OriginOf(*ws, "schedule.xml", "event inventory") == "default");
  CHECK(ws->files.at("failover.xml").find("dmz.example.com") != std::string::npos);

  // Membership: any one rule suffices; globs ignore case; subnets match addresses.
  auto by_os = tree->Resolve(Device("21111111-2222-4333-8444-555555555555", "db-1", "debian gnu/linux 11", {}));
  CHECK(by_os->groups == std::vector<std::string>{"servers", "everyone", "default"});
  auto by_host = tree->Resolve(Device("31111111-2222-4333-8444-555555555555", "SRV-web", "Windows", {}));
  CHECK(by_host->groups == std::vector<std::string>{"servers", "everyone", "default"});
  auto by_subnet = tree->Resolve(Device("41111111-2222-4333-8444-555555555555", "x", "y", {"fe80::1/64", "10.9.200.1/16"}));
  CHECK(by_subnet->groups == std::vector<std::string>{"pilot", "everyone", "default"});

  // The same effective policy is the same bytes, whoever gets it.
  auto ws2 = tree->Resolve(Device("51111111-2222-4333-8444-555555555555", "ws-8", "Fedora", {}));
  CHECK(ws2->files == ws->files);
}

TEST_CASE("targeting: priority, not name or order, decides") {
  // servers made more important than pilot: its log level now wins.
  auto tree = Tree(Estate(/*servers_priority=*/5));
  auto all = tree->Resolve(Device(kPilotDevice, "srv-db1", "Debian", {"10.9.1.2/24"}));
  REQUIRE(all.ok());
  CHECK(all->groups == std::vector<std::string>{"servers", "pilot", "everyone", "default"});
  CHECK(EffectivePolicy(*all).log_level == policy::LogLevel::kWarn);
  CHECK(OriginOf(*all, "policy.xml", "<log>") == "servers");
  CHECK(OriginOf(*all, "failover.xml", "") == "pilot");  // servers sets none
}

TEST_CASE("targeting: a device without an inventory gets the default group") {
  auto tree = Tree(Estate());
  policy::DeviceFacts unseen;
  unseen.device_id = kPilotDevice;  // named by pilot, but the central has no inventory yet
  unseen.hostname = "srv-x";
  auto r = tree->Resolve(unseen);
  REQUIRE(r.ok());
  CHECK(r->groups == std::vector<std::string>{"default"});
  CHECK(EffectivePolicy(*r).log_level == policy::LogLevel::kInfo);
  for (const auto& o : r->origins) CHECK(o.group == "default");
}

TEST_CASE("targeting: a broken tree is refused with every error and its location") {
  auto files = Estate();
  files["servers/policy.xml"] = "<policy version=\"1\">\n  <usage enabled=\"maybe\"/>\n</policy>\n";
  files["pilot/group.xml"] = "<group version=\"1\" priority=\"10\">\n\n    <hostnme glob=\"x\"/>\n</group>\n";
  std::string all = Refusal(files);
  CHECK(all.find("policy/servers/policy.xml:2:3: <usage> 'enabled': 'maybe' is not true or false") != std::string::npos);
  CHECK(all.find("policy/pilot/group.xml:3:5: unknown element <hostnme> in <group>") != std::string::npos);

  files = Estate();
  files["pilot/group.xml"] = Group(20, "<everyone/>");
  CHECK(Refusal(files).find("priority 20 is already taken by group") != std::string::npos);

  files = Estate();
  files.erase("everyone/group.xml");
  CHECK(Refusal(files) == "policy/everyone/group.xml: missing; every group but the default needs one");

  files = Estate();
  files["default/group.xml"] = Group(1, "");
  CHECK(Refusal(files).find("policy/default/group.xml: the default group") == 0);

  files = Estate();
  files.erase("default/schedule.xml");  // servers' partial schedule has nothing to fall back on
  CHECK(Refusal(files).find("policy/servers/schedule.xml: sets no policy-check event") == 0);

  files = Estate();
  for (auto it = files.begin(); it != files.end();) it = it->first.rfind("default/", 0) == 0 ? files.erase(it) : ++it;
  CHECK(Refusal(files).find("policy/default: missing") == 0);

  CHECK(Refusal({{"default/policy.xml", Policy("")}, {"Bad Name/policy.xml", Policy("")}}).find("not group/file") !=
        std::string::npos);
  for (const char* bad : {"<group version=\"1\"/>", "<group version=\"1\" priority=\"0\"/>",
                          "<group version=\"1\" priority=\"01\"/>", "<group version=\"2\" priority=\"1\"/>",
                          "<group version=\"1\" priority=\"1\"><device id=\"NOT-A-UUID\"/></group>",
                          "<group version=\"1\" priority=\"1\"><subnet cidr=\"10.0.0.1/8\"/></group>",
                          "<group version=\"1\" priority=\"1\"><os/></group>",
                          "<group version=\"1\" priority=\"1\"><everyone all=\"yes\"/></group>"}) {
    INFO(bad);
    CHECK_FALSE(policy::ParseGroupXml(bad, "g.xml").ok());
  }
}

TEST_CASE("targeting: group.xml survives mutation as a clean refusal") {
  std::string good = Group(10, "<device id=\"" + kPilotDevice + "\"/><hostname glob=\"srv-*\"/>"
                               "<subnet cidr=\"10.9.0.0/16\"/><os glob=\"Debian*\"/><everyone/>");
  REQUIRE(policy::ParseGroupXml(good, "g.xml").ok());
  for (const auto& m : testing_support::Mutations(good, 2000)) {
    auto r = policy::ParseGroupXml(m, "g.xml");
    if (!r.ok()) {
      CHECK(r.status().code() == common::Code::kInvalidArgument);
      CHECK(r.status().message().rfind("g.xml:", 0) == 0);
    }
  }
}

TEST_CASE("targeting: a policy folder is read with its structure checked") {
  char tmpl[] = "/tmp/targeting-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  REQUIRE(common::MakeDirs(dir + "/default").ok());
  REQUIRE(common::MakeDirs(dir + "/.git/objects").ok());
  REQUIRE(common::WriteFileAtomic(dir + "/default/policy.xml", Policy("")).ok());
  REQUIRE(common::WriteFileAtomic(dir + "/default/.policy.xml.swp", "editor junk").ok());
  auto ok = policy::ReadTreeFolder(dir);
  REQUIRE(ok.ok());
  CHECK(*ok == policy::TreeFiles{{"default/policy.xml", Policy("")}});

  REQUIRE(common::WriteFileAtomic(dir + "/README", "files at the top").ok());
  REQUIRE(common::MakeDirs(dir + "/default/sub").ok());
  REQUIRE(common::WriteFileAtomic(dir + "/default/policy.xml~", "backup").ok());
  auto bad = policy::ReadTreeFolder(dir);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find(dir + "/README: not a group folder") != std::string::npos);
  CHECK(bad.status().message().find(dir + "/default/sub: not a regular file") != std::string::npos);
  CHECK(bad.status().message().find(dir + "/default/policy.xml~: policy file names") != std::string::npos);
  CHECK(policy::ReadTreeFolder(dir + "/absent").status().code() == common::Code::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST_CASE("subnets contain the addresses inventories report") {
  CHECK(policy::SubnetContains("10.9.0.0/16", "10.9.255.1/24"));
  CHECK(policy::SubnetContains("10.9.0.0/16", "10.9.0.1"));
  CHECK_FALSE(policy::SubnetContains("10.9.0.0/16", "10.10.0.1"));
  CHECK(policy::SubnetContains("0.0.0.0/0", "192.0.2.1"));
  CHECK(policy::SubnetContains("fd00::/8", "fd12:3456::1/64"));
  CHECK_FALSE(policy::SubnetContains("fd00::/8", "10.9.0.1"));
  CHECK_FALSE(policy::SubnetContains("10.9.0.0/16", "::ffff:10.9.0.1"));
  CHECK_FALSE(policy::SubnetContains("not a cidr", "10.9.0.1"));
  CHECK_FALSE(policy::SubnetContains("10.9.0.0/16", "garbage"));
}

// The samples in conf/ parse against the key tables and document every key.
#include <catch2/catch.hpp>
#include <filesystem>

#include "beacon/beacon.h"
#include "client/client.h"
#include "common/fs.h"
#include "integration/harness.h"

namespace {
void CheckSample(const std::string& name, const std::vector<common::ConfigKey>& keys) {
  std::string path = std::string(SOURCE_DIR) + "/conf/" + name;
  INFO(path);
  auto parsed = common::LoadConfig(path, &keys);
  REQUIRE(parsed.ok());
  std::string text = *common::ReadFile(path);
  for (const auto& k : keys) {
    INFO(k.name);
    bool mentioned = text.find("\n" + k.name + " ") != std::string::npos ||
                     text.find("\n# " + k.name + " ") != std::string::npos ||
                     text.find("\n#" + k.name + " ") != std::string::npos;
    CHECK(mentioned);
  }
}
}  // namespace

TEST_CASE("conf samples match the key tables") {
  CheckSample("central.conf", beacon::ConfigKeys());
  CheckSample("beacon.conf", beacon::ConfigKeys());
  CheckSample("client.conf", client::ConfigKeys());
}

TEST_CASE("beaconctl policy validate checks a folder as publishing will") {
  std::string dir = harness::MakeTempDir("policy-validate");
  std::filesystem::copy(std::string(SOURCE_DIR) + "/conf/policy", dir, std::filesystem::copy_options::recursive);
  auto good = harness::Run({BEACONCTL_BIN, "policy", "validate", dir});
  INFO(good.output);
  CHECK(good.exit_code == 0);
  CHECK(good.output.find("ok: " + dir + " (6 files) is valid") != std::string::npos);

  harness::WriteText(dir + "/default/schedule.xml",
                     "<schedule version=\"1\">\n  <event name=\"policy-check\" window-start=\"10:00\" window-end=\"09:00\"/>\n</schedule>\n");
  harness::WriteText(dir + "/servers/group.xml", "<group version=\"1\" priority=\"20\">\n  <everyone/>\n  <nobody/>\n</group>\n");
  auto bad = harness::Run({BEACONCTL_BIN, "policy", "validate", dir});
  INFO(bad.output);
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find(dir + "/default/schedule.xml:2:3: event 'policy-check': the window ends") != std::string::npos);
  CHECK(bad.output.find(dir + "/servers/group.xml:3:3: unknown element <nobody> in <group>") != std::string::npos);
  std::filesystem::remove_all(dir);
}

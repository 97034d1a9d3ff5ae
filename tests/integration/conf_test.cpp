// The samples in conf/ parse against the key tables and document every key.
#include <catch2/catch.hpp>

#include "beacon/beacon.h"
#include "client/client.h"
#include "common/fs.h"

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

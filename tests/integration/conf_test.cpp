// The samples in conf/ parse against the key tables and document every key;
// the client's typed settings and the command lines that read them.
#include <catch2/catch.hpp>
#include <filesystem>

#include "beacon/beacon.h"
#include "client/client.h"
#include "client/settings.h"
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

TEST_CASE("client settings: the struct's defaults are the key table's, and ranges are checked") {
  auto parse = [](const std::string& text) {
    auto config = common::ParseConfig("server = https://beacon.example.org:8443\n" + text,
                                      "client.conf", &client::ConfigKeys());
    REQUIRE(config.ok());
    return client::ClientSettings::FromConfig(*config);
  };
  auto defaults = parse("");
  REQUIRE(defaults.ok());
  client::ClientSettings expected;
  expected.server = "https://beacon.example.org:8443";
  CHECK(*defaults == expected);
  CHECK_FALSE(defaults->log_level_set);

  auto set = parse(
      "connect_timeout = 5m\nrequest_timeout = 1h\npolicy_interval = 1m\nlog_level = debug\n"
      "failover_return_after = 0s\nbackoff_base = 1s\nbackoff_cap = 1s\noutbox_max_size = 1\n");
  REQUIRE(set.ok());
  CHECK(set->connect_timeout == std::chrono::minutes(5));
  CHECK(set->policy_interval == std::chrono::minutes(1));
  CHECK(set->log_level == common::LogLevel::kDebug);
  CHECK(set->log_level_set);

  for (auto [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"connect_timeout = 0s", "'connect_timeout' is 0s; it must be from 1s to 5m"},
           {"request_timeout = 61m", "'request_timeout' is 61m; it must be from 1s to 1h"},
           {"request_timeout = 9999d", "'request_timeout' is 9999d"},
           {"policy_interval = 59s", "'policy_interval' is 59s; it must be from 1m to 365d"},
           {"inventory_interval = 366d", "'inventory_interval' is 366d"},
           {"failover_return_after = 31d", "'failover_return_after' is 31d"},
           {"backoff_base = 0s", "'backoff_base' is 0s"},
           {"backoff_cap = 10s", "'backoff_cap' is 10s; it must be from 30s to 1d"},
           {"outbox_max_size = 0", "'outbox_max_size' must be more than 0"},
           {"log_level = loud", "'log_level' is 'loud'"},
           {"proxy = https://proxy:3128", "proxy"},
           {"enroll_wait = 8d", "'enroll_wait' is 8d; it must be from 0s to 7d"},
           {"enroll_secret = s3cr t", "'enroll_secret' may hold only printable ASCII"},
           {"enroll_secret = " + std::string(129, 'k'), "'enroll_secret' is longer than 128"},
       }) {
    INFO(text);
    auto bad = parse(text + "\n");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == common::Code::kInvalidArgument);
    CHECK(bad.status().message().find(message) != std::string::npos);
    CHECK(bad.status().message().find("s3cr") == std::string::npos);  // a secret is never repeated
  }
  auto no_server = common::ParseConfig("", "client.conf", &client::ConfigKeys());
  REQUIRE(no_server.ok());
  CHECK(client::ClientSettings::FromConfig(*no_server).status().message() == "'server' is not set");
}

TEST_CASE(
    "beacon-client: --help lists every option and configuration key, and usage errors exit 2") {
  auto help = harness::Run({CLIENT_BIN, "--help"});
  CHECK(help.exit_code == 0);
  for (const char* part : {"--config", "--data-dir", "--state-dir", "--version", "run", "--once",
                           "inventory", "status", "Configuration keys"}) {
    INFO(help.output << "\nmissing: " << part);
    CHECK(help.output.find(part) != std::string::npos);
  }
  // Every configuration key, after the options.
  for (const auto& k : client::ConfigKeys()) {
    INFO(k.name);
    CHECK(help.output.find(k.name, help.output.find("Configuration keys")) != std::string::npos);
  }
  auto version = harness::Run({CLIENT_BIN, "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.output == std::string("beacon-client ") + BEACON_VERSION + "\n");
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"inventory"},
                                             {"bogus"},
                                             {"run", "--now"},
                                             {"--once", "run"},
                                             {"run", "status"},
                                             {"--config"}}) {
    std::vector<std::string> argv{CLIENT_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = harness::Run(argv);
    INFO(r.output);
    CHECK(r.exit_code == 2);
  }
  // A value out of range is a configuration error naming the key.
  std::string dir = harness::MakeTempDir("client-conf");
  harness::WriteText(dir + "/client.conf", "server = https://127.0.0.1:1\nstate_dir = " + dir +
                                               "/state\nconnect_timeout = 0s\n");
  auto range = harness::Run({CLIENT_BIN, "status", "--config", dir + "/client.conf"});
  CHECK(range.exit_code == 2);
  CHECK(range.output.find(dir + "/client.conf: 'connect_timeout' is 0s") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("beacon-client does not start over a state file it cannot read") {
  // Starting afresh would restart the inventory sequence.
  std::string dir = harness::MakeTempDir("client-state");
  std::filesystem::create_directories(dir + "/state/state");  // a folder where the file should be
  harness::WriteText(dir + "/client.conf",
                     "server = https://127.0.0.1:1\nstate_dir = " + dir + "/state\n");
  auto r = harness::Run({CLIENT_BIN, "--config", dir + "/client.conf", "status"});
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("read the client's state") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("beaconctl: --help lists every command, and usage errors exit 2") {
  auto ctl = harness::Run({BEACONCTL_BIN, "--help"});
  CHECK(ctl.exit_code == 0);
  for (const char* part : {"--data-dir", "--store", "--policy-dir", "--version", "devices",
                           "software DEVICE_ID", "software --match PATTERN", "usage [DEVICE_ID]",
                           "files DEVICE_ID", "policy validate", "policy edit", "policy publish",
                           "policy history", "policy diff", "policy rollback", "policy resolve"}) {
    INFO(ctl.output << "\nmissing: " << part);
    CHECK(ctl.output.find(part) != std::string::npos);
  }
  CHECK(harness::Run({BEACONCTL_BIN, "--version"}).exit_code == 0);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"bogus"},
                                             {"devices", "extra"},
                                             {"software"},
                                             {"software", "a", "--match", "b"},
                                             {"files"},
                                             {"usage", "a", "b"},
                                             {"--data-dir", "/x", "--store", "/y", "devices"},
                                             {"--data-dir", "", "devices"},
                                             {"files", ""},
                                             {"--policy-dir"},
                                             {"policy"},
                                             {"policy", "bogus"},
                                             {"policy", "publish", "extra"}}) {
    std::vector<std::string> argv{BEACONCTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = harness::Run(argv);
    INFO(r.output);
    CHECK(r.exit_code == 2);
  }
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

#include "common/config.h"

#include <catch2/catch.hpp>

#include "support/mutate.h"

namespace {
const std::vector<common::ConfigKey> kKeys = {
    {"name", common::KeyType::kString, "beacon", "a name"},
    {"port", common::KeyType::kInt, "8443", "a port"},
    {"fast", common::KeyType::kBool, "false", "a switch"},
    {"size", common::KeyType::kBytes, "1M", "a size"},
    {"every", common::KeyType::kDuration, "1h", "an interval"},
};
}

TEST_CASE("config: values, defaults and units") {
  auto c = common::ParseConfig("# comment\n\nname = dmz-1\nport=9000\n  fast = yes  \nsize = 64K\nevery = 5m\n",
                               "t.conf", &kKeys);
  REQUIRE(c.ok());
  CHECK(c->GetString("name") == "dmz-1");
  CHECK(c->GetInt("port") == 9000);
  CHECK(c->GetBool("fast"));
  CHECK(c->GetBytes("size") == 64 * 1024);
  CHECK(c->GetSeconds("every") == 300);
  CHECK(c->IsSet("name"));

  auto d = common::ParseConfig("", "empty.conf", &kKeys);
  REQUIRE(d.ok());
  CHECK(d->GetString("name") == "beacon");
  CHECK(d->GetBytes("size") == 1024 * 1024);
  CHECK(d->GetSeconds("every") == 3600);
  CHECK_FALSE(d->IsSet("name"));
}

TEST_CASE("config: errors name the file and line") {
  struct Case {
    std::string text, where, what;
  };
  std::vector<Case> cases = {
      {"name = a\nlisen = 1\n", "t.conf:2: ", "unknown key 'lisen'"},
      {"port = 80a\n", "t.conf:1: ", "'80a' is not an integer"},
      {"fast = maybe\n", "t.conf:1: ", "not a boolean"},
      {"size = 12Q\n", "t.conf:1: ", "not a size"},
      {"every = -5s\n", "t.conf:1: ", "not a duration"},
      {"size = 17179869184G\n", "t.conf:1: ", "too large"},
      {"every = 999999999999999d\n", "t.conf:1: ", "too long"},
      {"just text\n", "t.conf:1: ", "expected 'key = value'"},
      {"name = a\n\nname = b\n", "t.conf:3: ", "'name' is already set on line 1"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto r = common::ParseConfig(c.text, "t.conf", &kKeys);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == common::Code::kInvalidArgument);
    CHECK(r.status().message().rfind(c.where, 0) == 0);
    CHECK(r.status().message().find(c.what) != std::string::npos);
  }
}

TEST_CASE("config: hostile input") {
  std::string huge(200000, 'x');
  auto r = common::ParseConfig(huge, "t.conf", &kKeys);
  CHECK_FALSE(r.ok());
  auto nul = common::ParseConfig(std::string("name = a\0b\n", 11), "t.conf", &kKeys);
  REQUIRE(nul.ok());  // a string value may hold any byte but newline
  auto missing = common::LoadConfig("/nonexistent/beacon.conf", &kKeys);
  CHECK(missing.status().code() == common::Code::kNotFound);
  CHECK(common::ConfigHelp(kKeys).find("every (duration, default '1h')") != std::string::npos);
}

TEST_CASE("config: mutated files parse or fail with file:line") {
  std::string good = "# beacon\nname = dmz-1\nport = 9000\nfast = yes\nsize = 64K\nevery = 5m\n";
  for (const auto& m : testing_support::Mutations(good, 3000)) {
    auto r = common::ParseConfig(m, "m.conf", &kKeys);
    if (!r.ok()) {
      CHECK(r.status().code() == common::Code::kInvalidArgument);
      CHECK(r.status().message().rfind("m.conf:", 0) == 0);
    }
  }
}

// The administrators' records: API tokens (inventory/identity_store.h) and
// the estate's history (inventory/estate.h), on both backends.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "inventory/estate.h"
#include "inventory/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

namespace {

using common::Code;
using inventory::ApiToken;
using inventory::EstateSample;
using inventory::Store;

std::unique_ptr<Store> Open(const testing_support::TempDir& dir) {
  auto store = testing_support::OpenTestStore(dir.path + "/store.sqlite");
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

ApiToken Token(const std::string& id, const std::string& name, const std::string& role = "read") {
  return ApiToken{id, name, role, 1000, 0};
}

}  // namespace

TEST_CASE("API tokens are found by their digest, unique among live tokens, and revoked by id or name") {
  testing_support::TempDir dir;
  auto store = Open(dir);
  const std::string a = common::Sha256Hex("bkt_a"), b = common::Sha256Hex("bkt_b"), c = common::Sha256Hex("bkt_c");
  REQUIRE(store->AddApiToken(Token("0123456789ab", "ops", "admin"), a).ok());
  REQUIRE(store->AddApiToken(Token("0123456789ac", "grafana"), b).ok());

  auto found = store->FindApiToken(a);
  REQUIRE(found.ok());
  CHECK(found->id == "0123456789ab");
  CHECK(found->name == "ops");
  CHECK(found->role == "admin");
  CHECK(found->revoked_at == 0);
  CHECK(store->FindApiToken(c).status().code() == Code::kNotFound);

  // A live name, an id in use, a digest in use: nothing is added.
  CHECK(store->AddApiToken(Token("0123456789ad", "ops"), c).code() == Code::kAlreadyExists);
  CHECK(store->AddApiToken(Token("0123456789ab", "other"), c).code() == Code::kAlreadyExists);
  CHECK_FALSE(store->AddApiToken(Token("0123456789ae", "other"), a).ok());
  CHECK(store->ListApiTokens()->size() == 2);

  auto revoked = store->RevokeApiToken("ops", 2000);
  REQUIRE(revoked.ok());
  CHECK(revoked->id == "0123456789ab");
  CHECK(store->FindApiToken(a)->revoked_at == 2000);  // still found: the caller refuses it
  CHECK(store->RevokeApiToken("ops", 3000).status().code() == Code::kNotFound);
  CHECK(store->RevokeApiToken("0123456789ac", 3000).ok());
  CHECK(store->RevokeApiToken("nobody", 3000).status().code() == Code::kNotFound);
  // The name of a revoked token can be given again.
  ApiToken again = Token("0123456789af", "ops");
  again.created_at = 4000;
  REQUIRE(store->AddApiToken(again, c).ok());
  auto all = store->ListApiTokens();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].name == "grafana");  // oldest first, then by name
  CHECK((*all)[0].revoked_at == 3000);
  CHECK((*all)[1].revoked_at == 2000);
  CHECK((*all)[2].revoked_at == 0);
}

TEST_CASE("API tokens with a bad id, name, role or digest are refused and nothing is stored") {
  testing_support::TempDir dir;
  auto store = Open(dir);
  const std::string digest = common::Sha256Hex("bkt_x");
  struct Case {
    ApiToken token;
    std::string digest;
  };
  for (const Case& k : {Case{Token("0123456789AB", "x"), digest}, Case{Token("0123", "x"), digest},
                        Case{Token("0123456789ab", ""), digest}, Case{Token("0123456789ab", "a b"), digest},
                        Case{Token("0123456789ab", std::string("a\0b", 3)), digest},
                        Case{Token("0123456789ab", "'; DROP TABLE api_tokens; --"), digest},
                        Case{Token("0123456789ab", std::string(65, 'a')), digest},
                        Case{Token("0123456789ab", "x", "root"), digest}, Case{Token("0123456789ab", "x"), "abc"},
                        Case{Token("0123456789ab", "x"), std::string(64, 'A')}}) {
    INFO(k.token.id + " / " + k.token.name + " / " + k.token.role + " / " + k.digest);
    CHECK(store->AddApiToken(k.token, k.digest).code() == Code::kInvalidArgument);
  }
  CHECK(store->ListApiTokens()->empty());
}

TEST_CASE("the estate's history keeps points once, reads them from a time on, and purges old ones") {
  testing_support::TempDir dir;
  auto store = Open(dir);
  REQUIRE(store->RecordEstateSamples({{100, "status:active", 3}, {100, "checkins", 2}}).ok());
  REQUIRE(store->RecordEstateSamples({{200, "status:active", 4}, {200, "checkins", 1}}).ok());
  CHECK(store->RecordEstateSamples({{200, "status:active", 9}}).code() == Code::kAlreadyExists);
  CHECK(store->RecordEstateSamples({{300, "checkins", 1}, {301, "checkins", 1}}).code() == Code::kInvalidArgument);
  CHECK(store->RecordEstateSamples({{300, "checkins", 1}, {300, "checkins", 2}}).code() == Code::kInvalidArgument);
  CHECK(store->RecordEstateSamples({}).ok());

  auto all = store->EstateHistory(0);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 4);
  CHECK((*all)[0].at == 100);
  CHECK((*all)[0].series == "checkins");
  CHECK((*all)[3].at == 200);
  CHECK((*all)[3].series == "status:active");
  CHECK((*all)[3].value == 4);
  CHECK(store->EstateHistory(150)->size() == 2);
  CHECK(store->EstateHistory(201)->empty());

  auto purged = store->PurgeEstateHistory(200);
  REQUIRE(purged.ok());
  CHECK(*purged == 2);
  CHECK(store->EstateHistory(0)->size() == 2);
}

TEST_CASE("check-ins are counted per minute of the beacons' clocks, however late they are stored") {
  testing_support::TempDir dir;
  auto store = Open(dir);
  const int64_t m = 1795363200;  // a whole minute
  auto checkin = [](const std::string& device, int64_t at) {
    inventory::Checkin c;
    c.device_id = device;
    c.seen_at = at;
    c.via = "dmz";
    return c;
  };
  REQUIRE(store->RecordCheckins({checkin("a", m + 1), checkin("b", m + 59), checkin("c", m + 60)}).ok());
  REQUIRE(store->RecordCheckins({checkin("a", m + 70)}).ok());
  REQUIRE(store->RecordCheckins({checkin("d", m + 30)}).ok());  // late: back in its own minute
  REQUIRE(store->RecordEstateSamples({{m + 60, "status:active", 4}}).ok());  // a status point at the same time
  auto history = store->EstateHistory(0);
  REQUIRE(history.ok());
  std::vector<std::string> got;
  for (const auto& s : *history) got.push_back(std::to_string(s.at - m) + " " + s.series + "=" + std::to_string(s.value));
  CHECK(got == std::vector<std::string>{"0 checkins=3", "60 checkins=2", "60 status:active=4"});
  CHECK(store->RecordEstateSamples({{m, "checkins", 1}}).code() == common::Code::kAlreadyExists);
}

TEST_CASE("a point of the estate's history counts the devices of every status") {
  inventory::EstateRules rules;
  const int64_t now = 100000;
  std::vector<inventory::DeviceState> devices(4);
  devices[0].device_id = "never";
  devices[0].enrolled_at = 10;
  devices[1].device_id = "pending";
  devices[1].first_seen = devices[1].last_seen = now - 10;
  devices[2].device_id = "active";
  devices[2].first_seen = 10;
  devices[2].last_seen = now - 400;
  devices[2].inventoried = true;
  devices[3].device_id = "gone";
  devices[3].first_seen = 10;
  devices[3].last_seen = 20;
  devices[3].inventoried = true;
  auto point = inventory::EstatePoint(devices, rules, now);
  std::vector<std::string> got;
  for (const auto& s : point) {
    CHECK(s.at == now);
    got.push_back(s.series + "=" + std::to_string(s.value));
  }
  CHECK(got == std::vector<std::string>{"status:never-connected=1", "status:pending=1", "status:active=1",
                                        "status:disconnected=1"});
}

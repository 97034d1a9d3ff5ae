#include "checkins.h"

#include <catch2/catch.hpp>

#include "common/uuid.h"
#include "support/mutate.h"

TEST_CASE("check-in batches round trip") {
  std::vector<inventory::Checkin> in = {
      {common::NewUuid(), 1700000000, "dmz-1", "0.1.0", 3, 0, "192.0.2.7"},
      {common::NewUuid(), 1700000005, "dmz-1", "", 0, 12, "2001:db8::1", 3900},
  };
  auto out = beacon::DecodeCheckins(beacon::EncodeCheckins(in));
  REQUIRE(out.ok());
  REQUIRE(out->size() == 2);
  CHECK((*out)[0].device_id == in[0].device_id);
  CHECK((*out)[1].outbox_depth == 12);
  CHECK((*out)[1].client_version.empty());
  CHECK((*out)[1].peer == "2001:db8::1");
  CHECK((*out)[0].check_interval == 0);
  CHECK((*out)[1].check_interval == 3900);
}

TEST_CASE("a record of 7 fields, from an older relay, has no check interval") {
  const std::string d = common::NewUuid();
  auto old = beacon::DecodeCheckins("# beacon checkins v1\n" + d + "\t1700000000\tdmz\t0.1.0\t3\t0\t::1\n");
  REQUIRE(old.ok());
  REQUIRE(old->size() == 1);
  CHECK((*old)[0].check_interval == 0);
  CHECK((*old)[0].policy_revision == 3);
  auto bad = beacon::DecodeCheckins("# beacon checkins v1\n" + d + "\t1\tdmz\tv\t3\t0\t::1\t-5\n");
  CHECK(bad.status().message() == "checkins:2: bad check interval");
}

TEST_CASE("broken check-in batches name the line") {
  std::string good = beacon::EncodeCheckins({{common::NewUuid(), 1, "b", "v", 1, 1, "127.0.0.1"}});
  CHECK_FALSE(beacon::DecodeCheckins("").ok());
  CHECK_FALSE(beacon::DecodeCheckins("hello\n").ok());
  auto r = beacon::DecodeCheckins(good + "not-a-uuid\t1\tb\tv\t1\t1\t127.0.0.1\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "checkins:3: device id is not a UUID");
  auto few = beacon::DecodeCheckins(good + common::NewUuid() + "\t1\n");
  CHECK(few.status().message() == "checkins:3: expected 8 tab-separated fields");
  auto peer = beacon::DecodeCheckins("# beacon checkins v1\n" + common::NewUuid() + "\t1\tb\tv\t1\t1\t<script>\n");
  CHECK(peer.status().message() == "checkins:2: bad peer address");
}

TEST_CASE("the tracker keeps the newest check-in per device") {
  beacon::CheckinTracker t;
  std::string d = common::NewUuid();
  t.Record({d, 10, "b", "v", 1, 0, ""});
  t.Record({d, 5, "b", "v", 0, 0, ""});
  t.Record({common::NewUuid(), 7, "b", "v", 0, 0, ""});
  auto batch = t.Drain();
  REQUIRE(batch.size() == 2);
  for (const auto& c : batch) {
    if (c.device_id == d) CHECK(c.seen_at == 10);
  }
  CHECK(t.Drain().empty());
  t.Restore(batch);
  CHECK(t.Drain().size() == 2);
}

TEST_CASE("mutated check-in batches decode or fail with their line") {
  std::string good = beacon::EncodeCheckins({{common::NewUuid(), 1700000000, "dmz", "0.1.0", 3, 0, "192.0.2.7"},
                                             {common::NewUuid(), 1700000001, "dmz", "0.1.0", 3, 1, "::1"}});
  for (const auto& m : testing_support::Mutations(good, 3000)) {
    auto r = beacon::DecodeCheckins(m);
    if (r.ok()) {
      for (const auto& c : *r) CHECK(common::IsUuid(c.device_id));
    } else {
      CHECK(r.status().code() == common::Code::kInvalidArgument);
      CHECK(r.status().message().rfind("checkins:", 0) == 0);
    }
  }
}

// The beacon's settings are read once and every number is range-checked
// where it is written, so nothing is cast out of range later.
#include "settings.h"

#include <catch2/catch.hpp>

#include "beacon/beacon.h"
#include "checkins.h"

TEST_CASE("settings: out-of-range numbers are refused with file:line") {
  struct Case {
    const char* line;
    const char* says;
  };
  for (const Case& c : {Case{"listen_port = 70000", "beacon.conf:2: listen_port: '70000' is out of range (0 to 65535)"},
                        Case{"workers = 99999999999", "beacon.conf:2: workers: '99999999999' is out of range"},
                        Case{"header_timeout = 0s", "beacon.conf:2: header_timeout: '0s' is out of range (1 to 3600 seconds)"},
                        Case{"max_concurrent_uploads = -1", "beacon.conf:2: max_concurrent_uploads"},
                        Case{"listen_port = 8443x", "beacon.conf:2: listen_port"}}) {
    INFO(c.line);
    auto config = common::ParseConfig(std::string("store = sqlite\n") + c.line + "\n", "beacon.conf",
                                      &beacon::ConfigKeys());
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().message().find(c.says) == 0);
  }
}

TEST_CASE("settings: combinations the table cannot check") {
  auto settings = [](const std::string& text) {
    auto config = common::ParseConfig(text, "beacon.conf", &beacon::ConfigKeys());
    REQUIRE(config.ok());
    return beacon::Settings::FromConfig(*config);
  };
  CHECK(settings("store = sqlite\n").ok());
  CHECK(settings("store = sqlite\nupstream = https://a:1\n").status().code() == common::Code::kInvalidArgument);
  CHECK(settings("").status().code() == common::Code::kInvalidArgument);
  // The store's backend: PostgreSQL needs its connection string, SQLite has none.
  {
    auto pg = settings("store = postgresql\nstore_conninfo = host=/run/postgresql dbname=inventory\n");
    REQUIRE(pg.ok());
    CHECK(pg->central);
    CHECK(pg->store.backend == "postgresql");
    CHECK(pg->store.conninfo == "host=/run/postgresql dbname=inventory");
  }
  CHECK(settings("store = postgresql\n").status().message().find("store_conninfo") != std::string::npos);
  CHECK(settings("store = sqlite\nstore_conninfo = dbname=x\n").status().code() ==
        common::Code::kInvalidArgument);
  CHECK(settings("store = mysql\n").status().code() == common::Code::kInvalidArgument);
  // Nothing acknowledged may be too large for the importer.
  CHECK(settings("store = sqlite\nmax_upload_size = 1G\n").status().message().find("max_upload_size") !=
        std::string::npos);
  CHECK(settings("upstream = https://a:1\nrelay_backoff_base = 10m\nrelay_backoff_cap = 1m\n").status().code() ==
        common::Code::kInvalidArgument);
}

TEST_CASE("check-ins: the pending map is bounded and counts what it drops") {
  beacon::CheckinTracker tracker;
  for (size_t i = 0; i < beacon::CheckinTracker::kMaxPending + 10; ++i) {
    tracker.Record({std::to_string(i), 1, "b", "", 0, 0, ""});
  }
  CHECK(tracker.dropped() == 10);
  // A device already pending is still updated.
  tracker.Record({"5", 2, "b", "", 7, 0, ""});
  auto batch = tracker.Drain();
  CHECK(batch.size() == beacon::CheckinTracker::kMaxPending);
  for (const auto& c : batch) {
    if (c.device_id == "5") CHECK(c.policy_revision == 7);
  }
}

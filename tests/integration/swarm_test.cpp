// The swarm simulator (bench/swarm) against a real relay and central: a day
// of 200 devices compressed into seconds, then the relay stopped and
// started again and every device at once (the reconnect storm). Every
// upload the simulator saw acknowledged must end in the store, once. Each
// simulated device presents a certificate of its own (mutual TLS), which
// the simulator issues from the central's CA. No timing is asserted: the
// figures are the benchmark's (docs/benchmarks.md).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "integration/harness.h"

using harness::CountFiles;
using harness::Estate;
using harness::WaitUntil;
using std::chrono::seconds;
namespace fs = std::filesystem;

namespace {

nlohmann::json ReadJson(const std::string& path) {
  auto j = nlohmann::json::parse(harness::ReadText(path), nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

// The (device, upload id) of every line of an acks file.
std::vector<harness::UploadKey> Acked(const std::string& path) {
  std::vector<harness::UploadKey> keys;
  std::istringstream in(harness::ReadText(path));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string device, upload;
    std::getline(fields, device, '\t');
    std::getline(fields, upload, '\t');
    keys.emplace_back(device, upload);
  }
  return keys;
}

const nlohmann::json& Phase(const nlohmann::json& result, const std::string& name) {
  for (const auto& p : result["phases"]) {
    if (p["phase"] == name) return p;
  }
  FAIL("no phase " << name);
  return result;
}

}  // namespace

TEST_CASE("swarm: every upload acknowledged in a day and an outage storm is stored once",
          "[slow]") {
  Estate e;
  e.StartCentral();
  // Retry-After 1 s and two uploads at a time: the storm meets 503s, and
  // the devices must come back after them.
  e.StartDmz("workers = 32\nretry_after = 1s\nmax_concurrent_uploads = 2\n");
  const std::string results = e.dir + "/swarm";
  const std::string state = results + "/devices.tsv";
  const std::string ready = results + "/outage.ready";
  const std::vector<std::string> base{SWARM_BIN,
                                      "--server",
                                      "https://127.0.0.1:" + std::to_string(e.dmz_port),
                                      "--ca-file",
                                      e.pki + "/ca.pem",
                                      // A certificate per simulated device, from the central's CA.
                                      "--ca-dir",
                                      e.dir + "/central/ca",
                                      "--policy-public-key",
                                      e.certs + "/policy.pub",
                                      "--results",
                                      results,
                                      "--conns",
                                      "8",
                                      "--backoff-base",
                                      "1",
                                      "--backoff-cap",
                                      "2"};

  std::vector<std::string> day_args = base;
  day_args.insert(day_args.end(), {"--scenario", "day", "--devices", "200", "--day-minutes", "0.2",
                                   "--finish-timeout", "60", "--state-out", state});
  auto day = harness::Run(day_args);
  INFO(day.output);
  REQUIRE(day.exit_code == 0);
  const nlohmann::json day_result = ReadJson(results + "/day.json");
  CHECK(day_result["identities"]["issued"] == 200);
  CHECK(day_result["uploads_pending_at_end"] == 0);
  CHECK(day_result["acknowledged"].get<int>() >= 200);  // servers may send more than one
  CHECK(Phase(day_result, "prime")["counters"]["policies_applied"] == 200);
  CHECK(Phase(day_result, "day")["latency_ms"]["manifest"]["answers"]["304"].get<int>() > 0);

  std::vector<std::string> outage_args = base;
  outage_args.insert(outage_args.end(),
                     {"--scenario", "outage", "--state-in", state, "--ready-file", ready,
                      "--outage-spread", "1", "--storm-timeout", "120"});
  harness::Process swarm(outage_args, e.dir + "/swarm-outage.log");
  REQUIRE(WaitUntil([&] { return fs::exists(ready); }, seconds(60)));
  e.StopDmz();
  REQUIRE(WaitUntil([&] { return harness::ReadText(ready).find("down") != std::string::npos; },
                    seconds(30)));
  e.StartDmz();
  REQUIRE(WaitUntil([&] { return !swarm.Running(); }, seconds(240)));
  INFO(harness::ReadText(e.dir + "/swarm-outage.log"));
  const nlohmann::json outage = ReadJson(results + "/outage.json");
  CHECK_FALSE(outage.contains("error"));
  CHECK(outage["identities"]["reused"] == 200);  // the day's certificates, found again
  CHECK(outage["devices_not_served"] == 0);
  CHECK(outage["acknowledged"] == 200);
  // Every 503 (each carries Retry-After) was waited out before the retry.
  const nlohmann::json& storm = Phase(outage, "storm");
  const int busy = storm["latency_ms"]["upload"]["answers"].value("503", 0);
  CHECK(storm["counters"].value("retry_after_honoured", 0) >= busy);

  // Once both spools are empty, the store holds every acknowledged upload once.
  REQUIRE(WaitUntil(
      [&] {
        return CountFiles(e.dir + "/dmz/spool/ready") == 0 &&
               CountFiles(e.dir + "/central/spool/ready") == 0;
      },
      seconds(120)));
  std::vector<harness::UploadKey> acked = Acked(results + "/day-acks.tsv");
  const auto outage_acked = Acked(results + "/outage-acks.tsv");
  acked.insert(acked.end(), outage_acked.begin(), outage_acked.end());
  CHECK(acked.size() == day_result["acknowledged"].get<size_t>() + 200);
  CHECK(std::set<harness::UploadKey>(acked.begin(), acked.end()).size() == acked.size());
  auto stored = harness::StoredUploads(e);
  REQUIRE(stored);
  size_t lost = 0, twice = 0;
  for (const auto& key : acked) lost += harness::RowsFor(*stored, key) == 0 ? 1 : 0;
  for (const auto& [key, row] : *stored) twice += row.rows > 1 ? 1 : 0;
  CHECK(lost == 0);
  CHECK(twice == 0);
}

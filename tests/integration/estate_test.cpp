// Seeing the estate with the real executables (docs/estate.md,
// docs/health.md, docs/actions.md): beacons reporting themselves and going
// offline, a client's health message raised and cleared through a relay,
// status and policy sync, and actions delivered in signed manifests, run
// once, expired, cancelled and delivered across an outage.
#include <algorithm>
#include <catch2/catch.hpp>
#include <ctime>
#include <regex>
#include <optional>
#include <string>
#include <vector>

#include "common/uuid.h"
#include "harness.h"
#include "inventory/store.h"

namespace {

using harness::Estate;
using harness::WaitUntil;
using std::chrono::seconds;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::optional<inventory::BeaconState> BeaconNamed(Estate& e, const std::string& name) {
  auto beacons = e.Store()->ListBeacons();
  if (!beacons.ok()) return std::nullopt;
  for (const auto& b : *beacons) {
    if (b.name == name) return b;
  }
  return std::nullopt;
}

std::vector<inventory::HealthRow> Health(Estate& e, const inventory::HealthFilter& filter) {
  auto rows = e.Store()->ListHealth(filter);
  return rows.ok() ? *rows : std::vector<inventory::HealthRow>{};
}

const inventory::HealthRow* Find(const std::vector<inventory::HealthRow>& rows, const std::string& id) {
  for (const auto& r : rows) {
    if (r.message.id == id) return &r;
  }
  return nullptr;
}

// The uploads of `kind` the store holds for the device.
int Uploads(Estate& e, const std::string& device, const std::string& kind) {
  auto rows = e.Store()->RecentUploads(device, 1000);
  if (!rows.ok()) return -1;
  int n = 0;
  for (const auto& r : *rows) n += r.kind == kind;
  return n;
}

std::string ActionState(Estate& e, const std::string& id) {
  auto a = e.Store()->GetAction(id);
  return a.ok() ? a->state : "(" + a.status().ToString() + ")";
}

// `beaconctl action create ...`: the id it printed.
std::string CreateAction(Estate& e, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"action", "create"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = e.Ctl(argv);
  std::smatch m;
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  REQUIRE(std::regex_search(r.output, m, uuid));
  return m[0];
}

// Everything the client queued has been imported: its outbox, the relay's
// spool and the central's are empty at once (checked in the order an upload
// moves, so an upload between two spools is never missed).
bool Drained(Estate& e) {
  return harness::CountFiles(e.dir + "/client/outbox/ready") == 0 &&
         harness::CountFiles(e.dir + "/dmz/spool/ready") == 0 &&
         harness::CountFiles(e.dir + "/central/spool/ready") == 0;
}

// Runs client cycles until the client has taken action `id` from its
// manifest (its ledger names it): the central signs actions into manifests
// within seconds of their creation.
bool RunUntilTaken(Estate& e, const std::string& conf, const std::string& id) {
  return WaitUntil(
      [&] {
        e.Client(conf, {"run", "--once"});
        return harness::ReadText(e.dir + "/client/actions").find(id) != std::string::npos;
      },
      seconds(60));
}

// Enrolls a client through the DMZ and runs one cycle; returns its device id.
std::string FirstRun(Estate& e, const std::string& conf) {
  auto run = e.Client(conf, {"run", "--once"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  return e.DeviceOf("client");
}

}  // namespace

TEST_CASE("beacons report their status and own messages, and one that stops reporting is offline") {
  Estate e;
  e.StartCentral();
  // An impossible free-space threshold: the relay finds its disk short.
  e.StartDmz("health_min_free = 1000000G\n");
  REQUIRE(WaitUntil([&] { return Find(Health(e, {"", "dmz", true, 100}), "beacon.spool-disk-short") != nullptr; },
                    seconds(30)));
  const auto msg = *Find(Health(e, {"", "dmz", true, 100}), "beacon.spool-disk-short");
  CHECK(msg.source_kind == "beacon");
  CHECK(msg.message.component == "spool");
  CHECK(msg.message.type == inventory::HealthType::kWarning);
  CHECK(msg.message.count >= 1);
  CHECK(msg.message.text.find("below health_min_free") != std::string::npos);

  auto rules = e.Store()->GetEstateRules();
  REQUIRE(rules.ok());
  auto dmz = BeaconNamed(e, "dmz");
  REQUIRE(dmz);
  CHECK(dmz->status.version == BEACON_VERSION);
  CHECK(dmz->status.interval == 5);
  CHECK_FALSE(dmz->status.central);
  CHECK(dmz->status.upstream_ok);
  CHECK(dmz->status.disk_free > 0);
  CHECK(dmz->cert_not_after > Now());
  CHECK(dmz->open_warnings >= 1);
  CHECK(inventory::BeaconStatusOf(*dmz, *rules, Now()).online);
  // The central reports itself straight into its store.
  REQUIRE(WaitUntil([&] { return BeaconNamed(e, "central").has_value(); }, seconds(15)));
  CHECK(BeaconNamed(e, "central")->status.central);

  auto listed = e.Ctl({"beacons"});
  CHECK(listed.output.find("dmz") != std::string::npos);

  // Restarted with room to spare, the relay clears its message; the
  // history keeps it.
  e.StopDmz();
  e.StartDmz("health_min_free = 1M\n");
  REQUIRE(WaitUntil([&] { return Find(Health(e, {"", "dmz", true, 100}), "beacon.spool-disk-short") == nullptr; },
                    seconds(30)));
  auto history = Health(e, {"", "dmz", false, 100});
  const auto* cleared = Find(history, "beacon.spool-disk-short");
  REQUIRE(cleared != nullptr);
  CHECK(cleared->message.cleared_at > 0);

  // Stopped, it misses its reports and becomes offline (3 x 5 s).
  e.StopDmz();
  REQUIRE(WaitUntil([&] { return !inventory::BeaconStatusOf(*BeaconNamed(e, "dmz"), *rules, Now()).online; },
                    seconds(40)));
  auto offline = e.Ctl({"beacons"});
  CHECK(offline.output.find("offline") != std::string::npos);
}

TEST_CASE("a client's health message is raised and cleared end to end through a relay") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  const std::string device = FirstRun(e, conf);

  // Another policy key: every manifest is refused, and the client says so.
  auto gen = harness::Run({"/bin/sh", "-c",
                           "openssl genpkey -algorithm ed25519 -out " + e.dir + "/other.key && openssl pkey -in " +
                               e.dir + "/other.key -pubout -out " + e.dir + "/other.pub"});
  REQUIRE(gen.exit_code == 0);
  const std::string good = harness::ReadText(conf);
  harness::WriteText(conf, std::regex_replace(good, std::regex("policy_public_key = \\S+"),
                                              "policy_public_key = " + e.dir + "/other.pub"));
  // A new revision, so that the client fetches a manifest to verify.
  auto policy = harness::ReadText(e.dir + "/central/policy/default/policy.xml");
  harness::WriteText(e.dir + "/central/policy/default/policy.xml", policy + "<!-- revision 2 -->\n");
  e.PolicyCommand({"publish", "-m", "revision 2"});
  REQUIRE(WaitUntil([&] { return e.Store()->GetEstateRules()->policy_revision == 2; }, seconds(20)));
  auto refused = e.Client(conf, {"run", "--once"});
  INFO(refused.output);
  CHECK(refused.exit_code == 1);
  REQUIRE(WaitUntil([&] { return Find(Health(e, {device, "", true, 100}), "client.manifest-refused") != nullptr; },
                    seconds(20)));
  const auto raised = *Find(Health(e, {device, "", true, 100}), "client.manifest-refused");
  CHECK(raised.source_kind == "device");
  CHECK(raised.source == device);
  CHECK(raised.message.type == inventory::HealthType::kError);
  auto state = e.Store()->GetDeviceState(device);
  REQUIRE(state.ok());
  CHECK(state->open_errors >= 1);
  auto rules = e.Store()->GetEstateRules();
  REQUIRE(rules.ok());
  auto verdict = inventory::DeviceStatusOf(*state, *rules, Now());
  CHECK(std::find(verdict.conditions.begin(), verdict.conditions.end(), "health-errors") != verdict.conditions.end());

  // The right key again: the message is cleared at the client, and the
  // clearing travels to the central.
  harness::WriteText(conf, good);
  auto fixed = e.Client(conf, {"run", "--once"});
  INFO(fixed.output);
  CHECK(fixed.exit_code == 0);
  REQUIRE(WaitUntil([&] { return Find(Health(e, {device, "", true, 100}), "client.manifest-refused") == nullptr; },
                    seconds(20)));
  const auto* cleared = Find(Health(e, {device, "", false, 100}), "client.manifest-refused");
  REQUIRE(cleared != nullptr);
  CHECK(cleared->message.cleared_at >= cleared->message.first_seen);
  CHECK(e.Store()->GetDeviceState(device)->open_errors == 0);
}

TEST_CASE("a device is active and in sync, behind after a publish, and in sync again after its check") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  const std::string device = FirstRun(e, conf);
  REQUIRE(WaitUntil(
      [&] {
        auto s = e.Store()->GetDeviceState(device);
        return s.ok() && s->inventoried && s->last_seen > 0 && s->policy_revision == 1 && s->check_interval > 0;
      },
      seconds(20)));
  auto state = *e.Store()->GetDeviceState(device);
  CHECK(state.via == "dmz");
  auto rules = *e.Store()->GetEstateRules();
  CHECK(rules.policy_revision == 1);
  auto v = inventory::DeviceStatusOf(state, rules, Now());
  CHECK(v.status == inventory::DeviceStatus::kActive);
  CHECK(v.in_sync);
  CHECK(v.conditions.empty());
  // No check-in for longer than its intervals allow: disconnected.
  auto later = inventory::DeviceStatusOf(state, rules, Now() + (rules.disconnect_after + 1) * state.check_interval);
  CHECK(later.status == inventory::DeviceStatus::kDisconnected);

  auto policy = harness::ReadText(e.dir + "/central/policy/default/policy.xml");
  harness::WriteText(e.dir + "/central/policy/default/policy.xml",
                     policy + "<!-- a change, for a new revision -->\n");
  e.PolicyCommand({"publish", "-m", "revision 2"});
  REQUIRE(WaitUntil([&] { return e.Store()->GetEstateRules()->policy_revision == 2; }, seconds(20)));
  rules = *e.Store()->GetEstateRules();
  v = inventory::DeviceStatusOf(state, rules, Now());
  CHECK_FALSE(v.in_sync);
  // Within its check interval it has not missed anything yet...
  CHECK(std::find(v.conditions.begin(), v.conditions.end(), "policy-out-of-sync") == v.conditions.end());
  // ...after it, it has.
  v = inventory::DeviceStatusOf(state, rules, rules.policy_since + state.check_interval + 1);
  CHECK(std::find(v.conditions.begin(), v.conditions.end(), "policy-out-of-sync") != v.conditions.end());

  auto run = e.Client(conf, {"run", "--once"});
  REQUIRE(run.exit_code == 0);
  REQUIRE(WaitUntil([&] { return e.Store()->GetDeviceState(device)->policy_revision == 2; }, seconds(20)));
  CHECK(inventory::DeviceStatusOf(*e.Store()->GetDeviceState(device), rules, Now()).in_sync);
  auto show = e.Ctl({"device", "show", device});
  CHECK(show.output.find("active") != std::string::npos);

  // The central's history (history_interval = 1s here) has a point that
  // counts it active, and the check-ins of its minute.
  auto counted = [&](const std::string& series) {
    auto history = e.Store()->EstateHistory(0);
    if (!history.ok()) return false;
    for (const auto& s : *history) {
      if (s.series == series && s.value >= 1) return true;
    }
    return false;
  };
  CHECK(WaitUntil([&] { return counted("status:active"); }, seconds(20)));
  CHECK(WaitUntil([&] { return counted("checkins"); }, seconds(20)));
}

TEST_CASE("actions: delivered in the signed manifest and done, seen twice and run once") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  const std::string device = FirstRun(e, conf);
  const std::string id = CreateAction(e, {"inventory", "--device", device, "--expires", "1h"});
  CHECK(ActionState(e, id) == "pending");
  REQUIRE(RunUntilTaken(e, conf, id));
  // The central is stopped: the relay serves its cached manifest, which
  // still carries the action. The client must not run it again.
  e.StopCentral();
  auto again = e.Client(conf, {"run", "--once"});
  INFO(again.output);
  e.StartCentral();
  REQUIRE(WaitUntil([&] { return ActionState(e, id) == "done"; }, seconds(30)));
  auto done = *e.Store()->GetAction(id);
  CHECK(done.delivered_at > 0);
  CHECK(done.finished_at >= done.delivered_at);
  CHECK_FALSE(done.result.empty());
  REQUIRE(WaitUntil([&] { return Drained(e); }, seconds(30)));
  CHECK(Uploads(e, device, "action") == 1);
  auto shown = e.Ctl({"action", "show", id});
  CHECK(shown.output.find("done") != std::string::npos);
}

TEST_CASE("actions: expired while the device was away, cancelled, and delivered after the relay came back") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  const std::string device = FirstRun(e, conf);

  const std::string expiring = CreateAction(e, {"logs", "--device", device, "--expires", "2s"});
  const std::string cancelled = CreateAction(e, {"policy", "--device", device, "--expires", "1h"});
  e.Ctl({"action", "cancel", cancelled});
  CHECK(ActionState(e, cancelled) == "cancelled");
  // The central expires actions and then reloads the active ones in the
  // same round, so once it says expired, no manifest carries either.
  REQUIRE(WaitUntil([&] { return ActionState(e, expiring) == "expired"; }, seconds(20)));
  auto run = e.Client(conf, {"run", "--once"});
  REQUIRE(run.exit_code == 0);
  REQUIRE(WaitUntil([&] { return Drained(e); }, seconds(30)));
  CHECK(Uploads(e, device, "action") == 0);
  CHECK(ActionState(e, expiring) == "expired");
  CHECK(ActionState(e, cancelled) == "cancelled");
  auto refused = e.Ctl({"action", "list", "--device", device});
  CHECK(refused.output.find("expired") != std::string::npos);

  // The relay is down when the action is queued: it waits, pending.
  e.StopDmz();
  const std::string waiting = CreateAction(e, {"diagnose", "--device", device, "--expires", "1h"});
  auto offline = e.Client(conf, {"run", "--once"});
  CHECK(offline.exit_code == 1);
  CHECK(ActionState(e, waiting) == "pending");
  e.StartDmz();
  REQUIRE(RunUntilTaken(e, conf, waiting));
  REQUIRE(WaitUntil([&] { return ActionState(e, waiting) == "done" || ActionState(e, waiting) == "failed"; },
                    seconds(30)));
  auto a = *e.Store()->GetAction(waiting);
  // The diagnostics ran against a working path and said so.
  CHECK(a.result.find("bundle uploaded as logs") != std::string::npos);
  CHECK(Uploads(e, device, "action") == 1);
}

// beaconctl's estate commands (status, devices, device show, beacons, health,
// action) and the --json/--csv output layer, run as the real executable on a
// store built through the Store API in a temporary data directory.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "harness.h"
#include "inventory/health.h"
#include "inventory/store.h"

namespace {

using harness::CommandResult;
using inventory::HealthMessage;
using inventory::HealthType;

constexpr char kWeb[] = "aaaaaaaa-0000-4000-8000-000000000001";       // active, in sync, an open error
constexpr char kDb[] = "aaaaaaaa-0000-4000-8000-000000000002";        // disconnected, behind
constexpr char kNew[] = "aaaaaaaa-0000-4000-8000-000000000003";       // pending: seen, no inventory
constexpr char kNever[] = "aaaaaaaa-0000-4000-8000-000000000004";     // enrolled, never seen
constexpr char kHostile[] = "aaaaaaaa-0000-4000-8000-000000000005";   // active, a hostile host name
constexpr char kUnknown[] = "aaaaaaaa-0000-4000-8000-0000000000ff";
// Commas, quotes, a newline and a leading '=': a formula in a spreadsheet.
const std::string kEvilName = "=cmd|' /C calc'!A0, \"quoted\"\nhost";

const int64_t kNow = static_cast<int64_t>(std::time(nullptr));

inventory::UploadInfo Upload(const std::string& device, const std::string& kind, const std::string& via,
                             int64_t received_at) {
  inventory::UploadInfo u;
  u.upload_id = common::Sha256Hex(device + kind + via + std::to_string(received_at)).substr(0, 32);
  u.device_id = device;
  u.kind = kind;
  u.sha256 = std::string(64, 'a');
  u.size = 512;
  u.received_at = received_at;
  u.via = via;
  return u;
}

void Seen(inventory::Store& s, const std::string& device, int64_t ago, int64_t interval, int64_t revision) {
  inventory::Checkin c;
  c.device_id = device;
  c.seen_at = kNow - ago;
  c.via = "dmz-1";
  c.client_version = "1.4.0";
  c.policy_revision = revision;
  c.check_interval = interval;
  REQUIRE(s.RecordCheckins({c}).ok());
}

// An upload counts as being seen: received `ago` seconds before now.
void Inventoried(inventory::Store& s, const std::string& device, const std::string& host, const std::string& os,
                 int64_t ago = 120) {
  inventory::Inventory inv;
  inv.device_id = device;
  inv.collected_at = "2026-11-22T16:00:00Z";
  inv.sequence = 7;
  inv.os.hostname = host;
  inv.os.pretty_name = os;
  inv.hardware = {.vendor = "QEMU", .model = "Standard PC (Q35 + ICH9, 2009)", .serial = "",
                  .cpu_model = "AMD EPYC 7B13", .cpu_cores = 2, .memory_bytes = 25769803776,
                  .disks = {{"vda", "", 107374182400}}, .interfaces = {}};
  auto st = s.ImportInventory(Upload(device, "inventory", "dmz-1", kNow - ago), inv);
  INFO(st.ToString());
  REQUIRE(st.ok());
}

HealthMessage Message(const std::string& id, HealthType type, int64_t cleared_at) {
  HealthMessage m;
  m.id = id;
  m.component = "client";
  m.type = type;
  m.priority = type == HealthType::kError ? 1 : 3;
  m.text = "text of " + id;
  m.first_seen = kNow - 3600;
  m.last_seen = kNow - 60;
  m.count = 4;
  m.cleared_at = cleared_at;
  return m;
}

void BeaconReport(inventory::Store& s, const std::string& name, int64_t received_at) {
  inventory::Health h;
  h.source = inventory::HealthSource::kBeacon;
  h.id = name;
  h.sequence = 1;
  h.sent_at = received_at;
  inventory::HealthBeacon b;
  b.version = "1.4.0";
  b.interval = 300;
  b.spool_files = 3;
  b.spool_bytes = 3000;
  b.spool_oldest = received_at - 100;
  b.upstream_ok = true;
  b.upstream_since = received_at - 1000;
  b.cert_not_after = kNow + 90 * 86400;
  h.beacon = b;
  REQUIRE(s.ImportHealth(Upload("beacon-" + name, "beacon-health", name, received_at), h).ok());
}

// A data directory with a store of five devices, two beacons and a policy
// revision with a group "web" (hostname web-*) and a group "empty".
struct Fixture {
  Fixture() : dir(harness::MakeTempDir("estate-ctl")) {
    auto opened = inventory::OpenSqliteStore(dir + "/store.sqlite");
    REQUIRE(opened.ok());
    inventory::Store& s = **opened;
    inventory::EstateRules rules;
    rules.policy_revision = 3;
    rules.policy_since = kNow - 5 * 86400;
    REQUIRE(s.SetEstateRules(rules).ok());
    Seen(s, kWeb, 60, 300, 3);
    Inventoried(s, kWeb, "web-01", "Debian GNU/Linux 12 (bookworm)");
    Seen(s, kDb, 10 * 3600, 600, 2);
    Inventoried(s, kDb, "db-01", "Ubuntu 22.04.4 LTS", 11 * 3600);
    Seen(s, kNew, 30, 300, 0);
    Seen(s, kHostile, 90, 300, 3);
    Inventoried(s, kHostile, kEvilName, "Debian GNU/Linux 12 (bookworm)");
    inventory::IssuedCertRow cert{"0a1b", "device", kNever, common::Sha256Hex("key"), common::Sha256Hex("ca"),
                                  kNow - 86400, kNow + 10 * 86400, 0};
    REQUIRE(s.RecordCertificate(cert).ok());
    inventory::Health h;
    h.id = kWeb;
    h.sequence = 1;
    h.sent_at = kNow - 60;
    h.messages = {Message("client.clock-skew", HealthType::kWarning, kNow - 600),
                  Message("client.disk-short", HealthType::kError, 0)};
    REQUIRE(s.ImportHealth(Upload(kWeb, "health", "dmz-1", kNow - 60), h).ok());
    BeaconReport(s, "dmz-1", kNow - 60);
    BeaconReport(s, "dmz-2", kNow - 7200);  // 3 intervals are 15 minutes
    opened->reset();
    harness::WriteText(dir + "/policy/default/policy.xml", "<policy version=\"1\">\n</policy>\n");
    harness::WriteText(dir + "/policy/web/group.xml",
                       "<group version=\"1\" priority=\"10\"><hostname glob=\"web-*\"/></group>\n");
    harness::WriteText(dir + "/policy/empty/group.xml",
                       "<group version=\"1\" priority=\"20\"><hostname glob=\"nothing-*\"/></group>\n");
    auto published = Ctl({"policy", "publish", "-m", "groups"});
    INFO(published.output);
    REQUIRE(published.exit_code == 0);
  }
  ~Fixture() { std::filesystem::remove_all(dir); }
  CommandResult Ctl(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {BEACONCTL_BIN, "--data-dir", dir};
    argv.insert(argv.end(), args.begin(), args.end());
    return harness::Run(argv);
  }
  nlohmann::json Json(const std::vector<std::string>& args) const {
    auto r = Ctl(args);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    auto doc = nlohmann::json::parse(r.output, nullptr, false);
    REQUIRE_FALSE(doc.is_discarded());
    return doc;
  }
  std::string dir;
};

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The ids in a JSON listing's "id" fields.
std::vector<std::string> Ids(const nlohmann::json& list, const char* field = "id") {
  std::vector<std::string> ids;
  for (const auto& o : list) ids.push_back(o.at(field).get<std::string>());
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

TEST_CASE("beaconctl status counts devices per status and condition, beacons and open messages") {
  Fixture f;
  auto counts = f.Json({"status", "--json"});
  std::map<std::string, int64_t> by;
  for (const auto& row : counts) by[row.at("group").get<std::string>() + "/" + row.at("name").get<std::string>()] = row.at("count");
  CHECK(by["devices/total"] == 5);
  CHECK(by["status/never-connected"] == 1);
  CHECK(by["status/pending"] == 1);
  CHECK(by["status/active"] == 2);
  CHECK(by["status/disconnected"] == 1);
  CHECK(by["condition/health-errors"] == 1);
  CHECK(by["condition/policy-out-of-sync"] >= 1);  // db-01 at least (the pending device may be too)
  CHECK(by["beacons/online"] == 1);
  CHECK(by["beacons/offline"] == 1);
  CHECK(by["health/open-errors"] == 1);
  CHECK(by["health/open-warnings"] == 0);
  auto table = f.Ctl({"status"});
  CHECK(table.exit_code == 0);
  CHECK(std::regex_search(table.output, std::regex("status\\s+disconnected\\s+1\n")));
  auto csv = f.Ctl({"status", "--csv"});
  CHECK(Has(csv.output, "group,name,count\r\n"));
  CHECK(Has(csv.output, "status,active,2\r\n"));
}

TEST_CASE("beaconctl devices: filters by status, OS, name and condition, bad values are usage errors") {
  Fixture f;
  CHECK(Ids(f.Json({"devices", "--json"})).size() == 5);
  CHECK(Ids(f.Json({"devices", "--status", "disconnected", "--json"})) == std::vector<std::string>{kDb});
  CHECK(Ids(f.Json({"devices", "--status", "never-connected", "--json"})) == std::vector<std::string>{kNever});
  CHECK(Ids(f.Json({"devices", "--status", "pending", "--json"})) == std::vector<std::string>{kNew});
  CHECK(Ids(f.Json({"devices", "--os", "ubuntu*", "--json"})) == std::vector<std::string>{kDb});
  CHECK(Ids(f.Json({"devices", "--name", "WEB-0?", "--json"})) == std::vector<std::string>{kWeb});
  CHECK(Ids(f.Json({"devices", "--name", "web-0", "--json"})).empty());  // the glob matches whole names
  CHECK(Ids(f.Json({"devices", "--condition", "health-errors", "--json"})) == std::vector<std::string>{kWeb});
  CHECK(Ids(f.Json({"devices", "--status", "active", "--os", "debian*", "--json"})) ==
        std::vector<std::string>{kWeb, kHostile});

  auto web = f.Json({"devices", "--name", "web-01", "--json"}).at(0);
  CHECK(web.at("hostname") == "web-01");
  CHECK(web.at("status") == "active");
  CHECK(web.at("conditions") == nlohmann::json::array({"health-errors"}));
  CHECK(web.at("via") == "dmz-1");
  CHECK(web.at("client_version") == "1.4.0");
  CHECK(web.at("policy_revision") == 3);
  CHECK(web.at("in_sync") == true);
  CHECK(web.at("last_seen_unix") == kNow - 60);
  CHECK(web.at("last_seen").get<std::string>().back() == 'Z');
  auto db = f.Json({"devices", "--status", "disconnected", "--json"}).at(0);
  CHECK(db.at("in_sync") == false);
  CHECK(Has(db.at("why").get<std::string>(), "no check-in"));

  auto table = f.Ctl({"devices"});
  CHECK(table.exit_code == 0);
  CHECK(std::regex_search(table.output, std::regex("DEVICE +HOSTNAME +OS +STATUS +CONDITIONS +LAST SEEN")));
  CHECK(std::regex_search(table.output, std::regex(std::string(kDb) + " +db-01 .* disconnected .*2 \\(served 3\\)")));
  CHECK_FALSE(Has(table.output, "\"quoted\"\nhost"));  // the newline never reaches the terminal

  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"devices", "--status", "asleep"}, {"devices", "--condition", "sad"}, {"devices", "--status"},
           {"devices", "--json", "--csv"}}) {
    auto r = f.Ctl(bad);
    INFO(bad[1] << ": " << r.output);
    CHECK(r.exit_code == 2);
  }
  auto status = f.Ctl({"devices", "--status", "asleep"});
  CHECK(Has(status.output, "never-connected, pending, active, disconnected"));
  auto condition = f.Ctl({"devices", "--condition", "sad"});
  CHECK(Has(condition.output, "policy-out-of-sync, outbox-backlog, certificate-expiring, clone-suspected, health-errors"));
}

TEST_CASE("beaconctl devices --csv quotes a hostile host name and guards against formulas") {
  Fixture f;
  auto r = f.Ctl({"devices", "--csv", "--status", "active"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.rfind("id,hostname,os,status,why,conditions,last_seen,last_seen_unix,via,client_version,"
                       "policy_revision,in_sync\r\n", 0) == 0);
  // Printable turned the newline into '?'; the guard's quote, then RFC 4180 quoting.
  CHECK(Has(r.output, std::string(kHostile) + ",\"'=cmd|' /C calc'!A0, \"\"quoted\"\"?host\",Debian"));
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 3);  // the header and two records
  auto json = f.Json({"devices", "--name", "=cmd*", "--json"});
  REQUIRE(json.size() == 1);
  CHECK(json.at(0).at("hostname") == "=cmd|' /C calc'!A0, \"quoted\"?host");  // no guard in JSON
}

TEST_CASE("beaconctl device show: status and why, path, inventory, sync, health, uploads, actions") {
  Fixture f;
  auto show = f.Ctl({"device", "show", kWeb});
  INFO(show.output);
  CHECK(show.exit_code == 0);
  CHECK(std::regex_search(show.output, std::regex("STATUS +active")));
  CHECK(std::regex_search(show.output, std::regex("SERVED REVISION +3")));
  CHECK(std::regex_search(show.output, std::regex("INVENTORY +20[0-9-]+ [0-9:]+Z \\(#7\\)")));
  CHECK(std::regex_search(show.output, std::regex("CPU +AMD EPYC 7B13\n")));
  CHECK(std::regex_search(show.output, std::regex("MEMORY +24.0 GiB\n")));
  CHECK(std::regex_search(show.output, std::regex("vda +- +100.0 GiB\n")));
  CHECK(Has(show.output, "check-ins through:"));
  CHECK(Has(show.output, "client.disk-short"));
  CHECK_FALSE(Has(show.output, "client.clock-skew"));  // cleared: not open
  REQUIRE(f.Ctl({"action", "create", "logs", "--device", kWeb}).exit_code == 0);

  auto doc = f.Json({"device", "show", kWeb, "--json"});
  CHECK(doc.at("id") == kWeb);
  CHECK(doc.at("status") == "active");
  CHECK(doc.at("in_sync") == true);
  CHECK(doc.at("served_revision") == 3);
  CHECK(doc.at("inventory_sequence") == 7);
  CHECK(doc.at("outbox_depth") == 0);
  CHECK(doc.at("clone_suspected") == false);
  CHECK(doc.at("open_errors") == 1);
  CHECK(doc.at("cpu_cores") == 2);
  CHECK(doc.at("memory_bytes") == 25769803776);
  CHECK(doc.at("serial") == "");
  CHECK(doc.at("disks").at(0).at("size_bytes") == 107374182400);
  CHECK(doc.at("vias").at(0).at("via") == "dmz-1");
  CHECK(Ids(doc.at("health")) == std::vector<std::string>{"client.disk-short"});
  CHECK(doc.at("uploads").size() == 2);  // the inventory and the health document
  REQUIRE(doc.at("actions").size() == 1);
  CHECK(doc.at("actions").at(0).at("kind") == "logs");

  auto never = f.Json({"device", "show", kNever, "--json"});
  CHECK(never.at("status") == "never-connected");
  CHECK(never.at("certificate_expires_unix") == kNow + 10 * 86400);
  CHECK(never.at("memory_bytes") == 0);  // enrolled only: no hardware
  CHECK(never.at("disks").empty());
  CHECK(f.Ctl({"device", "show", "not-a-uuid"}).exit_code == 2);
  auto unknown = f.Ctl({"device", "show", kUnknown});
  CHECK(unknown.exit_code == 1);
  CHECK(Has(unknown.output, "unknown to the central"));
  CHECK(f.Ctl({"device", "show"}).exit_code == 2);
}

TEST_CASE("beaconctl beacons: online and offline with why, health: open or all, filters, bad input") {
  Fixture f;
  auto beacons = f.Json({"beacons", "--json"});
  REQUIRE(beacons.size() == 2);
  CHECK(beacons.at(0).at("name") == "dmz-1");
  CHECK(beacons.at(0).at("state") == "online");
  CHECK(beacons.at(0).at("spool_files") == 3);
  CHECK(beacons.at(0).at("upstream_ok") == true);
  CHECK(beacons.at(1).at("name") == "dmz-2");
  CHECK(beacons.at(1).at("state") == "offline");
  CHECK_FALSE(beacons.at(1).at("why").get<std::string>().empty());
  auto table = f.Ctl({"beacons"});
  CHECK(std::regex_search(table.output, std::regex("dmz-2 +offline")));

  CHECK(Ids(f.Json({"health", "--open", "--json"})) == std::vector<std::string>{"client.disk-short"});
  auto all = f.Json({"health", "--json"});
  CHECK(Ids(all) == std::vector<std::string>{"client.clock-skew", "client.disk-short"});
  for (const auto& m : all) {
    CHECK(m.at("source_kind") == "device");
    CHECK(m.at("count") == 4);
    CHECK((m.at("id") == "client.clock-skew") == !m.at("cleared").is_null());
  }
  CHECK(f.Json({"health", "--device", kDb, "--json"}).empty());
  CHECK(f.Json({"health", "--beacon", "dmz-1", "--json"}).empty());
  CHECK(f.Json({"health", "--limit", "1", "--json"}).size() == 1);
  auto csv = f.Ctl({"health", "--open", "--csv"});
  CHECK(csv.output.rfind("source_kind,source,id,component,type,priority,first_seen,first_seen_unix,", 0) == 0);
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"health", "--device", "web-01"}, {"health", "--beacon", "bad name"}, {"health", "--limit", "0"},
           {"health", "--limit", "many"}, {"health", "--device", kWeb, "--beacon", "dmz-1"}, {"beacons", "extra"}}) {
    auto r = f.Ctl(bad);
    INFO(r.output);
    CHECK(r.exit_code == 2);
  }
}

TEST_CASE("beaconctl action: create for a device or a group, list, show, cancel, and refused input") {
  Fixture f;
  auto one = f.Json({"action", "create", "inventory", "--device", kWeb, "--expires", "30m", "--json"});
  REQUIRE(one.size() == 1);
  const std::string id = one.at(0).at("id");
  CHECK(one.at(0).at("expires_unix").get<int64_t>() - one.at(0).at("created_unix").get<int64_t>() == 1800);
  CHECK(f.Json({"action", "show", id, "--json"}).at("state") == "pending");
  auto listed = f.Ctl({"action", "list", "--state", "pending"});
  CHECK(Has(listed.output, id));

  // --group: one action per device in the group now (web-01 only); the default group is everyone.
  auto group = f.Json({"action", "create", "policy", "--group", "web", "--json"});
  REQUIRE(group.size() == 1);
  CHECK(group.at(0).at("device_id") == kWeb);
  CHECK(group.at(0).at("group") == "web");
  CHECK(group.at(0).at("expires_unix").get<int64_t>() - group.at(0).at("created_unix").get<int64_t>() == 86400);
  CHECK(f.Json({"action", "create", "diagnose", "--group", "default", "--expires", "7d", "--json"}).size() == 5);
  auto empty = f.Ctl({"action", "create", "logs", "--group", "empty"});
  CHECK(empty.exit_code == 1);
  CHECK(Has(empty.output, "has no devices"));
  auto nosuch = f.Ctl({"action", "create", "logs", "--group", "nosuch"});
  CHECK(nosuch.exit_code == 1);
  CHECK(Has(nosuch.output, "no group 'nosuch'"));
  CHECK(f.Json({"action", "list", "--device", kWeb, "--json"}).size() == 3);

  auto cancel = f.Ctl({"action", "cancel", id});
  INFO(cancel.output);
  CHECK(cancel.exit_code == 0);
  CHECK(Has(cancel.output, "cancelled action " + id));
  auto shown = f.Ctl({"action", "show", id});
  CHECK(std::regex_search(shown.output, std::regex("STATE +cancelled")));
  CHECK(Ids(f.Json({"action", "list", "--state", "cancelled", "--json"})) == std::vector<std::string>{id});
  auto again = f.Ctl({"action", "cancel", id});
  CHECK(again.exit_code == 1);
  CHECK(Has(again.output, "cancelled"));
  CHECK(f.Ctl({"action", "cancel", kUnknown}).exit_code == 1);
  CHECK(f.Ctl({"action", "show", kUnknown}).exit_code == 1);
  CHECK(f.Ctl({"action", "create", "logs", "--device", kUnknown}).exit_code == 1);

  const size_t before = f.Json({"action", "list", "--json"}).size();
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"action", "create", "reboot", "--device", kWeb},
           {"action", "create", "logs"},
           {"action", "create", "logs", "--device", kWeb, "--group", "web"},
           {"action", "create", "logs", "--device", "web-01"},
           {"action", "create", "logs", "--group", "Not A Group"},
           {"action", "create", "logs", "--device", kWeb, "--expires", "45d"},
           {"action", "create", "logs", "--device", kWeb, "--expires", "0m"},
           {"action", "create", "logs", "--device", kWeb, "--expires", "soon"},
           {"action", "list", "--state", "sleeping"},
           {"action", "list", "--device", "x"},
           {"action", "show", "x"},
           {"action", "cancel", "x"},
           {"action"}}) {
    auto r = f.Ctl(bad);
    INFO(r.output);
    CHECK(r.exit_code == 2);
  }
  auto kind = f.Ctl({"action", "create", "reboot", "--device", kWeb});
  CHECK(Has(kind.output, "inventory, logs, policy, diagnose"));
  CHECK(f.Json({"action", "list", "--json"}).size() == before);  // nothing created by refused commands
}

TEST_CASE("beaconctl token: create prints a token once, the store keeps its digest, list and revoke") {
  Fixture f;
  auto created = f.Ctl({"token", "create", "--name", "ops", "--role", "admin"});
  INFO(created.output);
  REQUIRE(created.exit_code == 0);
  const std::string token = created.output.substr(0, created.output.find('\n'));
  REQUIRE(std::regex_match(token, std::regex("bkt_[0-9a-f]{64}")));
  REQUIRE(f.Ctl({"token", "create", "--name", "grafana"}).exit_code == 0);  // read by default
  CHECK(f.Ctl({"token", "create", "--name", "ops"}).exit_code == 1);      // a live name
  CHECK(f.Ctl({"token", "create", "--name", "x", "--role", "root"}).exit_code == 2);
  CHECK(f.Ctl({"token", "create", "--name", "a b"}).exit_code == 1);
  CHECK(f.Ctl({"token", "create"}).exit_code == 2);

  // Oldest first (then by name): read each by its name, not its place, as
  // the two may have been made in different seconds.
  auto by_name = [](const nlohmann::json& list, const std::string& name) {
    for (const auto& t : list) {
      if (t.at("name") == name) return t;
    }
    return nlohmann::json();
  };
  auto list = f.Json({"token", "list", "--json"});
  REQUIRE(list.size() == 2);
  CHECK(by_name(list, "grafana").at("role") == "read");
  CHECK(by_name(list, "ops").at("role") == "admin");
  CHECK(by_name(list, "ops").at("revoked").is_null());
  // Only the digest is stored: the token appears nowhere in the data dir.
  auto store = inventory::OpenSqliteStore(f.dir + "/store.sqlite", true);
  REQUIRE(store.ok());
  auto found = (*store)->FindApiToken(common::Sha256Hex(token));
  REQUIRE(found.ok());
  CHECK(found->name == "ops");
  CHECK_FALSE(Has(f.Ctl({"token", "list"}).output, token));

  auto revoked = f.Ctl({"token", "revoke", "ops"});
  INFO(revoked.output);
  CHECK(revoked.exit_code == 0);
  CHECK((*store)->FindApiToken(common::Sha256Hex(token))->revoked_at > 0);
  CHECK(f.Ctl({"token", "revoke", "ops"}).exit_code == 1);
  CHECK_FALSE(by_name(f.Json({"token", "list", "--json"}), "ops").at("revoked").is_null());
}

TEST_CASE("beaconctl as root on a central folder another user owns: refused, naming the user, nothing made") {
  if (::geteuid() != 0) {
    WARN("not run: needs root (to give the folder to another user)");
    return;
  }
  Fixture f;
  const auto files_before = std::distance(std::filesystem::recursive_directory_iterator(f.dir),
                                          std::filesystem::recursive_directory_iterator());
  REQUIRE(::chown(f.dir.c_str(), 65534, 65534) == 0);  // nobody: the packaged folder is beacon's
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"devices"}, {"token", "create", "--name", "late"}, {"policy", "publish", "-m", "x"}}) {
    auto r = f.Ctl(args);
    INFO(args[0] << ": " << r.output);
    CHECK(r.exit_code == 2);
    CHECK(Has(r.output, "belongs to the user 'nobody': run beaconctl as that user (sudo -u nobody"));
  }
  CHECK(std::distance(std::filesystem::recursive_directory_iterator(f.dir),
                      std::filesystem::recursive_directory_iterator()) == files_before);
  // Its owner may: the same command as that user works.
  REQUIRE(::chown(f.dir.c_str(), 0, 0) == 0);
  CHECK(f.Ctl({"devices"}).exit_code == 0);
}

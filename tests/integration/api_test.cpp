// The admin REST API (/api/v1, docs/api.md) on a real central, over real TLS,
// with tokens made by beaconctl: authentication, the figures against
// beaconctl's, cursor paging, search and sort, the device page, software by
// version, actions, and the refusal of hostile input.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "api_client.h"
#include "harness.h"

namespace {

using harness::ApiAnswer;
using harness::ApiEstate;
using harness::WaitUntil;
using std::chrono::seconds;

// The JSON error's code and parameter ("" for null).
std::string Err(const ApiAnswer& a) {
  if (!a.body.is_object() || !a.body.contains("error")) return "(no JSON error: " + a.raw + ")";
  const auto& e = a.body["error"];
  return e["code"].get<std::string>() + " " +
         (e["parameter"].is_null() ? "" : e["parameter"].get<std::string>());
}

void CheckJsonHeaders(const ApiAnswer& a) {
  CHECK(a.content_type == "application/json");
  CHECK(a.cache_control == "no-store");
  CHECK(a.nosniff == "nosniff");
}

// Every device id the list gives, page by page with `limit`, from `query`.
std::vector<std::string> Pages(ApiEstate& x, const std::string& query, int limit,
                               int* pages = nullptr) {
  std::vector<std::string> ids;
  std::string cursor;
  for (int page = 0; page < 1000; ++page) {
    std::string target = "/api/v1/devices?limit=" + std::to_string(limit) +
                         (query.empty() ? "" : "&" + query) +
                         (cursor.empty() ? "" : "&cursor=" + cursor);
    ApiAnswer a = x.api->Get(target, x.read_token);
    INFO(target << " -> " << a.raw);
    REQUIRE(a.status == 200);
    for (const auto& d : a.body["items"]) ids.push_back(d["device_id"]);
    if (pages != nullptr) *pages = page + 1;
    if (a.body["next_cursor"].is_null()) return ids;
    cursor = a.body["next_cursor"];
  }
  FAIL("no end of pages");
  return ids;
}

}  // namespace

TEST_CASE(
    "API: tokens: none, malformed, unknown or revoked is 401, and a read token may not write "
    "(403)") {
  ApiEstate x(5);
  ApiAnswer none = x.api->Get("/api/v1/summary", "");
  CHECK(none.status == 401);
  CHECK(Err(none) == "unauthenticated ");
  CHECK(none.www_authenticate.find("Bearer") == 0);
  CheckJsonHeaders(none);
  CHECK(x.api->Get("/api/v1/summary", "bkt_123").status == 401);
  CHECK(x.api->Get("/api/v1/summary", "bkt_" + std::string(64, 'A')).status == 401);
  CHECK(x.api->Get("/api/v1/summary", "bkt_" + std::string(64, '0')).status ==
        401);  // well-formed, unknown
  CHECK(x.api->Raw("GET /api/v1/summary HTTP/1.1\r\nAuthorization: Basic " + x.read_token).status ==
        401);
  // Even an unknown path needs a token first.
  CHECK(x.api->Get("/api/v1/nothing-here", "").status == 401);

  ApiAnswer ok = x.api->Get("/api/v1/summary", x.read_token);
  CHECK(ok.status == 200);
  CheckJsonHeaders(ok);
  // Who a token is: what beaconctl token list says of it.
  ApiAnswer me = x.api->Get("/api/v1/token", x.read_token);
  REQUIRE(me.status == 200);
  CHECK(me.body["name"] == "viewer");
  CHECK(me.body["role"] == "read");
  CHECK(me.body["id"].get<std::string>().size() == 12);
  CHECK(x.api->Get("/api/v1/token", x.admin_token).body["role"] == "admin");
  CHECK(x.api->Get("/api/v1/token", "").status == 401);
  const std::string body = "{\"kind\":\"inventory\",\"device\":\"" + x.client_device + "\"}";
  ApiAnswer forbidden = x.api->Post("/api/v1/actions", x.read_token, body);
  CHECK(forbidden.status == 403);
  CHECK(Err(forbidden) == "forbidden ");
  CHECK(x.api->Post("/api/v1/actions", "", body).status == 401);
  CHECK(x.api->Post("/api/v1/actions", x.admin_token, body).status == 201);

  // Revoked: refused from the next request on.
  x.e.Ctl({"token", "revoke", "viewer"});
  CHECK(x.api->Get("/api/v1/summary", x.read_token).status == 401);
  CHECK(x.api->Get("/api/v1/summary", x.admin_token).status == 200);
}

TEST_CASE("API: the summary's figures are beaconctl status's") {
  ApiEstate x(40);
  // The view may lag the store by a few seconds: poll until both agree.
  std::string last;
  bool agree = WaitUntil(
      [&] {
        ApiAnswer a = x.api->Get("/api/v1/summary", x.read_token);
        auto ctl = harness::Run([&] {
          auto argv = x.e.CtlArgs();
          argv.insert(argv.end(), {"status", "--json"});
          return argv;
        }());
        if (a.status != 200 || ctl.exit_code != 0) return false;
        std::map<std::string, int64_t> want;
        for (const auto& row : nlohmann::json::parse(ctl.output)) {
          want[row["group"].get<std::string>() + "/" + row["name"].get<std::string>()] =
              row["count"];
        }
        const auto& b = a.body;
        std::map<std::string, int64_t> got;
        got["devices/total"] = b["devices"]["total"];
        for (auto it = b["devices"]["by_status"].begin(); it != b["devices"]["by_status"].end();
             ++it) {
          got["status/" + it.key()] = it.value();
        }
        for (auto it = b["devices"]["by_condition"].begin();
             it != b["devices"]["by_condition"].end(); ++it) {
          got["condition/" + it.key()] = it.value();
        }
        got["beacons/online"] = b["beacons"]["online"];
        got["beacons/offline"] = b["beacons"]["offline"];
        got["health/open-errors"] = b["health"]["open_errors"];
        got["health/open-warnings"] = b["health"]["open_warnings"];
        last = a.raw + "\nbeaconctl: " + ctl.output;
        return got == want;
      },
      seconds(30));
  INFO(last);
  CHECK(agree);
  ApiAnswer a = x.api->Get("/api/v1/summary", x.read_token);
  CHECK(a.body["devices"]["total"] == 41);  // 40 seeded and the real client
  CHECK(a.body["devices"]["by_status"]["disconnected"] == 8);
  CHECK(a.body["policy"]["published_revision"] == 1);
  CHECK(a.body["age_seconds"].get<int64_t>() >= 0);
  CHECK(a.body["as_of_unix"].is_number_integer());
}

TEST_CASE(
    "API: the device list pages with a cursor, every device exactly once, one added between pages "
    "included") {
  ApiEstate x(40);
  const int total = 41;
  int pages = 0;
  std::vector<std::string> ids = Pages(x, "", 7, &pages);
  CHECK(pages == 6);
  CHECK(ids.size() == total);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == total);

  // Page one, then a device is added that sorts after it; page two on.
  ApiAnswer first = x.api->Get("/api/v1/devices?limit=10", x.read_token);
  REQUIRE(first.status == 200);
  CHECK(first.body["total"] == total);
  const std::string added = harness::SeededId(900);
  x.AddDevice(added, "zzz-added");
  REQUIRE(WaitUntil(
      [&] { return x.api->Get("/api/v1/devices?q=zzz-added", x.read_token).body["total"] == 1; },
      seconds(30)));
  std::vector<std::string> seen;
  for (const auto& d : first.body["items"]) seen.push_back(d["device_id"]);
  std::string cursor = first.body["next_cursor"];
  while (true) {
    ApiAnswer a = x.api->Get("/api/v1/devices?limit=10&cursor=" + cursor, x.read_token);
    REQUIRE(a.status == 200);
    for (const auto& d : a.body["items"]) seen.push_back(d["device_id"]);
    if (a.body["next_cursor"].is_null()) break;
    cursor = a.body["next_cursor"];
  }
  CHECK(seen.size() == total + 1);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == total + 1);
  CHECK(seen.back() == added);

  // A cursor is only for the sort and filters it was made with.
  ApiAnswer sorted = x.api->Get("/api/v1/devices?limit=5&sort=-last_seen", x.read_token);
  REQUIRE(sorted.status == 200);
  const std::string c = sorted.body["next_cursor"];
  CHECK(x.api->Get("/api/v1/devices?limit=5&sort=-last_seen&cursor=" + c, x.read_token).status ==
        200);
  CHECK(Err(x.api->Get("/api/v1/devices?limit=5&sort=hostname&cursor=" + c, x.read_token)) ==
        "invalid_cursor cursor");
  CHECK(Err(x.api->Get("/api/v1/devices?limit=5&sort=-last_seen&status=active&cursor=" + c,
                       x.read_token)) == "invalid_cursor cursor");
}

TEST_CASE("API: search, filters and sorts") {
  ApiEstate x(40);
  ApiAnswer found =
      x.api->Get("/api/v1/devices?q=API-01", x.read_token);  // case ignored: api-010..api-019
  REQUIRE(found.status == 200);
  CHECK(found.body["total"] == 10);
  ApiAnswer by_id = x.api->Get("/api/v1/devices?q=" + x.client_device.substr(9, 9), x.read_token);
  REQUIRE(by_id.body["total"] == 1);
  CHECK(by_id.body["items"][0]["device_id"] == x.client_device);

  ApiAnswer gone = x.api->Get("/api/v1/devices?status=disconnected&limit=500", x.read_token);
  CHECK(gone.body["total"] == 8);
  for (const auto& d : gone.body["items"]) CHECK(d["status"] == "disconnected");
  CHECK(x.api->Get("/api/v1/devices?via=dmz-2&os=debian*", x.read_token).body["total"] ==
        6);  // 6, 12, ..., 36

  ApiAnswer recent = x.api->Get("/api/v1/devices?sort=-last_seen&limit=500", x.read_token);
  REQUIRE(recent.status == 200);
  int64_t previous = INT64_MAX;
  for (const auto& d : recent.body["items"]) {
    const int64_t t = d["last_seen_unix"].is_null() ? 0 : d["last_seen_unix"].get<int64_t>();
    CHECK(t <= previous);
    previous = t;
  }
  // Descending is ascending reversed, ties (by id) included.
  ApiAnswer up = x.api->Get("/api/v1/devices?sort=hostname&limit=500", x.read_token);
  ApiAnswer down = x.api->Get("/api/v1/devices?sort=-hostname&limit=500", x.read_token);
  REQUIRE(up.body["items"].size() == 41);
  std::vector<std::string> a, b;
  for (const auto& d : up.body["items"]) a.push_back(d["device_id"]);
  for (const auto& d : down.body["items"]) b.push_back(d["device_id"]);
  std::reverse(b.begin(), b.end());
  CHECK(a == b);
  CHECK(up.body["items"][0]["hostname"] == "api-001");
}

TEST_CASE("API: the device page and its parts, for a real client") {
  ApiEstate x(3);
  const std::string base = "/api/v1/devices/" + x.client_device;
  ApiAnswer d = x.api->Get(base, x.read_token);
  INFO(d.raw);
  REQUIRE(d.status == 200);
  CHECK(d.body["device_id"] == x.client_device);
  CHECK(d.body["status"] == "active");
  CHECK(d.body["policy"]["applied_revision"].is_number_integer());
  CHECK(d.body["policy"]["published_revision"] == 1);
  CHECK(d.body["packages"].get<int64_t>() > 0);
  CHECK(!d.body["uploads"].empty());
  CHECK(d.body["vias"][0]["via"] == "central");
  CHECK(d.body["addresses"].is_array());

  ApiAnswer sw = x.api->Get(base + "/software", x.read_token);
  REQUIRE(sw.status == 200);
  CHECK(sw.body["total"] == d.body["packages"]);
  CHECK(x.api->Get(base + "/files", x.read_token).status == 200);

  // Hardware and sections: what the store holds for the real client's own
  // machine, field for field.
  {
    auto store = x.e.Store();
    auto hw = store->DeviceHardware(x.client_device);
    REQUIRE(hw.ok());
    const auto& h = d.body["hardware"];
    REQUIRE(h.is_object());
    CHECK(h["cpu_cores"] == hw->cpu_cores);
    CHECK(h["cpu_cores"].get<int64_t>() > 0);
    CHECK(h["memory_bytes"] == hw->memory_bytes);
    CHECK(h["cpu_model"] == hw->cpu_model);
    REQUIRE(h["disks"].size() == hw->disks.size());
    REQUIRE(h["interfaces"].size() == hw->interfaces.size());
    for (size_t i = 0; i < hw->interfaces.size(); ++i) {
      CHECK(h["interfaces"][i]["name"] == hw->interfaces[i].name);
      CHECK(h["interfaces"][i]["addresses"] == hw->interfaces[i].addresses);
    }
    auto sections = store->DeviceSections(x.client_device);
    REQUIRE(sections.ok());
    REQUIRE(!sections->empty());
    ApiAnswer all = x.api->Get(base + "/sections", x.read_token);
    REQUIRE(all.status == 200);
    REQUIRE(all.body["total"] == sections->size());
    for (size_t i = 0; i < sections->size(); ++i) {
      const auto& want = (*sections)[i];
      const auto& got = all.body["items"][i];
      INFO(want.name);
      CHECK(got["name"] == want.name);
      CHECK(got["notes"] == want.notes);
      REQUIRE(got["items"].size() == want.items.size());
      for (size_t k = 0; k < want.items.size(); ++k) {
        CHECK(got["items"][k]["key"] == want.items[k].key);
        CHECK(got["items"][k]["fields"].size() == want.items[k].fields.size());
        for (const auto& f : want.items[k].fields) CHECK(got["items"][k]["fields"][f.name] == f.value);
      }
    }
    // One section by name; the volatile fields are named (free space of a file system).
    ApiAnswer fs = x.api->Get(base + "/sections?name=filesystems", x.read_token);
    REQUIRE(fs.status == 200);
    REQUIRE(fs.body["total"] == 1);
    CHECK(fs.body["items"][0]["name"] == "filesystems");
    bool free_is_volatile = false;
    for (const auto& item : fs.body["items"][0]["items"]) {
      for (const auto& v : item["volatile_fields"]) free_is_volatile = free_is_volatile || v == "free_bytes";
    }
    CHECK(free_is_volatile);
    CHECK(x.api->Get(base + "/sections?name=no_such_section", x.read_token).body["total"] == 0);
    CHECK(Err(x.api->Get(base + "/sections?name=CPU", x.read_token)) == "invalid_parameter name");
    CHECK(Err(x.api->Get(base + "/sections?name=", x.read_token)) == "invalid_parameter name");
    CHECK(Err(x.api->Get(base + "/sections?name=cpu%27%3B--", x.read_token)) == "invalid_parameter name");
    CHECK(x.api->Get("/api/v1/devices/" + harness::SeededId(777) + "/sections", x.read_token).status == 404);
  }
  CHECK(x.api->Get(base + "/usage", x.read_token).status == 200);
  ApiAnswer changes = x.api->Get(base + "/changes", x.read_token);
  CHECK(changes.status == 200);
  ApiAnswer res = x.api->Get(base + "/resolution", x.read_token);
  REQUIRE(res.status == 200);
  CHECK(res.body["revision"] == 1);
  CHECK(res.body["groups"].back() == "default");
  CHECK(!res.body["files"].empty());

  ApiAnswer unknown = x.api->Get("/api/v1/devices/" + harness::SeededId(777), x.read_token);
  CHECK(unknown.status == 404);
  CHECK(Err(unknown) == "not_found id");
  CheckJsonHeaders(unknown);
  CHECK(
      x.api->Get("/api/v1/devices/" + harness::SeededId(777) + "/software", x.read_token).status ==
      404);
  CHECK(Err(x.api->Get("/api/v1/devices/NOT-A-UUID", x.read_token)) == "invalid_parameter id");
}

TEST_CASE("API: software by name, with Debian version comparison") {
  ApiEstate x(10);
  ApiAnswer all = x.api->Get("/api/v1/software?name=openssl", x.read_token);
  REQUIRE(all.status == 200);
  int seeded = 0;
  for (const auto& r : all.body["items"])
    seeded += r["device_id"].get<std::string>().rfind("bbbbbbbb", 0) == 0;
  CHECK(seeded == 10);
  ApiAnswer old = x.api->Get("/api/v1/software?name=openssl&below=3.0.13-1~deb12u1", x.read_token);
  REQUIRE(old.status == 200);
  std::set<std::string> versions;
  for (const auto& r : old.body["items"]) versions.insert(r["version"].get<std::string>());
  CHECK(versions.count("3.0.11-1~deb12u2") == 1);
  CHECK(versions.count("3.0.13-1~deb12u1") == 0);
  ApiAnswer range =
      x.api->Get("/api/v1/software?name=openssl&at_least=3.0.12&below=3.1", x.read_token);
  for (const auto& r : range.body["items"]) CHECK(r["version"] != "3.0.11-1~deb12u2");

  // The real device's own package, at its own version: at_least finds it, below does not.
  ApiAnswer sw = x.api->Get("/api/v1/devices/" + x.client_device + "/software", x.read_token);
  REQUIRE(sw.body["total"].get<int64_t>() > 0);
  const auto pkg = sw.body["items"][0];
  const std::string name = pkg["name"], version = pkg["version"];
  auto has_client = [&](const ApiAnswer& a) {
    for (const auto& r : a.body["items"]) {
      if (r["device_id"] == x.client_device && r["name"] == name) return true;
    }
    return false;
  };
  if (name.size() >= 2 && version.find_first_of("0123456789") == 0) {
    CHECK(has_client(
        x.api->Get("/api/v1/software?name=" + name + "&at_least=" + version, x.read_token)));
    CHECK_FALSE(has_client(
        x.api->Get("/api/v1/software?name=" + name + "&below=" + version, x.read_token)));
  }
  CHECK(Err(x.api->Get("/api/v1/software?name=*", x.read_token)) == "invalid_parameter name");
  CHECK(Err(x.api->Get("/api/v1/software?name=openssl&below=abc", x.read_token)) ==
        "invalid_parameter below");
}

TEST_CASE("API: an action is created pending, listed and cancelled, and beaconctl sees the same") {
  ApiEstate x(3);
  ApiAnswer made = x.api->Post(
      "/api/v1/actions", x.admin_token,
      "{\"kind\":\"inventory\",\"device\":\"" + x.client_device + "\",\"expires_in\":3600}");
  INFO(made.raw);
  REQUIRE(made.status == 201);
  CheckJsonHeaders(made);
  REQUIRE(made.body["total"] == 1);
  const std::string id = made.body["items"][0]["id"];
  CHECK(made.body["items"][0]["state"] == "pending");
  CHECK(made.body["items"][0]["expires_unix"].get<int64_t>() -
            made.body["items"][0]["created_unix"].get<int64_t>() ==
        3600);
  ApiAnswer listed =
      x.api->Get("/api/v1/actions?device=" + x.client_device + "&state=pending", x.read_token);
  REQUIRE(listed.status == 200);
  CHECK(listed.body["items"][0]["id"] == id);
  CHECK(x.api->Get("/api/v1/actions/" + id, x.read_token).body["kind"] == "inventory");
  auto ctl = x.e.Ctl({"action", "show", id, "--json"});
  CHECK(nlohmann::json::parse(ctl.output)["state"] == "pending");
  // The device page lists it.
  bool on_page = false;
  const ApiAnswer page = x.api->Get("/api/v1/devices/" + x.client_device, x.read_token);
  for (const auto& a : page.body["actions"]) on_page = on_page || a["id"] == id;
  CHECK(on_page);

  ApiAnswer cancelled = x.api->Post("/api/v1/actions/" + id + "/cancel", x.admin_token, "", "");
  INFO(cancelled.raw);
  REQUIRE(cancelled.status == 200);
  CHECK(cancelled.body["state"] == "cancelled");
  CHECK(nlohmann::json::parse(x.e.Ctl({"action", "show", id, "--json"}).output)["state"] ==
        "cancelled");
  ApiAnswer again = x.api->Post("/api/v1/actions/" + id + "/cancel", x.admin_token, "", "");
  CHECK(again.status == 409);
  CHECK(Err(again) == "conflict id");

  // A group: one action per member, as beaconctl expands it.
  ApiAnswer group =
      x.api->Post("/api/v1/actions", x.admin_token, "{\"kind\":\"policy\",\"group\":\"default\"}");
  REQUIRE(group.status == 201);
  CHECK(group.body["total"] == 4);
  CHECK(x.api->Post("/api/v1/actions", x.admin_token, "{\"kind\":\"policy\",\"group\":\"nosuch\"}")
            .status == 404);
  CHECK(Err(x.api->Post("/api/v1/actions/" + harness::SeededId(5) + "/cancel", x.admin_token, "",
                        "")) == "not_found id");
}

TEST_CASE("API: hostile and malformed input is 400 with a JSON error naming the parameter") {
  ApiEstate x(3);
  const std::string t = x.read_token;
  struct Case {
    std::string target;
    std::string code;  // "code parameter"
  };
  const std::vector<Case> cases = {
      {"/api/v1/devices?limit=501", "invalid_parameter limit"},
      {"/api/v1/devices?limit=0", "invalid_parameter limit"},
      {"/api/v1/devices?limit=-1", "invalid_parameter limit"},
      {"/api/v1/devices?limit=10&limit=20", "repeated_parameter limit"},
      {"/api/v1/devices?limit=1e2", "invalid_parameter limit"},
      {"/api/v1/devices?sort=name", "invalid_parameter sort"},
      {"/api/v1/devices?status=asleep", "invalid_parameter status"},
      {"/api/v1/devices?condition=on-fire", "invalid_parameter condition"},
      {"/api/v1/devices?bogus=1", "unknown_parameter bogus"},
      {"/api/v1/devices?q=%00", "invalid_parameter q"},
      {"/api/v1/devices?q=a%0D%0ASet-Cookie:%20x", "invalid_parameter q"},
      {"/api/v1/devices?q=%1B%5B31m", "invalid_parameter q"},
      {"/api/v1/devices?q=%ZZ", "invalid_parameter q"},
      {"/api/v1/devices?q=%E0%80%80", "invalid_parameter q"},
      {"/api/v1/devices?q=%FF", "invalid_parameter q"},
      {"/api/v1/devices?q=" + std::string(300, 'x'), "invalid_parameter q"},
      {"/api/v1/devices?q=", "invalid_parameter q"},
      {"/api/v1/devices?cursor=abc", "invalid_cursor cursor"},
      {"/api/v1/devices?cursor=" + std::string(2000, 'A'), "invalid_parameter cursor"},
      {"/api/v1/devices?via=a%20b", "invalid_parameter via"},
      {"/api/v1/devices?q=x&&limit=1", "malformed_query "},
      {"/api/v1/software", "invalid_parameter name"},
      {"/api/v1/software?name=%25%27%20OR%201%3D1%20--&below=1",
       "ok"},  // SQL-looking: just a pattern
      {"/api/v1/software?name=ssl&at_least=1.0%00", "invalid_parameter at_least"},
      {"/api/v1/changes", "invalid_parameter since"},
      {"/api/v1/changes?since=yesterday", "invalid_parameter since"},
      {"/api/v1/changes?since=2026-13-01", "invalid_parameter since"},
      {"/api/v1/changes?since=0&device=x'%20OR%20'1'='1", "invalid_parameter device"},
      {"/api/v1/usage?device=" + harness::SeededId(999), "not_found device"},
      {"/api/v1/health?open=maybe", "invalid_parameter open"},
      {"/api/v1/health?beacon=..%2F..%2Fetc", "invalid_parameter beacon"},
      {"/api/v1/actions?state=running", "invalid_parameter state"},
      {"/api/v1/actions?limit=5001", "invalid_parameter limit"},
      {"/api/v1/actions/1%20OR%201", "(engine 404)"},
      {"/api/v1/summary?since=-1", "invalid_parameter since"},
      {"/api/v1/beacons?x=1", "unknown_parameter x"},
      {"/api/v1/devices/" + harness::SeededId(1) + "?full=1", "unknown_parameter full"},
  };
  for (const Case& c : cases) {
    INFO(c.target);
    ApiAnswer a = x.api->Raw("GET " + c.target + " HTTP/1.1\r\nAuthorization: Bearer " + t);
    INFO(a.raw);
    if (c.code == "ok") {
      CHECK(a.status == 200);
    } else if (c.code == "(engine 404)") {
      CHECK(a.status == 404);
    } else {
      CHECK(a.status == (c.code.rfind("not_found", 0) == 0 ? 404 : 400));
      CHECK(Err(a) == c.code);
      CheckJsonHeaders(a);
      // The refused value is never echoed.
      CHECK(a.raw.find("OR 1") == std::string::npos);
    }
  }
  // Unknown paths and wrong methods are JSON too.
  ApiAnswer missing = x.api->Get("/api/v1/nothing/here", t);
  CHECK(missing.status == 404);
  CHECK(Err(missing) == "not_found ");
  ApiAnswer wrong = x.api->Get("/api/v1/actions/" + harness::SeededId(1) + "/cancel", t);
  CHECK(wrong.status == 405);
  CHECK(Err(wrong) == "method_not_allowed ");
  CHECK(wrong.allow == "POST");

  // POST bodies: strict JSON, known fields only, 16 KiB at most.
  const std::string a = x.admin_token, dev = x.client_device;
  struct Body {
    std::string body;
    std::string code;
  };
  const std::vector<Body> bodies = {
      {"", "invalid_body "},
      {"not json", "invalid_body "},
      {"[1]", "invalid_body "},
      {"{\"kind\":\"inventory\",\"device\":\"" + dev + "\",\"extra\":1}", "invalid_body extra"},
      {"{\"kind\":\"inventory\",\"kind\":\"logs\",\"device\":\"" + dev + "\"}",
       "invalid_body kind"},
      {"{\"kind\":\"reboot\",\"device\":\"" + dev + "\"}", "invalid_body kind"},
      {"{\"kind\":\"inventory\"}", "invalid_body device"},
      {"{\"kind\":\"inventory\",\"device\":\"" + dev + "\",\"group\":\"default\"}",
       "invalid_body group"},
      {"{\"kind\":\"inventory\",\"device\":\"x'; DROP TABLE actions; --\"}", "invalid_body device"},
      {"{\"kind\":\"inventory\",\"group\":\"../etc\"}", "invalid_body group"},
      {"{\"kind\":\"inventory\",\"device\":\"" + dev + "\",\"expires_in\":0}",
       "invalid_body expires_in"},
      {"{\"kind\":\"inventory\",\"device\":\"" + dev + "\",\"expires_in\":2592001}",
       "invalid_body expires_in"},
      {"{\"kind\":\"inventory\",\"device\":\"" + dev + "\",\"expires_in\":\"24h\"}",
       "invalid_body expires_in"},
      {"{\"kind\":\"inventory\",\"device\":\"" + dev + "\"} trailing", "invalid_body "},
      {"{\"kind\":\"inv\xff\",\"device\":\"" + dev + "\"}", "invalid_body "},
      {"{\"kind\":\"inventory\\u0000\",\"device\":\"" + dev + "\"}", "invalid_body kind"},
  };
  for (const Body& b : bodies) {
    INFO(b.body);
    ApiAnswer r = x.api->Post("/api/v1/actions", a, b.body);
    INFO(r.raw);
    CHECK(r.status == 400);
    CHECK(Err(r) == b.code);
  }
  CHECK(x.api->Post("/api/v1/actions", a, "{}", "text/plain").status == 415);
  ApiAnswer big =
      x.api->Post("/api/v1/actions", a, "{\"kind\":\"" + std::string(17000, 'x') + "\"}");
  CHECK(big.status == 413);  // the engine's, before the body is read
  // Nothing was created by any of it.
  CHECK(x.api->Get("/api/v1/actions", t).body["total"] == 0);
}

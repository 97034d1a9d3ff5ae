#include "policy/documents.h"

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "policy/targeting.h"
#include "support/mutate.h"

namespace {

std::string Fixture(const std::string& name) {
  auto text = common::ReadFile(std::string(TEST_DATA_DIR) + "/policy/" + name);
  REQUIRE(text.ok());
  return *text;
}

struct BadCase {
  std::string file, where, what;
};

// Each broken twin is refused as InvalidArgument, at the exact position, for
// the stated reason.
template <typename Parse>
void CheckBroken(Parse parse, const std::vector<BadCase>& cases) {
  for (const auto& c : cases) {
    INFO(c.file);
    auto r = parse(Fixture(c.file), c.file);
    REQUIRE_FALSE(r.ok());
    INFO(r.status().message());
    CHECK(r.status().code() == common::Code::kInvalidArgument);
    CHECK(r.status().message().rfind(c.where, 0) == 0);
    CHECK(r.status().message().find(c.what) != std::string::npos);
  }
}

// Whatever a parser accepts serializes and parses back equal; whatever it
// refuses is InvalidArgument naming the source.
template <typename Parse>
void CheckMutations(Parse parse, const std::string& good) {
  int accepted = 0;
  for (const auto& m : testing_support::Mutations(good, 2000)) {
    auto r = parse(m, "mutant.xml");
    if (r.ok()) {
      ++accepted;
      auto again = parse(policy::ToXml(*r), "again.xml");
      REQUIRE(again.ok());
      CHECK(*again == *r);
    } else {
      CHECK(r.status().code() == common::Code::kInvalidArgument);
      CHECK(r.status().message().rfind("mutant.xml:", 0) == 0);
    }
  }
  CHECK(accepted < 2000);
}

template <typename Parse>
std::string ErrorOf(Parse parse, const std::string& xml) {
  auto r = parse(xml, "t.xml");
  if (r.ok()) return "accepted";
  CHECK(r.status().code() == common::Code::kInvalidArgument);
  return r.status().message();
}

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

// ---------------------------------------------------------------- policy.xml

TEST_CASE("policy.xml: good fixture") {
  auto p = policy::ParsePolicyXml(Fixture("policy_good.xml"), "policy_good.xml");
  REQUIRE(p.ok());
  CHECK(p->hardware);
  CHECK_FALSE(p->software);
  REQUIRE(p->file_rules.size() == 2);
  CHECK(p->file_rules[0].include == std::vector<std::string>{"/opt", "C:\\Program Files"});
  CHECK(p->file_rules[0].exclude == std::vector<std::string>{"/opt/cache"});
  CHECK(p->file_rules[0].patterns == std::vector<std::string>{"*.exe", "*.jar"});
  CHECK(p->file_rules[1].exclude.empty());
  CHECK(p->usage_enabled);
  CHECK(p->usage_sample_seconds == 300);
  CHECK(p->max_upload_bytes == 64ull << 20);
  CHECK(p->log_level == policy::LogLevel::kWarn);
  REQUIRE(p->proxy);
  CHECK(p->proxy->url == "http://proxy.example.com:3128");
  CHECK(p->proxy->username == "svc-beacon");
  CHECK(p->proxy->password == "s3cret&\"");
}

TEST_CASE("policy.xml: defaults and round trip") {
  auto empty = policy::ParsePolicyXml("<policy version=\"1\"/>", "e.xml");
  REQUIRE(empty.ok());
  CHECK(*empty == policy::ClientPolicy{});
  CHECK(empty->hardware);
  CHECK(empty->software);
  CHECK_FALSE(empty->usage_enabled);
  CHECK(empty->log_level == policy::LogLevel::kInfo);
  CHECK_FALSE(empty->proxy);

  policy::ClientPolicy p;
  p.software = false;
  p.file_rules = {{{"/a b", "D:/x"}, {"/a b/<tmp>"}, {"*.&\"x'"}}};
  p.usage_enabled = true;
  p.usage_sample_seconds = 90;
  p.max_upload_bytes = 1000;
  p.log_level = policy::LogLevel::kDebug;
  p.proxy = policy::Proxy{"http://[::1]:8080", "u", "p:w<&>\""};
  auto back = policy::ParsePolicyXml(policy::ToXml(p), "p.xml");
  REQUIRE(back.ok());
  CHECK(*back == p);
  CHECK(*policy::ParsePolicyXml(policy::ToXml(policy::ClientPolicy{}), "d.xml") == policy::ClientPolicy{});
}

TEST_CASE("policy.xml: broken twins") {
  CheckBroken(policy::ParsePolicyXml,
              {
                  {"policy_bad_unknown.xml", "policy_bad_unknown.xml:4:3: ", "unknown element <telemetry> in <policy>"},
                  {"policy_bad_level.xml", "policy_bad_level.xml:4:3: ", "'verbose' is not debug, info, warn or error"},
                  {"policy_bad_proxy.xml", "policy_bad_proxy.xml:4:5: ", "is not http://host:port"},
                  {"policy_bad_rule.xml", "policy_bad_rule.xml:5:7: ", "<include> 'path': 'relative/dir' is not an absolute path"},
              });
}

TEST_CASE("policy.xml: refusals") {
  auto err = [](const std::string& body) {
    return ErrorOf(policy::ParsePolicyXml, "<policy version=\"1\">\n" + body + "\n</policy>");
  };
  CHECK(Contains(ErrorOf(policy::ParsePolicyXml, "<policy/>"), "lacks 'version'"));
  CHECK(Contains(ErrorOf(policy::ParsePolicyXml, "<policy version=\"2\"/>"),
                 "t.xml:1:1: <policy> 'version': '2' is not supported (expected 1)"));
  CHECK(Contains(ErrorOf(policy::ParsePolicyXml, "<schedule version=\"1\"/>"), "t.xml:1:1: root element is <schedule>, expected <policy>"));
  CHECK(Contains(ErrorOf(policy::ParsePolicyXml, ""), "t.xml:1:1: "));
  CHECK(Contains(ErrorOf(policy::ParsePolicyXml, "<policy version=\"1\"/><policy version=\"1\"/>"),
                 "t.xml:1:22: a second root element <policy>"));
  CHECK(Contains(err("<log level=\"info\"/><log level=\"info\"/>"), "t.xml:2:20: <log> is given twice"));
  CHECK(Contains(err("<inventory hardware=\"yes\"/>"), "'yes' is not true or false"));
  CHECK(Contains(err("<inventory colour=\"red\"/>"), "t.xml:2:1: unknown attribute 'colour' on <inventory>"));
  CHECK(Contains(err("<inventory hardware=\"true\" hardware=\"false\"/>"),
                 "t.xml:2:1: duplicate attribute 'hardware' on <inventory>"));
  CHECK(Contains(err("<inventory>yes</inventory>"), "unexpected text in <inventory>"));
  CHECK(Contains(err("<usage sample-interval=\"0s\"/>"), "outside 1s .. 1d"));
  CHECK(Contains(err("<usage sample-interval=\"2d\"/>"), "outside 1s .. 1d"));
  CHECK(Contains(err("<usage sample-interval=\"5x\"/>"), "is not a duration"));
  CHECK(Contains(err("<upload max-size=\"0\"/>"), "must be more than 0"));
  CHECK(Contains(err("<upload max-size=\"64Q\"/>"), "is not a size"));
  CHECK(Contains(err("<proxy/>"), "<proxy> lacks 'url'"));
  CHECK(Contains(err("<proxy url=\"http://proxy\"/>"), "is not http://host:port"));
  CHECK(Contains(err("<proxy url=\"http://proxy:0\"/>"), "is not http://host:port"));
  CHECK(Contains(err("<proxy url=\"http://proxy:3128/\"/>"), "is not http://host:port"));
  CHECK(Contains(err("<proxy url=\"http://user@proxy:3128\"/>"), "is not http://host:port"));
  CHECK(Contains(err("<proxy url=\"http://proxy:3128\" password=\"x\"/>"), "no 'username'"));
  CHECK(Contains(err("<proxy url=\"http://proxy:3128\" username=\"a:b\"/>"), "'username': 'a:b' must not contain ':'"));
  CHECK(Contains(err("<proxy url=\"http://proxy:3128\" username=\"a&#9;b\"/>"),
                 "t.xml:2:1: <proxy> 'username': 'a?b' contains control character U+0009"));
  CHECK(Contains(err("<file-evidence><rule><include path=\"/a\"/></rule></file-evidence>"),
                 "needs at least one <pattern>"));
  CHECK(Contains(err("<file-evidence><rule><pattern glob=\"*\"/></rule></file-evidence>"),
                 "needs at least one <include>"));
  CHECK(Contains(err("<file-evidence><rule><include path=\"/a\"/><pattern glob=\"a/b\"/></rule></file-evidence>"),
                 "t.xml:2:42: <pattern> 'glob': 'a/b' must not contain '/' or '\\'"));
  CHECK(Contains(err("<file-evidence><rule><include path=\"/a\"/><pattern glob=\"\xff\"/></rule></file-evidence>"),
                 "t.xml:2:57: invalid UTF-8 byte sequence"));
  CHECK(Contains(err("<file-evidence><rule><include/></rule></file-evidence>"), "<include> lacks 'path'"));
  CHECK(Contains(err("<file-evidence><rule name=\"x\"/></file-evidence>"), "unknown attribute 'name' on <rule>"));
  CHECK(err("<proxy url=\"http://10.0.0.1:8080\"/>") == "accepted");
  CHECK(err("<proxy url=\"http://[fe80::1]:8080\"/>") == "accepted");
  CHECK(Contains(err("<proxy url=\"http://10.0.0.300:8080\"/>"), "is not http://host:port"));
  CHECK(err("<!-- a comment --><log level=\"error\"/>") == "accepted");
}

TEST_CASE("policy.xml: mutated input is accepted intact or refused as InvalidArgument") {
  CheckMutations(policy::ParsePolicyXml, Fixture("policy_good.xml"));
}

// -------------------------------------------------------------- schedule.xml

TEST_CASE("schedule.xml: good fixture") {
  auto s = policy::ParseScheduleXml(Fixture("schedule_good.xml"), "schedule_good.xml");
  REQUIRE(s.ok());
  REQUIRE(s->events.size() == 4);
  const auto* check = s->Find(policy::EventKind::kPolicyCheck);
  REQUIRE(check != nullptr);
  CHECK(check->interval_seconds == 3600);
  CHECK_FALSE(check->window);
  CHECK(check->start_within_seconds == 600);
  CHECK(check->catch_up == policy::CatchUp::kOnce);
  const auto* inv = s->Find(policy::EventKind::kInventory);
  REQUIRE(inv != nullptr);
  REQUIRE(inv->window);
  CHECK(inv->window->start_minute == 60);
  CHECK(inv->window->end_minute == 300);
  CHECK(inv->interval_seconds == 0);
  CHECK(inv->start_within_seconds == 3 * 3600);
  CHECK(inv->catch_up == policy::CatchUp::kAlways);
  CHECK(s->Find(policy::EventKind::kUsageUpload)->catch_up == policy::CatchUp::kNever);
  const auto* logs = s->Find(policy::EventKind::kLogUpload);
  REQUIRE(logs != nullptr);
  CHECK(logs->window == policy::DailyWindow{750, 810});
  CHECK(logs->start_within_seconds == 0);  // defaults
  CHECK(logs->catch_up == policy::CatchUp::kOnce);
}

TEST_CASE("schedule.xml: round trip, sorted by event") {
  auto s = policy::ParseScheduleXml(
      "<schedule version=\"1\"><event name=\"log-upload\" interval=\"90s\"/>"
      "<event name=\"policy-check\" window-start=\"00:00\" window-end=\"23:59\" start-within=\"1439m\"/></schedule>",
      "s.xml");
  REQUIRE(s.ok());
  REQUIRE(s->events.size() == 2);
  CHECK(s->events[0].kind == policy::EventKind::kPolicyCheck);
  CHECK(s->events[1].kind == policy::EventKind::kLogUpload);
  CHECK(s->Find(policy::EventKind::kInventory) == nullptr);
  auto back = policy::ParseScheduleXml(policy::ToXml(*s), "again.xml");
  REQUIRE(back.ok());
  CHECK(*back == *s);
  auto good = policy::ParseScheduleXml(Fixture("schedule_good.xml"), "g.xml");
  REQUIRE(good.ok());
  CHECK(*policy::ParseScheduleXml(policy::ToXml(*good), "again.xml") == *good);
}

TEST_CASE("schedule.xml: broken twins") {
  CheckBroken(policy::ParseScheduleXml,
              {
                  {"schedule_bad_window.xml", "schedule_bad_window.xml:4:3: ",
                   "event 'inventory': the window ends at 01:00, not after it starts at 05:00"},
                  {"schedule_bad_spread.xml", "schedule_bad_spread.xml:3:3: ",
                   "'start-within' 2h is longer than the interval 1h"},
                  {"schedule_bad_duplicate.xml", "schedule_bad_duplicate.xml:5:3: ",
                   "event 'inventory' is listed twice"},
                  {"schedule_bad_both.xml", "schedule_bad_both.xml:3:3: ", "has both 'interval' and a window"},
              });
}

TEST_CASE("schedule.xml: refusals") {
  auto err = [](const std::string& body) {
    return ErrorOf(policy::ParseScheduleXml,
                   "<schedule version=\"1\">\n<event name=\"policy-check\" interval=\"1h\"/>\n" + body + "\n</schedule>");
  };
  CHECK(err("") == "accepted");
  CHECK(Contains(ErrorOf(policy::ParseScheduleXml, "<schedule version=\"1\">\n</schedule>"),
                 "t.xml:1:1: <schedule> lacks the 'policy-check' event"));
  CHECK(Contains(err("<event interval=\"1h\"/>"), "t.xml:3:1: <event> lacks 'name'"));
  CHECK(Contains(err("<event name=\"reboot\" interval=\"1h\"/>"), "unknown event 'reboot'"));
  CHECK(Contains(err("<event name=\"inventory\"/>"), "needs 'interval' or 'window-start' and 'window-end'"));
  CHECK(Contains(err("<event name=\"inventory\" window-start=\"01:00\"/>"), "needs both"));
  CHECK(Contains(err("<event name=\"inventory\" window-end=\"01:00\"/>"), "needs both"));
  CHECK(Contains(err("<event name=\"inventory\" window-start=\"01:00\" window-end=\"01:00\"/>"), "not after"));
  CHECK(Contains(err("<event name=\"inventory\" window-start=\"1:00\" window-end=\"02:00\"/>"), "is not a time HH:MM"));
  CHECK(Contains(err("<event name=\"inventory\" window-start=\"01:00\" window-end=\"24:00\"/>"), "is not a time HH:MM"));
  CHECK(Contains(err("<event name=\"inventory\" window-start=\"01:60\" window-end=\"02:00\"/>"), "is not a time HH:MM"));
  CHECK(Contains(err("<event name=\"inventory\" window-start=\"01:00\" window-end=\"02:00\" start-within=\"61m\"/>"),
                 "is longer than the window 1h"));
  CHECK(err("<event name=\"inventory\" window-start=\"01:00\" window-end=\"02:00\" start-within=\"60m\"/>") ==
        "accepted");
  CHECK(Contains(err("<event name=\"inventory\" interval=\"30s\"/>"), "outside 1m .. 30d"));
  CHECK(Contains(err("<event name=\"inventory\" interval=\"31d\"/>"), "outside 1m .. 30d"));
  CHECK(Contains(err("<event name=\"inventory\" interval=\"1h\" catch-up=\"sometimes\"/>"),
                 "'sometimes' is not always, never or once"));
  CHECK(Contains(err("<event name=\"inventory\" interval=\"1h\" start=\"now\"/>"), "unknown attribute 'start'"));
  CHECK(Contains(err("<event name=\"inventory\" interval=\"1h\"><window/></event>"), "unknown element <window>"));
  CHECK(Contains(err("<task/>"), "t.xml:3:1: unknown element <task> in <schedule>"));
}

TEST_CASE("schedule.xml: mutated input is accepted intact or refused as InvalidArgument") {
  CheckMutations(policy::ParseScheduleXml, Fixture("schedule_good.xml"));
}

// -------------------------------------------------------------- failover.xml

TEST_CASE("failover.xml: good fixture and round trip") {
  auto f = policy::ParseFailoverXml(Fixture("failover_good.xml"), "failover_good.xml");
  REQUIRE(f.ok());
  REQUIRE(f->beacons.size() == 4);
  CHECK(f->beacons[0] == policy::FailoverBeacon{"https://beacon-paris.example.com", 10, "paris", ""});
  CHECK(f->beacons[1] == policy::FailoverBeacon{"https://10.20.0.5:8443", 20, "", "10.20.0.0/16"});
  CHECK(f->beacons[2].subnet == "fd00::/8");
  CHECK(f->beacons[3].priority == 100);
  auto back = policy::ParseFailoverXml(policy::ToXml(*f), "again.xml");
  REQUIRE(back.ok());
  CHECK(*back == *f);
}

TEST_CASE("failover.xml: broken twins") {
  CheckBroken(policy::ParseFailoverXml,
              {
                  {"failover_bad_url.xml", "failover_bad_url.xml:4:3: ",
                   "'http://beacon-lyon.example.com/v1' is not https://host[:port]"},
                  {"failover_bad_duplicate.xml", "failover_bad_duplicate.xml:4:3: ",
                   "beacon 'https://CENTRAL.example.com:443' is listed twice"},
                  {"failover_bad_subnet.xml", "failover_bad_subnet.xml:3:3: ", "is not a CIDR block"},
                  {"failover_bad_empty.xml", "failover_bad_empty.xml:2:1: ", "<failover> lists no <beacon>"},
              });
}

TEST_CASE("failover.xml: refusals") {
  auto err = [](const std::string& body) {
    return ErrorOf(policy::ParseFailoverXml, "<failover version=\"1\">\n" + body + "\n</failover>");
  };
  auto beacon = [&](const std::string& attrs) { return err("<beacon " + attrs + "/>"); };
  CHECK(beacon("url=\"https://a.example\" priority=\"0\"") == "accepted");
  CHECK(beacon("url=\"https://a.example:65535\" priority=\"65535\" site=\"lab-2.east_1\"") == "accepted");
  CHECK(beacon("url=\"https://[2001:db8::1]\" priority=\"1\" subnet=\"2001:db8::/32\"") == "accepted");
  CHECK(beacon("url=\"https://a\" priority=\"1\" subnet=\"0.0.0.0/0\"") == "accepted");
  CHECK(Contains(beacon("priority=\"1\""), "t.xml:2:1: <beacon> lacks 'url'"));
  CHECK(Contains(beacon("url=\"https://a.example\""), "lacks 'priority'"));
  for (const char* bad : {"priority=\"-1\"", "priority=\"65536\"", "priority=\"01\"", "priority=\"\"", "priority=\"x\""}) {
    CHECK(Contains(beacon(std::string("url=\"https://a\" ") + bad), "is not a decimal integer 0 .. 65535"));
  }
  for (const char* bad : {"https://", "https://a:", "https://a:0", "https://a:65536", "https://a:08", "https://-a",
                          "https://a..b", "https://a/", "https://a?x", "https://u@a", "https://[fd00::1", "https://[zz]",
                          "https://[::1]x", "HTTPS://a", "ftp://a", "https://a_b"}) {
    INFO(bad);
    CHECK(Contains(beacon(std::string("url=\"") + bad + "\" priority=\"1\""), "is not https://host[:port]"));
  }
  CHECK(Contains(err("<beacon url=\"https://a\" priority=\"1\"/><beacon url=\"https://A:443\" priority=\"2\"/>"),
                 "listed twice"));
  CHECK(Contains(err("<beacon url=\"https://[FD00::1]\" priority=\"1\"/><beacon url=\"https://[fd00::1]:443\" priority=\"2\"/>"),
                 "listed twice"));
  CHECK(err("<beacon url=\"https://a\" priority=\"1\"/><beacon url=\"https://a:8443\" priority=\"2\"/>") == "accepted");
  CHECK(Contains(beacon("url=\"https://a\" priority=\"1\" site=\"x\" subnet=\"10.0.0.0/8\""), "both 'site' and 'subnet'"));
  CHECK(Contains(beacon("url=\"https://a\" priority=\"1\" site=\"a b\""), "is not 1..64 of"));
  CHECK(Contains(beacon("url=\"https://a\" priority=\"1\" site=\"\""), "is not 1..64 of"));
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "10.0.0.1/8", "10.0.0.0/08", "fd00::/129", "fd00::1/8",
                          "10.0.0/8", "x/8", "10.0.0.0/8/8", ""}) {
    INFO(bad);
    CHECK(Contains(beacon(std::string("url=\"https://a\" priority=\"1\" subnet=\"") + bad + "\""),
                   "is not a CIDR block"));
  }
  CHECK(Contains(beacon("url=\"https://a\" priority=\"1\" weight=\"3\""), "unknown attribute 'weight' on <beacon>"));
  CHECK(Contains(err("<relay/>"), "unknown element <relay> in <failover>"));
}

TEST_CASE("failover.xml: mutated input is accepted intact or refused as InvalidArgument") {
  CheckMutations(policy::ParseFailoverXml, Fixture("failover_good.xml"));
}

// ------------------------------------------------------------ conf/policy/

TEST_CASE("conf/policy: the shipped examples parse and round-trip") {
  auto read = [](const std::string& name) {
    auto text = common::ReadFile(std::string(SOURCE_DIR) + "/conf/policy/default/" + name);
    REQUIRE(text.ok());
    return *text;
  };
  auto p = policy::ParsePolicyXml(read("policy.xml"), "conf/policy/default/policy.xml");
  INFO((p.ok() ? "" : p.status().message()));
  REQUIRE(p.ok());
  CHECK(p->file_rules.size() == 2);
  CHECK_FALSE(p->proxy);  // shipped commented out: most estates connect directly
  CHECK(*policy::ParsePolicyXml(policy::ToXml(*p), "again.xml") == *p);

  auto s = policy::ParseScheduleXml(read("schedule.xml"), "conf/policy/default/schedule.xml");
  INFO((s.ok() ? "" : s.status().message()));
  REQUIRE(s.ok());
  CHECK(s->events.size() == 4);
  CHECK(*policy::ParseScheduleXml(policy::ToXml(*s), "again.xml") == *s);

  auto f = policy::ParseFailoverXml(read("failover.xml"), "conf/policy/default/failover.xml");
  INFO((f.ok() ? "" : f.status().message()));
  REQUIRE(f.ok());
  CHECK(f->beacons.size() == 5);
  CHECK(*policy::ParseFailoverXml(policy::ToXml(*f), "again.xml") == *f);
}

TEST_CASE("conf/policy: the shipped folder is a valid tree with a servers group") {
  auto files = policy::ReadTreeFolder(std::string(SOURCE_DIR) + "/conf/policy");
  INFO((files.ok() ? "" : files.status().message()));
  REQUIRE(files.ok());
  auto tree = policy::PolicyTree::FromFiles(*files, "conf/policy");
  INFO((tree.ok() ? "" : tree.status().message()));
  REQUIRE(tree.ok());
  policy::DeviceFacts db;
  db.device_id = "11111111-2222-4333-8444-555555555555";
  db.inventoried = true;
  db.hostname = "db01.corp.example.com";
  auto r = (*tree)->Resolve(db);
  REQUIRE(r.ok());
  CHECK(r->groups == std::vector<std::string>{"servers", "default"});
  auto p = policy::ParsePolicyXml(r->files.at("policy.xml"), "effective");
  REQUIRE(p.ok());
  CHECK(p->log_level == policy::LogLevel::kWarn);  // from servers/
  CHECK(p->file_rules.size() == 2);                 // from default/
}

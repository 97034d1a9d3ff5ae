// The action result document (inventory/action.h): round trip, every
// refusal with its position, hostile input.
#include "inventory/action.h"

#include <catch2/catch.hpp>

#include "support/mutate.h"

namespace {

using inventory::ActionResult;

ActionResult Result() {
  ActionResult r;
  r.device_id = "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";
  r.action_id = "0b6f5d7e-1c2a-4b3c-8d4e-5f6a7b8c9d0e";
  r.kind = "diagnose";
  r.ok = true;
  r.started_at = 1'795'000'000;
  r.finished_at = 1'795'000'042;
  r.text = "diagnostics: D310; bundle uploaded as logs 1c2a...\nsecond line & \"quotes\" <tags>";
  return r;
}

std::string Doc(const std::string& replace_from = "", const std::string& to = "") {
  std::string d =
      "<action-result version=\"1\" device=\"6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f\" "
      "action=\"0b6f5d7e-1c2a-4b3c-8d4e-5f6a7b8c9d0e\" kind=\"inventory\" result=\"done\" "
      "started-at=\"2026-11-18T10:00:00Z\" finished-at=\"2026-11-18T10:00:05Z\" text=\"inventory 42 queued\"/>\n";
  if (!replace_from.empty()) d.replace(d.find(replace_from), replace_from.size(), to);
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + d;
}

std::string Refusal(const std::string& xml) {
  auto r = inventory::ParseActionResultXml(xml, "a.xml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == common::Code::kInvalidArgument);
  return r.status().message();
}

}  // namespace

TEST_CASE("action result: round trip") {
  ActionResult r = Result();
  auto back = inventory::ParseActionResultXml(inventory::ToXml(r), "a.xml");
  REQUIRE(back.ok());
  CHECK(*back == r);
  r.ok = false;
  r.kind = "policy";
  r.text = "";
  back = inventory::ParseActionResultXml(inventory::ToXml(r), "a.xml");
  REQUIRE(back.ok());
  CHECK(*back == r);
  CHECK(inventory::ToXml(r).find("result=\"failed\"") != std::string::npos);
  auto fixture = inventory::ParseActionResultXml(Doc(), "a.xml");
  REQUIRE(fixture.ok());
  CHECK(fixture->finished_at - fixture->started_at == 5);
  CHECK(fixture->text == "inventory 42 queued");
  // Text beyond 4,000 bytes is cut by the writer, so the reader takes it.
  r.text = std::string(5000, 'y');
  back = inventory::ParseActionResultXml(inventory::ToXml(r), "a.xml");
  REQUIRE(back.ok());
  CHECK(back->text.size() == 4000);
}

TEST_CASE("action result: every refusal names its place") {
  struct Case {
    std::string xml, message;
  };
  for (const Case& c : std::vector<Case>{
           {Doc("version=\"1\"", "version=\"2\""), "a.xml:2:1: <action-result> 'version': '2' is not supported"},
           {Doc(" text=\"inventory 42 queued\"", ""), "a.xml:2:1: <action-result> lacks 'text'"},
           {Doc("/>", " x=\"1\"/>"), "a.xml:2:1: unknown attribute 'x' on <action-result>"},
           {Doc("device=\"6f1e", "device=\"6F1E"), "a.xml:2:1: <action-result> 'device': '6F1E2d3c"},
           {Doc("action=\"0b6f5d7e-", "action=\"0b6f5d7e"), "a.xml:2:1: <action-result> 'action': '0b6f5d7e1c2a"},
           {Doc("kind=\"inventory\"", "kind=\"reboot\""),
            "a.xml:2:1: <action-result> 'kind': 'reboot' is not an action kind (inventory, logs, policy, diagnose)"},
           {Doc("result=\"done\"", "result=\"ok\""), "a.xml:2:1: <action-result> 'result': 'ok' is not done or failed"},
           {Doc("started-at=\"2026-11-18T10:00:00Z\"", "started-at=\"2026-11-18 10:00:00\""),
            "a.xml:2:1: <action-result> 'started-at': '2026-11-18 10:00:00' is not an RFC 3339 date-time"},
           {Doc("finished-at=\"2026-11-18T10:00:05Z\"", "finished-at=\"2026-11-18T09:00:05Z\""),
            "a.xml:2:1: <action-result> 'finished-at' is before 'started-at'"},
           {Doc("started-at=\"2026-11-18T10:00:00Z\"", "started-at=\"0001-01-01T00:00:00Z\""),
            "a.xml:2:1: <action-result> 'started-at': '0001-01-01T00:00:00Z' is outside 1970 .. 36812"},
           {Doc("text=\"inventory 42 queued\"", "text=\"" + std::string(4001, 'z') + "\""),
            "a.xml:2:1: <action-result> 'text' is 4001 bytes"},
           {Doc("text=\"inventory 42 queued\"", "text=\"bell&#7;\""),
            "a.xml:2:"},
           {Doc("/>\n", "><note/></action-result>\n"), "a.xml:2:"},
           {"<action/>", "a.xml:1:1: "},
       }) {
    INFO(c.xml.substr(0, 300));
    CHECK(Refusal(c.xml).rfind(c.message, 0) == 0);
  }
}

TEST_CASE("action result: hostile and oversized input") {
  CHECK_FALSE(inventory::ParseActionResultXml("", "x").ok());
  CHECK(Refusal(std::string(100 << 10, ' ')).rfind("a.xml: ", 0) == 0);
  CHECK(Refusal("<!DOCTYPE a [<!ENTITY e \"e\">]><action-result/>").rfind("a.xml:1:", 0) == 0);
  const std::string good = inventory::ToXml(Result());
  int accepted = 0;
  for (const auto& m : testing_support::Mutations(good, 3000)) {
    auto r = inventory::ParseActionResultXml(m, "mutant.xml");
    if (r.ok()) {
      ++accepted;
      CHECK(*inventory::ParseActionResultXml(inventory::ToXml(*r), "again.xml") == *r);
    } else {
      CHECK(r.status().code() == common::Code::kInvalidArgument);
      CHECK(r.status().message().rfind("mutant.xml:", 0) == 0);
    }
  }
  CHECK(accepted < 3000);
}

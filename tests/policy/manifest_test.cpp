#include "policy/manifest.h"

#include <catch2/catch.hpp>
#include <cstdio>

#include "common/fs.h"
#include "common/sha256.h"
#include "support/mutate.h"

namespace {
std::string Fixture(const std::string& name) {
  auto text = common::ReadFile(std::string(TEST_DATA_DIR) + "/policy/" + name);
  REQUIRE(text.ok());
  return *text;
}
}  // namespace

TEST_CASE("manifest: round trip") {
  policy::Manifest m;
  m.revision = 42;
  m.device = "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";
  m.files = {{"a.xml", common::Sha256Hex("a"), 1}, {"b.xml", common::Sha256Hex("bb"), 2}};
  std::string xml = policy::ToXml(m);
  auto back = policy::ParseManifestXml(xml, "m.xml");
  REQUIRE(back.ok());
  CHECK(*back == m);
  CHECK(policy::ManifestEtag(xml) == policy::ManifestEtag(xml));
  CHECK(policy::ManifestEtag(xml).size() == 34);
  policy::Manifest empty;
  empty.device = m.device;
  CHECK(*policy::ParseManifestXml(policy::ToXml(empty), "e.xml") == empty);
  // A manifest names the device it was resolved for.
  auto r = policy::ParseManifestXml("<manifest version=\"1\" revision=\"1\"/>", "anonymous.xml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "anonymous.xml:1:1: <manifest> lacks 'device'");
  CHECK(policy::ParseManifestXml(policy::ToXml(policy::Manifest{}), "empty-device.xml").status().message() ==
        "empty-device.xml:2:1: <manifest> 'device': '' is not a lower-case UUID");
}

TEST_CASE("manifest: good fixture and its broken twins") {
  auto good = policy::ParseManifestXml(Fixture("manifest_good.xml"), "manifest_good.xml");
  REQUIRE(good.ok());
  CHECK(good->revision == 12);
  CHECK(good->files.size() == 2);

  struct Case {
    std::string file, where, what;
  };
  for (const auto& c : std::vector<Case>{
           {"manifest_bad_digest.xml", "manifest_bad_digest.xml:4:3: ", "<file> 'sha256': 'FCDE2B2EDBA56BF408601FB721FE9B5C338D10EE429EA04FAE5511B68FBF8FB9' is not 64 lower-case hex digits"},
           {"manifest_bad_unknown.xml", "manifest_bad_unknown.xml:4:3: ", "unknown element <script>"},
           {"manifest_bad_name.xml", "manifest_bad_name.xml:3:3: ", "<file> 'name': '../../etc/passwd' is not a policy file name"},
           {"manifest_bad_xml.xml", "manifest_bad_xml.xml:", "not well-formed XML"},
           {"manifest_bad_device.xml", "manifest_bad_device.xml:2:1: ", "'device': '6F1E2D3C-4B5A-4968-8776-5A4B3C2D1E0F' is not a lower-case UUID"},
       }) {
    INFO(c.file);
    auto r = policy::ParseManifestXml(Fixture(c.file), c.file);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == common::Code::kInvalidArgument);
    CHECK(r.status().message().rfind(c.where, 0) == 0);
    CHECK(r.status().message().find(c.what) != std::string::npos);
  }
}

TEST_CASE("manifest: hostile input") {
  CHECK_FALSE(policy::ParseManifestXml("", "x").ok());
  CHECK_FALSE(policy::ParseManifestXml(std::string(1 << 20, '<'), "x").ok());
  CHECK_FALSE(policy::ParseManifestXml("<manifest device=\"6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f\" version=\"1\" revision=\"-1\"/>", "x").ok());
  CHECK_FALSE(policy::ParseManifestXml("<manifest device=\"6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f\" version=\"2\" revision=\"1\"/>", "x").ok());
  CHECK_FALSE(policy::ParseManifestXml("<manifest device=\"6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f\" revision=\"1\"/>", "x").ok());
  CHECK_FALSE(policy::ParseManifestXml("<manifest device=\"6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f\" version=\"1\" revision=\"99999999999999999999\"/>", "x").ok());
  std::string dup = "<manifest device=\"6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f\" version=\"1\" revision=\"1\"><file name=\"a\" sha256=\"" + common::Sha256Hex("") +
                    "\" size=\"0\"/><file name=\"a\" sha256=\"" + common::Sha256Hex("") + "\" size=\"0\"/></manifest>";
  auto r = policy::ParseManifestXml(dup, "dup.xml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("listed twice") != std::string::npos);
  CHECK_FALSE(policy::IsPolicyFileName(".hidden"));
  CHECK_FALSE(policy::IsPolicyFileName("a/b"));
  CHECK(policy::IsPolicyFileName("schedule.xml"));
}

TEST_CASE("manifest: mutated input is accepted intact or refused as InvalidArgument") {
  std::string good = Fixture("manifest_good.xml");
  int accepted = 0;
  for (const auto& m : testing_support::Mutations(good, 3000)) {
    auto r = policy::ParseManifestXml(m, "mutant.xml");
    if (r.ok()) {
      ++accepted;
      // Whatever is accepted is well-formed: it serializes and parses back equal.
      CHECK(*policy::ParseManifestXml(policy::ToXml(*r), "again.xml") == *r);
    } else {
      CHECK(r.status().code() == common::Code::kInvalidArgument);
      CHECK(r.status().message().rfind("mutant.xml:", 0) == 0);
    }
  }
  CHECK(accepted < 3000);
}

TEST_CASE("manifest: actions are signed with the rest, sorted by id after the files") {
  policy::Manifest m;
  m.revision = 9;
  m.device = "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";
  m.files = {{"a.xml", common::Sha256Hex("a"), 1}};
  const std::string without = policy::ToXml(m);
  // A manifest without actions is what it always was (its ETag and
  // signature do not change).
  CHECK(without ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<manifest version=\"1\" revision=\"9\" device=\"6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f\">\n"
        "  <file name=\"a.xml\" sha256=\"" + common::Sha256Hex("a") + "\" size=\"1\"/>\n"
        "</manifest>\n");
  m.actions = {{"f0000000-0000-4000-8000-000000000002", "diagnose", 1'795'000'000},
               {"a0000000-0000-4000-8000-000000000001", "inventory", 1'795'086'400}};
  const std::string xml = policy::ToXml(m);
  CHECK(xml.find("  <action id=\"a0000000-0000-4000-8000-000000000001\" kind=\"inventory\" "
                 "expires=\"2026-11-19T11:06:40Z\"/>\n  <action id=\"f0000000") != std::string::npos);
  CHECK(xml.find("<action") > xml.find("<file"));
  auto back = policy::ParseManifestXml(xml, "m.xml");
  REQUIRE(back.ok());
  REQUIRE(back->actions.size() == 2);
  CHECK(back->actions[0].id == "a0000000-0000-4000-8000-000000000001");
  CHECK(back->actions[1].kind == "diagnose");
  CHECK(back->actions[1].expires_at == 1'795'000'000);
  // Written sorted, so the canonical form does not depend on the caller's order.
  CHECK(policy::ToXml(*back) == xml);
  CHECK(policy::ManifestEtag(xml) != policy::ManifestEtag(without));
}

TEST_CASE("manifest: malformed actions are refused with their place") {
  const std::string head =
      "<manifest version=\"1\" revision=\"1\" device=\"6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f\">\n";
  auto action = [](const std::string& id, const std::string& kind, const std::string& expires = "2026-11-19T00:00:00Z") {
    return "  <action id=\"" + id + "\" kind=\"" + kind + "\" expires=\"" + expires + "\"/>\n";
  };
  const std::string id = "a0000000-0000-4000-8000-000000000001";
  auto refusal = [](const std::string& xml) {
    auto r = policy::ParseManifestXml(xml, "m.xml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == common::Code::kInvalidArgument);
    return r.status().message();
  };
  CHECK(refusal(head + action(id, "reboot") + "</manifest>") ==
        "m.xml:2:3: <action> 'kind': 'reboot' is not an action kind (inventory, logs, policy, diagnose)");
  CHECK(refusal(head + action("A0000000-0000-4000-8000-000000000001", "logs") + "</manifest>") ==
        "m.xml:2:3: <action> 'id': 'A0000000-0000-4000-8000-000000000001' is not a lower-case UUID");
  CHECK(refusal(head + action(id, "logs") + action(id, "policy") + "</manifest>") ==
        "m.xml:3:3: action '" + id + "' is listed twice");
  CHECK(refusal(head + action(id, "logs", "tomorrow") + "</manifest>")
            .rfind("m.xml:2:3: <action> 'expires': 'tomorrow' is not an RFC 3339 date-time", 0) == 0);
  CHECK(refusal(head + action(id, "logs", "0001-01-01T00:00:00Z") + "</manifest>") ==
        "m.xml:2:3: <action> 'expires': '0001-01-01T00:00:00Z' is before 1970");
  CHECK(refusal(head + "  <action id=\"" + id + "\" kind=\"logs\"/>\n</manifest>") ==
        "m.xml:2:3: <action> lacks 'expires'");
  CHECK(refusal(head + "  <action id=\"" + id + "\" kind=\"logs\" expires=\"2026-11-19T00:00:00Z\" run=\"sh\"/>\n</manifest>") ==
        "m.xml:2:3: unknown attribute 'run' on <action>");
  CHECK(refusal(head + "  <action id=\"" + id + "\" kind=\"logs\" expires=\"2026-11-19T00:00:00Z\"><file/></action>\n</manifest>")
            .rfind("m.xml:2:", 0) == 0);
  std::string many = head;
  for (int i = 0; i < 101; ++i) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "a0000000-0000-4000-8000-%012d", i);
    many += action(buf, "logs");
  }
  CHECK(refusal(many + "</manifest>") == "m.xml:102:3: more than 100 actions in <manifest>");
}

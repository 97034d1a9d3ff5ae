#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "inventory/inventory.h"
#include "support/mutate.h"

namespace {

using common::Code;
using inventory::Inventory;
using inventory::ParseInventoryXml;
using inventory::ToXml;

const std::string kDir = std::string(TEST_DATA_DIR) + "/inventory/";

Inventory Sample() {
  Inventory inv;
  inv.device_id = "0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6";
  inv.collected_at = "2026-11-22T16:00:00Z";
  inv.os = {"Debian GNU/Linux", "debian", "12 (bookworm)", "12", "Debian GNU/Linux 12 (bookworm)",
            "6.1.0-18-amd64",   "x86_64", "web-01"};
  inv.hardware.vendor = "QEMU";
  inv.hardware.model = "Standard PC (Q35 + ICH9, 2009)";
  inv.hardware.serial = "SN-0042";
  inv.hardware.cpu_model = "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz";
  inv.hardware.cpu_cores = 2;
  inv.hardware.memory_bytes = 4125585408;
  inv.hardware.disks = {{"vda", "QEMU HARDDISK", 21474836480}};
  inv.hardware.interfaces = {{"eth0", "52:54:00:ab:cd:ef", {"192.0.2.10/24", "2001:db8::10/64"}}};
  inv.software = {{"adduser", "3.134", "all", "dpkg"},
                  {"libc6", "2.36-9+deb12u4", "amd64", "dpkg"}};
  inv.files = {{"/opt/app/lib/app.jar", 52311, 1763800000,
                "0b2c9f3e9d6a0d1b8a4d3f1e7c6b5a49382716051f4e3d2c1b0a998877665544"},
               {"/opt/big/data.so", 4294967296, 1763800001, ""}};  // over the hashing cap
  return inv;
}

std::string Fixture(const std::string& name) {
  auto text = common::ReadFile(kDir + name);
  REQUIRE(text.ok());
  return *text;
}

// Parses a broken twin and returns its error message after checking the code.
std::string ErrorOf(const std::string& name) {
  auto result = ParseInventoryXml(Fixture(name), name);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == Code::kInvalidArgument);
  return result.status().message();
}

}  // namespace

TEST_CASE("inventory XML round trip", "[inventory][xml]") {
  Inventory inv = Sample();
  auto parsed = ParseInventoryXml(ToXml(inv), "mem");
  REQUIRE(parsed.ok());
  CHECK(*parsed == inv);
}

TEST_CASE("inventory XML round trip with empty lists and fields", "[inventory][xml]") {
  Inventory inv;
  inv.device_id = "00000000-0000-0000-0000-000000000000";
  inv.collected_at = "2026-01-01T00:00:00.5+01:00";
  auto parsed = ParseInventoryXml(ToXml(inv), "mem");
  REQUIRE(parsed.ok());
  CHECK(*parsed == inv);
  CHECK(parsed->software.empty());
  CHECK(parsed->hardware.disks.empty());
}

TEST_CASE("inventory XML round trip keeps XML-special characters", "[inventory][xml]") {
  Inventory inv = Sample();
  inv.os.pretty_name = "A <b> & \"c\" 'd' ]]> é 中文 😀";
  inv.hardware.vendor = "tab\there, newline\nthere, cr\rthere";
  inv.hardware.model = "&amp; is not decoded twice";
  inv.software[0].version = "1:2.3~rc1+dfsg<>";
  inv.hardware.interfaces[0].addresses.push_back("fe80::1/64");
  std::string xml = ToXml(inv);
  CHECK(xml.find("<b>") == std::string::npos);
  auto parsed = ParseInventoryXml(xml, "mem");
  REQUIRE(parsed.ok());
  CHECK(*parsed == inv);
}

TEST_CASE("ToXml replaces invalid UTF-8 so its output always parses", "[inventory][xml]") {
  Inventory inv = Sample();
  inv.hardware.serial =
      "ab\xff\xfe"
      "cd";
  auto parsed = ParseInventoryXml(ToXml(inv), "mem");
  REQUIRE(parsed.ok());
  CHECK(parsed->hardware.serial ==
        "ab\xEF\xBF\xBD\xEF\xBF\xBD"
        "cd");
}

TEST_CASE("good fixture parses to the expected inventory", "[inventory][xml]") {
  auto parsed = ParseInventoryXml(Fixture("good.xml"), "good.xml");
  REQUIRE(parsed.ok());
  CHECK(*parsed == Sample());
}

TEST_CASE("broken twins of good.xml are located and explained", "[inventory][xml]") {
  SECTION("unknown element") {
    std::string m = ErrorOf("bad_unknown_element.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_unknown_element.xml:5:5: "));
    CHECK_THAT(m, Catch::Contains("unknown element <partition> in <hardware>"));
  }
  SECTION("unknown attribute") {
    std::string m = ErrorOf("bad_unknown_attribute.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_unknown_attribute.xml:13:79: "));
    CHECK_THAT(m, Catch::Contains("unknown attribute 'license' on <package>"));
  }
  SECTION("missing device") {
    std::string m = ErrorOf("bad_missing_device.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_missing_device.xml:2:1: "));
    CHECK_THAT(m, Catch::Contains("missing required attribute 'device' on <inventory>"));
  }
  SECTION("bad number") {
    std::string m = ErrorOf("bad_number.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_number.xml:4:150: "));
    CHECK_THAT(m, Catch::Contains("'memory-bytes'"));
    CHECK_THAT(m, Catch::Contains("'4G' is not a decimal integer"));
  }
  SECTION("bad device id") {
    std::string m = ErrorOf("bad_device_id.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_device_id.xml:2:24: "));
    CHECK_THAT(m, Catch::Contains("bad device id '0F8E2A34-5B6C-4D7E-8F90-A1B2C3D4E5F6'"));
  }
  SECTION("bad collected time") {
    std::string m = ErrorOf("bad_collected.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_collected.xml:2:70: "));
    CHECK_THAT(m, Catch::Contains("bad collected time 'yesterday'"));
  }
  SECTION("bad file digest") {
    std::string m = ErrorOf("bad_file_sha256.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_file_sha256.xml:16:"));
    CHECK_THAT(m, Catch::Contains("sha256 must be 64 lower-case hex digits"));
  }
  SECTION("not well-formed") {
    std::string m = ErrorOf("bad_not_xml.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_not_xml.xml:9:"));
    CHECK_THAT(m, Catch::Contains("not well-formed XML"));
  }
}

TEST_CASE("strict validation of small documents", "[inventory][xml]") {
  const std::string head =
      "<inventory version=\"1\" device=\"0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6\" "
      "collected=\"2026-11-22T16:00:00Z\">";
  auto error = [](const std::string& xml) {
    auto r = ParseInventoryXml(xml, "t.xml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    return r.status().message();
  };
  CHECK(ParseInventoryXml(head + "<os name=\"x\"/></inventory>", "t.xml").ok());
  CHECK_THAT(error(head + "</inventory>"), Catch::Contains("missing required element <os>"));
  CHECK_THAT(error(head + "<os name=\"x\"/><os name=\"y\"/></inventory>"),
             Catch::Contains("duplicate element <os>"));
  CHECK_THAT(error(head + "<os name=\"x\" name=\"y\"/></inventory>"),
             Catch::StartsWith("t.xml:1:116: ") && Catch::Contains("duplicate attribute 'name'"));
  CHECK_THAT(error(head + "<os name=\"x\">text</os></inventory>"),
             Catch::Contains("unexpected text in <os>"));
  CHECK_THAT(error(head + "<os name=\"x\"/><hardware cpu-cores=\"4294967296\"/></inventory>"),
             Catch::Contains("'cpu-cores'"));
  CHECK_THAT(error(head + "<os name=\"x\"/><hardware cpu-cores=\"-1\"/></inventory>"),
             Catch::Contains("'-1' is not a decimal integer"));
  CHECK_THAT(error(head + "<os name=\"x\"/><hardware memory-bytes=\"18446744073709551616\"/>"
                          "</inventory>"),
             Catch::Contains("'memory-bytes'"));
  CHECK(ParseInventoryXml(head + "<os name=\"x\"/><hardware memory-bytes=\"18446744073709551615\"/>"
                                 "</inventory>",
                          "t.xml")
            .ok());
  CHECK_THAT(error(head + "<os name=\"x\"/><software><package name=\"a\"/></software></inventory>"),
             Catch::Contains("missing required attribute 'version' on <package>"));
  CHECK_THAT(error(head + "<os name=\"x\"/><software><package name=\"\" version=\"1\"/>"
                          "</software></inventory>"),
             Catch::Contains("'name' on <package> must not be empty"));
  CHECK_THAT(error("<inventory version=\"2\" device=\"0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6\" "
                   "collected=\"2026-11-22T16:00:00Z\"><os name=\"x\"/></inventory>"),
             Catch::StartsWith("t.xml:1:12: ") && Catch::Contains("unsupported inventory version"));
  CHECK_THAT(error("<policy/>"), Catch::Contains("root element is <policy>"));
  CHECK_THAT(error(""), Catch::StartsWith("t.xml:1:1: ") && Catch::Contains("not well-formed"));
  CHECK_THAT(error(head + "<os name=\"\xC3\x28\"/></inventory>"),
             Catch::StartsWith("t.xml:1:113: ") && Catch::Contains("invalid UTF-8"));
  // Multi-byte characters count as one column.
  CHECK_THAT(error("<!-- \xC3\xA9\xC3\xA9 -->\n<!-- \xC3\xA9\xC3\xA9 --><bad/>"),
             Catch::StartsWith("t.xml:2:12: "));
}

TEST_CASE("hostile and large inputs", "[inventory][xml]") {
  SECTION("100k packages parse") {
    Inventory inv = Sample();
    inv.software.clear();
    for (int i = 0; i < 100000; ++i) {
      inv.software.push_back(
          {"pkg" + std::to_string(i), "1.0-" + std::to_string(i), "amd64", "dpkg"});
    }
    auto parsed = ParseInventoryXml(ToXml(inv), "big.xml");
    REQUIRE(parsed.ok());
    CHECK(parsed->software.size() == 100000);
    CHECK(*parsed == inv);
  }
  SECTION("deep nesting is rejected without recursion trouble") {
    std::string xml =
        "<inventory version=\"1\" device=\"0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6\" "
        "collected=\"2026-11-22T16:00:00Z\"><os name=\"x\"/>\n";
    const int depth = 200000;
    for (int i = 0; i < depth; ++i) xml += "<software>";
    for (int i = 0; i < depth; ++i) xml += "</software>";
    xml += "</inventory>";
    auto r = ParseInventoryXml(xml, "deep.xml");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(),
               Catch::StartsWith("deep.xml:2:11: ") &&
                   Catch::Contains("unknown element <software> in <software>"));
  }
  SECTION("many duplicate attributes") {
    std::string xml =
        "<inventory version=\"1\" device=\"0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6\" "
        "collected=\"2026-11-22T16:00:00Z\"><os";
    for (int i = 0; i < 50000; ++i) xml += " name=\"x\"";
    xml += "/></inventory>";
    auto r = ParseInventoryXml(xml, "dup.xml");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("duplicate attribute 'name'"));
  }
  SECTION("garbage bytes are rejected") {
    std::mt19937 rng(42);
    for (int round = 0; round < 200; ++round) {
      std::string junk(1 + rng() % 4096, '\0');
      for (char& c : junk) c = static_cast<char>(rng());
      auto r = ParseInventoryXml(junk, "junk");
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == Code::kInvalidArgument);
      CHECK_THAT(r.status().message(), Catch::StartsWith("junk:"));
    }
  }
  SECTION("NUL inside the document is rejected") {
    std::string xml = Fixture("good.xml");
    xml.insert(xml.find("<software>"), std::string(1, '\0'));
    auto r = ParseInventoryXml(xml, "nul.xml");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::StartsWith("nul.xml:11:"));
  }
}

TEST_CASE("mutated inventories parse intact or fail with file:line:column", "[inventory][xml]") {
  auto good = common::ReadFile(std::string(TEST_DATA_DIR) + "/inventory/good.xml");
  REQUIRE(good.ok());
  for (const auto& m : testing_support::Mutations(*good, 2000)) {
    auto r = inventory::ParseInventoryXml(m, "mutant.xml");
    if (r.ok()) {
      CHECK(*inventory::ParseInventoryXml(inventory::ToXml(*r), "again.xml") == *r);
    } else {
      CHECK(r.status().code() == common::Code::kInvalidArgument);
      CHECK(r.status().message().rfind("mutant.xml:", 0) == 0);
    }
  }
}

TEST_CASE("control characters are refused on input and replaced on output", "[inventory][xml]") {
  auto good = common::ReadFile(std::string(TEST_DATA_DIR) + "/inventory/good.xml");
  REQUIRE(good.ok());
  std::string evil = *good;
  size_t at = evil.find("hostname=\"") + 10;
  evil.insert(at, "\x1b]0;pwned\x07");
  auto r = inventory::ParseInventoryXml(evil, "evil.xml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("control character") != std::string::npos);

  auto inv = inventory::ParseInventoryXml(*good, "good.xml");
  REQUIRE(inv.ok());
  inv->os.hostname = "host\x1b[2Jname";
  auto back = inventory::ParseInventoryXml(inventory::ToXml(*inv), "again.xml");
  REQUIRE(back.ok());
  CHECK(back->os.hostname == "host\xEF\xBF\xBD[2Jname");
}

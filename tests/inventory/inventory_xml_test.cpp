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
  inv.hardware.interfaces = {{"eth0", "52:54:00:ab:cd:ef", {"192.0.2.10/24", "2001:db8::10/64"}},
                             {"br0", "5a:11:22:33:44:55", {}, true}};
  inv.software = {{.name = "adduser", .version = "3.134", .arch = "all"},
                  {.name = "libc6", .version = "2.36-9+deb12u4", .arch = "amd64"}};
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

TEST_CASE("inventory XML carries the device's sequence number", "[inventory][xml]") {
  Inventory inv = Sample();
  CHECK(ToXml(inv).find("sequence=") == std::string::npos);  // 0: not numbered, not written
  inv.sequence = 42;
  std::string xml = ToXml(inv);
  CHECK(xml.find(" sequence=\"42\"") != std::string::npos);
  auto parsed = ParseInventoryXml(xml, "mem");
  REQUIRE(parsed.ok());
  CHECK(parsed->sequence == 42);
  CHECK(*parsed == inv);
  inv.sequence = 999999999999999999;  // the largest the decimal parser takes
  CHECK(*ParseInventoryXml(ToXml(inv), "mem") == inv);

  const std::string head =
      "<inventory version=\"1\" device=\"0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6\" "
      "collected=\"2026-11-22T16:00:00Z\"";
  auto with = [&](const std::string& attr) {
    return ParseInventoryXml(head + attr + "><os name=\"x\"/></inventory>", "s.xml");
  };
  CHECK(with("")->sequence == 0);  // absent: an older client's inventory
  CHECK(with(" sequence=\"0\"")->sequence == 0);
  CHECK(with(" sequence=\"7\"")->sequence == 7);
  for (const char* bad : {"-1", "07", "+7", "7.0", "", "1000000000000000000", "seven"}) {
    INFO(bad);
    auto r = with(std::string(" sequence=\"") + bad + "\"");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(),
               Catch::StartsWith("s.xml:1:1: <inventory> 'sequence': '") && Catch::Contains("is not a decimal integer"));
  }
  std::string m = ErrorOf("bad_sequence.xml");
  CHECK(m == "bad_sequence.xml:2:1: <inventory> 'sequence': '007' is not a decimal integer 0 .. 999999999999999999");
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
    CHECK_THAT(m, Catch::StartsWith("bad_unknown_attribute.xml:13:5: "));
    CHECK_THAT(m, Catch::Contains("unknown attribute 'license' on <package>"));
  }
  SECTION("missing device") {
    std::string m = ErrorOf("bad_missing_device.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_missing_device.xml:2:1: "));
    CHECK_THAT(m, Catch::Contains("<inventory> lacks 'device'"));
  }
  SECTION("bad number") {
    std::string m = ErrorOf("bad_number.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_number.xml:4:3: "));
    CHECK_THAT(m, Catch::Contains("'memory-bytes'"));
    CHECK_THAT(m, Catch::Contains("<hardware> 'memory-bytes': '4G' is not a decimal integer 0 .. 999999999999999999"));
  }
  SECTION("bad device id") {
    std::string m = ErrorOf("bad_device_id.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_device_id.xml:2:1: "));
    CHECK_THAT(m, Catch::Contains("<inventory> 'device': '0F8E2A34-5B6C-4D7E-8F90-A1B2C3D4E5F6' is not a lower-case UUID"));
  }
  SECTION("bad collected time") {
    std::string m = ErrorOf("bad_collected.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_collected.xml:2:1: "));
    CHECK_THAT(m, Catch::Contains("<inventory> 'collected': 'yesterday' is not an RFC 3339 date-time"));
  }
  SECTION("bad file digest") {
    std::string m = ErrorOf("bad_file_sha256.xml");
    CHECK_THAT(m, Catch::StartsWith("bad_file_sha256.xml:16:5: "));
    CHECK_THAT(m, Catch::Contains("<file> 'sha256': 'not-a-digest' is not 64 lower-case hex digits"));
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
  CHECK_THAT(error(head + "<os name=\"x\"/><hardware><interface name=\"br0\" virtual=\"yes\"/></hardware>"
                          "</inventory>"),
             Catch::Contains("'virtual'"));
  auto hw_false = ParseInventoryXml(
      head + "<os name=\"x\"/><hardware><interface name=\"eth1\" virtual=\"false\"/></hardware></inventory>", "t.xml");
  REQUIRE(hw_false.ok());
  CHECK_FALSE(hw_false->hardware.interfaces.at(0).is_virtual);
  CHECK_THAT(error(head + "</inventory>"), Catch::StartsWith("t.xml:1:1: <inventory> lacks <os>"));
  CHECK_THAT(error(head + "<os name=\"x\"/><os name=\"y\"/></inventory>"),
             Catch::StartsWith("t.xml:1:117: <os> is given twice in <inventory>"));
  CHECK_THAT(error(head + "<os name=\"x\" name=\"y\"/></inventory>"),
             Catch::StartsWith("t.xml:1:103: ") && Catch::Contains("duplicate attribute 'name' on <os>"));
  CHECK_THAT(error(head + "<os name=\"x\">text</os></inventory>"),
             Catch::Contains("unexpected text in <os>"));
  CHECK_THAT(error(head + "<os name=\"x\"/><hardware cpu-cores=\"4294967296\"/></inventory>"),
             Catch::Contains("'cpu-cores'"));
  CHECK_THAT(error(head + "<os name=\"x\"/><hardware cpu-cores=\"-1\"/></inventory>"),
             Catch::Contains("'-1' is not a decimal integer"));
  // Numbers go through common::ParseDecimal: at most 18 digits.
  CHECK_THAT(error(head + "<os name=\"x\"/><hardware memory-bytes=\"1000000000000000000\"/>"
                          "</inventory>"),
             Catch::Contains("'memory-bytes'"));
  CHECK(ParseInventoryXml(head + "<os name=\"x\"/><hardware memory-bytes=\"999999999999999999\"/>"
                                 "</inventory>",
                          "t.xml")
            .ok());
  CHECK_THAT(error(head + "<os name=\"x\"/><hardware cpu-cores=\"08\"/></inventory>"),
             Catch::Contains("'08' is not a decimal integer"));  // one spelling per number
  CHECK_THAT(error(head + "<os name=\"x\"/><software><package name=\"a\"/></software></inventory>"),
             Catch::Contains("<package> lacks 'version'"));
  CHECK_THAT(error(head + "<os name=\"x\"/><software><package name=\"\" version=\"1\"/>"
                          "</software></inventory>"),
             Catch::Contains("<package> 'name' must not be empty"));
  CHECK_THAT(error("<inventory version=\"2\" device=\"0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6\" "
                   "collected=\"2026-11-22T16:00:00Z\"><os name=\"x\"/></inventory>"),
             Catch::StartsWith("t.xml:1:1: <inventory> 'version': '2' is not supported (expected 1)"));
  CHECK_THAT(error("<policy/>"), Catch::Contains("root element is <policy>, expected <inventory>"));
  CHECK(error("") == "t.xml:1:1: no root element; expected <inventory>");
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
          {.name = "pkg" + std::to_string(i), .version = "1.0-" + std::to_string(i), .arch = "amd64"});
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
    CHECK_THAT(r.status().message(), Catch::StartsWith("nul.xml:12:"));
  }
}

TEST_CASE("hostile inventories are refused with their location", "[inventory][xml]") {
  const std::string good = Fixture("good.xml");
  auto error = [](const std::string& xml) {
    auto r = ParseInventoryXml(xml, "h.xml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    return r.status().message();
  };
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string x = good;
    size_t at = x.find(from);
    REQUIRE(at != std::string::npos);
    return x.replace(at, from.size(), to);
  };
  SECTION("entity expansion (a DOCTYPE) never happens") {
    CHECK(ErrorOf("bad_doctype.xml") ==
          "bad_doctype.xml:2:1: a DOCTYPE is not allowed (no DTD, no entities)");
    CHECK(error(replace("hostname=\"web-01\"", "hostname=\"&xxe;\"")) ==
          "h.xml:3:176: entity reference '&xxe;' is not allowed: only &amp; &lt; &gt; &quot; &apos; and character "
          "references");
  }
  SECTION("control characters, raw or as references") {
    CHECK(error(replace("hostname=\"web-01\"", "hostname=\"web&#x1b;[2J\"")) ==
          "h.xml:3:179: control character U+001B is not allowed (written '&#x1b;')");
    CHECK(error(replace("hostname=\"web-01\"", "hostname=\"web\xC2\x9B\"")) ==
          "h.xml:3:179: control character U+009B is not allowed");
  }
  SECTION("duplicate attributes") {
    CHECK(error(replace("<disk name=\"vda\"", "<disk name=\"vda\" name=\"vdb\"")) ==
          "h.xml:5:5: duplicate attribute 'name' on <disk>");
  }
  SECTION("a huge attribute value") {
    CHECK(error(replace("hostname=\"web-01\"", "hostname=\"" + std::string(100000, 'a') + "\"")) ==
          "h.xml:3:3: <os> 'hostname' is 100000 bytes long, more than the 8192 allowed");
  }
  SECTION("too many elements") {
    std::string flood = good;
    std::string packages;
    for (int i = 0; i < 4'000'000; ++i) packages += "<p/>";
    flood.insert(flood.find("</software>"), packages);
    CHECK_THAT(error(flood), Catch::StartsWith("h.xml:15:") && Catch::EndsWith("more than 4000000 elements (the limit for this document)"));
  }
  SECTION("the writer keeps what it writes within the reader's rules") {
    Inventory inv = Sample();
    inv.os.hostname = std::string(20000, 'h');             // cut to 8 KiB
    inv.hardware.vendor = "del\x7f c1\xC2\x9B";             // replaced
    inv.hardware.memory_bytes = UINT64_MAX;                // written as the largest decimal
    auto back = ParseInventoryXml(ToXml(inv), "w.xml");
    REQUIRE(back.ok());
    CHECK(back->os.hostname == std::string(8192, 'h'));
    CHECK(back->hardware.vendor == "del\xEF\xBF\xBD c1\xEF\xBF\xBD");
    CHECK(back->hardware.memory_bytes == 999999999999999999u);
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

// The detailed sections, package details and deltas of the inventory document
// (docs/inventory.md#sections, #deltas).
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "inventory/inventory.h"

namespace {

using common::Code;
using inventory::Inventory;
using inventory::Item;
using inventory::MakeDelta;
using inventory::ParseInventoryXml;
using inventory::PartDigests;
using inventory::Section;
using inventory::ToXml;

Inventory Base() {
  Inventory inv;
  inv.device_id = "0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6";
  inv.collected_at = "2026-11-22T16:00:00Z";
  inv.sequence = 4;
  inv.os.name = "Debian GNU/Linux";
  inv.os.hostname = "web-01";
  inv.hardware.cpu_cores = 2;
  inv.software.push_back({.name = "adduser", .version = "3.134", .arch = "all", .installed_at = 1763800000,
                          .size_bytes = 849920, .section = "admin",
                          .maintainer = "Debian Adduser Developers <adduser@packages.debian.org>",
                          .summary = "add and remove users & groups"});
  inv.software.push_back({.name = "hello", .version = "2.10-3", .arch = "amd64", .source = "rpm"});
  Section pci{.name = "pci"};
  Item bridge{.key = "0000:00:00.0"};
  bridge.Add("class", "060000");
  bridge.Add("vendor_id", "8086");
  bridge.Add("vendor_name", "Intel Corporation <\"quoted\"> & tab\there");
  pci.items.push_back(bridge);
  pci.notes.push_back("/usr/share/misc/pci.ids: not found (no names)");
  Section users{.name = "users"};
  Item root{.key = "root"};
  root.Add("uid", "0");
  root.Add("shell", "/bin/bash");
  users.items.push_back(root);
  inv.sections = {pci, users};
  return inv;
}

TEST_CASE("sections and package details survive the XML round trip", "[inventory][sections]") {
  Inventory inv = Base();
  auto parsed = ParseInventoryXml(ToXml(inv), "mem");
  REQUIRE(parsed.ok());
  CHECK(*parsed == inv);
  CHECK(parsed->sections[0].Find("0000:00:00.0")->Get("vendor_name") ==
        "Intel Corporation <\"quoted\"> & tab\there");
  CHECK(parsed->sections[0].Find("nope") == nullptr);
  CHECK(parsed->software[0].summary == "add and remove users & groups");
  CHECK(parsed->software[0].installed_at == 1763800000);
  // An item with no fields and a section with no items are kept.
  inv.sections[1].items.insert(inv.sections[1].items.begin(), Item{.key = "nobody"});
  inv.sections.insert(inv.sections.begin() + 1, Section{.name = "usb"});  // sorted: pci usb users
  parsed = ParseInventoryXml(ToXml(inv), "mem");
  REQUIRE(parsed.ok());
  CHECK(*parsed == inv);
}

TEST_CASE("bad sections are refused with their position", "[inventory][sections]") {
  const std::string head =
      "<inventory version=\"1\" device=\"0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6\" "
      "collected=\"2026-11-22T16:00:00Z\"><os name=\"x\"/>";
  struct Case {
    std::string body;
    std::string error;
  };
  const Case cases[] = {
      {"<section name=\"Bad-Name\"/>", "is not a section name"},
      {"<section name=\"software\"/>", "is not a section name"},
      {"<section name=\"\"/>", "is not a section name"},
      {"<section/>", "lacks 'name'"},
      {"<section name=\"a\"/><section name=\"a\"/>", "section 'a' is given twice"},
      {"<section name=\"a\"><item key=\"k\"/><item key=\"k\"/></section>", "is given twice in this section"},
      {"<section name=\"a\"><item key=\"\"/></section>", "must not be empty"},
      {"<section name=\"a\"><item key=\"k\"><field name=\"f\" value=\"1\"/><field name=\"f\" value=\"2\"/></item></section>",
       "is given twice in this item"},
      {"<section name=\"a\"><item key=\"k\"><field name=\"F!\" value=\"1\"/></item></section>", "is not a field name"},
      {"<section name=\"a\"><item key=\"k\"><field name=\"f\"/></item></section>", "lacks 'value'"},
      {"<section name=\"a\"><row/></section>", "unknown element <row>"},
      {"<section name=\"a\"><note/></section>", "lacks 'text'"},
      {"<section name=\"a\" extra=\"1\"/>", "unknown attribute 'extra'"},
      {"<software><package name=\"p\" version=\"1\" size=\"-1\"/></software>", "is not a decimal integer"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseInventoryXml(head + c.body + "</inventory>", "doc.xml");
    INFO(c.body);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == Code::kInvalidArgument);
    CHECK_THAT(parsed.status().message(), Catch::Contains(c.error) && Catch::StartsWith("doc.xml:1:"));
  }
}

TEST_CASE("a delta carries only the parts that changed", "[inventory][delta]") {
  const Inventory old = Base();
  const auto digests = PartDigests(old);
  CHECK(digests.size() == 6);  // os, hardware, software, files, pci, users
  CHECK(digests.at("pci").size() == 64);

  Inventory now = Base();
  now.sequence = 5;
  SECTION("nothing changed: no part") {
    Inventory delta = MakeDelta(now, digests, 4);
    CHECK(delta.parts.empty());
    auto parsed = ParseInventoryXml(ToXml(delta), "mem");
    REQUIRE(parsed.ok());
    CHECK(parsed->base == 4);
    CHECK(parsed->parts.empty());
    CHECK(parsed->software.empty());
    CHECK(ToXml(delta).size() < 300);
  }
  SECTION("one package upgraded, a section gone, a new one") {
    now.software[1].version = "2.10-4";
    now.sections.erase(now.sections.begin());  // pci
    now.sections.push_back(Section{.name = "usb"});
    Inventory delta = MakeDelta(now, digests, 4);
    CHECK(delta.parts == std::vector<std::string>{"pci", "software", "usb"});
    auto parsed = ParseInventoryXml(ToXml(delta), "mem");
    REQUIRE(parsed.ok());
    CHECK(parsed->parts == delta.parts);
    CHECK(parsed->software == now.software);
    // The vanished section travels empty, so the receiver empties it.
    REQUIRE(parsed->sections.size() == 2);
    CHECK(parsed->sections[0] == Section{.name = "pci"});
    CHECK(parsed->sections[1] == Section{.name = "usb"});
    CHECK(parsed->os.name.empty());  // not carried: unchanged
  }
  SECTION("file evidence emptied is carried as an empty <files/>") {
    Inventory with_files = Base();
    with_files.files.push_back({"/opt/a", 1, 2, ""});
    Inventory delta = MakeDelta(now, PartDigests(with_files), 4);
    CHECK(delta.parts == std::vector<std::string>{"files"});
    CHECK(ToXml(delta).find("<files />") != std::string::npos);
  }
}

namespace {

// A process list (a volatile section) with one process.
Section Processes(const std::string& pid, const std::string& cpu) {
  Section s{.name = "processes"};
  Item p{.key = pid};
  p.Add("command", "bash");
  p.Add("cpu_seconds", cpu);
  s.items.push_back(p);
  return s;
}

}  // namespace

TEST_CASE("a change to volatile sections alone makes no delta", "[inventory][delta]") {
  Inventory old = Base();
  old.sections.push_back(Processes("4242", "0.07"));
  old.sections.push_back(Section{.name = "logins"});
  const auto digests = PartDigests(old);
  REQUIRE(digests.count("processes") == 1);

  Inventory now = old;
  now.sequence = 5;
  now.sections[2] = Processes("4243", "9.99");  // another process, another time
  now.sections[2].notes.push_back("/proc: 1 process(es) not readable");
  Item session{.key = "pts/0"};
  session.Add("user", "alice");
  now.sections[3].items.push_back(session);
  Inventory delta = MakeDelta(now, digests, 4);
  CHECK(delta.parts.empty());
  auto parsed = ParseInventoryXml(ToXml(delta), "mem");
  REQUIRE(parsed.ok());
  CHECK(parsed->parts.empty());
  CHECK(parsed->sections.empty());

  SECTION("with another change, only that part travels") {
    now.software[1].version = "2.10-4";
    CHECK(MakeDelta(now, digests, 4).parts == std::vector<std::string>{"software"});
  }
  SECTION("a volatile section that appears or vanishes travels") {
    now.sections.pop_back();  // logins no longer reported
    Inventory first = Base();
    CHECK(MakeDelta(now, digests, 4).parts == std::vector<std::string>{"logins"});
    CHECK(MakeDelta(now, PartDigests(first), 4).parts == std::vector<std::string>{"processes"});
  }
}

TEST_CASE("a delta must name an earlier base", "[inventory][delta]") {
  Inventory inv = Base();
  inv.base = 4;  // == sequence
  auto parsed = ParseInventoryXml(ToXml(inv), "mem");
  REQUIRE_FALSE(parsed.ok());
  CHECK_THAT(parsed.status().message(), Catch::Contains("base < sequence"));
  inv.base = 3;
  inv.parts = {"os"};
  CHECK(ParseInventoryXml(ToXml(inv), "mem").ok());
  // A full inventory without <os> is still refused; a delta without it is fine.
  inv.parts = {"software"};
  CHECK(ParseInventoryXml(ToXml(inv), "mem").ok());
  inv.base = 0;
  std::string xml = ToXml(inv);
  xml.erase(xml.find("<os "), xml.find("/>", xml.find("<os ")) + 2 - xml.find("<os "));
  CHECK_THAT(ParseInventoryXml(xml, "mem").status().message(), Catch::Contains("lacks <os>"));
}

}  // namespace

namespace {

// Found by trying a hostile device's document: duplicate parts were looked
// for in a list, so many sections cost quadratic time. They are a set now.
TEST_CASE("a document with very many sections is read in one pass", "[inventory][sections]") {
  std::string xml =
      "<inventory version=\"1\" device=\"0f8e2a34-5b6c-4d7e-8f90-a1b2c3d4e5f6\" "
      "collected=\"2026-11-22T16:00:00Z\" sequence=\"2\" base=\"1\">";
  for (int i = 0; i < 200000; ++i) xml += "<section name=\"s" + std::to_string(i) + "\"/>";
  auto parsed = ParseInventoryXml(xml + "</inventory>", "many.xml");
  REQUIRE(parsed.ok());
  CHECK(parsed->sections.size() == 200000);
  CHECK(parsed->parts.size() == 200000);
  auto twice = ParseInventoryXml(xml + "<section name=\"s7\"/></inventory>", "many.xml");
  REQUIRE_FALSE(twice.ok());
  CHECK_THAT(twice.status().message(), Catch::Contains("section 's7' is given twice"));
}

}  // namespace

// The health document (inventory/health.h): round trips, every refusal with
// its position, hostile input; and the HealthBook's raise/clear/report cycle
// and its file across a restart.
#include "inventory/health.h"

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "support/mutate.h"
#include "support/temp_dir.h"

namespace {

using inventory::Health;
using inventory::HealthBook;
using inventory::HealthMessage;
using inventory::HealthSource;
using inventory::HealthType;

constexpr char kDevice[] = "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";
constexpr int64_t kT = 1'795'000'000;  // 2026-11-18

Health DeviceHealth() {
  Health h;
  h.id = kDevice;
  h.sequence = 7;
  h.sent_at = kT + 100;
  h.messages.push_back({"client.beacon-unreachable", "transport", HealthType::kError, 1,
                        "https://a:443 connection refused; https://b:443 timed out", kT, kT + 60, 3, 0});
  h.messages.push_back(
      {"client.clock-skew", "clock", HealthType::kWarning, 2, "clock is 400 s behind the beacon's \"Date\" & <more>",
       kT + 10, kT + 20, 2, kT + 90});
  return h;
}

// A document with the given root attributes and body.
std::string Doc(const std::string& root_attrs, const std::string& body = "") {
  return "<health version=\"1\" " + root_attrs + ">\n" + body + "</health>\n";
}
const std::string kRoot = std::string("source=\"device\" id=\"") + kDevice +
                          "\" sequence=\"1\" sent-at=\"2026-11-18T10:00:00Z\"";
std::string Message(const std::string& extra = "", const std::string& id = "client.disk-short") {
  return "  <message id=\"" + id +
         "\" component=\"disk\" type=\"warning\" priority=\"2\" first-seen=\"2026-11-18T09:00:00Z\" "
         "last-seen=\"2026-11-18T09:30:00Z\" count=\"2\" text=\"low\"" +
         extra + "/>\n";
}

std::string Refusal(const std::string& xml) {
  auto r = inventory::ParseHealthXml(xml, "h.xml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == common::Code::kInvalidArgument);
  return r.status().message();
}

}  // namespace

TEST_CASE("health: device and beacon documents round trip") {
  Health h = DeviceHealth();
  const std::string xml = inventory::ToXml(h);
  CHECK(xml.find("sent-at=\"2026-11-18T11:08:20Z\"") != std::string::npos);
  CHECK(xml.find("cleared-at=\"2026-11-18T11:08:10Z\"") != std::string::npos);
  auto back = inventory::ParseHealthXml(xml, "h.xml");
  REQUIRE(back.ok());
  CHECK(*back == h);

  Health b;
  b.source = HealthSource::kBeacon;
  b.id = "dmz-1";
  b.sequence = 1;
  b.sent_at = kT;
  b.beacon = inventory::HealthBeacon{"0.1.0", 300, false, 12, 34567, kT - 50, 1, 5'000'000'000, false, kT - 700,
                                     kT + 86400 * 30};
  b.messages.push_back({"beacon.upstream-unreachable", "relay", HealthType::kError, 1, "no answer", kT, kT, 1, 0});
  auto bb = inventory::ParseHealthXml(inventory::ToXml(b), "b.xml");
  REQUIRE(bb.ok());
  CHECK(*bb == b);
  // Times that are 0 are left out and read back as 0.
  b.beacon = inventory::HealthBeacon{"0.1.0", 300, true, 0, 0, 0, 0, 0, true, 0, 0};
  const std::string sparse = inventory::ToXml(b);
  CHECK(sparse.find("spool-oldest") == std::string::npos);
  CHECK(*inventory::ParseHealthXml(sparse, "b.xml") == b);

  // Text the reader would refuse is repaired by the writer: one line, cut.
  Health odd = DeviceHealth();
  odd.messages[0].text = "line one\nline two\x01 " + std::string(2000, 'x');
  auto repaired = inventory::ParseHealthXml(inventory::ToXml(odd), "odd.xml");
  REQUIRE(repaired.ok());
  CHECK(repaired->messages[0].text.rfind("line one line two", 0) == 0);
  CHECK(repaired->messages[0].text.size() <= 1000);
}

TEST_CASE("health: every refusal names its place") {
  REQUIRE(inventory::ParseHealthXml(Doc(kRoot, Message()), "h.xml").ok());
  struct Case {
    std::string xml, message;
  };
  const std::string b = "  <beacon version=\"0.1.0\" interval=\"300\" central=\"false\" spool-files=\"0\" "
                        "spool-bytes=\"0\" rejected-files=\"0\" disk-free=\"9\" upstream-ok=\"true\"/>\n";
  const std::string beacon_root = "source=\"beacon\" id=\"dmz-1\" sequence=\"1\" sent-at=\"2026-11-18T10:00:00Z\"";
  for (const Case& c : std::vector<Case>{
           {"<health version=\"2\" " + kRoot + "/>",
            "h.xml:1:1: <health> 'version': '2' is not supported (expected 1)"},
           {Doc(kRoot + " extra=\"1\""), "h.xml:1:1: unknown attribute 'extra' on <health>"},
           {Doc(std::string("source=\"device\" id=\"") + kDevice + "\" sequence=\"1\""),
            "h.xml:1:1: <health> lacks 'sent-at'"},
           {Doc("source=\"phone\" id=\"x\" sequence=\"1\" sent-at=\"2026-11-18T10:00:00Z\""),
            "h.xml:1:1: <health> 'source': 'phone' is not device or beacon"},
           {Doc("source=\"device\" id=\"DMZ\" sequence=\"1\" sent-at=\"2026-11-18T10:00:00Z\""),
            "h.xml:1:1: <health> 'id': 'DMZ' is not a lower-case UUID (a device id)"},
           {Doc("source=\"beacon\" id=\"a b\" sequence=\"1\" sent-at=\"2026-11-18T10:00:00Z\"", b),
            "h.xml:1:1: <health> 'id': 'a b' is not a beacon name (1 to 64 of A-Z a-z 0-9 . _ -)"},
           {Doc(std::string("source=\"device\" id=\"") + kDevice + "\" sequence=\"-1\" sent-at=\"2026-11-18T10:00:00Z\""),
            "h.xml:1:1: <health> 'sequence': '-1' is not a decimal integer 0 .. 999999999999999999"},
           {Doc(std::string("source=\"device\" id=\"") + kDevice + "\" sequence=\"1\" sent-at=\"yesterday\""),
            "h.xml:1:1: <health> 'sent-at': 'yesterday' is not an RFC 3339 date-time like 2026-11-22T16:00:00Z"},
           {Doc(kRoot, b), "h.xml:2:3: <beacon> is for source=\"beacon\" only"},
           {Doc(beacon_root), "h.xml:1:1: <health source=\"beacon\"> lacks <beacon>"},
           {Doc(beacon_root, b + b), "h.xml:3:3: <beacon> is given twice in <health>"},
           {Doc(beacon_root, "  <beacon version=\"0.1.0\"/>\n"), "h.xml:2:3: <beacon> lacks 'interval'"},
           {Doc(beacon_root, "  <beacon version=\"0.1.0\" interval=\"300\" central=\"yes\" spool-files=\"0\" "
                             "spool-bytes=\"0\" rejected-files=\"0\" disk-free=\"9\" upstream-ok=\"true\"/>\n"),
            "h.xml:2:3: <beacon> 'central': 'yes' is not true or false"},
           {Doc(kRoot, "  <note/>\n"), "h.xml:2:3: unknown element <note> in <health>"},
           {Doc(kRoot, Message("", "Client.Disk")),
            "h.xml:2:3: <message> 'id': 'Client.Disk' is not a message id (3 to 64 of a-z 0-9 . -, like "
            "client.beacon-unreachable)"},
           {Doc(kRoot, Message("", "nodot")), "h.xml:2:3: <message> 'id': 'nodot' is not a message id"},
           {Doc(kRoot, Message(" color=\"red\"")), "h.xml:2:3: unknown attribute 'color' on <message>"},
           {Doc(kRoot, "  <message id=\"client.x\"/>\n"), "h.xml:2:3: <message> lacks 'component'"},
           {Doc(kRoot, Message(" cleared-at=\"2026-11-18T09:00:00Z\"")),
            "h.xml:2:3: <message> 'cleared-at' is before 'last-seen'"},
           {Doc(kRoot, Message(" cleared-at=\"soon\"")),
            "h.xml:2:3: <message> 'cleared-at': 'soon' is not an RFC 3339 date-time"},
           {Doc(kRoot, Message() + Message()), "h.xml:3:3: message 'client.disk-short' is listed twice"},
           {Doc(kRoot, Message("", "client.z") + Message("", "client.a")), "h.xml:3:3: messages must be sorted by id"},
           {Doc(kRoot, "  <message><x/></message>\n"), "h.xml:2:3: <message> lacks 'id'"},
       }) {
    INFO(c.xml);
    CHECK(Refusal(c.xml).rfind(c.message, 0) == 0);
  }
  // Values the message attributes must hold.
  auto with = [](const std::string& from, const std::string& to) {
    std::string m = Message();
    m.replace(m.find(from), from.size(), to);
    return Doc(kRoot, m);
  };
  CHECK(Refusal(with("type=\"warning\"", "type=\"info\"")) ==
        "h.xml:2:3: <message> 'type': 'info' is not error or warning");
  CHECK(Refusal(with("priority=\"2\"", "priority=\"4\"")) ==
        "h.xml:2:3: <message> 'priority': '4' is not a decimal integer 1 .. 3");
  CHECK(Refusal(with("count=\"2\"", "count=\"0\"")).rfind("h.xml:2:3: <message> 'count': '0' is not a decimal", 0) ==
        0);
  CHECK(Refusal(with("last-seen=\"2026-11-18T09:30:00Z\"", "last-seen=\"2026-11-18T08:30:00Z\"")) ==
        "h.xml:2:3: <message> 'last-seen' is before 'first-seen'");
  CHECK(Refusal(with("first-seen=\"2026-11-18T09:00:00Z\"", "first-seen=\"1969-12-31T23:59:59Z\"")) ==
        "h.xml:2:3: <message> 'first-seen': '1969-12-31T23:59:59Z' is outside 1970 .. 36812");
  CHECK(Refusal(with("text=\"low\"", "text=\"\"")).rfind("h.xml:2:3: <message> 'text'", 0) == 0);
  CHECK(Refusal(with("text=\"low\"", "text=\"a&#10;b\"")).rfind("h.xml:2:3: <message> 'text'", 0) == 0);
  CHECK(Refusal(with("component=\"disk\"", "component=\"a b\"")).rfind("h.xml:2:3: <message> 'component'", 0) == 0);
  // Text content, which no field holds.
  CHECK(Refusal(Doc(kRoot, "  <message>hello</message>\n")).rfind("h.xml:2:12: ", 0) == 0);
}

TEST_CASE("health: hostile and oversized input") {
  CHECK_FALSE(inventory::ParseHealthXml("", "x").ok());
  CHECK_FALSE(inventory::ParseHealthXml("<health", "x").ok());
  CHECK_FALSE(inventory::ParseHealthXml(std::string(1 << 20, '<'), "x").ok());
  CHECK(Refusal("<!DOCTYPE health [<!ENTITY a \"aaaa\">]><health/>").rfind("h.xml:1:", 0) == 0);
  // 201 messages.
  std::string many;
  for (int i = 0; i < 201; ++i) many += Message("", "client.m" + std::to_string(1000 + i));
  CHECK(Refusal(Doc(kRoot, many)) == "h.xml:202:3: <health> has more than 200 messages");
  // More than 512 KiB.
  std::string big = Doc(kRoot, "<!--" + std::string(600 << 10, 'x') + "-->");
  CHECK(Refusal(big).rfind("h.xml: ", 0) == 0);
  // Mutations of a good document: accepted intact or refused with a place.
  const std::string good = inventory::ToXml(DeviceHealth());
  int accepted = 0;
  for (const auto& m : testing_support::Mutations(good, 3000)) {
    auto r = inventory::ParseHealthXml(m, "mutant.xml");
    if (r.ok()) {
      ++accepted;
      CHECK(*inventory::ParseHealthXml(inventory::ToXml(*r), "again.xml") == *r);
    } else {
      CHECK(r.status().code() == common::Code::kInvalidArgument);
      CHECK(r.status().message().rfind("mutant.xml:", 0) == 0);
    }
  }
  CHECK(accepted < 3000);
}

TEST_CASE("health book: raise, count, clear, raise again") {
  testing_support::TempDir dir("health-book");
  auto opened = HealthBook::Open(dir.path + "/health.xml", HealthSource::kDevice, kDevice);
  REQUIRE(opened.ok());
  HealthBook& book = **opened;
  CHECK(book.Open().empty());
  // A book that never reported is due at once: the central learns the device is healthy.
  CHECK(book.ReportDue(kT, 86400));

  book.Raise("client.disk-short", "disk", HealthType::kWarning, 2, "10 MiB free", kT);
  book.Raise("client.disk-short", "disk", HealthType::kError, 1, "5 MiB free", kT + 60);
  REQUIRE(book.Open().size() == 1);
  HealthMessage m = book.Open()[0];
  CHECK(m.first_seen == kT);
  CHECK(m.last_seen == kT + 60);
  CHECK(m.count == 2);
  CHECK(m.type == HealthType::kError);
  CHECK(m.text == "5 MiB free");
  CHECK(book.IsOpen("client.disk-short"));

  Health first = book.Report(kT + 60);
  CHECK(first.sequence == 1);
  CHECK(first.sent_at == kT + 60);
  CHECK(first.messages.size() == 1);
  book.MarkReported(first);
  // Reported, nothing new: not due until the heartbeat.
  CHECK_FALSE(book.ReportDue(kT + 60, 86400));
  CHECK_FALSE(book.ReportDue(kT + 3600, 86400));
  CHECK(book.ReportDue(kT + 60 + 86400, 86400));
  // Raised again while open: counted, not new.
  book.Raise("client.disk-short", "disk", HealthType::kError, 1, "4 MiB free", kT + 120);
  CHECK_FALSE(book.ReportDue(kT + 120, 86400));
  // A new message in the same second as the report is still new.
  book.Raise("client.clock-skew", "clock", HealthType::kWarning, 2, "400 s", kT + 60);
  CHECK(book.ReportDue(kT + 60, 86400));
  Health second = book.Report(kT + 130);
  CHECK(second.sequence == 2);
  book.MarkReported(second);
  CHECK_FALSE(book.ReportDue(kT + 130, 86400));

  // Cleared: due, reported once as cleared, then forgotten.
  book.Clear("client.disk-short", kT + 200);
  book.Clear("client.not-open", kT + 200);
  CHECK_FALSE(book.IsOpen("client.disk-short"));
  CHECK(book.ReportDue(kT + 200, 86400));
  Health third = book.Report(kT + 200);
  REQUIRE(third.messages.size() == 2);
  CHECK(third.messages[1].id == "client.disk-short");
  CHECK(third.messages[1].cleared_at == kT + 200);
  CHECK(third.messages[1].count == 3);
  book.MarkReported(third);
  CHECK_FALSE(book.ReportDue(kT + 200, 86400));
  CHECK(book.Report(kT + 300).messages.size() == 1);

  // Raised again after the clearing: a new message, count 1.
  book.Raise("client.disk-short", "disk", HealthType::kWarning, 2, "back", kT + 400);
  CHECK(book.ReportDue(kT + 400, 86400));
  for (const HealthMessage& open : book.Open()) {
    if (open.id == "client.disk-short") {
      CHECK(open.first_seen == kT + 400);
      CHECK(open.count == 1);
    }
  }
  // Raised and cleared between two reports: the clearing still travels.
  book.MarkReported(book.Report(kT + 400));
  book.Raise("client.outbox-near-cap", "outbox", HealthType::kWarning, 2, "90%", kT + 500);
  book.Clear("client.outbox-near-cap", kT + 510);
  CHECK(book.ReportDue(kT + 510, 86400));
  Health fifth = book.Report(kT + 520);
  CHECK(fifth.sequence == 5);
  bool carried = false;
  for (const HealthMessage& x : fifth.messages) carried |= x.id == "client.outbox-near-cap" && x.cleared_at == kT + 510;
  CHECK(carried);
  // Malformed ids are never kept (the document could not be read back).
  book.Raise("Bad Id", "disk", HealthType::kWarning, 2, "x", kT);
  CHECK_FALSE(book.IsOpen("Bad Id"));
}

TEST_CASE("health book: what Save keeps survives a restart") {
  testing_support::TempDir dir("health-book");
  const std::string path = dir.path + "/health.xml";
  {
    auto book = HealthBook::Open(path, HealthSource::kDevice, kDevice);
    REQUIRE(book.ok());
    (*book)->Raise("client.disk-short", "disk", HealthType::kWarning, 2, "low", kT);
    (*book)->MarkReported((*book)->Report(kT));
    (*book)->Raise("client.clock-skew", "clock", HealthType::kWarning, 2, "skew", kT + 10);
    (*book)->Raise("client.outbox-near-cap", "outbox", HealthType::kWarning, 2, "full", kT + 10);
    (*book)->Clear("client.outbox-near-cap", kT + 20);
    REQUIRE((*book)->Save().ok());
  }
  auto again = HealthBook::Open(path, HealthSource::kDevice, kDevice);
  REQUIRE(again.ok());
  HealthBook& book = **again;
  // Raised (and cleared) before the restart, not yet reported: still due.
  CHECK(book.ReportDue(kT + 30, 86400));
  CHECK(book.IsOpen("client.disk-short"));
  CHECK(book.IsOpen("client.clock-skew"));
  Health next = book.Report(kT + 30);
  CHECK(next.sequence == 2);
  CHECK(next.messages.size() == 3);
  book.MarkReported(next);
  REQUIRE(book.Save().ok());
  auto third = HealthBook::Open(path, HealthSource::kDevice, kDevice);
  REQUIRE(third.ok());
  CHECK_FALSE((*third)->ReportDue(kT + 40, 86400));
  CHECK((*third)->Report(kT + 40).sequence == 3);
  CHECK((*third)->Open().size() == 2);

  // Another sender's book, or a damaged one, is an error, not an empty book.
  CHECK(HealthBook::Open(path, HealthSource::kDevice, "00000000-0000-4000-8000-000000000000").status().code() ==
        common::Code::kFailedPrecondition);
  REQUIRE(common::WriteFileAtomic(path, "<health").ok());
  CHECK(HealthBook::Open(path, HealthSource::kDevice, kDevice).status().code() == common::Code::kInvalidArgument);

  // A beacon's book carries a status in the file but reports the caller's.
  const std::string bpath = dir.path + "/beacon-health.xml";
  auto beacon = HealthBook::Open(bpath, HealthSource::kBeacon, "dmz-1");
  REQUIRE(beacon.ok());
  (*beacon)->Raise("beacon.spool-disk-short", "spool", HealthType::kWarning, 2, "1 GiB free", kT);
  REQUIRE((*beacon)->Save().ok());
  auto reopened = HealthBook::Open(bpath, HealthSource::kBeacon, "dmz-1");
  REQUIRE(reopened.ok());
  inventory::HealthBeacon status{"0.1.0", 300, false, 1, 2, kT, 0, 1 << 30, true, kT, 0};
  Health report = (*reopened)->Report(kT + 5, status);
  REQUIRE(report.beacon.has_value());
  CHECK(*report.beacon == status);
  CHECK(*inventory::ParseHealthXml(inventory::ToXml(report), "b.xml") == report);
}

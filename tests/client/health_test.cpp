// The client's health checks (client/src/health_checks.h) driven through the
// real parts: failover over scripted beacons, the Date header of their
// answers, manifest refusals by the applied policy, the outbox, and the
// report put in the outbox only when due.
#include "health_checks.h"

#include <catch2/catch.hpp>

#include "client/client_parts.h"
#include "common/retry.h"
#include "inventory/health.h"
#include "policy/documents.h"

namespace {

using client_test::ClientParts;
using client_test::Now;

std::string HttpDate(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// A ping through failover, mapped as every request of the client is.
common::Status Ping(ClientParts& c) {
  return c.selector->WithFailover([](common::Transport& beacon) -> common::Status {
    ASSIGN_OR_RETURN(common::HttpResult r, beacon.Get("/v1/ping", {}, 1024));
    return common::StatusFromHttp(r.status, "GET /v1/ping");
  });
}

std::string OpenText(const ClientParts& c, const std::string& id) {
  for (const auto& m : c.health->book().Open())
    if (m.id == id) return m.text;
  return "";
}

// Applies a failover.xml naming https://a.test and https://b.test, in that order.
void ApplyTwoBeacons(ClientParts& c) {
  policy::Failover f;
  f.beacons = {{"https://a.test", 1, "", ""}, {"https://b.test", 2, "", ""}};
  c.ServePolicy("https://a.test", 1, {{"failover.xml", policy::ToXml(f)}});
  REQUIRE(c.CheckPolicy().ok());
  REQUIRE(c.selector->Beacons() == std::vector<std::string>{"https://a.test", "https://b.test"});
}

}  // namespace

TEST_CASE("client health: every beacon failing raises beacon-unreachable with each one's failure") {
  ClientParts c;
  ApplyTwoBeacons(c);
  CHECK_FALSE(c.health->book().IsOpen(client::kBeaconUnreachable));

  // a refuses the connection, b is overloaded: neither can be used.
  c.beacons["https://b.test"].script.push_back({503, "busy", {{"retry-after", "30"}}});
  common::Status st = Ping(c);
  CHECK(common::Classify(st) == common::Outcome::kRetry);
  REQUIRE(c.health->book().IsOpen(client::kBeaconUnreachable));
  const std::string text = OpenText(c, client::kBeaconUnreachable);
  INFO(text);
  CHECK(text.rfind("no beacon could be reached: https://a.test ", 0) == 0);
  CHECK(text.find("connection refused") != std::string::npos);
  CHECK(text.find("; https://b.test ") != std::string::npos);
  CHECK(text.find("503") != std::string::npos);
  for (const auto& m : c.health->book().Open()) {
    if (m.id != client::kBeaconUnreachable) continue;
    CHECK(m.type == inventory::HealthType::kError);
    CHECK(m.component == "transport");
  }

  // Still failing: counted. Then a answers: cleared.
  CHECK_FALSE(Ping(c).ok());
  c.beacons["https://a.test"].script.push_back({200, "ok", {}});
  REQUIRE(Ping(c).ok());
  CHECK_FALSE(c.health->book().IsOpen(client::kBeaconUnreachable));
  // The clearing travels in the next report.
  inventory::Health report = c.health->book().Report(Now());
  bool cleared = false;
  for (const auto& m : report.messages) cleared |= m.id == client::kBeaconUnreachable && m.cleared_at != 0 && m.count == 2;
  CHECK(cleared);

  // A beacon that answers with a refusal was reached: not unreachable.
  c.beacons["https://a.test"].script.push_back({403, "refused", {}});
  CHECK_FALSE(Ping(c).ok());
  CHECK_FALSE(c.health->book().IsOpen(client::kBeaconUnreachable));
}

TEST_CASE("client health: the beacon's Date header far from the local clock raises clock-skew") {
  ClientParts c;
  c.beacons["https://a.test"].script.push_back({200, "ok", {{"date", HttpDate(Now() - 1000)}}});
  REQUIRE(Ping(c).ok());
  REQUIRE(c.health->book().IsOpen(client::kClockSkew));
  const std::string text = OpenText(c, client::kClockSkew);
  INFO(text);
  CHECK(text.find(" ahead of the beacon's") != std::string::npos);
  CHECK(text.find("Date: " + HttpDate(Now() - 1000).substr(0, 16)) != std::string::npos);

  // A header that is not an HTTP date changes nothing.
  c.beacons["https://a.test"].script.push_back({200, "ok", {{"date", "yesterday"}}});
  REQUIRE(Ping(c).ok());
  CHECK(c.health->book().IsOpen(client::kClockSkew));
  // Within 300 s: cleared.
  c.beacons["https://a.test"].script.push_back({200, "ok", {{"date", HttpDate(Now() + 100)}}});
  REQUIRE(Ping(c).ok());
  CHECK_FALSE(c.health->book().IsOpen(client::kClockSkew));
  // Behind.
  c.beacons["https://a.test"].script.push_back({200, "ok", {{"date", HttpDate(Now() + 4000)}}});
  REQUIRE(Ping(c).ok());
  CHECK(OpenText(c, client::kClockSkew).find(" behind the beacon's") != std::string::npos);
}

TEST_CASE("client health: a refused manifest raises manifest-refused until one is accepted") {
  ClientParts c;
  ApplyTwoBeacons(c);
  CHECK_FALSE(c.health->book().IsOpen(client::kManifestRefused));
  // Altered on the way: the signature no longer matches.
  policy::Manifest forged;
  forged.revision = 5;
  forged.device = c.device;
  forged.signature = std::string(86, 'A') + "==";
  c.beacons["https://a.test"].script.push_back({200, policy::ToXml(forged), {}});
  CHECK_FALSE(c.CheckPolicy().ok());
  REQUIRE(c.health->book().IsOpen(client::kManifestRefused));
  CHECK(OpenText(c, client::kManifestRefused).find("signature") != std::string::npos);
  CHECK(c.applied->Revision() == 1);
  // The beacon unreachable afterwards: the refusal stands.
  CHECK_FALSE(c.CheckPolicy().ok());
  CHECK(c.health->book().IsOpen(client::kManifestRefused));
  // An older revision is refused too.
  c.ServePolicy("https://a.test", 0, {});
  CHECK_FALSE(c.CheckPolicy().ok());
  CHECK(OpenText(c, client::kManifestRefused).find("older than the applied 1") != std::string::npos);
  // The applied manifest confirmed current (304): cleared.
  c.beacons["https://a.test"].script.push_back({304, "", {}});
  REQUIRE(c.CheckPolicy().ok());
  CHECK_FALSE(c.health->book().IsOpen(client::kManifestRefused));
}

TEST_CASE("client health: outbox near its cap, disk short, certificate expiring") {
  ClientParts c(64 << 10);  // a 64 KiB outbox
  c.health->Outbox(c.outbox->Bytes(), c.settings.outbox_max_size, Now());
  CHECK_FALSE(c.health->book().IsOpen(client::kOutboxNearCap));
  // Fill it past 80% with uploads that cannot leave.
  for (int i = 0; i < 6; ++i) REQUIRE(c.uploads->Queue("logs", common::NewUuid(), std::string(9 << 10, 'x')).ok());
  REQUIRE(c.outbox->Bytes() > (64u << 10) * 8 / 10);
  c.health->Outbox(c.outbox->Bytes(), c.settings.outbox_max_size, Now());
  REQUIRE(c.health->book().IsOpen(client::kOutboxNearCap));
  CHECK(OpenText(c, client::kOutboxNearCap).find("% of outbox_max_size (65536 bytes)") != std::string::npos);
  for (const auto& m : c.outbox->List()) REQUIRE(c.outbox->Remove(m).ok());
  c.health->Outbox(c.outbox->Bytes(), c.settings.outbox_max_size, Now());
  CHECK_FALSE(c.health->book().IsOpen(client::kOutboxNearCap));

  // Free space under 2 x outbox_max_size, or under 100 MiB.
  c.health->Disk(uint64_t{300} << 20, uint64_t{256} << 20, Now());
  CHECK(OpenText(c, client::kDiskShort) == "300 MiB free for the state folder, less than 512 MiB "
                                           "(2 x outbox_max_size, at least 100 MiB)");
  c.health->Disk(uint64_t{600} << 20, uint64_t{256} << 20, Now());
  CHECK_FALSE(c.health->book().IsOpen(client::kDiskShort));
  c.health->Disk(uint64_t{90} << 20, uint64_t{1} << 20, Now());
  CHECK(c.health->book().IsOpen(client::kDiskShort));
  // What `beacon-client status` shows.
  CHECK(c.health->StatusLines().find("health:           1 open\n  client.disk-short (warning, since ") == 0);

  // The certificate within 14 days of its end: a warning; within 2: an error.
  const int64_t now = Now();
  c.health->Certificate(now + 30 * 86400, now);
  CHECK_FALSE(c.health->book().IsOpen(client::kCertificateExpiring));
  c.health->Certificate(now + 10 * 86400, now);
  REQUIRE(c.health->book().Open().size() == 2);
  auto level = [&] {
    for (const auto& m : c.health->book().Open())
      if (m.id == client::kCertificateExpiring) return m.type;
    FAIL("not open");
    return inventory::HealthType::kWarning;
  };
  CHECK(level() == inventory::HealthType::kWarning);
  c.health->Certificate(now + 86400, now);
  CHECK(level() == inventory::HealthType::kError);
  CHECK(OpenText(c, client::kCertificateExpiring).find("(in 24 h)") != std::string::npos);
  c.health->Certificate(std::nullopt, now);
  CHECK_FALSE(c.health->book().IsOpen(client::kCertificateExpiring));
}

TEST_CASE("client health: the report goes into the outbox only when due, and survives a restart") {
  ClientParts c;
  const int64_t t = Now();
  // Never reported: the first report tells the central the device is healthy.
  REQUIRE(c.health->ReportIfDue(c.Queue(), t).ok());
  auto bodies = c.Uploaded("health");
  REQUIRE(bodies.size() == 1);
  auto first = inventory::ParseHealthXml(bodies[0], "report");
  REQUIRE(first.ok());
  CHECK(first->id == c.device);
  CHECK(first->sequence == 1);
  CHECK(first->messages.empty());
  // Nothing changed: nothing more.
  REQUIRE(c.health->ReportIfDue(c.Queue(), t + 60).ok());
  CHECK(c.Uploaded("health").size() == 1);

  // A condition found: reported in the next round.
  c.health->Disk(1 << 20, 1 << 20, t + 100);
  REQUIRE(c.health->ReportIfDue(c.Queue(), t + 100).ok());
  bodies = c.Uploaded("health");
  REQUIRE(bodies.size() == 2);
  auto second = inventory::ParseHealthXml(bodies[1], "report");
  REQUIRE(second.ok());
  CHECK(second->sequence == 2);
  REQUIRE(second->messages.size() == 1);
  CHECK(second->messages[0].id == client::kDiskShort);
  // Found again: counted, not reported until something changes or a day passes.
  c.health->Disk(1 << 20, 1 << 20, t + 200);
  REQUIRE(c.health->ReportIfDue(c.Queue(), t + 200).ok());
  CHECK(c.Uploaded("health").size() == 2);

  // Cleared, then the client restarts before its next round: the clearing
  // is kept in the book and still reported.
  c.health->Disk(uint64_t{1} << 40, 1 << 20, t + 300);
  REQUIRE(c.health->Save().ok());
  c.OpenHealth();
  REQUIRE(c.health->ReportIfDue(c.Queue(), t + 300).ok());
  bodies = c.Uploaded("health");
  REQUIRE(bodies.size() == 3);
  auto third = inventory::ParseHealthXml(bodies[2], "report");
  REQUIRE(third.ok());
  CHECK(third->sequence == 3);
  REQUIRE(third->messages.size() == 1);
  CHECK(third->messages[0].cleared_at == t + 300);
  CHECK(third->messages[0].count == 2);
  // The daily heartbeat.
  REQUIRE(c.health->ReportIfDue(c.Queue(), t + 300 + 86399).ok());
  CHECK(c.Uploaded("health").size() == 3);
  REQUIRE(c.health->ReportIfDue(c.Queue(), t + 300 + 86400).ok());
  bodies = c.Uploaded("health");
  REQUIRE(bodies.size() == 4);
  auto fourth = inventory::ParseHealthXml(bodies[3], "report");
  REQUIRE(fourth.ok());
  CHECK(fourth->sequence == 4);
  CHECK(fourth->messages.empty());

  // A damaged book is set aside, not a reason to stop.
  REQUIRE(common::WriteFileAtomic(c.settings.state_dir + "/health.xml", "<health").ok());
  c.OpenHealth();
  CHECK(common::ReadFile(c.settings.state_dir + "/health.xml.damaged").ok());
  CHECK(c.health->book().Open().empty());
}

TEST_CASE("client health: the check-in interval follows the applied schedule") {
  ClientParts c;
  // Before any schedule.xml: policy_interval, spread over the same again.
  CHECK(c.applied->CheckInterval() == 2 * 3600);
  policy::Schedule s;
  policy::ScheduleEvent e;
  e.kind = policy::EventKind::kPolicyCheck;
  e.interval_seconds = 900;
  e.start_within_seconds = 300;
  s.events.push_back(e);
  c.ServePolicy("https://a.test", 1, {{"schedule.xml", policy::ToXml(s)}});
  REQUIRE(c.CheckPolicy().ok());
  CHECK(c.applied->CheckInterval() == 1200);
  s.events[0].interval_seconds = 0;
  s.events[0].window = policy::DailyWindow{60, 180};
  s.events[0].start_within_seconds = 0;
  c.ServePolicy("https://a.test", 2, {{"schedule.xml", policy::ToXml(s)}});
  REQUIRE(c.CheckPolicy().ok());
  CHECK(c.applied->CheckInterval() == 86400 + 120 * 60);
  auto headers = common::protocol::CheckInHeaders(c.device, "0.1.0", 2, 0, c.applied->CheckInterval());
  CHECK(headers.back() == std::pair<std::string, std::string>{"X-Beacon-Check-Interval", "93600"});
}

// Actions (client/src/actions.h) driven through the real parts: the ledger in
// the state folder, the outbox their results go to, and signed manifests
// applied by the policy check.
#include "actions.h"

#include <catch2/catch.hpp>

#include "client/client_parts.h"
#include "inventory/action.h"

namespace {

using client::Actions;
using client_test::ClientParts;
using client_test::Now;

constexpr char kA[] = "a0000000-0000-4000-8000-000000000001";
constexpr char kB[] = "b0000000-0000-4000-8000-000000000002";

struct Counting {
  int inventory = 0, logs = 0, policy = 0;
  Actions::Runners Runners() {
    Actions::Runners r;
    r.inventory = [this]() -> common::StatusOr<std::string> { return "inventory " + std::to_string(++inventory) + " queued"; };
    r.logs = [this]() -> common::StatusOr<std::string> {
      ++logs;
      return common::ResourceExhausted("the outbox is full");
    };
    r.policy = [this]() -> common::StatusOr<std::string> { return "policy revision " + std::to_string(++policy) + " applied"; };
    return r;
  }
};

std::unique_ptr<Actions> OpenActions(ClientParts& c) {
  return ClientParts::Must(Actions::Open(c.settings.state_dir, c.device, c.Queue()));
}

std::vector<inventory::ActionResult> Results(ClientParts& c) {
  std::vector<inventory::ActionResult> out;
  for (const std::string& body : c.Uploaded("action")) {
    auto r = inventory::ParseActionResultXml(body, "result");
    REQUIRE(r.ok());
    out.push_back(*r);
  }
  return out;
}

std::string Ledger(const ClientParts& c) {
  auto text = common::ReadFile(c.settings.state_dir + "/actions");
  return text.ok() ? *text : "";
}

}  // namespace

TEST_CASE("actions: each runs once, even seen twice and after a restart, results are queued") {
  ClientParts c;
  Counting count;
  const int64_t now = Now();
  const std::vector<policy::ManifestAction> actions = {{kB, "logs", now + 3600}, {kA, "inventory", now + 3600}};
  auto a = OpenActions(c);
  REQUIRE(a->Run(actions, count.Runners(), now).ok());
  REQUIRE(a->Run(actions, count.Runners(), now + 60).ok());
  CHECK(count.inventory == 1);
  CHECK(count.logs == 1);
  a = OpenActions(c);  // a restart
  REQUIRE(a->Run(actions, count.Runners(), now + 120).ok());
  CHECK(count.inventory == 1);
  CHECK(count.logs == 1);

  auto results = Results(c);
  REQUIRE(results.size() == 2);
  // In id order.
  CHECK(results[0].action_id == kA);
  CHECK(results[0].device_id == c.device);
  CHECK(results[0].kind == "inventory");
  CHECK(results[0].ok);
  CHECK(results[0].text == "inventory 1 queued");
  CHECK(results[0].started_at == now);
  // A runner's failure is the result's text.
  CHECK(results[1].action_id == kB);
  CHECK_FALSE(results[1].ok);
  CHECK(results[1].text == "ResourceExhausted: the outbox is full");
  CHECK(Ledger(c) == "done " + std::string(kA) + " " + std::to_string(now + 3600) + " inventory " +
                         std::to_string(now) + " " + std::to_string(now) + "\nfailed " + kB + " " +
                         std::to_string(now + 3600) + " logs " + std::to_string(now) + " " + std::to_string(now) +
                         "\n");
  auto recent = a->Recent(5);
  REQUIRE(recent.size() == 2);
  CHECK(a->StatusLines(5).find(std::string(kA) + " inventory done") != std::string::npos);
}

TEST_CASE("actions: one past its expiry is not started, old ledger lines are dropped") {
  ClientParts c;
  Counting count;
  const int64_t now = Now();
  auto a = OpenActions(c);
  REQUIRE(a->Run({{kA, "inventory", now - 1}}, count.Runners(), now).ok());
  CHECK(count.inventory == 0);
  CHECK(Results(c).empty());
  CHECK(a->Recent(5).empty());

  // Done, then a week past its expiry: forgotten (no manifest lists it by then,
  // and were one to, it has expired).
  REQUIRE(a->Run({{kB, "policy", now + 10}}, count.Runners(), now).ok());
  CHECK(a->Recent(5).size() == 1);
  REQUIRE(a->Run({}, count.Runners(), now + 10 + Actions::kKeepAfterExpiry + 1).ok());
  CHECK(a->Recent(5).empty());
  CHECK(Ledger(c).empty());
  REQUIRE(a->Run({{kB, "policy", now + 10}}, count.Runners(), now + 10 + Actions::kKeepAfterExpiry + 2).ok());
  CHECK(count.policy == 1);
}

TEST_CASE("actions: one cut short by a restart is reported failed, never run again") {
  ClientParts c;
  Counting count;
  const int64_t now = Now();
  std::string ledger_while_running;
  auto runners = count.Runners();
  // What the disk holds while the action runs; a crash would leave this.
  runners.inventory = [&]() -> common::StatusOr<std::string> {
    ledger_while_running = Ledger(c);
    ++count.inventory;
    return std::string("inventory 1 queued");
  };
  {
    auto a = OpenActions(c);
    REQUIRE(a->Run({{kA, "inventory", now + 3600}}, runners, now).ok());
  }
  CHECK(ledger_while_running == "started " + std::string(kA) + " " + std::to_string(now + 3600) + " inventory " +
                                    std::to_string(now) + "\n");
  // The crash: the result never reached the outbox, the ledger says started.
  for (const auto& m : c.outbox->List()) REQUIRE(c.outbox->Remove(m).ok());
  REQUIRE(common::WriteFileAtomic(c.settings.state_dir + "/actions", ledger_while_running).ok());

  auto a = OpenActions(c);
  REQUIRE(a->Run({{kA, "inventory", now + 3600}}, runners, now + 30).ok());
  CHECK(count.inventory == 1);
  auto results = Results(c);
  REQUIRE(results.size() == 1);
  CHECK_FALSE(results[0].ok);
  CHECK(results[0].text.rfind("interrupted", 0) == 0);
  CHECK(results[0].finished_at == now + 30);
  // Reported once.
  REQUIRE(OpenActions(c)->Run({{kA, "inventory", now + 3600}}, runners, now + 60).ok());
  CHECK(Results(c).size() == 1);
}

TEST_CASE("actions: a result that cannot be queued is reported at the next start") {
  ClientParts c(4 << 10);  // an outbox too small for anything
  REQUIRE(c.uploads->Queue("logs", common::NewUuid(), std::string(4000, 'x')).ok());
  Counting count;
  const int64_t now = Now();
  auto a = OpenActions(c);
  CHECK_FALSE(a->Run({{kA, "policy", now + 3600}}, count.Runners(), now).ok());
  CHECK(count.policy == 1);
  CHECK(Ledger(c).rfind("started ", 0) == 0);
  for (const auto& m : c.outbox->List()) REQUIRE(c.outbox->Remove(m).ok());
  REQUIRE(OpenActions(c)->Run({{kA, "policy", now + 3600}}, count.Runners(), now + 5).ok());
  CHECK(count.policy == 1);
  auto results = Results(c);
  REQUIRE(results.size() == 1);
  CHECK(results[0].text.rfind("interrupted", 0) == 0);
}

TEST_CASE("actions: ride in the signed manifest, the same revision with new actions is applied") {
  ClientParts c;
  Counting count;
  const int64_t now = Now();
  c.ServePolicy("https://a.test", 3, {}, {{kA, "policy", now + 3600}});
  REQUIRE(c.CheckPolicy().ok());
  REQUIRE(c.applied->Actions().size() == 1);
  auto a = OpenActions(c);
  REQUIRE(a->Run(c.applied->Actions(), count.Runners(), now).ok());
  CHECK(count.policy == 1);

  // The central queues another action: same revision, a new ETag.
  c.ServePolicy("https://a.test", 3, {}, {{kA, "policy", now + 3600}, {kB, "inventory", now + 3600}});
  REQUIRE(c.CheckPolicy().ok());
  CHECK(c.applied->Revision() == 3);
  REQUIRE(c.applied->Actions().size() == 2);
  REQUIRE(a->Run(c.applied->Actions(), count.Runners(), now + 10).ok());
  CHECK(count.policy == 1);
  CHECK(count.inventory == 1);
  CHECK(Results(c).size() == 2);

  // An older revision is still refused, whatever actions it carries.
  c.ServePolicy("https://a.test", 2, {}, {{"c0000000-0000-4000-8000-000000000003", "logs", now + 3600}});
  CHECK_FALSE(c.CheckPolicy().ok());
  CHECK(c.applied->Actions().size() == 2);
  // Actions survive a reload of the applied policy (a restart).
  c.applied->Load();
  CHECK(c.applied->Actions().size() == 2);
}

TEST_CASE("actions: diagnose queues the bundle as logs and names the first failure") {
  ClientParts c;
  c.settings.server = "https://127.0.0.1:1";  // nothing listens: the TCP step fails
  auto text = client::RunDiagnoseAction(c.settings, c.Queue());
  REQUIRE(text.ok());
  INFO(*text);
  auto bundles = c.Uploaded("logs");
  REQUIRE(bundles.size() == 1);
  CHECK(bundles[0].substr(0, 2) == "\x1f\x8b");  // gzip
  CHECK(text->rfind("diagnostics: D", 0) == 0);
  CHECK(text->find("; bundle uploaded as logs " + c.outbox->List()[0].id) != std::string::npos);
  // Nothing left behind in the state folder.
  auto names = common::ListDir(c.settings.state_dir);
  REQUIRE(names.ok());
  for (const std::string& n : *names) CHECK(n.find("diagnose-") == std::string::npos);
}

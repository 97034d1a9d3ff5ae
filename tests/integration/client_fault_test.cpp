// The client's own files through the Env seam: a full or failing disk while
// an inventory is queued never leaves a half-queued upload, never hands out
// a sequence number twice, and the next try works.
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "client/client.h"
#include "client/settings.h"
#include "state_file.h"
#include "common/spool.h"
#include "inventory/inventory.h"
#include "inventory/pack.h"
#include "support/fault_env.h"

namespace fs = std::filesystem;
using testing_support::FaultEnv;

namespace {

size_t Files(const std::string& dir) {
  size_t n = 0;
  for (auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("client: ENOSPC or EIO while an inventory is queued loses nothing and repeats no number") {
  char tmpl[] = "/tmp/client-fault-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  FaultEnv env;
  client::ClientSettings settings;
  settings.server = "https://127.0.0.1:1";  // never contacted here
  settings.ca_file = std::string(TEST_CERT_DIR) + "/ca.pem";
  settings.policy_public_key = std::string(TEST_CERT_DIR) + "/policy.pub";
  settings.state_dir = dir;
  settings.collect_software = false;  // the disk, not dpkg, is under test
  settings.env = &env;
  auto c = client::Client::Create(settings);
  REQUIRE(c.ok());
  auto& cl = **c;

  int before = env.Count(FaultEnv::kAll);
  REQUIRE(cl.CollectInventory().ok());
  const int ops = env.Count(FaultEnv::kAll) - before;
  REQUIRE(ops >= 8);  // the state file's and the outbox entry's writes, fsyncs, renames
  size_t queued = 1;
  for (int err : {ENOSPC, EIO}) {
    for (int k = 1; k <= ops; ++k) {
      INFO("errno " << err << ", operation " << k << " of " << ops);
      env.FailNth(FaultEnv::kAll, k, err);
      if (cl.CollectInventory().ok()) ++queued;
      env.Heal();
      CHECK(Files(dir + "/outbox/ready") == queued);
      CHECK(Files(dir + "/outbox/incoming") == 0);
    }
  }
  // Every queued inventory is whole, and their numbers never repeat.
  common::Spool::Options o;
  o.dir = dir + "/outbox";
  o.min_free_bytes = 0;
  auto outbox = std::move(common::Spool::Open(o)).value();
  REQUIRE(outbox->Count() == queued);
  CHECK(fs::is_empty(dir + "/outbox/rejected"));
  std::set<int64_t> numbers;
  for (const auto& m : outbox->List()) {
    auto body = outbox->ReadWholeBody(m, 64u << 20);
    REQUIRE(body.ok());
    auto xml = inventory::Gunzip(*body, 64u << 20);
    REQUIRE(xml.ok());
    auto inv = inventory::ParseInventoryXml(*xml, "queued inventory");
    REQUIRE(inv.ok());
    CHECK(inv->sequence > 0);
    CHECK(numbers.insert(inv->sequence).second);  // never handed out twice
  }
  c->reset();
  fs::remove_all(dir);
}

TEST_CASE("client: one process at a time works on a state folder") {
  char tmpl[] = "/tmp/client-lock-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  client::ClientSettings settings;
  settings.server = "https://127.0.0.1:1";
  settings.ca_file = std::string(TEST_CERT_DIR) + "/ca.pem";
  settings.policy_public_key = std::string(TEST_CERT_DIR) + "/policy.pub";
  settings.state_dir = dir;
  settings.collect_software = false;
  {
    auto held = client::StateLock::Acquire(dir, std::chrono::seconds(0));
    REQUIRE(held.ok());
    // A second one (another beacon-client process would block the same way) waits, then gives up.
    auto second = client::StateLock::Acquire(dir, std::chrono::seconds(0));
    CHECK(second.status().code() == common::Code::kUnavailable);
  }
  // Released: a client takes it, numbers an inventory and saves its state;
  // a later one (after the first let go) continues the numbering.
  for (int round = 1; round <= 2; ++round) {
    auto c = client::Client::Create(settings);
    REQUIRE(c.ok());
    CHECK(client::StateLock::Acquire(dir, std::chrono::seconds(0)).status().code() == common::Code::kUnavailable);
    REQUIRE((*c)->CollectInventory().ok());
    CHECK((*c)->StatusReport().find("#" + std::to_string(round)) != std::string::npos);
  }
  fs::remove_all(dir);
}

// The spool under a failing disk and power cuts (through the Env seam):
// an acknowledged upload is never lost, nothing is ever half visible.
#include <catch2/catch.hpp>
#include <filesystem>

#include "common/fs.h"
#include "common/sha256.h"
#include "common/spool.h"
#include "common/uuid.h"
#include "support/fault_env.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;
using testing_support::FaultEnv;

using testing_support::TempDir;

namespace {

common::SpoolMeta Meta(int n) {
  common::SpoolMeta m;
  m.id = common::NewUuid();
  m.device = common::NewUuid();
  m.kind = "logs";
  m.via = "b" + std::to_string(n);
  return m;
}

std::string Body(int n) { return "body of upload " + std::to_string(n) + std::string(n * 100, 'z'); }

std::unique_ptr<common::Spool> Open(const std::string& dir, common::Env* env) {
  common::Spool::Options o;
  o.dir = dir;
  o.min_free_bytes = 0;
  o.env = env;
  auto s = common::Spool::Open(o);
  REQUIRE(s.ok());
  return std::move(s).value();
}

size_t Files(const std::string& dir) {
  size_t n = 0;
  for (auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

// Every entry the spool lists is whole: its body reads back and matches.
void CheckIntact(common::Spool& spool, const std::map<std::string, std::string>& bodies) {
  for (const auto& m : spool.List()) {
    auto it = bodies.find(common::SpoolKey(m));
    REQUIRE(it != bodies.end());
    auto body = spool.ReadWholeBody(m, 1 << 20);
    REQUIRE(body.ok());
    CHECK(*body == it->second);
  }
}

// How many Env operations one Put of Body(0) takes.
int OperationsOfOnePut() {
  TempDir t;
  FaultEnv env;
  auto spool = Open(t.path, &env);
  int before = env.Count(FaultEnv::kAll);
  REQUIRE(spool->Put(Meta(0), Body(0)).ok());
  return env.Count(FaultEnv::kAll) - before;
}

}  // namespace

TEST_CASE("spool: ENOSPC or EIO at any step of a commit loses nothing acknowledged") {
  // Fail each operation of one Put in turn.
  const int ops = OperationsOfOnePut();
  REQUIRE(ops >= 5);  // create, write(s), fsync, rename, fsync dir
  for (int err : {ENOSPC, EIO}) {
    for (int k = 1; k <= ops; ++k) {
      INFO("errno " << err << ", operation " << k << " of " << ops);
      TempDir t;
      FaultEnv env;
      auto spool = Open(t.path, &env);
      std::map<std::string, std::string> bodies;
      auto first = Meta(1);
      REQUIRE(spool->Put(first, Body(1)).ok());
      bodies[common::SpoolKey(first)] = Body(1);

      auto meta = Meta(2);
      env.FailNth(FaultEnv::kAll, k, err);
      common::Status st = spool->Put(meta, Body(2));
      CHECK_FALSE(st.ok());
      if (err == ENOSPC && st.code() != common::Code::kInternal) {
        CHECK(st.code() == common::Code::kResourceExhausted);
      }
      // Not acknowledged: not listed, nothing left in incoming/, and the
      // sender's retry is stored.
      CHECK_FALSE(spool->Contains(meta.device, meta.id));
      CHECK(Files(t.path + "/incoming") == 0);
      REQUIRE(spool->Put(meta, Body(2)).ok());
      bodies[common::SpoolKey(meta)] = Body(2);
      CHECK(spool->Count() == 2);
      CheckIntact(*spool, bodies);

      // And a restart sees exactly the acknowledged two.
      spool.reset();
      auto reopened = Open(t.path, &env);
      CHECK(reopened->Count() == 2);
      CheckIntact(*reopened, bodies);
    }
  }
}

TEST_CASE("spool: a power cut at any step never loses an acknowledged upload nor shows half of one") {
  const int ops = OperationsOfOnePut();
  for (int k = 1; k <= ops + 1; ++k) {
    INFO("the machine dies at operation " << k << " of " << ops);
    TempDir t;
    FaultEnv env;
    std::map<std::string, std::string> bodies;
    common::SpoolMeta acked = Meta(1), inflight = Meta(2);
    common::Status st;
    {
      auto spool = Open(t.path, &env);
      REQUIRE(spool->Put(acked, Body(1)).ok());
      bodies[common::SpoolKey(acked)] = Body(1);
      bodies[common::SpoolKey(inflight)] = Body(2);
      // From operation k on, nothing reaches the disk: the process is dead.
      env.FailNth(FaultEnv::kAll, k, EIO, /*sticky=*/true);
      st = spool->Put(inflight, Body(2));
    }
    env.PowerCut();
    auto spool = Open(t.path, &env);
    CHECK(spool->Contains(acked.device, acked.id));
    if (st.ok()) CHECK(spool->Contains(inflight.device, inflight.id));  // acknowledged: kept
    CHECK(spool->Count() <= 2);
    CheckIntact(*spool, bodies);  // never half visible
    CHECK(Files(t.path + "/incoming") == 0);
    CHECK(Files(t.path + "/rejected") == 0);
  }
}

TEST_CASE("spool: a power cut after Remove or Reject loses nothing that was not delivered") {
  TempDir t;
  FaultEnv env;
  auto a = Meta(1), b = Meta(2), c = Meta(3);
  {
    auto spool = Open(t.path, &env);
    REQUIRE(spool->Put(a, Body(1)).ok());
    REQUIRE(spool->Put(b, Body(2)).ok());
    REQUIRE(spool->Put(c, Body(3)).ok());
    REQUIRE(spool->Remove(a).ok());
    // The directory sync of this Remove never happens.
    env.FailNth(FaultEnv::kSyncDir, 1, EIO, true);
    CHECK_FALSE(spool->Remove(b).ok());
  }
  env.PowerCut();
  auto spool = Open(t.path, &env);
  // a is gone for good; b may come back (and is delivered again, which the
  // store absorbs); c was never delivered and is there.
  CHECK_FALSE(spool->Contains(a.device, a.id));
  CHECK(spool->Contains(c.device, c.id));
  CheckIntact(*spool, {{common::SpoolKey(b), Body(2)}, {common::SpoolKey(c), Body(3)}});
}

TEST_CASE("fault env: what was not synced is gone after a power cut") {
  // The double itself: unsynced bytes and names do not survive, synced ones do.
  TempDir t;
  FaultEnv env;
  {
    auto f = env.NewWritableFile(t.path + "/synced", 0600, true);
    REQUIRE(f.ok());
    REQUIRE((*f)->Append("durable").ok());
    REQUIRE((*f)->Sync().ok());
    REQUIRE((*f)->Append(" and not").ok());
    REQUIRE((*f)->Close().ok());
  }
  REQUIRE(env.SyncDir(t.path).ok());
  {
    auto f = env.NewWritableFile(t.path + "/unnamed", 0600, true);
    REQUIRE((*f)->Append("x").ok());
    REQUIRE((*f)->Sync().ok());
  }
  env.PowerCut();
  CHECK(*env.ReadFile(t.path + "/synced", 100) == "durable");
  CHECK_FALSE(fs::exists(t.path + "/unnamed"));
}

TEST_CASE("spool: a clock stepped back or forward changes no order") {
  TempDir t;
  FaultEnv env;
  std::vector<std::string> order;
  {
    auto spool = Open(t.path, &env);
    for (int64_t now : {1800000000, 1700000000, 1900000000, 1600000000}) {
      env.SetNow(now);
      auto m = Meta(static_cast<int>(order.size()));
      REQUIRE(spool->Put(m, Body(1)).ok());
      order.push_back(m.id);
    }
    std::vector<std::string> listed;
    for (const auto& m : spool->List()) listed.push_back(m.id);
    CHECK(listed == order);
  }
  auto spool = Open(t.path, &env);  // the start-up scan orders the same way
  std::vector<std::string> listed;
  for (const auto& m : spool->List()) listed.push_back(m.id);
  CHECK(listed == order);
}

TEST_CASE("spool: an entry that cannot be read at start-up stays in place, and a resend of its upload is stored") {
  TempDir t;
  FaultEnv env;
  auto m = Meta(1);
  {
    auto spool = Open(t.path, &env);
    REQUIRE(spool->Put(m, Body(1)).ok());
  }
  env.FailReadsOf(common::SpoolKey(m), EIO);
  auto spool = Open(t.path, &env);
  env.FailReadsOf("", 0);
  CHECK(spool->Count() == 0);
  // Not proven bad: never moved to rejected/.
  CHECK(fs::exists(t.path + "/ready/" + common::SpoolKey(m) + ".upl"));
  CHECK(Files(t.path + "/rejected") == 0);
  // Not "already stored": a resend is stored and takes the name.
  CHECK(spool->Put(m, Body(1)).ok());
  CHECK(spool->Contains(m.device, m.id));
  CHECK(*spool->ReadWholeBody(m, 1 << 20) == Body(1));
  // And a restart (the disk readable again) indexes it once.
  spool.reset();
  auto again = Open(t.path, &env);
  CHECK(again->Count() == 1);
}

TEST_CASE("spool: the same upload id from two devices is two entries") {
  TempDir t;
  auto spool = Open(t.path, nullptr);
  auto a = Meta(1), b = Meta(2);
  b.id = a.id;
  REQUIRE(spool->Put(a, "from a").ok());
  REQUIRE(spool->Put(b, "from b").ok());
  CHECK(spool->Count() == 2);
  CHECK(*spool->ReadWholeBody(a, 100) == "from a");
  CHECK(*spool->ReadWholeBody(b, 100) == "from b");
}

TEST_CASE("spool: the number of files is bounded") {
  TempDir t;
  common::Spool::Options o;
  o.dir = t.path;
  o.min_free_bytes = 0;
  o.max_files = 3;
  auto spool = std::move(common::Spool::Open(o)).value();
  for (int i = 0; i < 3; ++i) REQUIRE(spool->Put(Meta(i), "x").ok());
  CHECK(spool->Put(Meta(9), "x").code() == common::Code::kUnavailable);
  REQUIRE(spool->Remove(spool->List().front()).ok());
  CHECK(spool->Put(Meta(9), "x").ok());
}

TEST_CASE("spool: an entry from before the device was in the name is still delivered") {
  TempDir t;
  auto m = Meta(1);
  {
    auto spool = Open(t.path, nullptr);
    REQUIRE(spool->Put(m, "legacy").ok());
  }
  fs::rename(t.path + "/ready/" + common::SpoolKey(m) + ".upl", t.path + "/ready/" + m.id + ".upl");
  auto spool = Open(t.path, nullptr);
  REQUIRE(spool->Count() == 1);
  CHECK(*spool->ReadWholeBody(m, 100) == "legacy");
  REQUIRE(spool->Remove(m).ok());
  CHECK(Files(t.path + "/ready") == 0);
}

TEST_CASE("spool: rejected/ is bounded: past its cap a rejected upload keeps its header and 4 KiB") {
  TempDir t;
  common::Spool::Options o;
  o.dir = t.path;
  o.min_free_bytes = 0;
  o.max_rejected_bytes = 15000;
  auto spool = std::move(common::Spool::Open(o)).value();
  auto a = Meta(1), b = Meta(2);
  REQUIRE(spool->Put(a, std::string(10000, 'a')).ok());
  REQUIRE(spool->Put(b, std::string(10000, 'b')).ok());
  REQUIRE(spool->Reject(a, "InvalidArgument: not gzip").ok());
  REQUIRE(spool->Reject(b, "InvalidArgument: not gzip").ok());
  const std::string ra = t.path + "/rejected/" + common::SpoolKey(a) + ".upl";
  const std::string rb = t.path + "/rejected/" + common::SpoolKey(b) + ".upl";
  CHECK(fs::file_size(ra) > 10000);  // whole
  CHECK(fs::file_size(rb) < 10000);  // cut
  uint64_t off = 0;
  auto head = common::ReadFile(rb, 1 << 20);
  REQUIRE(head.ok());
  auto meta = common::DecodeSpoolHeader(*head, &off);
  REQUIRE(meta.ok());  // the header (who, what, digest) is kept as evidence
  CHECK(meta->id == b.id);
  CHECK(head->size() - off == 4096);
  auto reason = common::ReadFile(rb + ".reason", 4096);
  REQUIRE(reason.ok());
  CHECK(reason->find("first 4 KiB") != std::string::npos);
  CHECK(spool->Count() == 0);
  // The count survives a restart: the next one is cut at once.
  spool.reset();
  auto again = std::move(common::Spool::Open(o)).value();
  auto c = Meta(3);
  REQUIRE(again->Put(c, std::string(6000, 'c')).ok());
  REQUIRE(again->Reject(c, "InvalidArgument: x").ok());
  CHECK(fs::file_size(t.path + "/rejected/" + common::SpoolKey(c) + ".upl") < 6000);
}

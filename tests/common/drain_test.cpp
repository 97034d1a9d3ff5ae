// The one drain loop: every outcome of a delivery leads to one action, one
// bad entry never blocks the others, backoff is jittered above Retry-After
// and ends when the peer is back. Driven through the Transport and Env
// seams with a scripted transport and a fault-injecting Env.
#include "common/drain.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <vector>

#include "common/delivery.h"
#include "common/sha256.h"
#include "common/uuid.h"
#include "support/fault_env.h"
#include "support/temp_dir.h"
#include "support/wait.h"
#include "support/fault_transport.h"

namespace fs = std::filesystem;
using common::Attempt;
using common::Drain;
using testing_support::FaultEnv;
using testing_support::FaultTransport;
using Step = FaultTransport::Step;

using testing_support::TempDir;

namespace {

// A spool, a scripted peer and a drain loop between them, on a clock the
// test steps.
struct Rig {
  TempDir t;
  FaultEnv env;
  FaultTransport peer;
  std::unique_ptr<common::Spool> spool;
  Drain::Clock::time_point now = Drain::Clock::now();
  std::unique_ptr<Drain> drain;
  int probes = 0;
  bool peer_up = false;

  Rig() {
    common::Spool::Options o;
    o.dir = t.path;
    o.min_free_bytes = 0;
    o.env = &env;
    spool = std::move(common::Spool::Open(o)).value();
    Drain::Options d;
    d.name = "test";
    d.backoff_base = std::chrono::seconds(1);
    d.backoff_cap = std::chrono::seconds(60);
    d.probe_interval = std::chrono::seconds(5);
    d.now = [this] { return now; };
    drain = std::make_unique<Drain>(
        spool.get(), [this](const common::SpoolMeta& m) { return common::SendSpoolEntry(peer, *spool, m, {}); }, d,
        [this] {
          ++probes;
          return peer_up ? common::Status::Ok() : common::Unavailable("still down");
        });
  }

  common::SpoolMeta Put(const std::string& body) {
    common::SpoolMeta m;
    m.id = common::NewUuid();
    m.device = common::NewUuid();
    m.kind = "logs";
    REQUIRE(spool->Put(m, body).ok());
    return spool->List().back();
  }
  size_t Rejected() const {
    size_t n = 0;
    for (auto& e : fs::directory_iterator(t.path + "/rejected")) n += e.path().extension() == ".upl";
    return n;
  }
};

}  // namespace

TEST_CASE("drain: each answer leads to its one action") {
  struct Case {
    const char* name;
    Step step;
    bool removed;
    bool rejected;
    bool backing_off;
  };
  const std::vector<Case> cases = {
      {"201 stored", FaultTransport::Answer(201), true, false, false},
      {"200 already stored", FaultTransport::Answer(200), true, false, false},
      {"422 the upload is bad", FaultTransport::Answer(422), false, true, false},
      {"400 a malformed request", FaultTransport::Answer(400), false, false, true},
      {"401 not authenticated", FaultTransport::Answer(401), false, false, true},
      {"403 refused", FaultTransport::Answer(403), false, false, true},
      {"408 the body timed out", FaultTransport::Answer(408), false, false, true},
      {"500", FaultTransport::Answer(500), false, false, true},
      {"503 without Retry-After", FaultTransport::Answer(503), false, false, true},
      {"503 with Retry-After", FaultTransport::Answer(503, "120"), false, false, true},
      {"507", FaultTransport::Answer(507, "30"), false, false, true},
      {"refused connection", FaultTransport::Fail(Step::kRefuse), false, false, true},
      {"stall mid-body", FaultTransport::Fail(Step::kStall, 3000), false, false, true},
      {"cut mid-body", FaultTransport::Fail(Step::kCut, 5000), false, false, true},
      {"reset while sending", FaultTransport::Fail(Step::kReset, 1), false, false, true},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Rig rig;
    auto meta = rig.Put(std::string(10000, 'x'));
    rig.peer.script.push_back(c.step);
    Drain::Pass pass = rig.drain->RunPass();
    CHECK(rig.spool->Contains(meta.device, meta.id) == !(c.removed || c.rejected));
    CHECK(rig.Rejected() == (c.rejected ? 1u : 0u));
    CHECK(pass.backing_off == c.backing_off);
    if (c.backing_off) {
      CHECK_FALSE(pass.error.ok());
      // Nothing is tried again before the backoff ends...
      size_t requests = rig.peer.paths.size();
      CHECK(rig.drain->RunPass().backing_off);
      CHECK(rig.peer.paths.size() == requests);
      // ...and after it the entry is delivered.
      rig.now += pass.wait;
      Drain::Pass again = rig.drain->RunPass();
      CHECK(again.delivered == 1);
      CHECK(rig.spool->Count() == 0);
      CHECK(rig.peer.received.back() == std::string(10000, 'x'));
    }
  }
}

TEST_CASE("drain: the wait is the Retry-After plus jitter, and a stop waits up to the cap") {
  Rig rig;
  rig.Put("x");
  rig.peer.script.push_back(FaultTransport::Answer(503, "120"));
  auto pass = rig.drain->RunPass();
  CHECK(pass.wait >= std::chrono::seconds(120));
  CHECK(pass.wait <= std::chrono::seconds(121));  // base 1s: the first draw is in [0, 1s]

  Rig stop;
  stop.Put("x");
  stop.peer.script.push_back(FaultTransport::Answer(403));
  auto refused = stop.drain->RunPass();
  CHECK(refused.error.code() == common::Code::kPermissionDenied);
  CHECK(refused.wait <= std::chrono::seconds(60));
}

TEST_CASE("drain: a peer failure ends the pass, and entries keep their order") {
  Rig rig;
  auto a = rig.Put("a"), b = rig.Put("b"), c = rig.Put("c");
  rig.peer.script = {FaultTransport::Answer(201), FaultTransport::Answer(503)};
  auto pass = rig.drain->RunPass();
  CHECK(pass.delivered == 1);
  CHECK(pass.backing_off);
  CHECK(rig.peer.paths.size() == 2);  // c was not tried
  auto left = rig.spool->List();
  REQUIRE(left.size() == 2);
  CHECK(left[0].id == b.id);
  CHECK(left[1].id == c.id);
  (void)a;
}

TEST_CASE("drain: a vanished or unreadable entry does not block the others") {
  Rig rig;
  std::vector<common::SpoolMeta> metas;
  for (int i = 0; i < 6; ++i) metas.push_back(rig.Put("body " + std::to_string(i)));
  // One entry's file vanishes, another cannot be read (EIO).
  fs::remove(rig.t.path + "/ready/" + common::SpoolKey(metas[1]) + ".upl");
  rig.env.FailReadsOf(common::SpoolKey(metas[3]), EIO);
  auto pass = rig.drain->RunPass();
  CHECK(pass.delivered == 4);
  CHECK_FALSE(pass.backing_off);
  CHECK(pass.held == 1);
  CHECK(rig.spool->Count() == 1);  // the unreadable one, kept
  CHECK(rig.spool->Contains(metas[3].device, metas[3].id));
  CHECK(rig.Rejected() == 0);
  // Held back on its own: not tried again at once, then retried and sent.
  size_t requests = rig.peer.paths.size();
  CHECK(rig.drain->RunPass().held == 1);
  CHECK(rig.peer.paths.size() == requests);
  rig.env.FailReadsOf("", 0);
  rig.now += std::chrono::seconds(2);
  CHECK(rig.drain->RunPass().delivered == 1);
  CHECK(rig.spool->Count() == 0);
}

TEST_CASE("drain: an entry too large for this peer (413) is held alone") {
  Rig rig;
  rig.Put(std::string(100, 'L'));
  rig.Put("small");
  rig.peer.script = {FaultTransport::Answer(413), FaultTransport::Answer(201)};
  auto pass = rig.drain->RunPass();
  CHECK(pass.delivered == 1);
  CHECK(pass.held == 1);
  CHECK_FALSE(pass.backing_off);
  CHECK(rig.spool->Count() == 1);
  CHECK(rig.Rejected() == 0);
}

TEST_CASE("drain: a bad body found while reading it here is rejected, not sent") {
  Rig rig;
  auto m = rig.Put("0123456789");
  fs::resize_file(rig.t.path + "/ready/" + common::SpoolKey(m) + ".upl",
                  fs::file_size(rig.t.path + "/ready/" + common::SpoolKey(m) + ".upl") - 4);
  auto pass = rig.drain->RunPass();
  CHECK(pass.rejected == 1);
  CHECK(rig.Rejected() == 1);
}

TEST_CASE("drain: when the spool cannot let go of a delivered entry it pauses instead of spinning") {
  Rig rig;
  rig.Put("a");
  rig.Put("b");
  rig.env.FailNth(FaultEnv::kRemove, 1, EIO);
  auto pass = rig.drain->RunPass();
  CHECK(pass.backing_off);
  CHECK(rig.peer.paths.size() == 1);
  CHECK(rig.spool->Count() == 2);
  rig.now += pass.wait;
  CHECK(rig.drain->RunPass().delivered == 2);  // the peer dedupes the resend
}

TEST_CASE("drain: Run probes the peer while backing off and drains when it answers") {
  Rig rig;
  // A real clock here: Run sleeps.
  Drain::Options d;
  d.name = "probe";
  d.backoff_base = std::chrono::hours(1);
  d.backoff_cap = std::chrono::hours(1);
  d.probe_interval = std::chrono::milliseconds(20);
  std::atomic<bool> up{false};
  std::atomic<int> probes{0};
  Drain drain(
      rig.spool.get(), [&](const common::SpoolMeta& m) { return common::SendSpoolEntry(rig.peer, *rig.spool, m, {}); },
      d, [&] {
        ++probes;
        return up ? common::Status::Ok() : common::Unavailable("down");
      });
  rig.Put("a");
  rig.peer.script.push_back(FaultTransport::Fail(Step::kRefuse));  // the peer is down
  common::StopFlag stop;
  std::thread t([&] { drain.Run(stop); });
  REQUIRE(testing_support::WaitUntil([&] { return probes >= 3; }, std::chrono::seconds(10)));
  CHECK(rig.spool->Count() == 1);  // still backing off (an hour)
  up = true;
  CHECK(testing_support::WaitUntil([&] { return rig.spool->Count() == 0; }, std::chrono::seconds(10)));
  stop.Stop();
  rig.spool->Wake();
  t.join();
}

TEST_CASE("drain: a peer that answered 503 with Retry-After is not probed out of its backoff") {
  Rig rig;
  Drain::Options d;
  d.name = "answered";
  d.backoff_base = std::chrono::seconds(1);
  d.backoff_cap = std::chrono::seconds(1);
  d.probe_interval = std::chrono::milliseconds(10);
  std::atomic<int> probes{0};
  Drain drain(
      rig.spool.get(), [&](const common::SpoolMeta& m) { return common::SendSpoolEntry(rig.peer, *rig.spool, m, {}); },
      d, [&] {
        ++probes;
        return common::Status::Ok();  // the peer is up: it just asked us to wait
      });
  rig.Put("a");
  rig.peer.script.push_back(FaultTransport::Answer(503, "3600"));
  common::StopFlag stop;
  std::thread t([&] { drain.Run(stop); });
  REQUIRE(testing_support::WaitUntil([&] { return !rig.peer.paths.empty(); }, std::chrono::seconds(10)));
  // What must not happen needs time to not happen: thirty probe intervals.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(probes == 0);
  CHECK(rig.peer.paths.size() == 1);  // the hour is honoured
  CHECK(rig.spool->Count() == 1);
  stop.Stop();
  rig.spool->Wake();
  t.join();
}

TEST_CASE("drain: a stop ends a pass over a backlog after the entry in hand") {
  Rig rig;
  for (int i = 0; i < 200; ++i) rig.Put("entry " + std::to_string(i));
  common::StopFlag stop;
  Drain::Options d;
  d.name = "stopping";
  std::atomic<int> sent{0};
  Drain drain(
      rig.spool.get(),
      [&](const common::SpoolMeta& m) {
        if (++sent == 10) stop.Stop();  // SIGTERM arrives during the pass
        return common::SendSpoolEntry(rig.peer, *rig.spool, m, {});
      },
      d);
  drain.Run(stop);  // returns instead of sending the other 190
  CHECK(sent == 10);
  CHECK(rig.spool->Count() == 190);
}

TEST_CASE("backoff: processes started together draw different delays") {
  // Seeded from std::random_device: two loops created in the same second
  // (a fleet restarted together) do not retry in lockstep.
  std::set<std::vector<int64_t>> sequences;
  for (int p = 0; p < 4; ++p) {
    common::Backoff b(std::chrono::seconds(1), std::chrono::seconds(300));
    std::vector<int64_t> seq;
    for (int i = 0; i < 8; ++i) seq.push_back(b.Next(std::chrono::seconds(60)).count());
    sequences.insert(seq);
  }
  CHECK(sequences.size() == 4);
}

TEST_CASE("delivery: PutUpload sends a body from memory to its upload path and maps the answer") {
  FaultTransport peer;
  const std::string body = "swarm body";
  common::UploadRef up{common::NewUuid(), "inventory", common::NewUuid(), common::Sha256Hex(body), body.size()};
  auto source = [&](uint64_t offset, uint64_t len) -> common::StatusOr<std::string> {
    return body.substr(offset, len);
  };
  peer.script = {Step{}, FaultTransport::Answer(503, "7"), FaultTransport::Answer(413)};
  Attempt ok = common::PutUpload(peer, up, source, {});
  CHECK(ok.status.ok());
  CHECK(ok.answered);
  CHECK(ok.http_status == 201);
  REQUIRE(peer.paths.size() == 1);
  CHECK(peer.paths[0] == "/v1/devices/" + up.device + "/uploads/inventory/" + up.id);
  REQUIRE(peer.received.size() == 1);
  CHECK(peer.received[0] == body);
  Attempt busy = common::PutUpload(peer, up, source, {});
  CHECK(busy.status.code() == common::Code::kUnavailable);
  CHECK(busy.retry_after == std::chrono::seconds(7));
  CHECK(busy.http_status == 503);
  CHECK(busy.scope == Attempt::Scope::kPeer);
  Attempt large = common::PutUpload(peer, up, source, {});
  CHECK(large.scope == Attempt::Scope::kEntry);
  peer.script = {FaultTransport::Fail(Step::kRefuse)};
  Attempt down = common::PutUpload(peer, up, source, {});
  CHECK_FALSE(down.answered);
  CHECK(common::Classify(down.status) == common::Outcome::kRetry);
}

TEST_CASE("drain: batches are bounded by count and bytes, and each attempt of a batch is settled") {
  TempDir t;
  common::Spool::Options o;
  o.dir = t.path;
  o.min_free_bytes = 0;
  auto spool = std::move(common::Spool::Open(o)).value();
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    common::SpoolMeta m;
    m.id = common::NewUuid();
    m.device = common::NewUuid();
    m.kind = "logs";
    // Entry 5 alone is larger than a batch's byte bound: it goes alone.
    REQUIRE(spool->Put(m, std::string(i == 5 ? 5000 : 100, 'x')).ok());
    ids.push_back(spool->List().back().id);
  }
  // The batch deliver's verdict per entry, by position in the spool:
  // 1 is proven bad, 2 cannot be read here (held back alone), 6 finds the
  // peer down; the others are delivered, 7 included, after 6 in its batch.
  std::map<std::string, int> position;
  for (size_t i = 0; i < ids.size(); ++i) position[ids[i]] = static_cast<int>(i);
  std::vector<size_t> batch_sizes;
  Drain::Options d;
  d.name = "test";
  d.batch = 3;
  d.batch_bytes = 1000;
  Drain drain(spool.get(),
              [&](const std::vector<common::SpoolMeta>& metas) {
                batch_sizes.push_back(metas.size());
                std::vector<Attempt> out;
                for (const auto& m : metas) {
                  switch (position[m.id]) {
                    case 1: out.push_back({common::InvalidArgument("bad bytes")}); break;
                    case 2: out.push_back({common::Unavailable("cannot read"), {}, Attempt::Scope::kEntry}); break;
                    case 6: out.push_back({common::Unavailable("peer down")}); break;
                    default: out.push_back({common::Status::Ok()}); break;
                  }
                }
                return out;
              },
              d);
  Drain::Pass pass = drain.RunPass();
  CHECK(batch_sizes == std::vector<size_t>{3, 2, 1, 2});
  CHECK(pass.backing_off);
  CHECK(pass.delivered == 5);  // 0, 3, 4, 5 and 7
  CHECK(pass.rejected == 1);
  CHECK(pass.held == 1);
  std::set<std::string> left;
  for (const auto& m : spool->List()) left.insert(m.id);
  CHECK(left == std::set<std::string>{ids[2], ids[6]});
}

// The spool's durability contract: nothing half-written is ever visible,
// ready/ survives restarts, duplicates and corrupt entries are handled.
#include "common/spool.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/fs.h"
#include "common/sha256.h"
#include "common/uuid.h"
#include "support/mutate.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;

using testing_support::TempDir;

namespace {

common::SpoolMeta Meta(const std::string& body, const std::string& kind = "inventory") {
  common::SpoolMeta m;
  m.id = common::NewUuid();
  m.device = common::NewUuid();
  m.kind = kind;
  m.sha256 = common::Sha256Hex(body);
  m.size = body.size();
  m.client_version = "0.1.0";
  return m;
}

std::unique_ptr<common::Spool> Open(const std::string& dir, uint64_t max = 1 << 30) {
  common::Spool::Options o;
  o.dir = dir;
  o.max_bytes = max;
  o.min_free_bytes = 0;
  auto s = common::Spool::Open(o);
  REQUIRE(s.ok());
  return std::move(s).value();
}

size_t Files(const std::string& dir) {
  size_t n = 0;
  for (auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("spool: commit makes an entry durable and readable") {
  TempDir t;
  auto spool = Open(t.path);
  std::string body = "hello inventory";
  auto meta = Meta(body);
  auto w = spool->Begin(meta);
  REQUIRE(w.ok());
  REQUIRE((*w)->Append(body.data(), 5).ok());
  CHECK(Files(t.path + "/ready") == 0);  // not visible before commit
  REQUIRE((*w)->Append(body.data() + 5, body.size() - 5).ok());
  REQUIRE((*w)->Commit().ok());
  CHECK(spool->Count() == 1);
  CHECK(spool->Bytes() == body.size());
  CHECK(*spool->ReadWholeBody(meta, 1 << 20) == body);
  CHECK(*spool->ReadBody(meta, 6, 9) == "inventory");
  CHECK(Files(t.path + "/incoming") == 0);
  auto listed = spool->List();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].id == meta.id);
  CHECK(listed[0].received_at > 0);
}

TEST_CASE("spool: a digest or length mismatch keeps nothing") {
  TempDir t;
  auto spool = Open(t.path);
  auto meta = Meta("the real body");
  auto w = spool->Begin(meta);
  REQUIRE(w.ok());
  REQUIRE((*w)->Append("the fake body", 13).ok());
  CHECK((*w)->Commit().code() == common::Code::kInvalidArgument);
  w->reset();
  auto w2 = spool->Begin(meta);
  REQUIRE(w2.ok());
  REQUIRE((*w2)->Append("short", 5).ok());
  CHECK((*w2)->Commit().code() == common::Code::kInvalidArgument);
  CHECK((*w2)->Append("way too long for the declared size", 34).code() == common::Code::kInvalidArgument);
  w2->reset();
  CHECK(spool->Count() == 0);
  CHECK(Files(t.path + "/ready") == 0);
  CHECK(Files(t.path + "/incoming") == 0);
}

TEST_CASE("spool: the same id is stored once") {
  TempDir t;
  auto spool = Open(t.path);
  auto meta = Meta("body");
  REQUIRE(spool->Put(meta, "body").ok());
  CHECK(spool->Begin(meta).status().code() == common::Code::kAlreadyExists);
  CHECK(spool->Put(meta, "body").code() == common::Code::kAlreadyExists);
  CHECK(spool->Count() == 1);
}

TEST_CASE("spool: a second writer of an id in flight is turned away until the first is durable") {
  TempDir t;
  auto spool = Open(t.path);
  auto meta = Meta("same");
  auto a = spool->Begin(meta);
  REQUIRE(a.ok());
  CHECK(spool->Begin(meta).status().code() == common::Code::kUnavailable);
  REQUIRE((*a)->Append("same", 4).ok());
  CHECK((*a)->Commit().ok());
  CHECK(spool->Begin(meta).status().code() == common::Code::kAlreadyExists);
  a->reset();
  CHECK(spool->Count() == 1);
  // An abandoned writer frees its id.
  auto other = Meta("other");
  { auto w = spool->Begin(other); REQUIRE(w.ok()); }
  CHECK(spool->Begin(other).ok());
}

TEST_CASE("spool: a crash before rename leaves nothing visible, and ready/ survives restart") {
  TempDir t;
  std::string kept_id;
  common::SpoolMeta kept;
  {
    auto spool = Open(t.path);
    auto meta = Meta("kept");
    kept = meta;
    kept_id = meta.id;
    REQUIRE(spool->Put(meta, "kept").ok());
  }
  // A child process writes most of a body, fsyncs nothing and dies: the
  // state a power cut or kill -9 leaves between write and rename.
  pid_t pid = ::fork();
  if (pid == 0) {
    common::Spool::Options o;
    o.dir = t.path;
    o.min_free_bytes = 0;
    auto spool = common::Spool::Open(o);
    std::string body(100000, 'x');
    auto w = (*spool)->Begin(Meta(body));
    (void)(*w)->Append(body.data(), 50000);
    ::_exit(0);  // no destructors: the half-written file stays in incoming/
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(Files(t.path + "/incoming") == 1);

  auto spool = Open(t.path);
  CHECK(Files(t.path + "/incoming") == 0);
  REQUIRE(spool->Count() == 1);
  CHECK(spool->List()[0].id == kept_id);
  CHECK(*spool->ReadWholeBody(kept, 100) == "kept");
}

TEST_CASE("spool: corrupt entries are quarantined at start-up") {
  TempDir t;
  std::string good_id, bad_id, truncated_id;  // file names without ".upl"
  {
    auto spool = Open(t.path);
    auto good = Meta("good body");
    auto bad = Meta("bad body!");
    auto truncated = Meta("truncated body");
    good_id = common::SpoolKey(good);
    bad_id = common::SpoolKey(bad);
    truncated_id = common::SpoolKey(truncated);
    REQUIRE(spool->Put(good, "good body").ok());
    REQUIRE(spool->Put(bad, "bad body!").ok());
    REQUIRE(spool->Put(truncated, "truncated body").ok());
  }
  {
    // Flip a byte in the header of one entry and cut the other short.
    std::fstream f(t.path + "/ready/" + bad_id + ".upl", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(90);
    f.put('#');
  }
  fs::resize_file(t.path + "/ready/" + truncated_id + ".upl",
                  fs::file_size(t.path + "/ready/" + truncated_id + ".upl") - 3);
  std::ofstream(t.path + "/ready/garbage.upl") << "not a spool entry";

  auto spool = Open(t.path);
  REQUIRE(spool->Count() == 1);
  CHECK(common::SpoolKey(spool->List()[0]) == good_id);
  CHECK(fs::exists(t.path + "/rejected/" + bad_id + ".upl"));
  CHECK(fs::exists(t.path + "/rejected/" + bad_id + ".upl.reason"));
  CHECK(fs::exists(t.path + "/rejected/" + truncated_id + ".upl"));
  CHECK(fs::exists(t.path + "/rejected/garbage.upl"));
}

TEST_CASE("spool: a body corrupted after commit is DataLoss, not delivered") {
  TempDir t;
  auto spool = Open(t.path);
  auto meta = Meta("0123456789");
  REQUIRE(spool->Put(meta, "0123456789").ok());
  {
    std::fstream f(t.path + "/ready/" + common::SpoolKey(meta) + ".upl", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('X');
  }
  CHECK(spool->ReadWholeBody(meta, 100).status().code() == common::Code::kDataLoss);
}

TEST_CASE("spool: capacity is enforced before anything is written") {
  TempDir t;
  auto spool = Open(t.path, 100);
  REQUIRE(spool->Put(Meta(std::string(60, 'a')), std::string(60, 'a')).ok());
  auto second = spool->Begin(Meta(std::string(60, 'b')));
  CHECK(second.status().code() == common::Code::kUnavailable);
  // Reserved space counts: two 40-byte uploads in flight fill the rest.
  auto w = spool->Begin(Meta(std::string(40, 'c')));
  REQUIRE(w.ok());
  CHECK(spool->Begin(Meta(std::string(1, 'd'))).status().code() == common::Code::kUnavailable);
  w->reset();  // abandoned: its reservation is released
  CHECK(spool->Begin(Meta(std::string(40, 'e'))).ok());
}

TEST_CASE("spool: metadata is validated (it becomes file names and headers)") {
  TempDir t;
  auto spool = Open(t.path);
  auto m = Meta("x");
  m.id = "../../etc/passwd";
  CHECK(spool->Begin(m).status().code() == common::Code::kInvalidArgument);
  m = Meta("x");
  m.kind = "inventory\nvia=evil";
  CHECK(spool->Begin(m).status().code() == common::Code::kInvalidArgument);
  m = Meta("x");
  m.sha256 = "ABC";
  CHECK(spool->Begin(m).status().code() == common::Code::kInvalidArgument);
}

TEST_CASE("spool: remove and reject") {
  TempDir t;
  auto spool = Open(t.path);
  auto a = Meta("a"), b = Meta("b");
  REQUIRE(spool->Put(a, "a").ok());
  REQUIRE(spool->Put(b, "b").ok());
  REQUIRE(spool->Remove(a).ok());
  REQUIRE(spool->Reject(b, "upstream said 422").ok());
  CHECK(spool->Count() == 0);
  CHECK(spool->Bytes() == 0);
  CHECK(spool->Remove(a).code() == common::Code::kNotFound);
  auto reason = common::ReadFile(t.path + "/rejected/" + common::SpoolKey(b) + ".upl.reason");
  REQUIRE(reason.ok());
  CHECK(reason->find("upstream said 422") != std::string::npos);
  auto reopened = Open(t.path);
  CHECK(reopened->Count() == 0);
}

TEST_CASE("spool: header codec round trip and damage") {
  auto m = Meta("abc");
  m.via = "dmz-1";
  m.policy_revision = 7;
  m.received_at = 1700000000;
  std::string h = common::EncodeSpoolHeader(m);
  uint64_t off = 0;
  auto back = common::DecodeSpoolHeader(h + "abc", &off);
  REQUIRE(back.ok());
  CHECK(off == h.size());
  CHECK(back->id == m.id);
  CHECK(back->via == "dmz-1");
  CHECK(back->policy_revision == 7);
  CHECK(back->received_at == 1700000000);
  for (size_t cut : {size_t(0), size_t(5), h.size() / 2, h.size() - 1}) {
    INFO(cut);
    CHECK(common::DecodeSpoolHeader(h.substr(0, cut), &off).status().code() == common::Code::kDataLoss);
  }
  std::string v2 = h;
  v2[7] = '2';
  CHECK(common::DecodeSpoolHeader(v2, &off).status().code() == common::Code::kDataLoss);
}

TEST_CASE("spool: a disk short of min_free_bytes is ResourceExhausted") {
  TempDir t;
  common::Spool::Options o;
  o.dir = t.path;
  o.min_free_bytes = 1ull << 60;  // more than any disk has
  auto spool = common::Spool::Open(o);
  REQUIRE(spool.ok());
  CHECK((*spool)->Begin(Meta("x")).status().code() == common::Code::kResourceExhausted);
}

TEST_CASE("spool: mutated headers decode intact or are DataLoss") {
  auto m = Meta("body");
  std::string h = common::EncodeSpoolHeader(m);
  for (const auto& mutant : testing_support::Mutations(h, 3000)) {
    uint64_t off = 0;
    auto r = common::DecodeSpoolHeader(mutant, &off);
    if (r.ok()) {
      CHECK(r->id == m.id);  // only changes outside the checksummed header survive
      CHECK(off <= mutant.size());
    } else {
      CHECK(r.status().code() == common::Code::kDataLoss);
    }
  }
}

// Spool::stats(): what metrics read at each scrape, kept in step with every
// way an entry comes and goes (commit, removal, rejection, a restart's scan).
#include <catch2/catch.hpp>

#include "common/spool.h"
#include "common/uuid.h"
#include "support/temp_dir.h"

namespace {

std::unique_ptr<common::Spool> Open(const std::string& dir) {
  common::Spool::Options o;
  o.dir = dir;
  o.min_free_bytes = 0;
  auto spool = common::Spool::Open(o);
  REQUIRE(spool.ok());
  return std::move(spool).value();
}

common::SpoolMeta Put(common::Spool& spool, int64_t received_at, size_t size) {
  common::SpoolMeta m;
  m.id = common::NewUuid();
  m.device = common::NewUuid();
  m.kind = "logs";
  m.received_at = received_at;
  REQUIRE(spool.Put(m, std::string(size, 'x')).ok());
  return spool.List().back();
}

}  // namespace

TEST_CASE("spool stats: entries, bytes, oldest entry, bodies being received, rejected bytes") {
  testing_support::TempDir t;
  auto spool = Open(t.path);
  CHECK(spool->stats().entries == 0);
  CHECK(spool->stats().oldest_received_at == 0);

  auto a = Put(*spool, 2000, 10);
  auto b = Put(*spool, 1000, 20);  // the oldest, though committed second
  auto c = Put(*spool, 1000, 30);  // received in the same second
  auto s = spool->stats();
  CHECK(s.entries == 3);
  CHECK(s.bytes == 60);
  CHECK(s.oldest_received_at == 1000);
  CHECK(s.rejected_bytes == 0);

  REQUIRE(spool->Remove(b).ok());
  CHECK(spool->stats().oldest_received_at == 1000);  // c still has it
  REQUIRE(spool->Reject(c, "bad bytes").ok());
  s = spool->stats();
  CHECK(s.entries == 1);
  CHECK(s.bytes == 10);
  CHECK(s.oldest_received_at == 2000);
  CHECK(s.rejected_bytes > 30);  // the entry's header and body

  common::SpoolMeta m;
  m.id = common::NewUuid();
  m.device = common::NewUuid();
  m.kind = "logs";
  m.sha256 = std::string(64, '0');
  m.size = 5;
  auto writer = spool->Begin(m);
  REQUIRE(writer.ok());
  CHECK(spool->stats().receiving == 1);
  CHECK(spool->stats().entries == 1);
  writer->reset();
  CHECK(spool->stats().receiving == 0);

  // A restart finds the same in ready/ and rejected/.
  Put(*spool, 500, 40);
  spool.reset();
  auto reopened = Open(t.path);
  s = reopened->stats();
  CHECK(s.entries == 2);
  CHECK(s.bytes == 50);
  CHECK(s.oldest_received_at == 500);
  CHECK(s.rejected_bytes > 30);
  REQUIRE(reopened->Remove(reopened->List().back()).ok());
  CHECK(reopened->stats().oldest_received_at == 2000);
  REQUIRE(reopened->Remove(a).ok());
  CHECK(reopened->stats().entries == 0);
  CHECK(reopened->stats().oldest_received_at == 0);
}

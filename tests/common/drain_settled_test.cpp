// Drain::Options::settled: every attempted entry is reported once, with what
// the loop did with it (the relay's and the importer's metrics count these).
#include <catch2/catch.hpp>
#include <map>
#include <vector>

#include "common/drain.h"
#include "common/uuid.h"
#include "support/temp_dir.h"

using common::Attempt;
using common::Settled;

TEST_CASE("drain: the settled hook reports each attempt's fate once") {
  testing_support::TempDir t;
  common::Spool::Options o;
  o.dir = t.path;
  o.min_free_bytes = 0;
  auto spool = std::move(common::Spool::Open(o)).value();
  // What the peer says about each entry, in spool order; after the peer
  // fails (Unavailable) the rest of the batch is still settled.
  const std::vector<Attempt> verdicts = {
      {common::Status::Ok()},
      {common::AlreadyExists("had it")},
      {common::InvalidArgument("bad bytes")},
      {common::Unavailable("cannot read here"), {}, Attempt::Scope::kEntry},
      {common::NotFound("gone"), {}, Attempt::Scope::kEntry},
      {common::PermissionDenied("refused")},
      {common::Unavailable("down")},
  };
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < verdicts.size(); ++i) {
    common::SpoolMeta m;
    m.id = common::NewUuid();
    m.device = common::NewUuid();
    m.kind = "logs";
    REQUIRE(spool->Put(m, "body " + std::to_string(i)).ok());
    position[m.id] = i;
  }
  std::vector<std::pair<size_t, Settled>> seen;
  common::Drain::Options d;
  d.name = "test";
  d.batch = verdicts.size();
  d.settled = [&](const common::SpoolMeta& meta, Settled s) { seen.emplace_back(position.at(meta.id), s); };
  common::Drain drain(
      spool.get(),
      [&](const std::vector<common::SpoolMeta>& metas) {
        std::vector<Attempt> out;
        for (const auto& m : metas) out.push_back(verdicts[position.at(m.id)]);
        return out;
      },
      d);
  auto pass = drain.RunPass();
  CHECK(pass.backing_off);
  const std::vector<std::pair<size_t, Settled>> want = {
      {0, Settled::kDelivered}, {1, Settled::kDuplicate}, {2, Settled::kRejected}, {3, Settled::kHeld},
      {4, Settled::kLost},      {5, Settled::kStopped},   {6, Settled::kRetried},
  };
  CHECK(seen == want);
  CHECK(std::string(common::SettledName(Settled::kStopped)) == "stopped");
  // Backing off, the next pass tries nothing and reports nothing.
  seen.clear();
  (void)drain.RunPass();
  CHECK(seen.empty());
}

// SqlStore's software part (docs/store.md "Packages"): what a package
// version is (name, arch, source, version and its details) is stored once in
// package_versions, shared by every device that has it; a device's row is a
// reference to it plus what belongs to the device (when it was installed,
// when the store first saw it there). A first import therefore writes 1,500
// narrow rows, not 1,500 copies of the same maintainers and summaries.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/sha256.h"
#include "common/status.h"
#include "inventory/inventory.h"
#include "sql.h"
#include "sql_store.h"

namespace inventory::sql {

using common::Status;
using common::StatusOr;

namespace {

// A package's identity on a device: a different version is another row.
using PackageKey = std::tuple<std::string, std::string, std::string, std::string>;  // name arch source version
PackageKey KeyOf(const Package& p) { return {p.name, p.arch, p.source, p.version}; }
// The same, without copies, for the document's own packages.
using KeyView = std::tuple<std::string_view, std::string_view, std::string_view, std::string_view>;
KeyView ViewOf(const Package& p) { return {p.name, p.arch, p.source, p.version}; }

// Everything package_versions holds about a version, unambiguously (each
// field prefixed by its length), so that two versions differing in any
// detail are two rows: a device with a locally rebuilt package never changes
// what another device's row says.
std::string VersionKey(const Package& p) {
  std::string key;
  for (const std::string& field : {p.name, p.arch, p.source, p.version, std::to_string(p.size_bytes), p.section,
                                   p.maintainer, p.summary}) {
    key += std::to_string(field.size());
    key += ':';
    key += field;
  }
  return key;
}

// Finds or creates package_versions rows on one connection, with the
// statements prepared once per use.
class VersionRows {
 public:
  VersionRows(Conn* db, const std::string& ctx) : find_(db, ctx + ": find package version"),
                                                  add_(db, ctx + ": add package version") {}

  Status Prepare() {
    RETURN_IF_ERROR(find_.Prepare("SELECT id FROM package_versions WHERE digest = ?1"));
    // DO NOTHING, then the lookup again: another central may have added the
    // same version since our lookup (PostgreSQL, several centrals).
    return add_.Prepare(R"sql(
      INSERT INTO package_versions (digest, name, arch, source, version, size_bytes, section,
                                    maintainer, summary)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
      ON CONFLICT (digest) DO NOTHING)sql");
  }

  StatusOr<int64_t> IdOf(const Package& p, const std::string& key) {
    const std::string digest = common::Sha256Hex(key);
    ASSIGN_OR_RETURN(std::optional<int64_t> found, Find(digest));
    if (found) return *found;
    RETURN_IF_ERROR(add_.Bind(1, digest));
    RETURN_IF_ERROR(add_.Bind(2, p.name));
    RETURN_IF_ERROR(add_.Bind(3, p.arch));
    RETURN_IF_ERROR(add_.Bind(4, p.source));
    RETURN_IF_ERROR(add_.Bind(5, p.version));
    RETURN_IF_ERROR(add_.BindUnsigned(6, p.size_bytes));
    RETURN_IF_ERROR(add_.Bind(7, p.section));
    RETURN_IF_ERROR(add_.Bind(8, p.maintainer));
    RETURN_IF_ERROR(add_.Bind(9, p.summary));
    RETURN_IF_ERROR(add_.Run());
    RETURN_IF_ERROR(add_.Reset());
    ASSIGN_OR_RETURN(found, Find(digest));
    if (!found) return common::Internal("package version " + p.name + " " + p.version + " vanished after insert");
    return *found;
  }

 private:
  StatusOr<std::optional<int64_t>> Find(const std::string& digest) {
    RETURN_IF_ERROR(find_.Bind(1, digest));
    ASSIGN_OR_RETURN(bool row, find_.Step());
    std::optional<int64_t> id;
    if (row) id = find_.Int(0);
    RETURN_IF_ERROR(find_.Reset());
    return id;
  }

  Stmt find_;
  Stmt add_;
};

}  // namespace

void SqlStore::ForgetVersionIds() { version_ids_.clear(); }

Status SqlStore::ApplySoftware(const PartContext& c, const std::vector<Package>& software) {
  const std::string& id = c.info.device_id;
  // What the document lists, one per key: of exact duplicates one is
  // enough, and of two reports of one version with different details the
  // last one counts (as a repeated key in a file would).
  std::map<KeyView, const Package*> incoming;
  for (const Package& p : software) incoming[ViewOf(p)] = &p;
  // Their package_versions rows: from the writer's map, else looked up or
  // created.
  VersionRows versions(writer(), c.ctx);
  bool prepared = false;
  std::map<int64_t, const Package*> wanted;  // by version id
  for (const auto& [key, p] : incoming) {
    std::string vkey = VersionKey(*p);
    auto cached = version_ids_.find(vkey);
    if (cached != version_ids_.end()) {
      wanted[cached->second] = p;
      continue;
    }
    if (!prepared) RETURN_IF_ERROR(versions.Prepare());
    prepared = true;
    ASSIGN_OR_RETURN(int64_t version_id, versions.IdOf(*p, vkey));
    if (version_ids_.size() >= kMaxCachedVersions) version_ids_.clear();
    version_ids_.emplace(std::move(vkey), version_id);
    wanted[version_id] = p;
  }

  // The current rows (the open spans), by version id: an unchanged package
  // costs a comparison of two numbers.
  struct Span {
    int64_t installed_at;
    int64_t first_seen;
    bool baseline;
  };
  std::map<int64_t, Span> current;
  {
    Stmt s(writer(), c.ctx + ": read packages");
    RETURN_IF_ERROR(s.Prepare(
        "SELECT version_id, installed_at, first_seen, baseline FROM packages WHERE device_id = ?1"));
    RETURN_IF_ERROR(s.Bind(1, id));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      current[s.Int(0)] = {s.Int(1), s.Int(2), s.Int(3) != 0};
    }
  }
  RowInserter put(writer(), c.ctx + ": put packages",
                  "INSERT INTO packages (device_id, version_id, installed_at, first_seen, baseline)", 5,
                  "ON CONFLICT (device_id, version_id) DO UPDATE SET installed_at = excluded.installed_at");
  auto write = [&](int64_t version_id, const Span& span) {
    return put.Add({id, version_id, span.installed_at, span.first_seen, int64_t{span.baseline}});
  };
  std::vector<int64_t> added;
  for (const auto& [version_id, p] : wanted) {
    auto kept = current.find(version_id);
    if (kept == current.end()) {
      added.push_back(version_id);
      continue;
    }
    if (kept->second.installed_at != p->installed_at) {
      RETURN_IF_ERROR(write(version_id, {p->installed_at, kept->second.first_seen, kept->second.baseline}));
    }
    current.erase(kept);
  }
  // What is left of `current` is gone from the device, unless a package
  // in `added` is the same version with other details: then its span goes
  // on under the new row. The rest ends in history.
  std::map<PackageKey, std::pair<int64_t, Span>> gone;
  if (!current.empty()) {
    Stmt key(writer(), c.ctx + ": read package version");
    RETURN_IF_ERROR(key.Prepare("SELECT name, arch, source, version FROM package_versions WHERE id = ?1"));
    for (const auto& [version_id, span] : current) {
      RETURN_IF_ERROR(key.Bind(1, version_id));
      ASSIGN_OR_RETURN(bool row, key.Step());
      if (!row) return common::Internal(c.ctx + ": package version " + std::to_string(version_id) + " is missing");
      gone[{key.Text(0), key.Text(1), key.Text(2), key.Text(3)}] = {version_id, span};
      RETURN_IF_ERROR(key.Reset());
    }
  }
  Stmt del(writer(), c.ctx + ": remove package");
  RETURN_IF_ERROR(del.Prepare("DELETE FROM packages WHERE device_id = ?1 AND version_id = ?2"));
  auto remove = [&](int64_t version_id) -> Status {
    RETURN_IF_ERROR(del.Bind(1, id));
    RETURN_IF_ERROR(del.Bind(2, version_id));
    RETURN_IF_ERROR(del.Run());
    return del.Reset();
  };
  for (int64_t version_id : added) {
    const Package* p = wanted[version_id];
    Span span{p->installed_at, c.info.received_at, c.baseline};
    if (!gone.empty()) {
      auto same = gone.find(KeyOf(*p));
      if (same != gone.end()) {
        RETURN_IF_ERROR(remove(same->second.first));
        span.first_seen = same->second.second.first_seen;
        span.baseline = same->second.second.baseline;
        gone.erase(same);
      }
    }
    RETURN_IF_ERROR(write(version_id, span));
  }
  for (const auto& [key, row] : gone) {
    const auto& [name, arch, source, version] = key;
    const Span& span = row.second;
    RETURN_IF_ERROR(InsertHistory(id, "software", name + " " + arch + " " + source, version, span.first_seen,
                                  c.previous_received, c.info.received_at, span.baseline));
    RETURN_IF_ERROR(remove(row.first));
  }
  return put.Flush();
}

Status RunMigrationStatement(Conn* db, const char* statement, const std::string& what) {
  if (statement != kMovePackagesToVersions) return Exec(db, statement, what);
  // Schema 7 -> 8: every device's package row becomes a reference to its
  // version's shared row (created here on first sight) in packages_v8.
  Stmt read(db, what + ": read packages");
  RETURN_IF_ERROR(read.Prepare(R"sql(
    SELECT device_id, name, arch, source, version, installed_at, size_bytes, section, maintainer,
           summary, first_seen, baseline
    FROM packages)sql"));
  VersionRows versions(db, what);
  RETURN_IF_ERROR(versions.Prepare());
  Stmt put(db, what + ": put package");
  RETURN_IF_ERROR(put.Prepare(R"sql(
    INSERT INTO packages_v8 (device_id, version_id, installed_at, first_seen, baseline)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (device_id, version_id) DO NOTHING)sql"));
  for (;;) {
    ASSIGN_OR_RETURN(bool row, read.Step());
    if (!row) break;
    Package p{.name = read.Text(1), .version = read.Text(4), .arch = read.Text(2), .source = read.Text(3),
              .installed_at = read.Int(5), .size_bytes = static_cast<uint64_t>(read.Int(6)),
              .section = read.Text(7), .maintainer = read.Text(8), .summary = read.Text(9)};
    ASSIGN_OR_RETURN(int64_t version_id, versions.IdOf(p, VersionKey(p)));
    RETURN_IF_ERROR(put.Bind(1, read.Text(0)));
    RETURN_IF_ERROR(put.Bind(2, version_id));
    RETURN_IF_ERROR(put.Bind(3, p.installed_at));
    RETURN_IF_ERROR(put.Bind(4, read.Int(10)));
    RETURN_IF_ERROR(put.Bind(5, read.Int(11)));
    RETURN_IF_ERROR(put.Run());
    RETURN_IF_ERROR(put.Reset());
  }
  return Status::Ok();
}

}  // namespace inventory::sql

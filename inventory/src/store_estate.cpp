// SqlStore's estate writes (inventory/estate.h): the rules and health
// documents, each one write transaction on the writer connection under
// write_mu_. Actions are in sqlite_actions.cpp.
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "inventory/estate.h"
#include "inventory/health.h"
#include "inventory/store.h"
#include "store_estate_rows.h"
#include "sql_store.h"
#include "sql.h"

namespace inventory::sql {

using common::Status;
using common::StatusOr;

namespace {

Status ValidateRules(const EstateRules& r) {
  auto at_least = [](const char* name, int64_t value, int64_t min) -> Status {
    if (value < min) {
      return common::InvalidArgument("estate rules: " + std::string(name) + " " + std::to_string(value) +
                                     " is below " + std::to_string(min));
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(at_least("disconnect_after", r.disconnect_after, 1));
  RETURN_IF_ERROR(at_least("default_check_interval", r.default_check_interval, 1));
  RETURN_IF_ERROR(at_least("outbox_backlog", r.outbox_backlog, 0));
  RETURN_IF_ERROR(at_least("cert_warn_before", r.cert_warn_before, 0));
  RETURN_IF_ERROR(at_least("beacon_offline_after", r.beacon_offline_after, 1));
  RETURN_IF_ERROR(at_least("policy_revision", r.policy_revision, 0));
  return at_least("policy_since", r.policy_since, 0);
}

// The document's shape as the store needs it; the parser checks the rest.
// `what` names the document in errors.
Status ValidateHealth(const Health& h, const std::string& what) {
  if (h.id.empty()) return common::InvalidArgument(what + ": health document names no source");
  if (h.source == HealthSource::kBeacon && !h.beacon.has_value()) {
    return common::InvalidArgument(what + ": a beacon's health document carries no beacon status");
  }
  if (h.source == HealthSource::kDevice && h.beacon.has_value()) {
    return common::InvalidArgument(what + ": a device's health document carries a beacon status");
  }
  for (const HealthMessage& m : h.messages) {
    if (m.id.empty()) return common::InvalidArgument(what + ": a health message has no id");
  }
  return Status::Ok();
}

// Applies `h` from its source as of `received_at` (the central's time of
// the document), inside the caller's write transaction: docs/store.md,
// "Health rules".
Status ApplyHealth(Conn* db, const std::string& ctx, const Health& h, int64_t received_at) {
  const char* kind = StoredSourceKind(h.source);
  {
    // Documents are applied in the sender's order; a late one (a relay's
    // retry, a redelivery after a lost acknowledgement) is older news.
    Stmt s(db, ctx + ": read last applied sequence");
    RETURN_IF_ERROR(
        s.Prepare("SELECT last_sequence FROM health_sources WHERE source_kind = ?1 AND source = ?2"));
    RETURN_IF_ERROR(s.Bind(1, kind));
    RETURN_IF_ERROR(s.Bind(2, h.id));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row && h.sequence <= s.Int(0)) return Status::Ok();
  }
  {
    Stmt s(db, ctx + ": record sequence");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO health_sources (source_kind, source, last_sequence, applied_at)
      VALUES (?1, ?2, ?3, ?4)
      ON CONFLICT (source_kind, source) DO UPDATE SET
        last_sequence = excluded.last_sequence, applied_at = excluded.applied_at)sql"));
    RETURN_IF_ERROR(s.Bind(1, kind));
    RETURN_IF_ERROR(s.Bind(2, h.id));
    RETURN_IF_ERROR(s.Bind(3, h.sequence));
    RETURN_IF_ERROR(s.Bind(4, received_at));
    RETURN_IF_ERROR(s.Run());
  }
  // The occurrences open here before this document.
  std::vector<std::pair<std::string, int64_t>> open;
  {
    Stmt s(db, ctx + ": read open messages");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      SELECT id, first_seen FROM health_messages
      WHERE source_kind = ?1 AND source = ?2 AND cleared_at = 0)sql"));
    RETURN_IF_ERROR(s.Bind(1, kind));
    RETURN_IF_ERROR(s.Bind(2, h.id));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      open.emplace_back(s.Text(0), s.Int(1));
    }
  }
  std::set<std::pair<std::string, int64_t>> carried;
  {
    // The sender's state of each occurrence replaces ours, open or cleared.
    Stmt s(db, ctx + ": upsert message");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO health_messages (source_kind, source, id, first_seen, component, type, priority,
                                   text, last_seen, count, cleared_at, received_at)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
      ON CONFLICT (source_kind, source, id, first_seen) DO UPDATE SET
        component = excluded.component, type = excluded.type, priority = excluded.priority,
        text = excluded.text, last_seen = excluded.last_seen, count = excluded.count,
        cleared_at = excluded.cleared_at, received_at = excluded.received_at)sql"));
    for (const HealthMessage& m : h.messages) {
      RETURN_IF_ERROR(s.Bind(1, kind));
      RETURN_IF_ERROR(s.Bind(2, h.id));
      RETURN_IF_ERROR(s.Bind(3, m.id));
      RETURN_IF_ERROR(s.Bind(4, m.first_seen));
      RETURN_IF_ERROR(s.Bind(5, m.component));
      RETURN_IF_ERROR(s.Bind(6, StoredType(m.type)));
      RETURN_IF_ERROR(s.Bind(7, static_cast<int64_t>(m.priority)));
      RETURN_IF_ERROR(s.Bind(8, m.text));
      RETURN_IF_ERROR(s.Bind(9, m.last_seen));
      RETURN_IF_ERROR(s.Bind(10, m.count));
      RETURN_IF_ERROR(s.Bind(11, m.cleared_at));
      RETURN_IF_ERROR(s.Bind(12, received_at));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
      carried.emplace(m.id, m.first_seen);
    }
  }
  {
    // A document is the sender's whole open set: what it no longer carries
    // has ended, even if the document that cleared it was lost.
    Stmt s(db, ctx + ": clear message no longer carried");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      UPDATE health_messages SET cleared_at = ?5, received_at = ?5
      WHERE source_kind = ?1 AND source = ?2 AND id = ?3 AND first_seen = ?4 AND cleared_at = 0)sql"));
    for (const auto& [id, first_seen] : open) {
      if (carried.count({id, first_seen}) != 0) continue;
      RETURN_IF_ERROR(s.Bind(1, kind));
      RETURN_IF_ERROR(s.Bind(2, h.id));
      RETURN_IF_ERROR(s.Bind(3, id));
      RETURN_IF_ERROR(s.Bind(4, first_seen));
      RETURN_IF_ERROR(s.Bind(5, received_at));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
  }
  if (h.source != HealthSource::kBeacon) return Status::Ok();
  const HealthBeacon& b = *h.beacon;
  Stmt s(db, ctx + ": update beacon " + h.id);
  RETURN_IF_ERROR(s.Prepare(R"sql(
    INSERT INTO beacons (name, last_contact, version, report_interval, central, spool_files,
                         spool_bytes, spool_oldest, rejected_files, disk_free, upstream_ok,
                         upstream_since, cert_not_after)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
    ON CONFLICT (name) DO UPDATE SET
      last_contact = CASE WHEN excluded.last_contact > beacons.last_contact
                          THEN excluded.last_contact ELSE beacons.last_contact END,
      version = excluded.version, report_interval = excluded.report_interval,
      central = excluded.central, spool_files = excluded.spool_files,
      spool_bytes = excluded.spool_bytes, spool_oldest = excluded.spool_oldest,
      rejected_files = excluded.rejected_files, disk_free = excluded.disk_free,
      upstream_ok = excluded.upstream_ok, upstream_since = excluded.upstream_since,
      cert_not_after = excluded.cert_not_after)sql"));
  RETURN_IF_ERROR(s.Bind(1, h.id));
  RETURN_IF_ERROR(s.Bind(2, received_at));
  RETURN_IF_ERROR(s.Bind(3, b.version));
  RETURN_IF_ERROR(s.Bind(4, b.interval));
  RETURN_IF_ERROR(s.Bind(5, int64_t{b.central ? 1 : 0}));
  RETURN_IF_ERROR(s.BindUnsigned(6, b.spool_files));
  RETURN_IF_ERROR(s.BindUnsigned(7, b.spool_bytes));
  RETURN_IF_ERROR(s.Bind(8, b.spool_oldest));
  RETURN_IF_ERROR(s.BindUnsigned(9, b.rejected_files));
  RETURN_IF_ERROR(s.BindUnsigned(10, b.disk_free));
  RETURN_IF_ERROR(s.Bind(11, int64_t{b.upstream_ok ? 1 : 0}));
  RETURN_IF_ERROR(s.Bind(12, b.upstream_since));
  RETURN_IF_ERROR(s.Bind(13, b.cert_not_after));
  return s.Run();
}

}  // namespace

Status SqlStore::SetEstateRules(const EstateRules& rules) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateRules(rules));
  return Write([&](Conn* db) -> Status {
    Stmt s(db, path_ + ": set estate rules");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO estate_rules (id, disconnect_after, default_check_interval, outbox_backlog,
                                cert_warn_before, beacon_offline_after, policy_revision,
                                policy_since)
      VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
      ON CONFLICT (id) DO UPDATE SET
        disconnect_after = excluded.disconnect_after,
        default_check_interval = excluded.default_check_interval,
        outbox_backlog = excluded.outbox_backlog, cert_warn_before = excluded.cert_warn_before,
        beacon_offline_after = excluded.beacon_offline_after,
        policy_revision = excluded.policy_revision, policy_since = excluded.policy_since)sql"));
    RETURN_IF_ERROR(s.Bind(1, rules.disconnect_after));
    RETURN_IF_ERROR(s.Bind(2, rules.default_check_interval));
    RETURN_IF_ERROR(s.Bind(3, rules.outbox_backlog));
    RETURN_IF_ERROR(s.Bind(4, rules.cert_warn_before));
    RETURN_IF_ERROR(s.Bind(5, rules.beacon_offline_after));
    RETURN_IF_ERROR(s.Bind(6, rules.policy_revision));
    RETURN_IF_ERROR(s.Bind(7, rules.policy_since));
    RETURN_IF_ERROR(s.Run());
    return Status::Ok();
  });
}

Status SqlStore::RecordBeaconUpload(const UploadInfo& info) {
  const std::string ctx = path_ + ": import upload " + info.upload_id;
  {
    Stmt s(writer(), ctx + ": look up beacon upload");
    RETURN_IF_ERROR(s.Prepare("SELECT 1 FROM beacon_uploads WHERE device_id = ?1 AND upload_id = ?2"));
    RETURN_IF_ERROR(s.Bind(1, info.device_id));
    RETURN_IF_ERROR(s.Bind(2, info.upload_id));
    ASSIGN_OR_RETURN(bool exists, s.Step());
    if (exists) return common::AlreadyExists(ctx + ": already imported for beacon " + info.device_id);
  }
  Stmt s(writer(), ctx + ": insert beacon upload");
  RETURN_IF_ERROR(s.Prepare(R"sql(
    INSERT INTO beacon_uploads (device_id, upload_id, kind, sha256, size, received_at, via,
                                imported_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8))sql"));
  RETURN_IF_ERROR(s.Bind(1, info.device_id));
  RETURN_IF_ERROR(s.Bind(2, info.upload_id));
  RETURN_IF_ERROR(s.Bind(3, info.kind));
  RETURN_IF_ERROR(s.Bind(4, info.sha256));
  RETURN_IF_ERROR(s.BindUnsigned(5, info.size));
  RETURN_IF_ERROR(s.Bind(6, info.received_at));
  RETURN_IF_ERROR(s.Bind(7, info.via));
  RETURN_IF_ERROR(s.Bind(8, NowUnix()));
  return s.Run();
}

Status SqlStore::ImportHealth(const UploadInfo& info, const Health& health) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateUpload(info));
  const std::string what = "upload " + info.upload_id;
  RETURN_IF_ERROR(ValidateHealth(health, what));
  // The transport authenticated the uploader (a device) or the beacon that
  // received the document; a document about anyone else is refused, so no
  // device or beacon can raise or clear another's messages.
  if (health.source == HealthSource::kDevice && health.id != info.device_id) {
    return common::InvalidArgument(what + ": health document names device '" + health.id +
                                   "' but was uploaded by '" + info.device_id + "'");
  }
  if (health.source == HealthSource::kBeacon && health.id != info.via) {
    return common::InvalidArgument(what + ": health document names beacon '" + health.id +
                                   "' but was received by '" + info.via + "'");
  }
  return Write([&](Conn* db) -> Status {
    if (health.source == HealthSource::kDevice) {
      RETURN_IF_ERROR(RecordUpload(info));
    } else {
      RETURN_IF_ERROR(RecordBeaconUpload(info));
    }
    RETURN_IF_ERROR(ApplyHealth(db, path_ + ": import " + what, health, info.received_at));
    return Status::Ok();
  });
}

Status SqlStore::RecordOwnHealth(const Health& health, int64_t now) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateHealth(health, "own health report"));
  if (health.source != HealthSource::kBeacon) {
    return common::InvalidArgument("own health report: the central reports as a beacon");
  }
  return Write([&](Conn* db) -> Status {
    RETURN_IF_ERROR(ApplyHealth(db, path_ + ": own health report", health, now));
    return Status::Ok();
  });
}

StatusOr<int64_t> SqlStore::PurgeHealth(int64_t cleared_before) {
  return Write([&](Conn* db) -> StatusOr<int64_t> {
    Stmt s(db, path_ + ": purge cleared health messages");
    RETURN_IF_ERROR(s.Prepare("DELETE FROM health_messages WHERE cleared_at <> 0 AND received_at < ?1"));
    RETURN_IF_ERROR(s.Bind(1, cleared_before));
    RETURN_IF_ERROR(s.Run());
    return s.Changes();
  });
}

}  // namespace inventory::sql

// SqlStore's estate queries (inventory/estate.h): the reader pool, as the
// other queries; never the writer's lock.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "inventory/estate.h"
#include "store_estate_rows.h"
#include "store_identity_rows.h"
#include "sql_store.h"
#include "sql.h"

namespace inventory::sql {

namespace {

// " AND <column> = ?1" when one device is asked for, else nothing: two
// statements rather than "?1 = '' OR ...", which would keep SQLite from
// using the key.
std::string OneDevice(const std::string& device_id, const char* column) {
  return device_id.empty() ? std::string() : std::string(" AND ") + column + " = ?1";
}

Status PrepareFor(Stmt& s, const std::string& sql, const std::string& device_id) {
  RETURN_IF_ERROR(s.Prepare(sql.c_str()));
  if (!device_id.empty()) RETURN_IF_ERROR(s.Bind(1, device_id));
  return Status::Ok();
}

Status CheckLimit(int64_t limit, const std::string& what) {
  if (limit <= 0) {
    return common::InvalidArgument(what + ": limit " + std::to_string(limit) + " is not positive");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<EstateRules> SqlStore::GetEstateRules() {
  return Read([&](Conn* db) -> StatusOr<EstateRules> {
    Stmt s(db, path_ + ": get estate rules");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      SELECT disconnect_after, default_check_interval, outbox_backlog, cert_warn_before,
             beacon_offline_after, policy_revision, policy_since
      FROM estate_rules WHERE id = 1)sql"));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return EstateRules{};
    return EstateRules{s.Int(0), s.Int(1), s.Int(2), s.Int(3), s.Int(4), s.Int(5), s.Int(6)};
  });
}

// Five set-based statements on one snapshot, each one pass over its table
// (or the rows of one device), joined here by device id: the cost grows
// with the estate, never with the estate squared, and no statement runs
// per device.
StatusOr<std::vector<DeviceState>> SqlStore::ReadDeviceStates(Conn* db,
                                                                 const std::string& device_id) {
  const std::string ctx = path_ + (device_id.empty() ? ": device states" : ": state of device " + device_id);
  Transaction snapshot(db, TxnKind::kSnapshot);
  RETURN_IF_ERROR(snapshot.Begin());
  std::vector<DeviceState> out;
  std::unordered_map<std::string, size_t> index;
  {
    Stmt s(db, ctx + ": devices");
    RETURN_IF_ERROR(PrepareFor(s, R"sql(
      SELECT d.device_id, d.hostname, d.os, COALESCE(k.enrolled_at, 0), d.first_seen, d.last_seen,
             d.via, d.client_version, d.policy_revision, d.outbox_depth, d.check_interval,
             d.inventory_upload IS NOT NULL, d.inventory_at, d.inventory_sequence,
             COALESCE(k.clone_reports, 0)
      FROM devices d LEFT JOIN device_keys k ON k.device_id = d.device_id
      WHERE 1 = 1)sql" + OneDevice(device_id, "d.device_id"),
                               device_id));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      DeviceState d;
      d.device_id = s.Text(0);
      d.hostname = s.Text(1);
      d.os = s.Text(2);
      d.enrolled_at = s.Int(3);
      d.first_seen = s.Int(4);
      d.last_seen = s.Int(5);
      d.via = s.Text(6);
      d.client_version = s.Text(7);
      d.policy_revision = s.Int(8);
      d.outbox_depth = s.Int(9);
      d.check_interval = s.Int(10);
      d.inventoried = s.Int(11) != 0;
      d.inventory_at = s.Int(12);
      d.inventory_sequence = s.Int(13);
      d.clone_suspected = s.Int(14) > 0;
      index.emplace(d.device_id, out.size());
      out.push_back(std::move(d));
    }
  }
  {
    // Enrolled, never heard of: no device row.
    Stmt s(db, ctx + ": enrolled devices never seen");
    RETURN_IF_ERROR(PrepareFor(s, R"sql(
      SELECT k.device_id, k.enrolled_at, k.clone_reports FROM device_keys k
      WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.device_id = k.device_id))sql" +
                                      OneDevice(device_id, "k.device_id"),
                               device_id));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      DeviceState d;
      d.device_id = s.Text(0);
      d.enrolled_at = s.Int(1);
      d.clone_suspected = s.Int(2) > 0;
      index.emplace(d.device_id, out.size());
      out.push_back(std::move(d));
    }
  }
  // The rest only adds to devices found above.
  auto merge = [&](const char* what, const std::string& sql, auto apply) -> Status {
    Stmt s(db, ctx + ": " + what);
    RETURN_IF_ERROR(PrepareFor(s, sql, device_id));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      auto it = index.find(s.Text(0));
      if (it != index.end()) apply(out[it->second], s);
    }
    return Status::Ok();
  };
  // The certificate that expires last of the unrevoked ones: the newest.
  RETURN_IF_ERROR(merge("certificates",
                        R"sql(SELECT subject, MAX(not_after) FROM certificates
                              WHERE kind = 'device' AND revoked_at = 0)sql" +
                            OneDevice(device_id, "subject") + " GROUP BY subject",
                        [](DeviceState& d, const Stmt& s) { d.cert_not_after = s.Int(1); }));
  RETURN_IF_ERROR(merge("open health messages",
                        R"sql(SELECT source, SUM(CASE WHEN type = 'error' THEN 1 ELSE 0 END),
                                     SUM(CASE WHEN type = 'error' THEN 0 ELSE 1 END)
                              FROM health_messages
                              WHERE source_kind = 'device' AND cleared_at = 0)sql" +
                            OneDevice(device_id, "source") + " GROUP BY source",
                        [](DeviceState& d, const Stmt& s) {
                          d.open_errors = s.Int(1);
                          d.open_warnings = s.Int(2);
                        }));
  RETURN_IF_ERROR(merge("pending actions",
                        R"sql(SELECT device_id, COUNT(*) FROM actions
                              WHERE state IN ('pending', 'delivered'))sql" +
                            OneDevice(device_id, "device_id") + " GROUP BY device_id",
                        [](DeviceState& d, const Stmt& s) { d.pending_actions = s.Int(1); }));
  return out;
}

StatusOr<std::vector<DeviceState>> SqlStore::ListDeviceStates() {
  return Read([&](Conn* db) -> StatusOr<std::vector<DeviceState>> {
    ASSIGN_OR_RETURN(std::vector<DeviceState> out, ReadDeviceStates(db, ""));
    std::sort(out.begin(), out.end(), [](const DeviceState& a, const DeviceState& b) {
      return std::tie(a.hostname, a.device_id) < std::tie(b.hostname, b.device_id);
    });
    return out;
  });
}

StatusOr<DeviceState> SqlStore::GetDeviceState(const std::string& device_id) {
  if (device_id.empty()) return common::InvalidArgument("device state: no device id");
  return Read([&](Conn* db) -> StatusOr<DeviceState> {
    ASSIGN_OR_RETURN(std::vector<DeviceState> out, ReadDeviceStates(db, device_id));
    if (out.empty()) {
      return common::NotFound(path_ + ": no device '" + device_id + "' (neither seen nor enrolled)");
    }
    return std::move(out.front());
  });
}

StatusOr<std::vector<DeviceVia>> SqlStore::DeviceVias(const std::string& device_id) {
  return Read([&](Conn* db) -> StatusOr<std::vector<DeviceVia>> {
    Stmt s(db, path_ + ": check-in paths of device " + device_id);
    RETURN_IF_ERROR(s.Prepare(
        "SELECT via, last_seen FROM device_vias WHERE device_id = ?1 ORDER BY last_seen DESC, via"));
    RETURN_IF_ERROR(s.Bind(1, device_id));
    return ReadAll<DeviceVia>(s, [](const Stmt& r) { return DeviceVia{r.Text(0), r.Int(1)}; });
  });
}

StatusOr<std::vector<UploadRow>> SqlStore::RecentUploads(const std::string& device_id, int64_t limit) {
  RETURN_IF_ERROR(CheckLimit(limit, "recent uploads"));
  return Read([&](Conn* db) -> StatusOr<std::vector<UploadRow>> {
    Stmt s(db, path_ + ": recent uploads of device " + device_id);
    RETURN_IF_ERROR(s.Prepare(R"sql(
      SELECT upload_id, kind, size, received_at, via FROM uploads WHERE device_id = ?1
      ORDER BY received_at DESC, upload_id LIMIT ?2)sql"));
    RETURN_IF_ERROR(s.Bind(1, device_id));
    RETURN_IF_ERROR(s.Bind(2, limit));
    return ReadAll<UploadRow>(s, [](const Stmt& r) {
      return UploadRow{r.Text(0), r.Text(1), static_cast<uint64_t>(r.Int(2)), r.Int(3), r.Text(4)};
    });
  });
}

StatusOr<std::vector<HealthRow>> SqlStore::ListHealth(const HealthFilter& filter) {
  RETURN_IF_ERROR(CheckLimit(filter.limit, "list health"));
  if (!filter.device.empty() && !filter.beacon.empty()) {
    return common::InvalidArgument("list health: name a device or a beacon, not both");
  }
  return Read([&](Conn* db) -> StatusOr<std::vector<HealthRow>> {
    Stmt s(db, path_ + ": list health messages");
    std::string sql = R"sql(
      SELECT source_kind, source, id, component, type, priority, text, first_seen, last_seen,
             count, cleared_at, received_at
      FROM health_messages WHERE 1 = 1)sql";
    if (!filter.device.empty()) sql += " AND source_kind = 'device' AND source = ?2";
    if (!filter.beacon.empty()) sql += " AND source_kind = 'beacon' AND source = ?2";
    if (filter.open_only) sql += " AND cleared_at = 0";
    sql += " ORDER BY received_at DESC, last_seen DESC, source_kind, source, id LIMIT ?1";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    RETURN_IF_ERROR(s.Bind(1, filter.limit));
    if (!filter.device.empty()) RETURN_IF_ERROR(s.Bind(2, filter.device));
    if (!filter.beacon.empty()) RETURN_IF_ERROR(s.Bind(2, filter.beacon));
    return ReadAll<HealthRow>(s, [](const Stmt& r) {
      HealthRow h;
      h.source_kind = r.Text(0);
      h.source = r.Text(1);
      h.message.id = r.Text(2);
      h.message.component = r.Text(3);
      h.message.type = TypeFromStored(r.Text(4));
      h.message.priority = static_cast<int>(r.Int(5));
      h.message.text = r.Text(6);
      h.message.first_seen = r.Int(7);
      h.message.last_seen = r.Int(8);
      h.message.count = r.Int(9);
      h.message.cleared_at = r.Int(10);
      h.received_at = r.Int(11);
      return h;
    });
  });
}

StatusOr<std::vector<BeaconState>> SqlStore::ListBeacons() {
  return Read([&](Conn* db) -> StatusOr<std::vector<BeaconState>> {
    const std::string ctx = path_ + ": list beacons";
    Transaction snapshot(db, TxnKind::kSnapshot);
    RETURN_IF_ERROR(snapshot.Begin());
    std::map<std::string, BeaconState> by_name;
    {
      Stmt s(db, ctx + ": reports");
      RETURN_IF_ERROR(s.Prepare(R"sql(
        SELECT name, last_contact, version, report_interval, central, spool_files, spool_bytes,
               spool_oldest, rejected_files, disk_free, upstream_ok, upstream_since,
               cert_not_after
        FROM beacons)sql"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        BeaconState b;
        b.name = s.Text(0);
        b.last_contact = s.Int(1);
        b.status.version = s.Text(2);
        b.status.interval = s.Int(3);
        b.status.central = s.Int(4) != 0;
        b.status.spool_files = static_cast<uint64_t>(s.Int(5));
        b.status.spool_bytes = static_cast<uint64_t>(s.Int(6));
        b.status.spool_oldest = s.Int(7);
        b.status.rejected_files = static_cast<uint64_t>(s.Int(8));
        b.status.disk_free = static_cast<uint64_t>(s.Int(9));
        b.status.upstream_ok = s.Int(10) != 0;
        b.status.upstream_since = s.Int(11);
        b.status.cert_not_after = s.Int(12);
        by_name.emplace(b.name, std::move(b));
      }
    }
    {
      Stmt s(db, ctx + ": certificates");
      RETURN_IF_ERROR(s.Prepare(R"sql(
        SELECT subject, MAX(CASE WHEN revoked_at = 0 THEN not_after ELSE 0 END),
               SUM(CASE WHEN revoked_at = 0 THEN 1 ELSE 0 END)
        FROM certificates WHERE kind = 'beacon' GROUP BY subject)sql"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        BeaconState& b = by_name[s.Text(0)];
        b.name = s.Text(0);
        b.cert_not_after = s.Int(1);
        b.revoked = s.Int(2) == 0;
      }
    }
    {
      Stmt s(db, ctx + ": open health messages");
      RETURN_IF_ERROR(s.Prepare(R"sql(
        SELECT source, SUM(CASE WHEN type = 'error' THEN 1 ELSE 0 END),
               SUM(CASE WHEN type = 'error' THEN 0 ELSE 1 END)
        FROM health_messages WHERE source_kind = 'beacon' AND cleared_at = 0
        GROUP BY source)sql"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        auto it = by_name.find(s.Text(0));
        if (it == by_name.end()) continue;
        it->second.open_errors = s.Int(1);
        it->second.open_warnings = s.Int(2);
      }
    }
    std::vector<BeaconState> out;
    out.reserve(by_name.size());
    for (auto& [name, b] : by_name) out.push_back(std::move(b));
    return out;
  });
}

StatusOr<std::vector<ActionRow>> SqlStore::ListActions(const ActionFilter& filter) {
  RETURN_IF_ERROR(CheckLimit(filter.limit, "list actions"));
  if (!filter.state.empty() && !IsActionState(filter.state)) {
    return common::InvalidArgument("list actions: unknown state '" + filter.state + "'");
  }
  return Read([&](Conn* db) -> StatusOr<std::vector<ActionRow>> {
    Stmt s(db, path_ + ": list actions");
    std::string sql = std::string("SELECT ") + kActionColumns + " FROM actions WHERE 1 = 1";
    if (!filter.device.empty()) sql += " AND device_id = ?2";
    if (!filter.state.empty()) sql += " AND state = ?3";
    sql += " ORDER BY created_at DESC, id LIMIT ?1";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    RETURN_IF_ERROR(s.Bind(1, filter.limit));
    if (!filter.device.empty()) RETURN_IF_ERROR(s.Bind(2, filter.device));
    if (!filter.state.empty()) RETURN_IF_ERROR(s.Bind(3, filter.state));
    return ReadAll<ActionRow>(s, ReadAction);
  });
}

StatusOr<ActionRow> SqlStore::GetAction(const std::string& id) {
  return Read([&](Conn* db) -> StatusOr<ActionRow> {
    const std::string ctx = path_ + ": action " + id;
    ASSIGN_OR_RETURN(std::optional<ActionRow> a, FindAction(db, ctx, id));
    if (!a.has_value()) return common::NotFound(ctx + ": no such action");
    return *std::move(a);
  });
}

StatusOr<std::vector<ActionRow>> SqlStore::ActiveActions(int64_t now) {
  return Read([&](Conn* db) -> StatusOr<std::vector<ActionRow>> {
    Stmt s(db, path_ + ": active actions");
    const std::string sql = std::string("SELECT ") + kActionColumns + R"sql(
      FROM actions WHERE state IN ('pending', 'delivered') AND expires_at > ?1
      ORDER BY device_id, created_at, id)sql";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    RETURN_IF_ERROR(s.Bind(1, now));
    return ReadAll<ActionRow>(s, ReadAction);
  });
}

}  // namespace inventory::sql

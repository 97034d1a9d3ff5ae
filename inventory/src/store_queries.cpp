// SqlStore's reads. They run on reader connections (Read) and never touch
// writer_ or write_mu_.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "inventory/store.h"
#include "sql_store.h"
#include "sql.h"

namespace inventory::sql {

using common::Status;
using common::StatusOr;

namespace {

// "*" -> "%", "?" -> "_", and the LIKE metacharacters and the escape character
// itself are escaped, so that every other character matches only itself.
std::string GlobToLike(std::string_view glob) {
  std::string like;
  like.reserve(glob.size() + 8);
  for (char c : glob) {
    switch (c) {
      case '*': like += '%'; break;
      case '?': like += '_'; break;
      case '%':
      case '_':
      case '\\':
        like += '\\';
        like += c;
        break;
      default: like += c;
    }
  }
  return like;
}

// Device columns as DeviceRow wants them. The package count is a correlated
// subquery, so that it reads only this device's rows through the packages
// primary key (device_id, version_id); devices without an inventory count 0.
constexpr const char* kDeviceSelect = R"sql(
  SELECT d.device_id, d.hostname, d.os, d.last_seen, d.via, d.client_version,
         d.policy_revision, d.outbox_depth, d.inventory_at, d.inventory_sequence,
         (SELECT COUNT(*) FROM packages p WHERE p.device_id = d.device_id)
  FROM devices d)sql";

DeviceRow ReadDeviceRow(const Stmt& s) {
  DeviceRow row;
  row.device_id = s.Text(0);
  row.hostname = s.Text(1);
  row.os = s.Text(2);
  row.last_seen = s.Int(3);
  row.via = s.Text(4);
  row.client_version = s.Text(5);
  row.policy_revision = s.Int(6);
  row.outbox_depth = s.Int(7);
  row.inventory_at = s.Int(8);
  row.inventory_sequence = s.Int(9);
  row.packages = static_cast<uint64_t>(s.Int(10));
  return row;
}

}  // namespace

StatusOr<bool> HasUploadOn(Conn* db, const std::string& what, const std::string& device_id,
                           const std::string& upload_id) {
  Stmt s(db, what);
  RETURN_IF_ERROR(s.Prepare("SELECT 1 FROM uploads WHERE device_id = ?1 AND upload_id = ?2"));
  RETURN_IF_ERROR(s.Bind(1, device_id));
  RETURN_IF_ERROR(s.Bind(2, upload_id));
  return s.Step();
}

StatusOr<bool> SqlStore::HasUpload(const std::string& device_id, const std::string& upload_id) {
  return Read([&](Conn* db) {
    return HasUploadOn(db, path_ + ": look up upload " + upload_id + " of device " + device_id,
                       device_id, upload_id);
  });
}

StatusOr<std::vector<DeviceRow>> SqlStore::ListDevices() {
  return Read([&](Conn* db) -> StatusOr<std::vector<DeviceRow>> {
    Stmt s(db, path_ + ": list devices");
    const std::string sql = std::string(kDeviceSelect) + " ORDER BY d.hostname, d.device_id";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    std::vector<DeviceRow> rows;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      rows.push_back(ReadDeviceRow(s));
    }
    return rows;
  });
}

StatusOr<DeviceRow> SqlStore::GetDevice(const std::string& device_id) {
  return Read([&](Conn* db) -> StatusOr<DeviceRow> {
    Stmt s(db, path_ + ": get device " + device_id);
    const std::string sql = std::string(kDeviceSelect) + " WHERE d.device_id = ?1";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    RETURN_IF_ERROR(s.Bind(1, device_id));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return common::NotFound(path_ + ": no device '" + device_id + "'");
    return ReadDeviceRow(s);
  });
}

StatusOr<std::vector<std::string>> SqlStore::DeviceAddresses(const std::string& device_id) {
  return Read([&](Conn* db) -> StatusOr<std::vector<std::string>> {
    Stmt s(db, path_ + ": addresses of device " + device_id);
    RETURN_IF_ERROR(
        s.Prepare("SELECT address FROM addresses WHERE device_id = ?1 ORDER BY interface_position, "
                  "position"));
    RETURN_IF_ERROR(s.Bind(1, device_id));
    std::vector<std::string> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(s.Text(0));
    }
    return out;
  });
}

StatusOr<std::vector<FileEvidence>> SqlStore::DeviceFiles(const std::string& device_id) {
  return Read([&](Conn* db) -> StatusOr<std::vector<FileEvidence>> {
    Stmt s(db, path_ + ": files of device " + device_id);
    RETURN_IF_ERROR(s.Prepare(
        "SELECT path, size, modified, sha256 FROM files WHERE device_id = ?1 ORDER BY path"));
    RETURN_IF_ERROR(s.Bind(1, device_id));
    std::vector<FileEvidence> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back({s.Text(0), static_cast<uint64_t>(s.Int(1)), s.Int(2), s.Text(3)});
    }
    return out;
  });
}

StatusOr<std::vector<UsageRow>> SqlStore::UsageSummary(const std::string& device_id) {
  return Read([&](Conn* db) -> StatusOr<std::vector<UsageRow>> {
    Stmt s(db, path_ + ": usage summary");
    // Two statements rather than "?1 = '' OR device_id = ?1", which would
    // keep SQLite from using the primary key for one device.
    if (device_id.empty()) {
      RETURN_IF_ERROR(s.Prepare(R"sql(
        SELECT program, COUNT(DISTINCT device_id), SUM(seconds), MAX(last_seen), SUM(launches)
        FROM usage
        GROUP BY program ORDER BY SUM(seconds) DESC, program)sql"));
    } else {
      RETURN_IF_ERROR(s.Prepare(R"sql(
        SELECT program, COUNT(DISTINCT device_id), SUM(seconds), MAX(last_seen), SUM(launches)
        FROM usage WHERE device_id = ?1
        GROUP BY program ORDER BY SUM(seconds) DESC, program)sql"));
      RETURN_IF_ERROR(s.Bind(1, device_id));
    }
    std::vector<UsageRow> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back({s.Text(0), static_cast<uint64_t>(s.Int(1)), s.Int(2), s.Int(3), static_cast<uint64_t>(s.Int(4))});
    }
    return out;
  });
}

StatusOr<std::vector<SoftwareRow>> SqlStore::QuerySoftware(Conn* db, const char* sql,
                                                              const std::string& arg,
                                                              const std::string& what) {
  Stmt s(db, what);
  RETURN_IF_ERROR(s.Prepare(sql));
  RETURN_IF_ERROR(s.Bind(1, arg));
  std::vector<SoftwareRow> rows;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    rows.push_back(SoftwareRow{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4)});
  }
  return rows;
}

Status SqlStore::RequireDevice(Conn* db, const std::string& device_id) {
  Stmt s(db, path_ + ": get device " + device_id);
  RETURN_IF_ERROR(s.Prepare("SELECT 1 FROM devices WHERE device_id = ?1"));
  RETURN_IF_ERROR(s.Bind(1, device_id));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return common::NotFound(path_ + ": no device '" + device_id + "'");
  return Status::Ok();
}

StatusOr<std::vector<SoftwareRow>> SqlStore::DeviceSoftware(const std::string& device_id) {
  return Read([&](Conn* db) -> StatusOr<std::vector<SoftwareRow>> {
    // The existence check and the list must see the same snapshot, or an
    // import committing in between could pair "exists" with another state.
    Transaction snapshot(db, TxnKind::kSnapshot);
    RETURN_IF_ERROR(snapshot.Begin());
    RETURN_IF_ERROR(RequireDevice(db, device_id));
    return QuerySoftware(db, R"sql(
      SELECT p.device_id, d.hostname, v.name, v.version, v.arch
      FROM packages p JOIN package_versions v ON v.id = p.version_id
                      JOIN devices d ON d.device_id = p.device_id
      WHERE p.device_id = ?1
      ORDER BY v.name, v.version, v.arch, v.source)sql",
                         device_id, path_ + ": software of device " + device_id);
  });
}

StatusOr<std::vector<SoftwareRow>> SqlStore::FindSoftware(const std::string& pattern) {
  return Read([&](Conn* db) {
    // Case is ignored by lower-casing both sides: SQLite's LIKE ignores
    // ASCII case and PostgreSQL's does not, and LOWER() is in both.
    return QuerySoftware(db, R"sql(
      SELECT p.device_id, d.hostname, v.name, v.version, v.arch
      FROM package_versions v JOIN packages p ON p.version_id = v.id
                              JOIN devices d ON d.device_id = p.device_id
      WHERE LOWER(v.name) LIKE LOWER(?1) ESCAPE '\'
      ORDER BY v.name, d.hostname, p.device_id, v.version, v.arch)sql",
                         GlobToLike(pattern), path_ + ": find software '" + pattern + "'");
  });
}

StatusOr<std::vector<ChangeRow>> SqlStore::Changes(int64_t since, const std::string& device_id) {
  return Read([&](Conn* db) -> StatusOr<std::vector<ChangeRow>> {
    // Spans that started (current rows and ended spans, not the baseline a
    // device's first report set) and spans that ended, on one snapshot.
    Stmt s(db, path_ + ": changes since " + std::to_string(since));
    RETURN_IF_ERROR(s.Prepare(R"sql(
      SELECT x.device_id, d.hostname, x.at, x.part, x.item_key, x.value, x.added
      FROM (
        SELECT p.device_id, p.first_seen AS at, 'software' AS part,
               v.name || ' ' || v.arch || ' ' || v.source AS item_key, v.version AS value, 1 AS added
          FROM packages p JOIN package_versions v ON v.id = p.version_id
          WHERE p.first_seen >= ?1 AND p.baseline = 0 AND (?2 = '' OR p.device_id = ?2)
        UNION ALL
        SELECT device_id, first_seen, section, item_key, stable, 1
          FROM items WHERE first_seen >= ?1 AND baseline = 0 AND (?2 = '' OR device_id = ?2)
        UNION ALL
        SELECT device_id, first_seen, part, item_key, value, 1
          FROM history WHERE first_seen >= ?1 AND baseline = 0 AND (?2 = '' OR device_id = ?2)
        UNION ALL
        SELECT device_id, gone_at, part, item_key, value, 0
          FROM history WHERE gone_at >= ?1 AND (?2 = '' OR device_id = ?2)
      ) x JOIN devices d ON d.device_id = x.device_id
      ORDER BY x.at, x.device_id, x.part, x.item_key, x.added)sql"));
    RETURN_IF_ERROR(s.Bind(1, since));
    RETURN_IF_ERROR(s.Bind(2, device_id));
    std::vector<ChangeRow> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ChangeRow c{.device_id = s.Text(0), .hostname = s.Text(1), .at = s.Int(2), .part = s.Text(3)};
      // A package's key names its version-less identity; a version change
      // is the end of one span and the start of another at the same time.
      c.key = s.Text(4);
      const bool added = s.Int(6) != 0;
      (added ? c.after : c.before) = s.Text(5);
      c.change = added ? "added" : "removed";
      // Rows are ordered so that a removal comes just before the addition
      // of the same key at the same time: together they are one change.
      if (added && !out.empty()) {
        ChangeRow& prev = out.back();
        if (prev.change == "removed" && prev.device_id == c.device_id && prev.at == c.at &&
            prev.part == c.part && prev.key == c.key) {
          prev.change = "changed";
          prev.after = c.after;
          continue;
        }
      }
      out.push_back(std::move(c));
    }
    return out;
  });
}

}  // namespace inventory::sql

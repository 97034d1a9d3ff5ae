// SqlStore's writes: imports of uploads and check-in batches, each one
// write transaction on the writer connection under write_mu_.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "inventory/store.h"
#include "sql_store.h"
#include "sql.h"

namespace inventory::sql {

using common::Status;
using common::StatusOr;

namespace {

std::string OsDisplayName(const OsInfo& os) {
  if (!os.pretty_name.empty()) return os.pretty_name;
  if (os.name.empty()) return os.version;
  if (os.version.empty()) return os.name;
  return os.name + " " + os.version;
}

// Whether an inventory numbered `incoming` replaces the device's current one
// (numbered `stored`). The device's own counter orders its inventories; its
// clock does not, because a clock can go back. Unnumbered inventories (0, from
// clients older than the counter) fall back to import order, the best that is
// known about them. Once a device has sent a numbered inventory, an
// unnumbered one never replaces it. An equal number is a re-collection the
// store already has (the first import of it stays).
bool Supersedes(bool has_inventory, int64_t stored, int64_t incoming) {
  if (!has_inventory) return true;
  if (incoming == 0 && stored == 0) return true;
  return incoming > stored;
}

}  // namespace

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status ValidateUpload(const UploadInfo& info) {
  if (info.upload_id.empty()) return common::InvalidArgument("upload has no upload id");
  if (info.device_id.empty()) {
    return common::InvalidArgument("upload " + info.upload_id + " has no device id");
  }
  if (info.kind.empty()) {
    return common::InvalidArgument("upload " + info.upload_id + " has no kind");
  }
  return Status::Ok();
}

Status SqlStore::RecordUpload(const UploadInfo& info) {
  const std::string ctx = path_ + ": import upload " + info.upload_id;
  ASSIGN_OR_RETURN(bool exists,
                   HasUploadOn(writer(), ctx + ": look up upload", info.device_id, info.upload_id));
  if (exists) return common::AlreadyExists(ctx + ": already imported for device " + info.device_id);

  // The device row must exist before the upload row references it. first_seen
  // is the earliest contact of any kind (an upload relayed late may be it).
  // via moves with the most recent contact only; an upload relayed late must not make
  // the device look as if it last spoke through an older path.
  Stmt dev(writer(), ctx + ": upsert device " + info.device_id);
  RETURN_IF_ERROR(dev.Prepare(R"sql(
    INSERT INTO devices (device_id, last_seen, via, first_seen) VALUES (?1, ?2, ?3, ?2)
    ON CONFLICT (device_id) DO UPDATE SET
      first_seen = CASE WHEN excluded.first_seen > 0 AND (devices.first_seen = 0 OR
                                                          excluded.first_seen < devices.first_seen)
                        THEN excluded.first_seen ELSE devices.first_seen END,
      via = CASE WHEN excluded.last_seen >= devices.last_seen AND excluded.via <> ''
                 THEN excluded.via ELSE devices.via END,
      last_seen = CASE WHEN excluded.last_seen > devices.last_seen
                       THEN excluded.last_seen ELSE devices.last_seen END)sql"));
  RETURN_IF_ERROR(dev.Bind(1, info.device_id));
  RETURN_IF_ERROR(dev.Bind(2, info.received_at));
  RETURN_IF_ERROR(dev.Bind(3, info.via));
  RETURN_IF_ERROR(dev.Run());

  Stmt up(writer(), ctx + ": insert upload");
  RETURN_IF_ERROR(up.Prepare(R"sql(
    INSERT INTO uploads (device_id, upload_id, kind, sha256, size, received_at, via, imported_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8))sql"));
  RETURN_IF_ERROR(up.Bind(1, info.device_id));
  RETURN_IF_ERROR(up.Bind(2, info.upload_id));
  RETURN_IF_ERROR(up.Bind(3, info.kind));
  RETURN_IF_ERROR(up.Bind(4, info.sha256));
  RETURN_IF_ERROR(up.BindUnsigned(5, info.size));
  RETURN_IF_ERROR(up.Bind(6, info.received_at));
  RETURN_IF_ERROR(up.Bind(7, info.via));
  RETURN_IF_ERROR(up.Bind(8, NowUnix()));
  return up.Run();
}

Status SqlStore::ReplaceDeviceInventory(const UploadInfo& info, const Inventory& inv,
                                           int64_t collected_at) {
  const std::string& id = info.device_id;
  const std::string ctx = path_ + ": import upload " + info.upload_id;

  {
    Stmt s(writer(), ctx + ": update device");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      UPDATE devices SET hostname = ?2, os = ?3, inventory_at = ?4, inventory_upload = ?5,
                         inventory_sequence = ?6
      WHERE device_id = ?1)sql"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, inv.os.hostname));
    RETURN_IF_ERROR(s.Bind(3, OsDisplayName(inv.os)));
    RETURN_IF_ERROR(s.Bind(4, collected_at));
    RETURN_IF_ERROR(s.Bind(5, info.upload_id));
    RETURN_IF_ERROR(s.Bind(6, inv.sequence));
    RETURN_IF_ERROR(s.Run());
  }

  // Children before parents, explicitly: the result must not depend on
  // whether foreign_keys (and so ON DELETE CASCADE) happens to be on.
  for (const char* table :
       {"files", "addresses", "interfaces", "disks", "packages", "hardware", "os"}) {
    Stmt s(writer(), ctx + ": clear " + table);
    const std::string sql = std::string("DELETE FROM ") + table + " WHERE device_id = ?1";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Run());
  }

  {
    const OsInfo& os = inv.os;
    Stmt s(writer(), ctx + ": insert os");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO os (device_id, name, os_id, version, version_id, pretty_name, kernel, arch,
                      hostname)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9))sql"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, os.name));
    RETURN_IF_ERROR(s.Bind(3, os.id));
    RETURN_IF_ERROR(s.Bind(4, os.version));
    RETURN_IF_ERROR(s.Bind(5, os.version_id));
    RETURN_IF_ERROR(s.Bind(6, os.pretty_name));
    RETURN_IF_ERROR(s.Bind(7, os.kernel));
    RETURN_IF_ERROR(s.Bind(8, os.arch));
    RETURN_IF_ERROR(s.Bind(9, os.hostname));
    RETURN_IF_ERROR(s.Run());
  }

  const Hardware& hw = inv.hardware;
  {
    Stmt s(writer(), ctx + ": insert hardware");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO hardware (device_id, vendor, model, serial, cpu_model, cpu_cores, memory_bytes)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, hw.vendor));
    RETURN_IF_ERROR(s.Bind(3, hw.model));
    RETURN_IF_ERROR(s.Bind(4, hw.serial));
    RETURN_IF_ERROR(s.Bind(5, hw.cpu_model));
    RETURN_IF_ERROR(s.Bind(6, static_cast<int64_t>(hw.cpu_cores)));
    RETURN_IF_ERROR(s.BindUnsigned(7, hw.memory_bytes));
    RETURN_IF_ERROR(s.Run());
  }

  {
    Stmt s(writer(), ctx + ": insert disk");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO disks (device_id, position, name, model, size_bytes)
      VALUES (?1, ?2, ?3, ?4, ?5))sql"));
    int64_t pos = 0;
    for (const Disk& d : hw.disks) {
      RETURN_IF_ERROR(s.Bind(1, id));
      RETURN_IF_ERROR(s.Bind(2, pos++));
      RETURN_IF_ERROR(s.Bind(3, d.name));
      RETURN_IF_ERROR(s.Bind(4, d.model));
      RETURN_IF_ERROR(s.BindUnsigned(5, d.size_bytes));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
  }

  {
    Stmt ifs(writer(), ctx + ": insert interface");
    RETURN_IF_ERROR(ifs.Prepare(R"sql(
      INSERT INTO interfaces (device_id, position, name, mac, virtual) VALUES (?1, ?2, ?3, ?4, ?5))sql"));
    Stmt addr(writer(), ctx + ": insert address");
    RETURN_IF_ERROR(addr.Prepare(R"sql(
      INSERT INTO addresses (device_id, interface_position, position, address)
      VALUES (?1, ?2, ?3, ?4))sql"));
    int64_t pos = 0;
    for (const NetInterface& nic : hw.interfaces) {
      RETURN_IF_ERROR(ifs.Bind(1, id));
      RETURN_IF_ERROR(ifs.Bind(2, pos));
      RETURN_IF_ERROR(ifs.Bind(3, nic.name));
      RETURN_IF_ERROR(ifs.Bind(4, nic.mac));
      RETURN_IF_ERROR(ifs.Bind(5, static_cast<int64_t>(nic.is_virtual)));
      RETURN_IF_ERROR(ifs.Run());
      RETURN_IF_ERROR(ifs.Reset());
      int64_t apos = 0;
      for (const std::string& a : nic.addresses) {
        RETURN_IF_ERROR(addr.Bind(1, id));
        RETURN_IF_ERROR(addr.Bind(2, pos));
        RETURN_IF_ERROR(addr.Bind(3, apos++));
        RETURN_IF_ERROR(addr.Bind(4, a));
        RETURN_IF_ERROR(addr.Run());
        RETURN_IF_ERROR(addr.Reset());
      }
      ++pos;
    }
  }

  {
    Stmt s(writer(), ctx + ": insert package");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO packages (device_id, position, name, version, arch, source)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6))sql"));
    int64_t pos = 0;
    for (const Package& p : inv.software) {
      RETURN_IF_ERROR(s.Bind(1, id));
      RETURN_IF_ERROR(s.Bind(2, pos++));
      RETURN_IF_ERROR(s.Bind(3, p.name));
      RETURN_IF_ERROR(s.Bind(4, p.version));
      RETURN_IF_ERROR(s.Bind(5, p.arch));
      RETURN_IF_ERROR(s.Bind(6, p.source));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
  }

  {
    Stmt s(writer(), ctx + ": insert file");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO files (device_id, position, path, size, modified, sha256)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6))sql"));
    int64_t pos = 0;
    for (const FileEvidence& f : inv.files) {
      RETURN_IF_ERROR(s.Bind(1, id));
      RETURN_IF_ERROR(s.Bind(2, pos++));
      RETURN_IF_ERROR(s.Bind(3, f.path));
      RETURN_IF_ERROR(s.Bind(4, static_cast<int64_t>(f.size)));
      RETURN_IF_ERROR(s.Bind(5, f.modified));
      RETURN_IF_ERROR(s.Bind(6, f.sha256));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
  }
  return Status::Ok();
}

Status SqlStore::ImportInventory(const UploadInfo& info, const Inventory& inv) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateUpload(info));
  // The transport authenticated info.device_id; a document naming another
  // device must not overwrite that device's data.
  if (inv.device_id != info.device_id) {
    return common::InvalidArgument("upload " + info.upload_id + ": inventory names device '" +
                                   inv.device_id + "' but was uploaded by '" + info.device_id +
                                   "'");
  }
  if (inv.sequence < 0) {
    return common::InvalidArgument("upload " + info.upload_id + ": inventory sequence " +
                                   std::to_string(inv.sequence) + " is negative");
  }
  // The device's clock is kept for display only; a malformed one still means
  // a malformed document.
  StatusOr<int64_t> collected = common::ParseRfc3339(inv.collected_at);
  if (!collected.ok()) return collected.status().WithContext("upload " + info.upload_id);

  return Write([&](Conn* db) -> Status {
    RETURN_IF_ERROR(RecordUpload(info));

    // Uploads can arrive out of order (relays, retries); the device's own
    // sequence says which inventory is newer (Supersedes).
    bool has_inventory = false;
    int64_t stored_sequence = 0;
    {
      Stmt cur(db, path_ + ": import upload " + info.upload_id + ": read current inventory");
      RETURN_IF_ERROR(
          cur.Prepare("SELECT inventory_sequence, inventory_upload IS NOT NULL FROM devices WHERE "
                      "device_id = ?1"));
      RETURN_IF_ERROR(cur.Bind(1, info.device_id));
      ASSIGN_OR_RETURN(bool found, cur.Step());
      has_inventory = found && cur.Int(1) != 0;
      stored_sequence = found ? cur.Int(0) : 0;
    }
    if (Supersedes(has_inventory, stored_sequence, inv.sequence)) {
      RETURN_IF_ERROR(ReplaceDeviceInventory(info, inv, *collected));
    }
    return Status::Ok();
  });
}

Status SqlStore::ImportBlob(const UploadInfo& info, const std::string& body) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateUpload(info));
  return Write([&](Conn* db) -> Status {
    RETURN_IF_ERROR(RecordUpload(info));
    Stmt s(db, path_ + ": import upload " + info.upload_id + ": insert blob");
    RETURN_IF_ERROR(s.Prepare("INSERT INTO blobs (device_id, upload_id, body) VALUES (?1, ?2, ?3)"));
    RETURN_IF_ERROR(s.Bind(1, info.device_id));
    RETURN_IF_ERROR(s.Bind(2, info.upload_id));
    RETURN_IF_ERROR(s.BindBlob(3, body));
    RETURN_IF_ERROR(s.Run());
    return Status::Ok();
  });
}

Status SqlStore::ImportUsage(const UploadInfo& info, const Usage& usage) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateUpload(info));
  if (usage.device_id != info.device_id) {
    return common::InvalidArgument("usage names device " + usage.device_id +
                                   " but was uploaded by " + info.device_id);
  }
  return Write([&](Conn* db) -> Status {
    RETURN_IF_ERROR(RecordUpload(info));
    Stmt s(db, path_ + ": import upload " + info.upload_id + ": insert usage");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO usage (device_id, upload_id, program, samples, seconds, first_seen, last_seen)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql"));
    for (const ProgramUsage& p : usage.programs) {
      RETURN_IF_ERROR(s.Bind(1, info.device_id));
      RETURN_IF_ERROR(s.Bind(2, info.upload_id));
      RETURN_IF_ERROR(s.Bind(3, p.program));
      RETURN_IF_ERROR(s.Bind(4, static_cast<int64_t>(p.samples)));
      // Each sample stands for one interval of running time.
      RETURN_IF_ERROR(s.Bind(5, static_cast<int64_t>(p.samples) * usage.sample_seconds));
      RETURN_IF_ERROR(s.Bind(6, p.first_seen));
      RETURN_IF_ERROR(s.Bind(7, p.last_seen));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
    return Status::Ok();
  });
}

Status SqlStore::RecordCheckins(const std::vector<Checkin>& checkins) {
  RETURN_IF_ERROR(WritableOrError());
  // Validate the whole batch first: it is applied entirely or not at all.
  for (size_t i = 0; i < checkins.size(); ++i) {
    if (checkins[i].device_id.empty()) {
      return common::InvalidArgument("check-in " + std::to_string(i) + " has no device id");
    }
  }
  if (checkins.empty()) return Status::Ok();

  return Write([&](Conn* db) -> Status {
    // last_seen covers every contact (check-ins and uploads); checkin_at is the
    // time of the check-in whose client state (version, revision, outbox,
    // check interval) is stored, so a late batch can neither move last_seen
    // back nor replace newer client state with older. first_seen is the
    // earliest contact: a late batch may move it back, to the truth. A check-in
    // that does not tell its interval (0) keeps the one known.
    Stmt s(db, path_ + ": record check-ins");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO devices (device_id, last_seen, via, checkin_at, client_version, policy_revision,
                           outbox_depth, peer, first_seen, check_interval)
      VALUES (?1, ?2, ?3, ?2, ?4, ?5, ?6, ?7, ?2, ?8)
      ON CONFLICT (device_id) DO UPDATE SET
        via = CASE WHEN excluded.last_seen >= devices.last_seen AND excluded.via <> ''
                   THEN excluded.via ELSE devices.via END,
        last_seen = CASE WHEN excluded.last_seen > devices.last_seen
                         THEN excluded.last_seen ELSE devices.last_seen END,
        first_seen = CASE WHEN excluded.first_seen > 0 AND (devices.first_seen = 0 OR
                                                            excluded.first_seen < devices.first_seen)
                          THEN excluded.first_seen ELSE devices.first_seen END,
        client_version = CASE WHEN excluded.checkin_at >= devices.checkin_at
                              THEN excluded.client_version ELSE devices.client_version END,
        policy_revision = CASE WHEN excluded.checkin_at >= devices.checkin_at
                               THEN excluded.policy_revision ELSE devices.policy_revision END,
        outbox_depth = CASE WHEN excluded.checkin_at >= devices.checkin_at
                            THEN excluded.outbox_depth ELSE devices.outbox_depth END,
        peer = CASE WHEN excluded.checkin_at >= devices.checkin_at
                    THEN excluded.peer ELSE devices.peer END,
        check_interval = CASE WHEN excluded.check_interval > 0 AND
                                   excluded.checkin_at >= devices.checkin_at
                              THEN excluded.check_interval ELSE devices.check_interval END,
        checkin_at = CASE WHEN excluded.checkin_at > devices.checkin_at
                          THEN excluded.checkin_at ELSE devices.checkin_at END)sql"));
    // The beacons a device's check-ins came through, each with its newest time.
    Stmt via(db, path_ + ": record check-in paths");
    RETURN_IF_ERROR(via.Prepare(R"sql(
      INSERT INTO device_vias (device_id, via, last_seen) VALUES (?1, ?2, ?3)
      ON CONFLICT (device_id, via) DO UPDATE SET
        last_seen = CASE WHEN excluded.last_seen > device_vias.last_seen
                         THEN excluded.last_seen ELSE device_vias.last_seen END)sql"));
    for (const Checkin& c : checkins) {
      RETURN_IF_ERROR(s.Bind(1, c.device_id));
      RETURN_IF_ERROR(s.Bind(2, c.seen_at));
      RETURN_IF_ERROR(s.Bind(3, c.via));
      RETURN_IF_ERROR(s.Bind(4, c.client_version));
      RETURN_IF_ERROR(s.Bind(5, c.policy_revision));
      RETURN_IF_ERROR(s.Bind(6, c.outbox_depth));
      RETURN_IF_ERROR(s.Bind(7, c.peer));
      RETURN_IF_ERROR(s.Bind(8, c.check_interval > 0 ? c.check_interval : int64_t{0}));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
      if (c.via.empty()) continue;
      RETURN_IF_ERROR(via.Bind(1, c.device_id));
      RETURN_IF_ERROR(via.Bind(2, c.via));
      RETURN_IF_ERROR(via.Bind(3, c.seen_at));
      RETURN_IF_ERROR(via.Run());
      RETURN_IF_ERROR(via.Reset());
    }
    return Status::Ok();
  });
}

}  // namespace inventory::sql

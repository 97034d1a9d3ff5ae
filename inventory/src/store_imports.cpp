// SqlStore's writes: imports of uploads and check-in batches, each one
// write transaction on the writer connection under write_mu_.
#include <map>
#include <algorithm>
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
  // The device row first, in every write that touches a device: it is the
  // one lock order (docs/store.md "Concurrency"), and the upload row
  // references it. first_seen is the earliest contact of any kind (an upload
  // relayed late may be it). via moves with the most recent contact only; an
  // upload relayed late must not make the device look as if it last spoke
  // through an older path.
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

  // The unique key (device_id, upload_id) decides exactly-once: the claim
  // inserts a row or changes none. When two importers race for one key, the
  // second waits for the first and then changes nothing (or, serializable,
  // fails and is retried, and then changes nothing); either way it returns
  // AlreadyExists and its transaction is rolled back.
  Stmt up(writer(), ctx + ": insert upload");
  RETURN_IF_ERROR(up.Prepare(R"sql(
    INSERT INTO uploads (device_id, upload_id, kind, sha256, size, received_at, via, imported_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
    ON CONFLICT (device_id, upload_id) DO NOTHING)sql"));
  RETURN_IF_ERROR(up.Bind(1, info.device_id));
  RETURN_IF_ERROR(up.Bind(2, info.upload_id));
  RETURN_IF_ERROR(up.Bind(3, info.kind));
  RETURN_IF_ERROR(up.Bind(4, info.sha256));
  RETURN_IF_ERROR(up.BindUnsigned(5, info.size));
  RETURN_IF_ERROR(up.Bind(6, info.received_at));
  RETURN_IF_ERROR(up.Bind(7, info.via));
  RETURN_IF_ERROR(up.Bind(8, NowUnix()));
  RETURN_IF_ERROR(up.Run());
  if (up.Changes() == 0) {
    return common::AlreadyExists(ctx + ": already imported for device " + info.device_id);
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
          cur.Prepare("SELECT inventory_sequence, CASE WHEN inventory_upload IS NULL THEN 0 "
                      "ELSE 1 END FROM devices WHERE device_id = ?1"));
      RETURN_IF_ERROR(cur.Bind(1, info.device_id));
      ASSIGN_OR_RETURN(bool found, cur.Step());
      has_inventory = found && cur.Int(1) != 0;
      stored_sequence = found ? cur.Int(0) : 0;
    }
    // A delta applies only on top of the inventory it was made against; one
    // that cannot is recorded as an upload and changes nothing (the
    // importer then asks the device for a full inventory).
    const bool applicable = inv.base == 0 || (has_inventory && stored_sequence == inv.base);
    if (applicable && Supersedes(has_inventory, stored_sequence, inv.sequence)) {
      RETURN_IF_ERROR(ApplyInventory(info, inv, *collected));
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
      INSERT INTO usage (device_id, upload_id, program, day, samples, seconds, first_seen, last_seen,
                         launches, users)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10))sql"));
    for (const ProgramUsage& p : usage.programs) {
      std::string users;
      for (const std::string& u : p.users) users += (users.empty() ? "" : ",") + u;
      RETURN_IF_ERROR(s.Bind(1, info.device_id));
      RETURN_IF_ERROR(s.Bind(2, info.upload_id));
      RETURN_IF_ERROR(s.Bind(3, p.program));
      RETURN_IF_ERROR(s.Bind(4, p.day));
      RETURN_IF_ERROR(s.Bind(5, static_cast<int64_t>(p.samples)));
      // Run time from start times; an older client's entry (no day) has
      // only its samples, each standing for one interval.
      RETURN_IF_ERROR(s.Bind(6, p.day.empty() ? static_cast<int64_t>(p.samples) * usage.sample_seconds
                                              : p.run_seconds));
      RETURN_IF_ERROR(s.Bind(7, p.first_seen));
      RETURN_IF_ERROR(s.Bind(8, p.last_seen));
      RETURN_IF_ERROR(s.BindUnsigned(9, p.launches));
      RETURN_IF_ERROR(s.Bind(10, users));
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
  // Rows are locked in device id order, the same in every writer, so two
  // centrals storing overlapping batches cannot deadlock. A device's
  // check-ins keep their order (the SQL keeps the newest anyway). Every
  // statement merges into the row as committed (the newest of each value),
  // so the batch is a merge transaction (sql.h): it waits for rows other
  // centrals are importing and goes on, where a serializable one would have
  // to start again after each of their commits.
  std::vector<const Checkin*> ordered;
  ordered.reserve(checkins.size());
  for (const Checkin& c : checkins) ordered.push_back(&c);
  std::stable_sort(ordered.begin(), ordered.end(), [](const Checkin* a, const Checkin* b) {
    return a->device_id < b->device_id;
  });

  return Write(TxnKind::kMerge, [&](Conn* db) -> Status {
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
    for (const Checkin* cp : ordered) {
      const Checkin& c = *cp;
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
    // The estate's history counts check-ins per minute of the beacons'
    // clocks (estate.h EstateSample), however late a batch arrives; buckets
    // in order, as the devices above.
    std::map<int64_t, int64_t> minutes;
    for (const Checkin& c : checkins) ++minutes[c.seen_at - c.seen_at % kCheckinBucket];
    Stmt count(db, path_ + ": count check-ins");
    RETURN_IF_ERROR(count.Prepare(R"sql(
      INSERT INTO estate_history (at, series, value) VALUES (?1, 'checkins', ?2)
      ON CONFLICT (at, series) DO UPDATE SET value = estate_history.value + excluded.value)sql"));
    for (const auto& [at, n] : minutes) {
      RETURN_IF_ERROR(count.Bind(1, at));
      RETURN_IF_ERROR(count.Bind(2, n));
      RETURN_IF_ERROR(count.Run());
      RETURN_IF_ERROR(count.Reset());
    }
    return Status::Ok();
  });
}

}  // namespace inventory::sql

// SqlStore's action writes (inventory/estate.h, docs/store.md "Action
// rules"): each one write transaction on the writer connection under
// write_mu_. The state machine:
//
//   pending --served in a manifest--> delivered
//   pending | delivered --result--> done | failed
//   pending | delivered --cancel--> cancelled
//   pending | delivered --past expires_at (sweep)--> expired --result--> done | failed
//   done | failed | expired | cancelled --finished before purge_before (sweep)--> deleted
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"
#include "inventory/action.h"
#include "inventory/estate.h"
#include "inventory/store.h"
#include "store_estate_rows.h"
#include "sql_store.h"
#include "sql.h"

namespace inventory::sql {

using common::Status;
using common::StatusOr;

namespace {

Status ValidateAction(const ActionRow& a) {
  const std::string what = "action '" + a.id + "'";
  if (a.id.empty()) return common::InvalidArgument("action has no id");
  if (!common::protocol::IsActionKind(a.kind)) {
    return common::InvalidArgument(what + ": unknown kind '" + a.kind + "'");
  }
  if (a.device_id.empty()) return common::InvalidArgument(what + ": names no device");
  if (a.expires_at <= a.created_at) {
    return common::InvalidArgument(what + ": expires at " + std::to_string(a.expires_at) +
                                   ", not after its creation at " + std::to_string(a.created_at));
  }
  return Status::Ok();
}

}  // namespace

Status SqlStore::CreateActions(const std::vector<ActionRow>& rows) {
  RETURN_IF_ERROR(WritableOrError());
  std::set<std::string> ids;
  for (const ActionRow& a : rows) {
    RETURN_IF_ERROR(ValidateAction(a));
    if (!ids.insert(a.id).second) {
      return common::AlreadyExists("create actions: id '" + a.id + "' given twice");
    }
  }
  if (rows.empty()) return Status::Ok();
  return Write([&](Conn* db) -> Status {
    const std::string ctx = path_ + ": create actions";
    Stmt s(db, ctx + ": insert action");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO actions (id, kind, device_id, group_name, created_at, expires_at, state)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending'))sql"));
    for (const ActionRow& a : rows) {
      // An explicit lookup, so a taken id is AlreadyExists (a constraint
      // failure maps to Internal); the transaction then rolls every row back.
      ASSIGN_OR_RETURN(std::optional<ActionRow> taken, FindAction(db, ctx, a.id));
      if (taken.has_value()) return common::AlreadyExists(ctx + ": id '" + a.id + "' is in use");
      RETURN_IF_ERROR(s.Bind(1, a.id));
      RETURN_IF_ERROR(s.Bind(2, a.kind));
      RETURN_IF_ERROR(s.Bind(3, a.device_id));
      RETURN_IF_ERROR(s.Bind(4, a.group));
      RETURN_IF_ERROR(s.Bind(5, a.created_at));
      RETURN_IF_ERROR(s.Bind(6, a.expires_at));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
    return Status::Ok();
  });
}

StatusOr<ActionRow> SqlStore::CancelAction(const std::string& id, int64_t now) {
  RETURN_IF_ERROR(WritableOrError());
  return Write([&](Conn* db) -> StatusOr<ActionRow> {
    const std::string ctx = path_ + ": cancel action " + id;
    ASSIGN_OR_RETURN(std::optional<ActionRow> a, FindAction(db, ctx, id));
    if (!a.has_value()) return common::NotFound(ctx + ": no such action");
    if (a->state != "pending" && a->state != "delivered") {
      return common::FailedPrecondition(ctx + ": it is " + a->state +
                                        "; only a pending or delivered action can be cancelled");
    }
    a->state = "cancelled";
    a->finished_at = now;
    a->result = "cancelled by an administrator";
    Stmt s(db, ctx + ": update");
    RETURN_IF_ERROR(
        s.Prepare("UPDATE actions SET state = ?2, finished_at = ?3, result = ?4 WHERE id = ?1"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, a->state));
    RETURN_IF_ERROR(s.Bind(3, a->finished_at));
    RETURN_IF_ERROR(s.Bind(4, a->result));
    RETURN_IF_ERROR(s.Run());
    return *std::move(a);
  });
}

Status SqlStore::MarkActionsDelivered(const std::string& device_id,
                                         const std::vector<std::string>& ids, int64_t now) {
  RETURN_IF_ERROR(WritableOrError());
  if (ids.empty()) return Status::Ok();
  return Write([&](Conn* db) -> Status {
    // Only this device's pending actions: a manifest served twice keeps the
    // first delivery time, and an id of another device changes nothing.
    Stmt s(db, path_ + ": mark actions delivered to " + device_id);
    RETURN_IF_ERROR(s.Prepare(R"sql(
      UPDATE actions SET state = 'delivered', delivered_at = ?3
      WHERE id = ?1 AND device_id = ?2 AND state = 'pending')sql"));
    for (const std::string& id : ids) {
      RETURN_IF_ERROR(s.Bind(1, id));
      RETURN_IF_ERROR(s.Bind(2, device_id));
      RETURN_IF_ERROR(s.Bind(3, now));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
    return Status::Ok();
  });
}

Status SqlStore::ImportActionResult(const UploadInfo& info, const ActionResult& result) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateUpload(info));
  const std::string what = "upload " + info.upload_id;
  if (result.device_id != info.device_id) {
    return common::InvalidArgument(what + ": action result names device '" + result.device_id +
                                   "' but was uploaded by '" + info.device_id + "'");
  }
  if (result.action_id.empty()) return common::InvalidArgument(what + ": action result names no action");
  return Write([&](Conn* db) -> Status {
    RETURN_IF_ERROR(RecordUpload(info));
    const std::string ctx = path_ + ": import " + what + ": action " + result.action_id;
    ASSIGN_OR_RETURN(std::optional<ActionRow> a, FindAction(db, ctx, result.action_id));
    // An unknown id, another device's action, or one cancelled or already
    // finished: the result is kept as an upload only. An expired action still
    // takes it: the device ran it before it learnt of the expiry.
    const bool takes = a.has_value() && a->device_id == info.device_id &&
                       (a->state == "pending" || a->state == "delivered" || a->state == "expired");
    if (takes) {
      Stmt s(db, ctx + ": record result");
      // finished_at is the central's time of the result (the first beacon's),
      // not the device's clock.
      RETURN_IF_ERROR(s.Prepare(R"sql(
        UPDATE actions SET state = ?2, finished_at = ?3, result = ?4,
                           delivered_at = CASE WHEN delivered_at = 0 THEN ?3 ELSE delivered_at END
        WHERE id = ?1)sql"));
      RETURN_IF_ERROR(s.Bind(1, result.action_id));
      RETURN_IF_ERROR(s.Bind(2, result.ok ? "done" : "failed"));
      RETURN_IF_ERROR(s.Bind(3, info.received_at));
      RETURN_IF_ERROR(s.Bind(4, result.text));
      RETURN_IF_ERROR(s.Run());
    }
    return Status::Ok();
  });
}

StatusOr<std::pair<int64_t, int64_t>> SqlStore::SweepActions(int64_t now, int64_t purge_before) {
  RETURN_IF_ERROR(WritableOrError());
  return Write([&](Conn* db) -> StatusOr<std::pair<int64_t, int64_t>> {
    const std::string ctx = path_ + ": sweep actions";
    int64_t expired = 0;
    int64_t purged = 0;
    {
      Stmt s(db, ctx + ": expire");
      RETURN_IF_ERROR(s.Prepare(R"sql(
        UPDATE actions SET
          result = CASE WHEN state = 'pending' THEN 'expired before the device asked for it'
                        ELSE 'expired: delivered, no result came back' END,
          state = 'expired', finished_at = ?1
        WHERE state IN ('pending', 'delivered') AND expires_at <= ?1)sql"));
      RETURN_IF_ERROR(s.Bind(1, now));
      RETURN_IF_ERROR(s.Run());
      expired = s.Changes();
    }
    {
      Stmt s(db, ctx + ": purge");
      RETURN_IF_ERROR(s.Prepare(R"sql(
        DELETE FROM actions
        WHERE state IN ('done', 'failed', 'expired', 'cancelled') AND finished_at < ?1)sql"));
      RETURN_IF_ERROR(s.Bind(1, purge_before));
      RETURN_IF_ERROR(s.Run());
      purged = s.Changes();
    }
    return std::make_pair(expired, purged);
  });
}

}  // namespace inventory::sql

// The estate tables' rows as SqlStore reads them, shared by its writes
// (sqlite_estate.cpp, sqlite_actions.cpp, which read before they decide)
// and its queries (sqlite_estate_queries.cpp).
#pragma once


#include <optional>
#include <string>

#include "common/status.h"
#include "inventory/estate.h"
#include "inventory/health.h"
#include "sql.h"

namespace inventory::sql {

// The stored spellings of a health message's type and source kind. (The
// document's own names live with its parser; the store keeps its own, so a
// rename there cannot silently change what is stored.)
inline const char* StoredType(HealthType t) { return t == HealthType::kError ? "error" : "warning"; }
inline HealthType TypeFromStored(const std::string& s) {
  return s == "error" ? HealthType::kError : HealthType::kWarning;
}
inline const char* StoredSourceKind(HealthSource s) {
  return s == HealthSource::kDevice ? "device" : "beacon";
}

inline bool IsActionState(const std::string& s) {
  return s == "pending" || s == "delivered" || s == "done" || s == "failed" || s == "expired" ||
         s == "cancelled";
}

inline constexpr const char* kActionColumns =
    "id, kind, device_id, group_name, created_at, expires_at, state, delivered_at, finished_at, "
    "result";

inline ActionRow ReadAction(const Stmt& s) {
  ActionRow a;
  a.id = s.Text(0);
  a.kind = s.Text(1);
  a.device_id = s.Text(2);
  a.group = s.Text(3);
  a.created_at = s.Int(4);
  a.expires_at = s.Int(5);
  a.state = s.Text(6);
  a.delivered_at = s.Int(7);
  a.finished_at = s.Int(8);
  a.result = s.Text(9);
  return a;
}

inline common::StatusOr<std::optional<ActionRow>> FindAction(Conn* db, const std::string& ctx,
                                                             const std::string& id) {
  Stmt s(db, ctx + ": look up action");
  const std::string sql = std::string("SELECT ") + kActionColumns + " FROM actions WHERE id = ?1";
  RETURN_IF_ERROR(s.Prepare(sql.c_str()));
  RETURN_IF_ERROR(s.Bind(1, id));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<ActionRow>();
  return std::optional<ActionRow>(ReadAction(s));
}

}  // namespace inventory::sql

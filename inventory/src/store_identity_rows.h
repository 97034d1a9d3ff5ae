// The identity tables' rows as SqlStore reads them, shared by its writes
// (sqlite_identity.cpp, which read before they decide) and its queries
// (sqlite_identity_queries.cpp).
#pragma once


#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "inventory/identity_store.h"
#include "sql.h"

namespace inventory::sql {

using common::Status;
using common::StatusOr;

inline bool IsState(const std::string& s) {
  return s == "pending" || s == "issued" || s == "refused" || s == "denied";
}

inline bool IsCertKind(const std::string& k) { return k == "device" || k == "beacon"; }

inline constexpr const char* kEnrollmentColumns =
    "device_id, request_id, kind, state, reason, host, key_sha256, secret_id, via, received_at, "
    "decided_at, COALESCE(serial, ''), cert_pem, csr_pem";

inline Enrollment ReadEnrollment(const Stmt& s) {
  Enrollment e;
  e.device_id = s.Text(0);
  e.request_id = s.Text(1);
  e.kind = s.Text(2);
  e.state = s.Text(3);
  e.reason = s.Text(4);
  e.host = s.Text(5);
  e.key_sha256 = s.Text(6);
  e.secret_id = s.Text(7);
  e.via = s.Text(8);
  e.received_at = s.Int(9);
  e.decided_at = s.Int(10);
  e.serial = s.Text(11);
  e.cert_pem = s.Text(12);
  e.csr_pem = s.Text(13);
  return e;
}

inline constexpr const char* kCertColumns =
    "serial, kind, subject, key_sha256, issuer_sha256, issued_at, not_after, revoked_at";

inline IssuedCertRow ReadCert(const Stmt& s) {
  return IssuedCertRow{s.Text(0), s.Text(1), s.Text(2), s.Text(3),
                       s.Text(4), s.Int(5),  s.Int(6),  s.Int(7)};
}

inline constexpr const char* kDeviceKeyColumns =
    "device_id, key_sha256, enrolled_at, revoked_at, clone_reports, clone_last_at, "
    "clone_key_sha256";

inline DeviceKeyRow ReadDeviceKey(const Stmt& s) {
  return DeviceKeyRow{s.Text(0), s.Text(1), s.Int(2), s.Int(3), s.Int(4), s.Int(5), s.Text(6)};
}

// Steps `s` to the end, reading each row with `read`.
template <typename Row, typename ReadFn>
StatusOr<std::vector<Row>> ReadAll(Stmt& s, ReadFn read) {
  std::vector<Row> rows;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    rows.push_back(read(s));
  }
  return rows;
}

inline StatusOr<std::optional<Enrollment>> FindEnrollment(Conn* db, const std::string& ctx,
                                                   const std::string& device_id,
                                                   const std::string& request_id) {
  Stmt s(db, ctx + ": look up request");
  const std::string sql = std::string("SELECT ") + kEnrollmentColumns +
                          " FROM enrollments WHERE device_id = ?1 AND request_id = ?2";
  RETURN_IF_ERROR(s.Prepare(sql.c_str()));
  RETURN_IF_ERROR(s.Bind(1, device_id));
  RETURN_IF_ERROR(s.Bind(2, request_id));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<Enrollment>();
  return std::optional<Enrollment>(ReadEnrollment(s));
}

inline StatusOr<std::optional<DeviceKeyRow>> FindDeviceKey(Conn* db, const std::string& ctx,
                                                    const std::string& device_id) {
  Stmt s(db, ctx + ": look up device key");
  const std::string sql =
      std::string("SELECT ") + kDeviceKeyColumns + " FROM device_keys WHERE device_id = ?1";
  RETURN_IF_ERROR(s.Prepare(sql.c_str()));
  RETURN_IF_ERROR(s.Bind(1, device_id));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<DeviceKeyRow>();
  return std::optional<DeviceKeyRow>(ReadDeviceKey(s));
}

}  // namespace inventory::sql

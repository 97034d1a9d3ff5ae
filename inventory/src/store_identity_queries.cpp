// SqlStore's identity queries (inventory/identity_store.h): the reader
// pool, as the other queries; never the writer's lock.
#include <optional>
#include <string>
#include <vector>

#include "store_identity_rows.h"
#include "sql_store.h"

namespace inventory::sql {

StatusOr<std::vector<EnrollSecret>> SqlStore::ListEnrollSecrets() {
  return Read([&](Conn* db) -> StatusOr<std::vector<EnrollSecret>> {
    Stmt s(db, path_ + ": list enrollment secrets");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      SELECT id, label, created_at, expires_at, max_uses, uses, revoked_at
      FROM enroll_secrets ORDER BY created_at, id)sql"));
    return ReadAll<EnrollSecret>(s, [](const Stmt& r) {
      return EnrollSecret{r.Text(0), r.Text(1), r.Int(2), r.Int(3), r.Int(4), r.Int(5), r.Int(6)};
    });
  });
}

StatusOr<Enrollment> SqlStore::GetEnrollment(const std::string& device_id,
                                                const std::string& request_id) {
  return Read([&](Conn* db) -> StatusOr<Enrollment> {
    const std::string ctx = path_ + ": request " + request_id + " of device " + device_id;
    ASSIGN_OR_RETURN(std::optional<Enrollment> e, FindEnrollment(db, ctx, device_id, request_id));
    if (!e.has_value()) return common::NotFound(ctx + ": never received");
    return *std::move(e);
  });
}

StatusOr<std::vector<Enrollment>> SqlStore::ListEnrollments(const std::string& state) {
  if (!state.empty() && !IsState(state)) {
    return common::InvalidArgument("list enrollments: unknown state '" + state + "'");
  }
  return Read([&](Conn* db) -> StatusOr<std::vector<Enrollment>> {
    Stmt s(db, path_ + ": list enrollments");
    // Two statements rather than "?1 = '' OR state = ?1", which would keep
    // SQLite from using enrollments_by_state.
    const std::string sql = std::string("SELECT ") + kEnrollmentColumns + " FROM enrollments" +
                            (state.empty() ? "" : " WHERE state = ?1") +
                            " ORDER BY received_at DESC, device_id, request_id";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    if (!state.empty()) RETURN_IF_ERROR(s.Bind(1, state));
    return ReadAll<Enrollment>(s, ReadEnrollment);
  });
}

StatusOr<std::vector<IssuedCertRow>> SqlStore::ListCertificates() {
  return Read([&](Conn* db) -> StatusOr<std::vector<IssuedCertRow>> {
    Stmt s(db, path_ + ": list certificates");
    const std::string sql = std::string("SELECT ") + kCertColumns +
                            " FROM certificates ORDER BY kind, subject, issued_at, serial";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    return ReadAll<IssuedCertRow>(s, ReadCert);
  });
}

StatusOr<std::vector<IssuedCertRow>> SqlStore::RevokedCertificates(
    const std::string& issuer_sha256, int64_t now) {
  return Read([&](Conn* db) -> StatusOr<std::vector<IssuedCertRow>> {
    Stmt s(db, path_ + ": revoked certificates of issuer " + issuer_sha256);
    // An expired certificate is refused anyway; a CRL need not list it.
    const std::string sql = std::string("SELECT ") + kCertColumns + R"sql(
      FROM certificates
      WHERE issuer_sha256 = ?1 AND revoked_at <> 0 AND not_after > ?2
      ORDER BY serial)sql";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    RETURN_IF_ERROR(s.Bind(1, issuer_sha256));
    RETURN_IF_ERROR(s.Bind(2, now));
    return ReadAll<IssuedCertRow>(s, ReadCert);
  });
}

StatusOr<std::vector<IssuedCertRow>> SqlStore::OnlyFromIssuer(const std::string& issuer_sha256,
                                                                 int64_t now) {
  return Read([&](Conn* db) -> StatusOr<std::vector<IssuedCertRow>> {
    Stmt s(db, path_ + ": certificates only from issuer " + issuer_sha256);
    const std::string sql = std::string("SELECT ") + kCertColumns + R"sql(
      FROM certificates c
      WHERE c.issuer_sha256 = ?1 AND c.revoked_at = 0 AND c.not_after > ?2
        AND NOT EXISTS (
          SELECT 1 FROM certificates o
          WHERE o.kind = c.kind AND o.subject = c.subject AND o.issuer_sha256 <> ?1
            AND o.revoked_at = 0 AND o.not_after > ?2)
      ORDER BY c.kind, c.subject, c.serial)sql";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    RETURN_IF_ERROR(s.Bind(1, issuer_sha256));
    RETURN_IF_ERROR(s.Bind(2, now));
    return ReadAll<IssuedCertRow>(s, ReadCert);
  });
}

StatusOr<DeviceKeyRow> SqlStore::GetDeviceKey(const std::string& device_id) {
  return Read([&](Conn* db) -> StatusOr<DeviceKeyRow> {
    const std::string ctx = path_ + ": device key of " + device_id;
    ASSIGN_OR_RETURN(std::optional<DeviceKeyRow> key, FindDeviceKey(db, ctx, device_id));
    if (!key.has_value()) return common::NotFound(ctx + ": never enrolled");
    return *std::move(key);
  });
}

StatusOr<std::vector<DeviceKeyRow>> SqlStore::ListClones() {
  return Read([&](Conn* db) -> StatusOr<std::vector<DeviceKeyRow>> {
    Stmt s(db, path_ + ": list suspected clones");
    const std::string sql = std::string("SELECT ") + kDeviceKeyColumns +
                            " FROM device_keys WHERE clone_reports > 0"
                            " ORDER BY clone_last_at DESC, device_id";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    return ReadAll<DeviceKeyRow>(s, ReadDeviceKey);
  });
}

}  // namespace inventory::sql

// SqlStore's identity records (inventory/identity_store.h, docs/identity.md,
// tables in docs/store.md). Writes run like the imports: one BEGIN IMMEDIATE
// transaction on the writer connection under write_mu_, so the rules of an
// enrollment decision (secret, expiry, use count, revocation, clones) are
// read and applied with the records they change, also when two centrals share
// the file. Reads run on the reader pool like the other queries.
#include <openssl/crypto.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sha256.h"
#include "common/status.h"
#include "inventory/identity_store.h"
#include "store_identity_rows.h"
#include "sql_store.h"
#include "sql.h"

namespace inventory::sql {

using common::Status;
using common::StatusOr;

namespace {

// The reasons a device is sent (docs/identity.md "Enrollment"); the client
// shows them as they are, so they are part of the protocol.
constexpr char kUnknownSecret[] = "unknown enrollment secret";
constexpr char kSecretRevoked[] = "enrollment secret revoked";
constexpr char kSecretExpired[] = "enrollment secret expired";
constexpr char kSecretUsedUp[] = "enrollment secret used up";
constexpr char kSecretRequired[] = "an enrollment secret is required";
constexpr char kDeviceRevoked[] = "device revoked";
constexpr char kClone[] = "device id already enrolled with another key";
constexpr char kNotEnrolled[] = "device is not enrolled";
constexpr char kDenied[] = "denied by an administrator";

bool IsSecretId(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// The id part of "<id>.<random>", or "" if the text is not of that form. Only
// a well-formed id is ever stored with a request: a secret sent without its
// dot would otherwise be stored whole.
std::string SecretIdOf(const std::string& secret) {
  const size_t dot = secret.find('.');
  if (dot == std::string::npos) return std::string();
  std::string id = secret.substr(0, dot);
  return IsSecretId(id) ? id : std::string();
}


// The refusal reason for `secret`, or "" if it may be used now. The digest
// comparison takes the same time wherever the digests differ, so the stored
// digest cannot be found byte by byte; an unknown id and a wrong secret get
// the same answer.
StatusOr<std::string> CheckSecret(Conn* db, const std::string& ctx, const std::string& secret,
                                  int64_t now) {
  const std::string id = SecretIdOf(secret);
  if (id.empty()) return std::string(kUnknownSecret);
  Stmt s(db, ctx + ": look up enrollment secret");
  RETURN_IF_ERROR(s.Prepare(
      "SELECT sha256, expires_at, max_uses, uses, revoked_at FROM enroll_secrets WHERE id = ?1"));
  RETURN_IF_ERROR(s.Bind(1, id));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::string(kUnknownSecret);
  const std::string stored = s.Text(0);
  const std::string digest = common::Sha256Hex(secret);
  if (stored.size() != digest.size() ||
      CRYPTO_memcmp(stored.data(), digest.data(), digest.size()) != 0) {
    return std::string(kUnknownSecret);
  }
  const int64_t expires_at = s.Int(1), max_uses = s.Int(2), uses = s.Int(3), revoked_at = s.Int(4);
  if (revoked_at != 0) return std::string(kSecretRevoked);
  if (expires_at != 0 && now >= expires_at) return std::string(kSecretExpired);
  if (max_uses != 0 && uses >= max_uses) return std::string(kSecretUsedUp);
  return std::string();
}

void Decide(Enrollment& e, const char* state, const std::string& reason, int64_t now) {
  e.state = state;
  e.reason = reason;
  e.decided_at = state == std::string_view("pending") ? 0 : now;
}

// The rules about the device id that no secret and no administrator
// overrides, after revocation: an enrollment for an id held by another,
// unrevoked key is a suspected clone, counted on the device (the refusal is
// the report, so the caller commits it); a renewal needs an enrollment.
// Returns true if `e` was refused.
StatusOr<bool> RefuseForDeviceKey(Conn* db, const std::string& ctx, Enrollment& e,
                                  const std::optional<DeviceKeyRow>& key, int64_t now) {
  if (e.kind == "renew") {
    if (key.has_value()) return false;
    Decide(e, "refused", kNotEnrolled, now);
    return true;
  }
  if (!key.has_value() || key->revoked_at != 0 || key->key_sha256 == e.key_sha256) return false;
  Stmt s(db, ctx + ": count clone report");
  RETURN_IF_ERROR(s.Prepare(R"sql(
    UPDATE device_keys SET clone_reports = clone_reports + 1, clone_last_at = ?2,
                           clone_key_sha256 = ?3
    WHERE device_id = ?1)sql"));
  RETURN_IF_ERROR(s.Bind(1, e.device_id));
  RETURN_IF_ERROR(s.Bind(2, now));
  RETURN_IF_ERROR(s.Bind(3, e.key_sha256));
  RETURN_IF_ERROR(s.Run());
  Decide(e, "refused", kClone, now);
  return true;
}

// AlreadyExists for a serial recorded before.
Status InsertCertificate(Conn* db, const std::string& ctx, const IssuedCertRow& row) {
  {
    Stmt s(db, ctx + ": look up certificate " + row.serial);
    RETURN_IF_ERROR(s.Prepare("SELECT 1 FROM certificates WHERE serial = ?1"));
    RETURN_IF_ERROR(s.Bind(1, row.serial));
    ASSIGN_OR_RETURN(bool found, s.Step());
    if (found) return common::AlreadyExists(ctx + ": certificate " + row.serial + " is recorded");
  }
  Stmt s(db, ctx + ": record certificate " + row.serial);
  RETURN_IF_ERROR(s.Prepare(R"sql(
    INSERT INTO certificates (serial, kind, subject, key_sha256, issuer_sha256, issued_at,
                              not_after, revoked_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8))sql"));
  RETURN_IF_ERROR(s.Bind(1, row.serial));
  RETURN_IF_ERROR(s.Bind(2, row.kind));
  RETURN_IF_ERROR(s.Bind(3, row.subject));
  RETURN_IF_ERROR(s.Bind(4, row.key_sha256));
  RETURN_IF_ERROR(s.Bind(5, row.issuer_sha256));
  RETURN_IF_ERROR(s.Bind(6, row.issued_at));
  RETURN_IF_ERROR(s.Bind(7, row.not_after));
  RETURN_IF_ERROR(s.Bind(8, row.revoked_at));
  return s.Run();
}

Status ValidateCert(const IssuedCertRow& row) {
  if (row.serial.empty()) return common::InvalidArgument("certificate has no serial");
  if (!IsCertKind(row.kind)) {
    return common::InvalidArgument("certificate " + row.serial + ": kind '" + row.kind +
                                   "' is neither device nor beacon");
  }
  if (row.subject.empty()) {
    return common::InvalidArgument("certificate " + row.serial + " has no subject");
  }
  if (!common::IsHexDigest(row.key_sha256) || !common::IsHexDigest(row.issuer_sha256)) {
    return common::InvalidArgument("certificate " + row.serial +
                                   ": key and issuer digests must be 64 lower-case hex digits");
  }
  return Status::Ok();
}

// Has the CA issue `e`'s certificate and records it with the device's key.
// An error (the CA's or the store's) leaves `e` undecided; the caller's
// transaction then rolls back.
Status IssueAndRecord(Conn* db, const std::string& ctx, Enrollment& e, int64_t now,
                      const IssueFn& issue) {
  if (!issue) return common::Internal(ctx + ": no certificate issuer");
  StatusOr<Issued> issued = issue(IssueRequest{e.device_id, e.key_sha256, e.csr_pem});
  if (!issued.ok()) return issued.status().WithContext(ctx + ": issue certificate");
  const IssuedCertRow& row = issued->row;
  // The device's key record follows the row, so a row about another
  // certificate than the one asked for is a bug in the caller, not a decision.
  if (row.kind != "device" || row.subject != e.device_id || row.key_sha256 != e.key_sha256) {
    return common::Internal(ctx + ": the CA returned a certificate row for " + row.kind + " '" +
                            row.subject + "' with another key than the request's");
  }
  if (Status st = ValidateCert(row); !st.ok()) {
    return common::Internal(ctx + ": the CA returned a bad certificate row: " + st.message());
  }
  if (Status st = InsertCertificate(db, ctx, row); !st.ok()) {
    // Not AlreadyExists: to an importer that means "delivered, drop it".
    if (st.code() == common::Code::kAlreadyExists) return common::Internal(st.message());
    return st;
  }
  // enrolled_at is the first enrollment; a renewal (or the same key enrolling
  // again) only moves the key.
  Stmt s(db, ctx + ": record device key");
  RETURN_IF_ERROR(s.Prepare(R"sql(
    INSERT INTO device_keys (device_id, key_sha256, enrolled_at) VALUES (?1, ?2, ?3)
    ON CONFLICT (device_id) DO UPDATE SET key_sha256 = excluded.key_sha256)sql"));
  RETURN_IF_ERROR(s.Bind(1, e.device_id));
  RETURN_IF_ERROR(s.Bind(2, e.key_sha256));
  RETURN_IF_ERROR(s.Bind(3, now));
  RETURN_IF_ERROR(s.Run());
  Decide(e, "issued", "", now);
  e.serial = row.serial;
  e.cert_pem = issued->cert_pem;
  return Status::Ok();
}

Status InsertEnrollment(Conn* db, const std::string& ctx, const Enrollment& e) {
  Stmt s(db, ctx + ": record decision");
  RETURN_IF_ERROR(s.Prepare(R"sql(
    INSERT INTO enrollments (device_id, request_id, kind, state, reason, host, key_sha256,
                             secret_id, via, received_at, decided_at, serial, cert_pem, csr_pem)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULLIF(?12, ''), ?13, ?14))sql"));
  RETURN_IF_ERROR(s.Bind(1, e.device_id));
  RETURN_IF_ERROR(s.Bind(2, e.request_id));
  RETURN_IF_ERROR(s.Bind(3, e.kind));
  RETURN_IF_ERROR(s.Bind(4, e.state));
  RETURN_IF_ERROR(s.Bind(5, e.reason));
  RETURN_IF_ERROR(s.Bind(6, e.host));
  RETURN_IF_ERROR(s.Bind(7, e.key_sha256));
  RETURN_IF_ERROR(s.Bind(8, e.secret_id));
  RETURN_IF_ERROR(s.Bind(9, e.via));
  RETURN_IF_ERROR(s.Bind(10, e.received_at));
  RETURN_IF_ERROR(s.Bind(11, e.decided_at));
  RETURN_IF_ERROR(s.Bind(12, e.serial));
  RETURN_IF_ERROR(s.Bind(13, e.cert_pem));
  RETURN_IF_ERROR(s.Bind(14, e.csr_pem));
  return s.Run();
}

Status UpdateDecision(Conn* db, const std::string& ctx, const Enrollment& e) {
  Stmt s(db, ctx + ": record decision");
  RETURN_IF_ERROR(s.Prepare(R"sql(
    UPDATE enrollments SET state = ?3, reason = ?4, decided_at = ?5, serial = NULLIF(?6, ''),
                           cert_pem = ?7
    WHERE device_id = ?1 AND request_id = ?2)sql"));
  RETURN_IF_ERROR(s.Bind(1, e.device_id));
  RETURN_IF_ERROR(s.Bind(2, e.request_id));
  RETURN_IF_ERROR(s.Bind(3, e.state));
  RETURN_IF_ERROR(s.Bind(4, e.reason));
  RETURN_IF_ERROR(s.Bind(5, e.decided_at));
  RETURN_IF_ERROR(s.Bind(6, e.serial));
  RETURN_IF_ERROR(s.Bind(7, e.cert_pem));
  return s.Run();
}

Status ValidateRequest(const Enrollment& r) {
  if (r.device_id.empty()) return common::InvalidArgument("enrollment request has no device id");
  const std::string what = "enrollment request " + r.request_id + " of device " + r.device_id;
  if (r.request_id.empty()) return common::InvalidArgument(what + ": no request id");
  if (r.kind != "enroll" && r.kind != "renew") {
    return common::InvalidArgument(what + ": kind '" + r.kind + "' is neither enroll nor renew");
  }
  if (!common::IsHexDigest(r.key_sha256)) {
    return common::InvalidArgument(what + ": key digest is not 64 lower-case hex digits");
  }
  return Status::Ok();
}

// The one pending request with this id (approve and deny name the request
// id alone).
StatusOr<Enrollment> PendingByRequestId(Conn* db, const std::string& ctx,
                                        const std::string& request_id) {
  if (request_id.empty()) return common::InvalidArgument(ctx + ": no request id");
  Stmt s(db, ctx + ": look up request");
  const std::string sql =
      std::string("SELECT ") + kEnrollmentColumns + " FROM enrollments WHERE request_id = ?1";
  RETURN_IF_ERROR(s.Prepare(sql.c_str()));
  RETURN_IF_ERROR(s.Bind(1, request_id));
  ASSIGN_OR_RETURN(std::vector<Enrollment> rows, ReadAll<Enrollment>(s, ReadEnrollment));
  if (rows.empty()) return common::NotFound(ctx + ": no such request");
  // Request ids are the clients' choice, so two devices may have sent the
  // same one; an administrator's decision must not land on the wrong one.
  if (rows.size() > 1) {
    return common::InvalidArgument(ctx + ": ambiguous request id: " + std::to_string(rows.size()) +
                                   " devices sent it");
  }
  if (rows[0].state != "pending") {
    return common::FailedPrecondition(ctx + ": the request is " + rows[0].state +
                                      ", not pending");
  }
  return rows[0];
}

}  // namespace

Status SqlStore::AddEnrollSecret(const EnrollSecret& secret, const std::string& secret_sha256) {
  RETURN_IF_ERROR(WritableOrError());
  if (!IsSecretId(secret.id)) {
    return common::InvalidArgument("enrollment secret id '" + secret.id +
                                   "' is not 1 to 32 of [a-z0-9]");
  }
  if (!common::IsHexDigest(secret_sha256)) {
    return common::InvalidArgument("enrollment secret " + secret.id +
                                   ": digest is not 64 lower-case hex digits");
  }
  if (secret.expires_at < 0 || secret.max_uses < 0) {
    return common::InvalidArgument("enrollment secret " + secret.id +
                                   ": expiry and use limit must not be negative");
  }
  const std::string ctx = path_ + ": add enrollment secret " + secret.id;
  return Write([&](Conn* db) -> Status {
    {
      Stmt s(db, ctx + ": look up id");
      RETURN_IF_ERROR(s.Prepare("SELECT 1 FROM enroll_secrets WHERE id = ?1"));
      RETURN_IF_ERROR(s.Bind(1, secret.id));
      ASSIGN_OR_RETURN(bool found, s.Step());
      if (found) return common::AlreadyExists(ctx + ": the id is taken");
    }
    // A new secret starts unused and unrevoked, whatever the struct says.
    Stmt s(db, ctx);
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO enroll_secrets (id, sha256, label, created_at, expires_at, max_uses)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6))sql"));
    RETURN_IF_ERROR(s.Bind(1, secret.id));
    RETURN_IF_ERROR(s.Bind(2, secret_sha256));
    RETURN_IF_ERROR(s.Bind(3, secret.label));
    RETURN_IF_ERROR(s.Bind(4, secret.created_at));
    RETURN_IF_ERROR(s.Bind(5, secret.expires_at));
    RETURN_IF_ERROR(s.Bind(6, secret.max_uses));
    RETURN_IF_ERROR(s.Run());
    return Status::Ok();
  });
}

Status SqlStore::RevokeEnrollSecret(const std::string& id, int64_t now) {
  RETURN_IF_ERROR(WritableOrError());
  const std::string ctx = path_ + ": revoke enrollment secret " + id;
  return Write([&](Conn* db) -> Status {
    {
      Stmt s(db, ctx + ": look up id");
      RETURN_IF_ERROR(s.Prepare("SELECT 1 FROM enroll_secrets WHERE id = ?1"));
      RETURN_IF_ERROR(s.Bind(1, id));
      ASSIGN_OR_RETURN(bool found, s.Step());
      if (!found) return common::NotFound(ctx + ": no such secret");
    }
    Stmt s(db, ctx);
    RETURN_IF_ERROR(
        s.Prepare("UPDATE enroll_secrets SET revoked_at = ?2 WHERE id = ?1 AND revoked_at = 0"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, now));
    RETURN_IF_ERROR(s.Run());
    return Status::Ok();
  });
}

StatusOr<Enrollment> SqlStore::DecideEnrollment(const EnrollmentInput& input, int64_t now,
                                                   const IssueFn& issue) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateRequest(input.request));
  const std::string ctx = path_ + ": decide " + input.request.kind + " request " +
                          input.request.request_id + " of device " + input.request.device_id;
  return Write([&](Conn* db) -> StatusOr<Enrollment> {
    // Inside: a retried transaction starts again from the request.
    Enrollment e = input.request;
    // Redelivery: the first decision stands, whatever this copy says.
    ASSIGN_OR_RETURN(std::optional<Enrollment> stored,
                     FindEnrollment(db, ctx, e.device_id, e.request_id));
    if (stored.has_value()) return *std::move(stored);

    e.state.clear();
    e.reason.clear();
    e.decided_at = 0;
    e.serial.clear();
    e.cert_pem.clear();
    const bool enroll = e.kind == "enroll";
    const bool with_secret = enroll && !input.secret.empty();
    e.secret_id = with_secret ? SecretIdOf(input.secret) : std::string();

    ASSIGN_OR_RETURN(std::optional<DeviceKeyRow> key, FindDeviceKey(db, ctx, e.device_id));
    bool decided = false;
    if (key.has_value() && key->revoked_at != 0) {
      Decide(e, "refused", kDeviceRevoked, now);
      decided = true;
    } else if (with_secret) {
      ASSIGN_OR_RETURN(std::string refusal, CheckSecret(db, ctx, input.secret, now));
      if (!refusal.empty()) {
        Decide(e, "refused", refusal, now);
        decided = true;
      }
    } else if (enroll && !input.approval_mode) {
      Decide(e, "refused", kSecretRequired, now);
      decided = true;
    }
    if (!decided) {
      ASSIGN_OR_RETURN(decided, RefuseForDeviceKey(db, ctx, e, key, now));
    }
    // A request without a secret waits for an administrator only once nothing
    // refuses it: a clone is refused (and reported) at once, not queued.
    if (!decided && enroll && !with_secret) {
      Decide(e, "pending", "", now);
      decided = true;
    }
    if (!decided) {
      RETURN_IF_ERROR(IssueAndRecord(db, ctx, e, now, issue));
      if (with_secret) {
        Stmt s(db, ctx + ": count use of secret " + e.secret_id);
        RETURN_IF_ERROR(s.Prepare("UPDATE enroll_secrets SET uses = uses + 1 WHERE id = ?1"));
        RETURN_IF_ERROR(s.Bind(1, e.secret_id));
        RETURN_IF_ERROR(s.Run());
      }
    }
    RETURN_IF_ERROR(InsertEnrollment(db, ctx, e));
    return e;
  });
}

StatusOr<Enrollment> SqlStore::ApproveEnrollment(const std::string& request_id, int64_t now,
                                                    const IssueFn& issue) {
  RETURN_IF_ERROR(WritableOrError());
  const std::string ctx = path_ + ": approve request " + request_id;
  return Write([&](Conn* db) -> StatusOr<Enrollment> {
    ASSIGN_OR_RETURN(Enrollment e, PendingByRequestId(db, ctx, request_id));
    // The device may have been revoked, or enrolled with another key, while
    // the request waited: approval overrides the missing secret, nothing else.
    ASSIGN_OR_RETURN(std::optional<DeviceKeyRow> key, FindDeviceKey(db, ctx, e.device_id));
    bool refused = false;
    if (key.has_value() && key->revoked_at != 0) {
      Decide(e, "refused", kDeviceRevoked, now);
      refused = true;
    } else {
      ASSIGN_OR_RETURN(refused, RefuseForDeviceKey(db, ctx, e, key, now));
    }
    if (!refused) RETURN_IF_ERROR(IssueAndRecord(db, ctx, e, now, issue));
    RETURN_IF_ERROR(UpdateDecision(db, ctx, e));
    return e;
  });
}

StatusOr<Enrollment> SqlStore::DenyEnrollment(const std::string& request_id, int64_t now) {
  RETURN_IF_ERROR(WritableOrError());
  const std::string ctx = path_ + ": deny request " + request_id;
  return Write([&](Conn* db) -> StatusOr<Enrollment> {
    ASSIGN_OR_RETURN(Enrollment e, PendingByRequestId(db, ctx, request_id));
    Decide(e, "denied", kDenied, now);
    RETURN_IF_ERROR(UpdateDecision(db, ctx, e));
    return e;
  });
}

Status SqlStore::RecordCertificate(const IssuedCertRow& row) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateCert(row));
  return Write([&](Conn* db) -> Status {
    if (row.kind == "device") {
      // A device certificate made outside enrollment binds the id to its key
      // as enrollment would, under the same rules.
      const std::string ctx = path_ + ": record certificate of device " + row.subject;
      ASSIGN_OR_RETURN(std::optional<DeviceKeyRow> key, FindDeviceKey(db, ctx, row.subject));
      if (key && key->revoked_at != 0) return common::FailedPrecondition(ctx + ": device revoked");
      if (key && key->key_sha256 != row.key_sha256) {
        return common::FailedPrecondition(ctx + ": device id already enrolled with another key");
      }
      Stmt s(db, ctx);
      RETURN_IF_ERROR(s.Prepare(R"sql(
        INSERT INTO device_keys (device_id, key_sha256, enrolled_at) VALUES (?1, ?2, ?3)
        ON CONFLICT (device_id) DO NOTHING)sql"));
      RETURN_IF_ERROR(s.Bind(1, row.subject));
      RETURN_IF_ERROR(s.Bind(2, row.key_sha256));
      RETURN_IF_ERROR(s.Bind(3, row.issued_at));
      RETURN_IF_ERROR(s.Run());
    }
    RETURN_IF_ERROR(InsertCertificate(db, path_, row));
    return Status::Ok();
  });
}

StatusOr<int64_t> SqlStore::RevokeSubject(const std::string& kind, const std::string& subject,
                                             int64_t now) {
  RETURN_IF_ERROR(WritableOrError());
  if (!IsCertKind(kind)) {
    return common::InvalidArgument("revoke: kind '" + kind + "' is neither device nor beacon");
  }
  if (subject.empty()) return common::InvalidArgument("revoke " + kind + ": no subject");
  const std::string ctx = path_ + ": revoke " + kind + " " + subject;
  return Write([&](Conn* db) -> StatusOr<int64_t> {
    int64_t certificates = 0, unrevoked = 0;
    {
      Stmt s(db, ctx + ": count certificates");
      RETURN_IF_ERROR(s.Prepare(R"sql(
        SELECT COUNT(*), COALESCE(SUM(CASE WHEN revoked_at = 0 THEN 1 ELSE 0 END), 0)
        FROM certificates WHERE kind = ?1 AND subject = ?2)sql"));
      RETURN_IF_ERROR(s.Bind(1, kind));
      RETURN_IF_ERROR(s.Bind(2, subject));
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) {
        certificates = s.Int(0);
        unrevoked = s.Int(1);
      }
    }
    bool has_key = false;
    if (kind == "device") {
      ASSIGN_OR_RETURN(std::optional<DeviceKeyRow> key, FindDeviceKey(db, ctx, subject));
      has_key = key.has_value();
    }
    if (certificates == 0 && !has_key) return common::NotFound(ctx + ": never had a certificate");
    {
      // Revoking twice keeps the first time.
      Stmt s(db, ctx + ": revoke certificates");
      RETURN_IF_ERROR(s.Prepare(R"sql(
        UPDATE certificates SET revoked_at = ?3
        WHERE kind = ?1 AND subject = ?2 AND revoked_at = 0)sql"));
      RETURN_IF_ERROR(s.Bind(1, kind));
      RETURN_IF_ERROR(s.Bind(2, subject));
      RETURN_IF_ERROR(s.Bind(3, now));
      RETURN_IF_ERROR(s.Run());
    }
    if (has_key) {
      Stmt s(db, ctx + ": revoke device id");
      RETURN_IF_ERROR(s.Prepare(
          "UPDATE device_keys SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at = 0"));
      RETURN_IF_ERROR(s.Bind(1, subject));
      RETURN_IF_ERROR(s.Bind(2, now));
      RETURN_IF_ERROR(s.Run());
    }
    return unrevoked;
  });
}

}  // namespace inventory::sql

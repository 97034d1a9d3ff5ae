// The identity records the central keeps (docs/identity.md): enrollment
// secrets, enrollment and renewal requests with their decisions, every
// certificate issued, revocations, and which key a device id belongs to.
//
// Part of the store (inventory/store.h: Store derives from IdentityStore),
// so a PostgreSQL backend keeps them beside the devices. The rules of a
// decision (secret, expiry, use count, revocation, clones) are applied by
// the backend inside one transaction with the records they change, so two
// centrals importing concurrently cannot both use a secret's last use.
//
// Thread safety: as Store. Writers are serialized; readers never wait.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace inventory {

struct EnrollSecret {
  std::string id;     // public part: the secret is "<id>.<random>"; 1..32 of [a-z0-9]
  std::string label;  // the administrator's note (a token or empty)
  int64_t created_at = 0;
  int64_t expires_at = 0;  // 0 = never
  int64_t max_uses = 0;    // 0 = unlimited
  int64_t uses = 0;
  int64_t revoked_at = 0;  // 0 = not revoked
};

// An enrollment ("enroll") or renewal ("renew") request and its decision.
struct Enrollment {
  std::string device_id;
  std::string request_id;
  std::string kind;  // "enroll" or "renew"
  std::string state;  // "pending", "issued", "refused" or "denied"
  std::string reason;  // why refused/denied, as sent to the device (docs/identity.md)
  std::string host;    // the host name the device gave (a token or empty)
  std::string key_sha256;  // the request's public key
  std::string csr_pem;     // the request itself (to issue on approval, and for the record)
  std::string secret_id;   // the secret it named ("" for none or renewals)
  std::string via;         // the beacon that received it from the device
  int64_t received_at = 0;
  int64_t decided_at = 0;  // 0 while pending
  std::string serial;      // of the issued certificate
  std::string cert_pem;    // the issued certificate (chain), when issued
};

// A certificate the CA issued.
struct IssuedCertRow {
  std::string serial;   // lower-case hex
  std::string kind;     // "device" or "beacon"
  std::string subject;  // device id or beacon name
  std::string key_sha256;
  std::string issuer_sha256;  // SHA-256 of the issuing CA's public key (DER SPKI)
  int64_t issued_at = 0;
  int64_t not_after = 0;
  int64_t revoked_at = 0;  // 0 = not revoked
};

// A device id's enrolled key and what has been seen against it.
struct DeviceKeyRow {
  std::string device_id;
  std::string key_sha256;  // the key of its newest certificate
  int64_t enrolled_at = 0;
  int64_t revoked_at = 0;      // the device was revoked (no renewal, no new enrollment)
  int64_t clone_reports = 0;   // enrollments for this id refused because of another key
  int64_t clone_last_at = 0;
  std::string clone_key_sha256;  // the last such other key
};

// What DecideEnrollment passes to the CA, and what the CA gives back.
struct IssueRequest {
  std::string device_id;
  std::string key_sha256;
  std::string csr_pem;  // the certificate is issued for this request's key
};
struct Issued {
  std::string cert_pem;
  IssuedCertRow row;
};
// Issues the certificate; called inside the transaction, so an error
// rolls everything back and the request stays undecided.
using IssueFn = std::function<common::StatusOr<Issued>(const IssueRequest&)>;

struct EnrollmentInput {
  Enrollment request;       // device_id, request_id, kind, host, key_sha256, csr_pem, via, received_at
  std::string secret;       // the full secret the device sent ("" for none)
  bool approval_mode = false;  // a request without a secret waits for an administrator
};

// An administrator's API token (docs/api.md "Tokens"). The token itself
// ("bkt_" and 64 hex digits) is shown once, when created, and never stored:
// the store keeps its SHA-256.
struct ApiToken {
  std::string id;    // 12 lower-case hex digits, public (listed, used to revoke)
  std::string name;  // the administrator's label: a token of [A-Za-z0-9._-], unique among live tokens
  std::string role;  // "read" (every GET) or "admin" (also creates and cancels actions)
  int64_t created_at = 0;
  int64_t revoked_at = 0;  // 0 = live
};

class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  // Secrets. The secret itself is never stored: only SHA-256 of the whole
  // "<id>.<random>" string. AlreadyExists for a taken id.
  virtual common::Status AddEnrollSecret(const EnrollSecret& secret, const std::string& secret_sha256) = 0;
  virtual common::StatusOr<std::vector<EnrollSecret>> ListEnrollSecrets() = 0;
  // NotFound for an unknown id; revoking twice keeps the first time.
  virtual common::Status RevokeEnrollSecret(const std::string& id, int64_t now) = 0;

  // Decides a request, in one transaction (docs/identity.md "Enrollment"):
  //  - a (device, request) decided or pending before: returned as stored,
  //    nothing changes (redelivery);
  //  - the device id revoked: refused "device revoked";
  //  - enroll: a secret is looked up by its id and compared by SHA-256
  //    ("unknown enrollment secret"), then "enrollment secret revoked",
  //    "enrollment secret expired", "enrollment secret used up"; no secret:
  //    pending in approval mode, else refused "an enrollment secret is
  //    required"; the device id enrolled with another, unrevoked key:
  //    refused "device id already enrolled with another key" and the clone
  //    report counted on the device;
  //  - renew: the device must be enrolled ("device is not enrolled");
  //  - then `issue` is called, and the certificate, the device's key, one
  //    use of the secret and the decision are recorded together.
  // Returns the decision as stored.
  virtual common::StatusOr<Enrollment> DecideEnrollment(const EnrollmentInput& input, int64_t now,
                                                        const IssueFn& issue) = 0;
  // NotFound if the request was never received.
  virtual common::StatusOr<Enrollment> GetEnrollment(const std::string& device_id,
                                                     const std::string& request_id) = 0;
  // Newest first; `state` "" for all.
  virtual common::StatusOr<std::vector<Enrollment>> ListEnrollments(const std::string& state) = 0;
  // A pending request, by request id: issue (approve) or deny it.
  // NotFound if there is no such request; FailedPrecondition if it is not
  // pending (a denied request stays denied). Approving applies the same
  // revocation and clone rules as DecideEnrollment.
  virtual common::StatusOr<Enrollment> ApproveEnrollment(const std::string& request_id, int64_t now,
                                                         const IssueFn& issue) = 0;
  virtual common::StatusOr<Enrollment> DenyEnrollment(const std::string& request_id, int64_t now) = 0;

  // Certificates issued outside enrollment (beacons, and devices
  // provisioned offline, by beaconctl). A device's binds its id to its key
  // as enrollment does: FailedPrecondition for a revoked device or one
  // enrolled with another key.
  virtual common::Status RecordCertificate(const IssuedCertRow& row) = 0;
  virtual common::StatusOr<std::vector<IssuedCertRow>> ListCertificates() = 0;
  // Revokes every unrevoked certificate of (kind, subject), and for a
  // device marks its id revoked. Returns how many certificates were
  // revoked; NotFound if the subject never had a certificate.
  virtual common::StatusOr<int64_t> RevokeSubject(const std::string& kind, const std::string& subject,
                                                  int64_t now) = 0;
  // Revoked certificates that have not expired, for the CRL of the CA
  // whose key digest is `issuer_sha256`.
  virtual common::StatusOr<std::vector<IssuedCertRow>> RevokedCertificates(const std::string& issuer_sha256,
                                                                           int64_t now) = 0;
  // Unexpired, unrevoked certificates issued by `issuer_sha256` whose
  // subject has no unexpired, unrevoked certificate from another issuer
  // (what `ca retire` would cut off).
  virtual common::StatusOr<std::vector<IssuedCertRow>> OnlyFromIssuer(const std::string& issuer_sha256,
                                                                      int64_t now) = 0;
  // NotFound for a device that never enrolled.
  virtual common::StatusOr<DeviceKeyRow> GetDeviceKey(const std::string& device_id) = 0;
  // Devices with clone reports.
  virtual common::StatusOr<std::vector<DeviceKeyRow>> ListClones() = 0;

  // API tokens. Add: AlreadyExists for an id in use or a name held by a
  // live token. Find: by the SHA-256 (hex) of the whole token; NotFound for
  // none (a revoked token is returned, with revoked_at set: the caller
  // refuses it). Revoke: by id or name, of a live token; NotFound otherwise.
  virtual common::Status AddApiToken(const ApiToken& token, const std::string& token_sha256) = 0;
  virtual common::StatusOr<std::vector<ApiToken>> ListApiTokens() = 0;  // oldest first, then by name
  virtual common::StatusOr<ApiToken> FindApiToken(const std::string& token_sha256) = 0;
  virtual common::StatusOr<ApiToken> RevokeApiToken(const std::string& id_or_name, int64_t now) = 0;
};

}  // namespace inventory

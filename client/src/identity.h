// The device's identity (docs/identity.md): its key and certificate, the
// enrollment or renewal waiting for an answer, and the trust bundle it
// verifies beacons with.
//
// Files (STATE_DIR):
//   identity/key.pem       the device's private key (0600); before the first
//                          certificate, the key being enrolled
//   identity/cert.pem      its certificate (then any cross-certificate)
//   identity/key.pem.new   during a renewal: the new key (0600), until the
//                          new certificate arrives
//   identity/request       the request waiting for an answer:
//                            request = kind " " uuid LF ; kind = "enroll" / "renew"
//   trust.pem              the trust bundle last accepted (absent: ca_file)
// Every file is written durably (common::WriteFileAtomic) before anything
// that depends on it is sent: the key before its request, the request id
// before the request, so a restart polls the same request instead of
// making a second one.
//
// The certificate must name this device (STATE_DIR/device-id) and match
// key.pem; anything else is refused, never used. Nothing here picks a
// beacon: callers pass the Transport (enrollment: the configured server;
// renewal and trust: the beacon in use). The secret is never logged.
// Used from one thread, under the state lock (state_file.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client/settings.h"
#include "common/http_client.h"
#include "common/identity.h"
#include "common/status.h"
#include "state_file.h"

namespace client {

// A request waiting for its answer (STATE_DIR/identity/request).
struct PendingRequest {
  std::string kind;  // "enroll" or "renew"
  std::string id;    // lower-case UUID: the {request} of /v1/enroll/{device}/{request}
};

// Whether a certificate valid from `not_before` to `not_after` (unix
// seconds) is due for renewal at `now`: less than a third of its validity is
// left, or it was not issued by the newest CA of the trust bundle (a CA
// rollover, docs/identity.md "CA rollover").
bool RenewalDue(int64_t not_before, int64_t not_after, bool issued_by_newest_ca, int64_t now);

// What the PEM certificate asserts, checked to be a device certificate for
// `device`: InvalidArgument when it asserts no device identity,
// FailedPrecondition when it names another device.
common::StatusOr<common::PeerIdentity> DeviceCertificate(std::string_view pem,
                                                         const std::string& device);

class DeviceIdentity {
 public:
  // Load()s STATE_DIR/identity (created 0700 when needed). `state` (keys
  // trust_etag, identity_request_at, renew_refused_at) must outlive it.
  static common::StatusOr<std::unique_ptr<DeviceIdentity>> Open(const ClientSettings& settings,
                                                                const std::string& device,
                                                                StateFile* state);

  // Reads the files again (another beacon-client process may have enrolled
  // or renewed), and completes a renewal a crash cut short (see
  // InstallRenewal in identity.cpp). FailedPrecondition when cert.pem names
  // another device; DataLoss when it matches neither key.
  common::Status Load();

  bool Enrolled() const { return cert_.has_value(); }
  // The certificate's identity; Enrolled() only.
  const common::PeerIdentity& certificate() const { return *cert_; }
  const std::optional<PendingRequest>& pending() const { return pending_; }

  // For common::ClientOptions: the certificate and key (meaningful when
  // Enrolled()), and the CA bundle: trust.pem when present, else ca_file.
  std::string CertFile() const { return dir_ + "/cert.pem"; }
  std::string KeyFile() const { return dir_ + "/key.pem"; }
  std::string CaFile() const;

  // One exchange of the enrollment with `server` (no client certificate):
  // makes the key and the request if there are none (both durable first),
  // PUTs the request when it has not been sent (or the beacon lost it:
  // 404), then GETs the answer.
  struct Progress {
    bool enrolled = false;
    std::chrono::seconds retry_after{0};  // the beacon's Retry-After while waiting
    std::string waiting;                  // why not yet, for logs and errors
  };
  // Progress: enrolled (cert.pem saved, request removed) or still waiting
  // (202, 503, 507, request just sent). Errors: PermissionDenied (refused:
  // the reason, the request removed, the next step makes a new one);
  // FailedPrecondition/InvalidArgument/DataLoss (an answer that cannot be
  // used; the request removed); transport errors and other statuses as
  // common::StatusFromHttp maps them (retry later).
  common::StatusOr<Progress> EnrollStep(common::Transport& server);

  // Whether the certificate is due for renewal at `now` (RenewalDue; its
  // issuer counts as "not the newest" only when it is an older CA of the
  // trust bundle, found by verifying the certificate's signature).
  bool RenewalDue(int64_t now) const;
  // One step of renewal, made each round with the beacon in use (the
  // current certificate presented): when due and nothing is pending, a new
  // key (key.pem.new) and request ("renew"), PUT as an upload of kind
  // renew with `check_in` headers; at later rounds one GET of the answer.
  // True when a new certificate and key were installed. A refusal
  // (PermissionDenied) drops the request and waits a day before renewing
  // again. The old certificate is used until the new one is installed.
  common::StatusOr<bool> RenewStep(common::Transport& beacon, const common::HeaderList& check_in,
                                   int64_t now);

  // GET /v1/trust with If-None-Match (the state's trust_etag). A new bundle
  // is accepted only if it follows from the one held
  // (common::pki::AcceptTrustBundle), then written to trust.pem. True when
  // trust.pem changed; InvalidArgument (logged) when the bundle was refused
  // and the one held kept.
  common::StatusOr<bool> RefreshTrust(common::Transport& beacon);

 private:
  DeviceIdentity(const ClientSettings& settings, std::string device, StateFile* state);
  common::Env* Env() const;
  std::string NewKeyFile() const { return dir_ + "/key.pem.new"; }
  std::string RequestFile() const { return dir_ + "/request"; }
  std::string TrustFile() const { return settings_.state_dir + "/trust.pem"; }
  bool Exists(const std::string& path) const;

  // Makes the key at `key_path` (unless `reuse_key` and it exists) and a new
  // request id of `kind`, both durably.
  common::Status StartRequest(const std::string& kind, const std::string& key_path, bool reuse_key);
  // Forgets the pending request (and a renewal's key.pem.new).
  common::Status DropRequest();
  // PUT of the enrollment request to kEnrollPath.
  common::StatusOr<common::HttpResult> PutEnroll(common::Transport& server, const std::string& key_pem);
  // A 200 from GET /v1/enroll: checks and installs the certificate.
  common::Status InstallEnrollment(const std::string& cert_pem, const std::string& key_pem);
  common::Status InstallRenewal(const std::string& cert_pem);
  bool IssuedByNewestCa() const;

  const ClientSettings settings_;
  const std::string device_;
  const std::string dir_;  // STATE_DIR/identity
  StateFile* state_;
  std::optional<common::PeerIdentity> cert_;
  std::optional<PendingRequest> pending_;
  // Whether pending_ has been PUT (by this process, or by an earlier one:
  // a request read from disk is polled first; a 404 sends it again).
  bool sent_ = false;
};

}  // namespace client

#include "identity.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cctype>
#include <ctime>

#include "common/delivery.h"
#include "common/enrollment.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/pki.h"
#include "common/protocol.h"
#include "common/retry.h"
#include "common/sha256.h"
#include "common/text.h"
#include "common/time.h"
#include "common/uuid.h"

namespace client {

using common::Status;
using common::StatusOr;
namespace proto = common::protocol;
namespace pki = common::pki;

namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }
std::string When(int64_t t) { return common::FormatRfc3339(t); }

constexpr uint64_t kMaxKeyBytes = 16u << 10;
constexpr uint64_t kMaxCertBytes = 64u << 10;

// This machine's host name, for the administrator to recognise the
// request; "" unless it is a token as the enrollment document wants it
// (1 to 64 of A-Z a-z 0-9 . _ -).
std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "";
  std::string host = name;
  if (host.empty() || host.size() > 64) return "";
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return "";
  }
  return host;
}

// The enrollment document (common/enrollment.h) for a request of `key_pem`;
// renewals carry no secret.
StatusOr<std::string> RequestBody(const std::string& key_pem, const std::string& device, const std::string& secret) {
  common::EnrollRequest r;
  ASSIGN_OR_RETURN(r.csr_pem, common::pki::MakeCsr(key_pem, device));
  r.host = HostName();
  r.secret = secret;
  return common::EnrollRequestXml(r);
}

// The reason in a refusal's body ("error: <message>\n", docs/protocol.md),
// made safe to log and print.
std::string Reason(const std::string& body) {
  std::string r = body.substr(0, 256);
  if (r.rfind("error: ", 0) == 0) r = r.substr(7);
  if (r.rfind("enrollment refused: ", 0) == 0) r = r.substr(20);
  while (!r.empty() && (r.back() == '\n' || r.back() == '\r' || r.back() == ' ')) r.pop_back();
  return r.empty() ? "no reason given" : common::Printable(r);
}

std::chrono::seconds RetryAfter(const common::HttpResult& res) {
  return std::chrono::seconds(common::ParseRetryAfter(res.Header("retry-after")));
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// The first certificate of a PEM text, or null.
X509Ptr FirstCert(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                &BIO_free);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free);
  ERR_clear_error();
  return cert;
}

// Whether the first certificate of `cert_pem` was signed with the key of
// the first certificate of `ca_pem`. A signature check, not a comparison of
// names: a rollover's new CA may carry the old one's name.
bool SignedBy(const std::string& cert_pem, const std::string& ca_pem) {
  X509Ptr cert = FirstCert(cert_pem), ca = FirstCert(ca_pem);
  if (!cert || !ca) return false;
  EVP_PKEY* key = X509_get0_pubkey(ca.get());
  bool ok = key != nullptr && X509_verify(cert.get(), key) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

bool RenewalDue(int64_t not_before, int64_t not_after, bool issued_by_newest_ca, int64_t now) {
  if (!issued_by_newest_ca) return true;
  // Left: not_after - now < (not_after - not_before) / 3, in integers.
  return 3 * (not_after - now) < not_after - not_before;
}

StatusOr<common::PeerIdentity> DeviceCertificate(std::string_view pem, const std::string& device) {
  ASSIGN_OR_RETURN(common::PeerIdentity id, common::IdentityFromPem(pem));
  if (!id.is_device()) {
    return common::InvalidArgument(std::string("the certificate is a ") + common::PeerKindName(id.kind) +
                                   " certificate, not a device's");
  }
  if (id.id != device) {
    return common::FailedPrecondition("the certificate names device " + id.id + ", but this is device " +
                                      device + " (device-id)");
  }
  return id;
}

DeviceIdentity::DeviceIdentity(const ClientSettings& settings, std::string device, StateFile* state)
    : settings_(settings), device_(std::move(device)), dir_(settings.state_dir + "/identity"), state_(state) {}

StatusOr<std::unique_ptr<DeviceIdentity>> DeviceIdentity::Open(const ClientSettings& settings,
                                                               const std::string& device, StateFile* state) {
  std::unique_ptr<DeviceIdentity> d(new DeviceIdentity(settings, device, state));
  RETURN_IF_ERROR(common::MakeDirs(d->dir_, 0700, settings.env));
  RETURN_IF_ERROR(d->Load());
  return d;
}

common::Env* DeviceIdentity::Env() const {
  return settings_.env != nullptr ? settings_.env : common::Env::Default();
}

bool DeviceIdentity::Exists(const std::string& path) const { return Env()->FileSize(path).ok(); }

std::string DeviceIdentity::CaFile() const {
  return Exists(TrustFile()) ? TrustFile() : settings_.ca_file;
}

Status DeviceIdentity::Load() {
  cert_.reset();
  pending_.reset();
  sent_ = false;

  auto request = common::ReadFile(RequestFile(), 256, settings_.env);
  if (request.ok()) {
    size_t space = request->find(' ');
    PendingRequest p;
    if (space != std::string::npos && !request->empty() && request->back() == '\n') {
      p.kind = request->substr(0, space);
      p.id = request->substr(space + 1, request->size() - space - 2);
    }
    if ((p.kind == "enroll" || p.kind == "renew") && common::IsUuid(p.id)) {
      pending_ = p;
      sent_ = true;  // perhaps; a 404 says it was not, and it is sent again
    } else {
      common::LogError(RequestFile() + " is damaged; it is removed and a new request will be made");
      RETURN_IF_ERROR(Env()->Remove(RequestFile()));
    }
  } else if (request.status().code() != common::Code::kNotFound) {
    return request.status();
  }

  auto cert_pem = common::ReadFile(CertFile(), kMaxCertBytes, settings_.env);
  if (!cert_pem.ok()) {
    if (cert_pem.status().code() != common::Code::kNotFound) return cert_pem.status();
    // A renewal needs the certificate it renews: without one, enroll anew.
    if (pending_ && pending_->kind == "renew") RETURN_IF_ERROR(DropRequest());
    return Status::Ok();
  }
  auto id = DeviceCertificate(*cert_pem, device_);
  if (!id.ok()) {
    return Status(id.status().code(), CertFile() + ": " + id.status().message() +
                                          "; it is not used (remove " + dir_ + " to enroll this device again)");
  }
  ASSIGN_OR_RETURN(std::string key, common::ReadFile(KeyFile(), kMaxKeyBytes, settings_.env));
  ASSIGN_OR_RETURN(std::string key_sha, pki::KeySha256(key));
  if (key_sha != id->key_sha256) {
    // A renewal cut short between its two renames (InstallRenewal): the new
    // certificate is in place and its key is still key.pem.new.
    auto new_key = common::ReadFile(NewKeyFile(), kMaxKeyBytes, settings_.env);
    auto new_sha = new_key.ok() ? pki::KeySha256(*new_key) : StatusOr<std::string>(new_key.status());
    if (!new_sha.ok() || *new_sha != id->key_sha256) {
      return common::DataLoss(CertFile() + " does not match " + KeyFile() + "; remove " + dir_ +
                              " to enroll this device again");
    }
    RETURN_IF_ERROR(Env()->Rename(NewKeyFile(), KeyFile()));
    RETURN_IF_ERROR(Env()->SyncDir(dir_));
    common::LogInfo("completed the renewal to certificate " + id->serial);
  }
  cert_ = std::move(id).value();
  // A request whose answer is already installed (a crash came before the
  // request file was removed): an enrollment when there is a certificate, a
  // renewal whose new key has become key.pem.
  if (pending_ && (pending_->kind == "enroll" || !Exists(NewKeyFile()))) RETURN_IF_ERROR(DropRequest());
  return Status::Ok();
}

Status DeviceIdentity::StartRequest(const std::string& kind, const std::string& key_path, bool reuse_key) {
  RETURN_IF_ERROR(common::MakeDirs(dir_, 0700, settings_.env));
  if (!reuse_key || !Exists(key_path)) {
    ASSIGN_OR_RETURN(std::string key, pki::NewKeyPem());
    RETURN_IF_ERROR(common::WriteFileAtomic(key_path, key, 0600, settings_.env).WithContext("save the new key"));
  }
  PendingRequest p{kind, common::NewUuid()};
  RETURN_IF_ERROR(common::WriteFileAtomic(RequestFile(), p.kind + " " + p.id + "\n", 0600, settings_.env)
                      .WithContext("save the request id"));
  pending_ = p;
  sent_ = false;
  state_->SetInt("identity_request_at", Now());
  Status saved = state_->Save();
  if (!saved.ok()) common::LogWarn("cannot save state: " + saved.ToString());
  return Status::Ok();
}

Status DeviceIdentity::DropRequest() {
  if (pending_ && pending_->kind == "renew") {
    Status st = Env()->Remove(NewKeyFile());
    if (!st.ok() && st.code() != common::Code::kNotFound) return st;
  }
  Status st = Env()->Remove(RequestFile());
  if (!st.ok() && st.code() != common::Code::kNotFound) return st;
  pending_.reset();
  sent_ = false;
  return Env()->SyncDir(dir_);
}

StatusOr<common::HttpResult> DeviceIdentity::PutEnroll(common::Transport& server, const std::string& key_pem) {
  ASSIGN_OR_RETURN(const std::string body, RequestBody(key_pem, device_, settings_.enroll_secret));
  common::HeaderList headers = {{proto::kContentSha256Header, common::Sha256Hex(body)}};
  common::LogInfo("enrollment request " + pending_->id + " for device " + device_ + " sent to " + server.url() +
                  (settings_.enroll_secret.empty() ? " (approval mode)" : " (with a secret)"));
  return server.Put(
      proto::EnrollPath(device_, pending_->id), headers, body.size(),
      [&body](uint64_t offset, uint64_t len) -> StatusOr<std::string> { return body.substr(offset, len); },
      "application/xml");
}

StatusOr<DeviceIdentity::Progress> DeviceIdentity::EnrollStep(common::Transport& server) {
  Progress progress;
  if (Enrolled()) {
    progress.enrolled = true;
    return progress;
  }
  if (!pending_) RETURN_IF_ERROR(StartRequest("enroll", KeyFile(), /*reuse_key=*/true));
  ASSIGN_OR_RETURN(std::string key, common::ReadFile(KeyFile(), kMaxKeyBytes, settings_.env));
  const std::string what = "enrollment request " + pending_->id;
  bool put_now = false;
  for (;;) {
    if (!sent_) {
      ASSIGN_OR_RETURN(common::HttpResult put, PutEnroll(server, key));
      if (put.status == 503 || put.status == 507) {
        progress.retry_after = RetryAfter(put);
        progress.waiting = server.url() + " is busy (" + std::to_string(put.status) + ")";
        return progress;
      }
      RETURN_IF_ERROR(common::StatusFromHttp(put.status, "PUT " + what));
      sent_ = put_now = true;
    }
    ASSIGN_OR_RETURN(common::HttpResult res,
                     server.Get(proto::EnrollPath(device_, pending_->id), {}, kMaxCertBytes));
    switch (res.status) {
      case 200: {
        Status st = InstallEnrollment(res.body, key);
        if (!st.ok()) {
          common::LogError(what + ": the certificate received is refused: " + st.message());
          RETURN_IF_ERROR(DropRequest());
          return st;
        }
        progress.enrolled = true;
        return progress;
      }
      case 202:
      case 503:
        progress.retry_after = RetryAfter(res);
        progress.waiting = res.status == 202 ? what + " is not decided yet"
                                             : server.url() + " cannot reach its upstream (503)";
        return progress;
      case 403: {
        std::string reason = Reason(res.body);
        common::LogError(what + " refused: " + reason);
        RETURN_IF_ERROR(DropRequest());
        return common::PermissionDenied("enrollment refused: " + reason);
      }
      case 404:
        // The central never received it (a relay lost it, or a crash came
        // between saving the request id and sending it): the same request
        // again, which is idempotent. Once per step.
        if (put_now) {
          progress.waiting = what + " is not known upstream yet";
          return progress;
        }
        common::LogWarn(what + " is unknown to " + server.url() + "; sending it again");
        sent_ = false;
        continue;
      default:
        return common::StatusFromHttp(res.status, "GET " + what);
    }
  }
}

Status DeviceIdentity::InstallEnrollment(const std::string& cert_pem, const std::string& key_pem) {
  ASSIGN_OR_RETURN(common::PeerIdentity id, DeviceCertificate(cert_pem, device_));
  ASSIGN_OR_RETURN(std::string key_sha, pki::KeySha256(key_pem));
  if (id.key_sha256 != key_sha) return common::DataLoss("the certificate is for another key");
  RETURN_IF_ERROR(common::WriteFileAtomic(CertFile(), cert_pem, 0644, settings_.env));
  RETURN_IF_ERROR(DropRequest());
  RETURN_IF_ERROR(Load());
  common::LogInfo("enrolled: device " + device_ + ", certificate " + id.serial + ", expires " + When(id.not_after));
  return Status::Ok();
}

bool DeviceIdentity::IssuedByNewestCa() const {
  auto bundle_pem = common::ReadFile(CaFile(), pki::kMaxTrustBytes, settings_.env);
  auto cert_pem = common::ReadFile(CertFile(), kMaxCertBytes, settings_.env);
  if (!bundle_pem.ok() || !cert_pem.ok()) return true;  // nothing to compare with: no reason to renew
  auto bundle = pki::ParseTrustBundle(*bundle_pem);
  if (!bundle.ok() || bundle->ca_pems.empty()) {
    common::LogWarn(CaFile() + ": " + (bundle.ok() ? "no CA" : bundle.status().message()));
    return true;
  }
  // Only a certificate from an older CA of the bundle is due. One from a
  // CA the bundle does not hold yet (enrolled after a rollover, before the
  // first trust refresh) would only be renewed onto that same CA, round
  // after round.
  for (size_t i = 0; i < bundle->ca_pems.size(); ++i) {
    if (SignedBy(*cert_pem, bundle->ca_pems[i])) return i + 1 == bundle->ca_pems.size();
  }
  return true;
}

bool DeviceIdentity::RenewalDue(int64_t now) const {
  return cert_ && client::RenewalDue(cert_->not_before, cert_->not_after, IssuedByNewestCa(), now);
}

StatusOr<bool> DeviceIdentity::RenewStep(common::Transport& beacon, const common::HeaderList& check_in,
                                         int64_t now) {
  if (!Enrolled()) return false;
  if (!pending_) {
    // After a refusal, a day before trying again (a revoked device would
    // otherwise ask every round).
    if (!RenewalDue(now) || now < state_->GetInt("renew_refused_at") + 86400) return false;
    RETURN_IF_ERROR(StartRequest("renew", NewKeyFile(), /*reuse_key=*/false));
    common::LogInfo("renewing certificate " + cert_->serial + " (expires " + When(cert_->not_after) +
                    ") as request " + pending_->id);
  }
  const std::string what = "renewal request " + pending_->id;
  if (!sent_) {
    ASSIGN_OR_RETURN(std::string key, common::ReadFile(NewKeyFile(), kMaxKeyBytes, settings_.env));
    ASSIGN_OR_RETURN(const std::string body, RequestBody(key, device_, ""));
    common::UploadRef ref{device_, "renew", pending_->id, common::Sha256Hex(body), body.size()};
    common::Attempt put = common::PutUpload(
        beacon, ref,
        [&body](uint64_t offset, uint64_t len) -> StatusOr<std::string> { return body.substr(offset, len); },
        check_in);
    RETURN_IF_ERROR(put.status);
    sent_ = true;
    return false;  // the answer is fetched at a later round
  }
  ASSIGN_OR_RETURN(common::HttpResult res, beacon.Get(proto::EnrollPath(device_, pending_->id), {}, kMaxCertBytes));
  switch (res.status) {
    case 200: {
      Status st = InstallRenewal(res.body);
      if (!st.ok()) {
        common::LogError(what + ": the certificate received is refused: " + st.message());
        RETURN_IF_ERROR(DropRequest());
        return st;
      }
      return true;
    }
    case 202:
    case 503:
      common::LogDebug(what + ": no answer yet (" + std::to_string(res.status) + ")");
      return false;
    case 404:
      common::LogWarn(what + " is unknown to " + beacon.url() + "; it is sent again at the next round");
      sent_ = false;
      return false;
    case 403: {
      std::string reason = Reason(res.body);
      common::LogError(what + " refused: " + reason + "; the current certificate is kept");
      RETURN_IF_ERROR(DropRequest());
      state_->SetInt("renew_refused_at", now);
      return common::PermissionDenied("renewal refused: " + reason);
    }
    default:
      return common::StatusFromHttp(res.status, "GET " + what);
  }
}

// The new certificate goes in first, the new key second, each by a durable
// rename, so that a crash at any point leaves a certificate whose key is on
// disk:
//   before the certificate's rename: the old pair, untouched (the request
//     is still pending and is polled again);
//   between the two renames: the new certificate, the old key.pem and the
//     new key still in key.pem.new, which Load() recognises (its public key
//     is the certificate's) and renames;
//   after both: the new pair; the request file, if still there, is dropped
//     by Load().
// The other order (key first) would lose the old certificate's key while
// the old certificate is still in place.
Status DeviceIdentity::InstallRenewal(const std::string& cert_pem) {
  ASSIGN_OR_RETURN(common::PeerIdentity id, DeviceCertificate(cert_pem, device_));
  auto new_key = common::ReadFile(NewKeyFile(), kMaxKeyBytes, settings_.env);
  auto new_sha = new_key.ok() ? pki::KeySha256(*new_key) : StatusOr<std::string>(new_key.status());
  if (!new_sha.ok() || *new_sha != id.key_sha256) return common::DataLoss("the certificate is not for the new key");
  RETURN_IF_ERROR(common::WriteFileAtomic(CertFile(), cert_pem, 0644, settings_.env));
  RETURN_IF_ERROR(Env()->Rename(NewKeyFile(), KeyFile()));
  RETURN_IF_ERROR(Env()->SyncDir(dir_));
  RETURN_IF_ERROR(Load());  // drops the request: its key is in place
  common::LogInfo("renewed: certificate " + id.serial + ", expires " + When(id.not_after));
  return Status::Ok();
}

StatusOr<bool> DeviceIdentity::RefreshTrust(common::Transport& beacon) {
  common::HeaderList headers;
  const std::string etag = state_->Get("trust_etag");
  if (!etag.empty() && Exists(TrustFile())) headers.emplace_back("If-None-Match", etag);
  ASSIGN_OR_RETURN(common::HttpResult res, beacon.Get(proto::kTrustPath, headers, pki::kMaxTrustBytes));
  if (res.status == 304) return false;
  RETURN_IF_ERROR(common::StatusFromHttp(res.status, "GET trust bundle"));
  const std::string held_file = CaFile();
  ASSIGN_OR_RETURN(std::string held_pem, common::ReadFile(held_file, pki::kMaxTrustBytes, settings_.env));
  auto held = pki::ParseTrustBundle(held_pem);
  if (!held.ok()) return held.status().WithContext(held_file);
  auto accepted = pki::AcceptTrustBundle(res.body, *held);
  if (!accepted.ok()) {
    common::LogError("the trust bundle from " + beacon.url() + " is refused and " + held_file +
                     " kept: " + accepted.status().message());
    return accepted.status().WithContext("trust bundle from " + beacon.url());
  }
  // Written also when it equals ca_file, so the ETag kept always describes trust.pem.
  const bool changed = res.body != held_pem;
  if (changed || !Exists(TrustFile())) {
    RETURN_IF_ERROR(common::WriteFileAtomic(TrustFile(), res.body, 0644, settings_.env));
  }
  if (changed) {
    common::LogInfo("new trust bundle from " + beacon.url() + ": " + std::to_string(accepted->ca_pems.size()) +
                    " CA(s), " + std::to_string(accepted->RevokedSerials().size()) + " revoked certificate(s)");
  }
  state_->Set("trust_etag", res.Header("etag"));
  return changed;
}

}  // namespace client

#include "beacon/estate_ca.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include "common/fs.h"
#include "common/identity.h"
#include "common/pki.h"
#include "common/sha256.h"

namespace beacon {

using common::Status;
using common::StatusOr;
namespace pki = common::pki;

std::string CaDir(const std::string& data_dir) { return data_dir + "/ca"; }
std::string TrustPath(const std::string& data_dir) { return CaDir(data_dir) + "/trust.pem"; }

namespace {

// An exclusive flock on CA_DIR/lock for the life of the object.
class CaLock {
 public:
  static StatusOr<CaLock> Take(const std::string& dir) {
    int fd = ::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return common::ErrnoStatus("open " + dir + "/lock", errno);
    if (::flock(fd, LOCK_EX) != 0) {
      int err = errno;
      ::close(fd);
      return common::ErrnoStatus("lock " + dir + "/lock", err);
    }
    return CaLock(fd);
  }
  CaLock(CaLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  CaLock& operator=(CaLock&&) = delete;
  ~CaLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit CaLock(int fd) : fd_(fd) {}
  int fd_;
};

StatusOr<pki::TrustBundle> CurrentBundle(const std::string& data_dir) {
  ASSIGN_OR_RETURN(std::string pem, common::ReadFile(TrustPath(data_dir), pki::kMaxTrustBytes));
  return pki::ParseTrustBundle(pem);
}

}  // namespace

Status PublishTrust(const std::string& data_dir, inventory::IdentityStore& store, int64_t now,
                    std::chrono::seconds crl_validity) {
  const std::string dir = CaDir(data_dir);
  ASSIGN_OR_RETURN(CaLock lock, CaLock::Take(dir));
  ASSIGN_OR_RETURN(auto ca, pki::CertAuthority::Load(dir));
  int64_t number = now;
  if (auto old = CurrentBundle(data_dir); old.ok()) {
    for (const auto& crl : old->crls) number = std::max(number, crl.number + 1);
  }
  std::vector<std::string> cas, crls;
  // The revocations of the CA whose certificate is `ca_pem`.
  auto revoked_by = [&](const std::string& ca_pem) -> StatusOr<std::vector<pki::Revoked>> {
    ASSIGN_OR_RETURN(std::string issuer, common::CertKeySha256(ca_pem));
    ASSIGN_OR_RETURN(auto rows, store.RevokedCertificates(issuer, now));
    std::vector<pki::Revoked> revoked;
    for (const auto& r : rows) revoked.push_back({r.serial, r.revoked_at});
    return revoked;
  };
  std::vector<std::string> cross;
  if (ca->rolling_over()) {
    cas.push_back(ca->old_cert_pem());
    cross.push_back(ca->cross_pem());
    ASSIGN_OR_RETURN(auto revoked, revoked_by(ca->old_cert_pem()));
    ASSIGN_OR_RETURN(std::string crl, ca->MakeOldCrl(revoked, number, now, crl_validity));
    crls.push_back(std::move(crl));
  }
  cas.push_back(ca->cert_pem());
  ASSIGN_OR_RETURN(auto revoked, revoked_by(ca->cert_pem()));
  ASSIGN_OR_RETURN(std::string crl, ca->MakeCrl(revoked, number, now, crl_validity));
  crls.push_back(std::move(crl));
  ASSIGN_OR_RETURN(pki::TrustBundle bundle, pki::MakeTrustBundle(cas, cross, crls));
  return common::WriteFileAtomic(TrustPath(data_dir), bundle.ToPem(), 0644);
}

bool TrustNeedsRefresh(const std::string& data_dir, int64_t now, std::chrono::seconds crl_validity) {
  auto b = CurrentBundle(data_dir);
  if (!b.ok() || b->crls.empty()) return true;
  for (const auto& crl : b->crls) {
    if (crl.next_update - now < crl_validity.count() / 2) return true;
  }
  return false;
}

inventory::IssueFn DeviceIssuer(const std::string& data_dir, std::chrono::seconds validity) {
  return [data_dir, validity](const inventory::IssueRequest& req) -> StatusOr<inventory::Issued> {
    ASSIGN_OR_RETURN(pki::CsrInfo key, pki::ParseCsr(req.csr_pem));
    ASSIGN_OR_RETURN(auto ca, pki::CertAuthority::Load(CaDir(data_dir)));
    const int64_t now = static_cast<int64_t>(::time(nullptr));
    ASSIGN_OR_RETURN(pki::IssuedCert cert,
                     ca->Issue(key.public_key_der, common::PeerKind::kDevice, req.device_id, {}, validity, now));
    if (cert.identity.key_sha256 != req.key_sha256) return common::Internal("issued a certificate for another key");
    inventory::Issued out;
    out.cert_pem = cert.pem;
    out.row.serial = cert.identity.serial;
    out.row.kind = "device";
    out.row.subject = req.device_id;
    out.row.key_sha256 = cert.identity.key_sha256;
    ASSIGN_OR_RETURN(out.row.issuer_sha256, common::CertKeySha256(ca->cert_pem()));
    out.row.issued_at = now;
    out.row.not_after = cert.identity.not_after;
    return out;
  };
}

}  // namespace beacon

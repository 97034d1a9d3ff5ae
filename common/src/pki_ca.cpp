// The estate CA (common/pki.h CertAuthority): its files, certificates,
// CRLs and rollover.
//
// Files and crash safety. Every file is written with WriteFileAtomic (temp,
// fsync, rename, fsync of the folder), so each is either old or new.
//   - Init writes ca.pem, then ca.key: the key is what says "a CA is here",
//     so a crash in between leaves a folder Init may start over in.
//   - Rollover first stages the new CA in DIR/next/ (ca.key, ca.pem, then
//     cross.pem, which marks the stage complete), then commits: copies the
//     current CA to DIR/old/ (unless both files are there already), writes
//     cross.pem, ca.pem and ca.key from the stage, and removes the stage.
//     DIR/ca.* change only once DIR/old/ is complete, and the commit can be
//     repeated, so Load finishes a commit a crash interrupted (a complete
//     stage) or drops a stage that was never complete.
//   - RetireOld removes old/ca.key, old/ca.pem, old/, then cross.pem. A
//     rollover is under way only while all three exist, so a crash halfway
//     through retiring leaves a retired CA plus leftovers, which the next
//     RetireOld or Rollover removes.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/fs.h"
#include "common/pki.h"
#include "common/uuid.h"
#include "pki_x509.h"

namespace common::pki {

using namespace x509;  // NOLINT(google-build-using-namespace): this folder's own helpers

namespace {

constexpr int64_t kBackdate = 300;  // notBefore = now - 5 min, for clocks a little behind
constexpr uint64_t kMaxFile = 64 << 10;

Env* E() { return Env::Default(); }
bool Exists(const std::string& path) { return E()->FileSize(path).ok(); }

Status RemoveIfThere(const std::string& path) {
  Status s = E()->Remove(path);
  return s.ok() || s.code() == Code::kNotFound ? Status::Ok() : s;
}

Status RemoveDirIfThere(const std::string& path) {
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("rmdir " + path, errno);
  return Status::Ok();
}

Status CopyFile(const std::string& from, const std::string& to, int mode) {
  ASSIGN_OR_RETURN(std::string data, ReadFile(from, kMaxFile));
  return WriteFileAtomic(to, data, mode);
}

// A key and the certificate it belongs to, as read from a folder.
struct Pair {
  PkeyPtr key;
  X509Ptr cert;
  std::string cert_pem;
};

StatusOr<Pair> ReadPair(const std::string& key_path, const std::string& cert_path) {
  ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_path, kMaxFile));
  ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(cert_path, kMaxFile));
  Pair p;
  auto key = PrivateKeyFromPem(key_pem, key_path);
  if (!key.ok()) return DataLoss(key.status().message());
  p.key = std::move(key).value();
  p.cert = CertFromPem(cert_pem);
  if (!p.cert) return DataLoss(cert_path + ": not a PEM certificate");
  if (X509_check_private_key(p.cert.get(), p.key.get()) != 1) {
    ERR_clear_error();
    return DataLoss(key_path + " is not the key of " + cert_path);
  }
  p.cert_pem = CertPem(p.cert.get());
  return p;
}

Status WritePair(const std::string& dir, EVP_PKEY* key, X509* cert) {
  std::string key_pem = PrivateKeyPem(key);
  if (key_pem.empty()) return Internal("writing the CA key as PEM: " + OpenSslErrors());
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/ca.pem", CertPem(cert), 0644));
  return WriteFileAtomic(dir + "/ca.key", key_pem, 0600);
}

Status CheckName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 &&
            std::none_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
  return ok ? Status::Ok() : InvalidArgument("CA name '" + name + "': 1 to 64 characters, no control characters");
}

// The commit of a staged rollover (see the top of this file); repeatable.
Status CommitRollover(const std::string& dir) {
  const std::string old = dir + "/old", next = dir + "/next";
  if (!Exists(old + "/ca.key") || !Exists(old + "/ca.pem")) {
    RETURN_IF_ERROR(MakeDirs(old, 0700));
    RETURN_IF_ERROR(CopyFile(dir + "/ca.pem", old + "/ca.pem", 0644));
    RETURN_IF_ERROR(CopyFile(dir + "/ca.key", old + "/ca.key", 0600));
    RETURN_IF_ERROR(SyncDir(dir));
  }
  RETURN_IF_ERROR(CopyFile(next + "/cross.pem", dir + "/cross.pem", 0644));
  RETURN_IF_ERROR(CopyFile(next + "/ca.pem", dir + "/ca.pem", 0644));
  RETURN_IF_ERROR(CopyFile(next + "/ca.key", dir + "/ca.key", 0600));
  for (const char* f : {"/cross.pem", "/ca.pem", "/ca.key"}) RETURN_IF_ERROR(RemoveIfThere(next + f));
  RETURN_IF_ERROR(RemoveDirIfThere(next));
  return SyncDir(dir);
}

// Removes the previous CA and the cross-certificate, in the order the top
// of this file gives.
Status RemoveOld(const std::string& dir) {
  RETURN_IF_ERROR(RemoveIfThere(dir + "/old/ca.key"));
  RETURN_IF_ERROR(RemoveIfThere(dir + "/old/ca.pem"));
  RETURN_IF_ERROR(RemoveDirIfThere(dir + "/old"));
  RETURN_IF_ERROR(RemoveIfThere(dir + "/cross.pem"));
  return SyncDir(dir);
}

int64_t NotAfter(X509* cert) {
  int64_t t = 0;
  return ToUnix(X509_get0_notAfter(cert), &t) ? t : 0;
}

}  // namespace

struct CertAuthority::Impl {
  std::string dir;
  Pair current;
  Pair old;               // key null unless rolling over
  std::string cross_pem;  // "" unless rolling over
  int64_t not_after = 0;

  // Reads DIR into this, finishing or dropping a staged rollover first.
  Status Read();
};

Status CertAuthority::Impl::Read() {
  const std::string next = dir + "/next";
  if (Exists(next + "/cross.pem")) {
    RETURN_IF_ERROR(CommitRollover(dir).WithContext("finishing the interrupted CA rollover in " + dir));
  } else if (Exists(next + "/ca.key") || Exists(next + "/ca.pem")) {
    for (const char* f : {"/ca.pem", "/ca.key"}) RETURN_IF_ERROR(RemoveIfThere(next + f));
    RETURN_IF_ERROR(RemoveDirIfThere(next));
  }
  if (!Exists(dir + "/ca.key")) return NotFound("no CA in " + dir + " (no ca.key)");
  ASSIGN_OR_RETURN(current, ReadPair(dir + "/ca.key", dir + "/ca.pem"));
  not_after = NotAfter(current.cert.get());
  old = Pair();
  cross_pem.clear();
  if (!Exists(dir + "/old/ca.key") || !Exists(dir + "/old/ca.pem") || !Exists(dir + "/cross.pem")) return Status::Ok();
  ASSIGN_OR_RETURN(old, ReadPair(dir + "/old/ca.key", dir + "/old/ca.pem"));
  ASSIGN_OR_RETURN(std::string cross_text, ReadFile(dir + "/cross.pem", kMaxFile));
  X509Ptr cross = CertFromPem(cross_text);
  bool fits = cross && X509_NAME_cmp(X509_get_subject_name(cross.get()), X509_get_subject_name(current.cert.get())) == 0 &&
              EVP_PKEY_eq(X509_get0_pubkey(cross.get()), X509_get0_pubkey(current.cert.get())) == 1 &&
              X509_verify(cross.get(), old.key.get()) == 1;
  ERR_clear_error();
  if (!fits) return DataLoss(dir + "/cross.pem is not the current CA's certificate signed by the old CA");
  cross_pem = CertPem(cross.get());
  return Status::Ok();
}

CertAuthority::CertAuthority() : impl_(new Impl) {}
CertAuthority::~CertAuthority() = default;

Status CertAuthority::Init(const std::string& dir, const std::string& name, std::chrono::seconds validity) {
  RETURN_IF_ERROR(CheckName(name));
  if (validity.count() <= 0) return InvalidArgument("CA validity must be positive");
  if (Exists(dir + "/ca.key")) return AlreadyExists("a CA exists already in " + dir);
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  int64_t now = E()->NowSeconds();
  ASSIGN_OR_RETURN(PkeyPtr key, NewP256Key());
  ASSIGN_OR_RETURN(X509Ptr cert, MakeCaCert(key.get(), name, now - kBackdate, now + validity.count()));
  return WritePair(dir, key.get(), cert.get());
}

StatusOr<std::unique_ptr<CertAuthority>> CertAuthority::Load(const std::string& dir) {
  std::unique_ptr<CertAuthority> ca(new CertAuthority);
  ca->impl_->dir = dir;
  RETURN_IF_ERROR(ca->impl_->Read());
  return ca;
}

Status CertAuthority::Rollover(const std::string& name, std::chrono::seconds validity, int64_t now) {
  RETURN_IF_ERROR(CheckName(name));
  if (validity.count() <= 0) return InvalidArgument("CA validity must be positive");
  if (rolling_over()) return FailedPrecondition("a CA rollover is under way in " + impl_->dir + ": retire the old CA first");
  // Chain building and the trust bundle tell CAs apart by subject, and a
  // cross-certificate by its issuer differing from its subject.
  if (CommonName(X509_get_subject_name(impl_->current.cert.get())) == name) {
    return InvalidArgument("the new CA needs a name other than the current CA's ('" + name + "')");
  }
  if (impl_->not_after <= now) return FailedPrecondition("the current CA has expired and cannot vouch for a successor");
  ASSIGN_OR_RETURN(PkeyPtr key, NewP256Key());
  ASSIGN_OR_RETURN(X509Ptr cert, MakeCaCert(key.get(), name, now - kBackdate, now + validity.count()));
  ASSIGN_OR_RETURN(X509Ptr cross, MakeCrossCert(cert.get(), impl_->current.cert.get(), impl_->current.key.get(),
                                                now - kBackdate, std::min(now + validity.count(), impl_->not_after)));
  const std::string& dir = impl_->dir;
  RETURN_IF_ERROR(RemoveOld(dir));  // leftovers of an interrupted RetireOld
  RETURN_IF_ERROR(MakeDirs(dir + "/next", 0700));
  RETURN_IF_ERROR(SyncDir(dir));
  RETURN_IF_ERROR(WritePair(dir + "/next", key.get(), cert.get()));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/next/cross.pem", CertPem(cross.get()), 0644));
  RETURN_IF_ERROR(CommitRollover(dir));
  return impl_->Read();
}

Status CertAuthority::RetireOld() {
  RETURN_IF_ERROR(RemoveOld(impl_->dir));
  impl_->old = Pair();
  impl_->cross_pem.clear();
  return Status::Ok();
}

bool CertAuthority::rolling_over() const { return impl_->old.key != nullptr; }
const std::string& CertAuthority::cert_pem() const { return impl_->current.cert_pem; }
const std::string& CertAuthority::old_cert_pem() const { return impl_->old.cert_pem; }
const std::string& CertAuthority::cross_pem() const { return impl_->cross_pem; }
int64_t CertAuthority::not_after() const { return impl_->not_after; }

StatusOr<IssuedCert> CertAuthority::Issue(const std::string& public_key_der, PeerKind kind, const std::string& id,
                                          const std::vector<std::string>& hosts, std::chrono::seconds validity,
                                          int64_t now) {
  if (validity.count() <= 0) return InvalidArgument("certificate validity must be positive");
  // Backdated for clocks a little behind, but by no more than a tenth of
  // the validity: a short-lived certificate must not start half used up
  // (clients renew when a third of notAfter - notBefore is left).
  int64_t not_before = now - std::min<int64_t>(kBackdate, validity.count() / 10);
  if (impl_->not_after <= not_before) return FailedPrecondition("the CA has expired");
  // Never past the CA's own expiry (and no overflow for a huge validity).
  int64_t not_after = validity.count() >= impl_->not_after - now ? impl_->not_after : now + validity.count();
  ASSIGN_OR_RETURN(X509Ptr cert, MakeLeafCert(impl_->current.cert.get(), impl_->current.key.get(), public_key_der, kind,
                                              id, hosts, not_before, not_after));
  IssuedCert out;
  // During a rollover the chain leaf -> cross -> old CA lets a receiver
  // that does not yet trust the new CA verify the certificate.
  out.pem = CertPem(cert.get()) + impl_->cross_pem;
  auto identity = IdentityFromPem(out.pem);
  if (!identity.ok()) return Internal("the issued certificate does not read back: " + identity.status().message());
  out.identity = std::move(identity).value();
  return out;
}

StatusOr<std::string> CertAuthority::MakeCrl(const std::vector<Revoked>& revoked, int64_t number, int64_t now,
                                             std::chrono::seconds next_update) {
  ASSIGN_OR_RETURN(CrlPtr crl, MakeCrlObject(impl_->current.cert.get(), impl_->current.key.get(), revoked, number, now,
                                             next_update.count()));
  return CrlPem(crl.get());
}

StatusOr<std::string> CertAuthority::MakeOldCrl(const std::vector<Revoked>& revoked, int64_t number, int64_t now,
                                                std::chrono::seconds next_update) {
  if (!rolling_over()) return FailedPrecondition("no previous CA: there is no rollover under way");
  ASSIGN_OR_RETURN(CrlPtr crl, MakeCrlObject(impl_->old.cert.get(), impl_->old.key.get(), revoked, number, now,
                                             next_update.count()));
  return CrlPem(crl.get());
}

}  // namespace common::pki

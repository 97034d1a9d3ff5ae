#include "trust.h"

#include "common/fs.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/time.h"

namespace beacon {

using common::Status;
using common::StatusOr;

StatusOr<std::unique_ptr<TrustState>> TrustState::Open(const std::string& path) {
  std::unique_ptr<TrustState> t(new TrustState(path));
  ASSIGN_OR_RETURN(std::string pem, common::ReadFile(path, common::pki::kMaxTrustBytes));
  auto bundle = common::pki::ParseTrustBundle(pem);
  if (!bundle.ok()) return bundle.status().WithContext(path);
  t->Apply(std::move(bundle).value());
  return t;
}

void TrustState::Apply(common::pki::TrustBundle bundle) {
  auto served = std::make_shared<Served>();
  served->pem = bundle.ToPem();
  served->etag = "\"" + common::Sha256Hex(served->pem).substr(0, 32) + "\"";
  std::unordered_set<std::string> revoked;
  for (auto& s : bundle.RevokedSerials()) revoked.insert(std::move(s));
  std::unique_lock lock(mu_);
  bundle_ = std::move(bundle);
  served_ = std::move(served);
  revoked_ = std::move(revoked);
}

std::string TrustState::Admit(const common::PeerIdentity& peer) const {
  std::shared_lock lock(mu_);
  return revoked_.count(peer.serial) != 0 ? "certificate revoked" : std::string();
}

std::shared_ptr<const TrustState::Served> TrustState::Current() const {
  std::shared_lock lock(mu_);
  return served_;
}

common::pki::TrustBundle TrustState::bundle() const {
  std::shared_lock lock(mu_);
  return bundle_;
}

Status TrustState::Install(const common::pki::TrustBundle& accepted) {
  RETURN_IF_ERROR(common::WriteFileAtomic(path_, accepted.ToPem(), 0644));
  Apply(accepted);
  return Status::Ok();
}

StatusOr<bool> TrustState::Reload() {
  ASSIGN_OR_RETURN(std::string pem, common::ReadFile(path_, common::pki::kMaxTrustBytes));
  auto bundle = common::pki::ParseTrustBundle(pem);
  if (!bundle.ok()) return bundle.status().WithContext(path_);
  if (bundle->ToPem() == Current()->pem) return false;
  Apply(std::move(bundle).value());
  return true;
}

}  // namespace beacon

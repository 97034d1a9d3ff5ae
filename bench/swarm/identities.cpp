#include "identities.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <thread>

#include "common/fs.h"
#include "common/identity.h"
#include "common/pki.h"

namespace swarm {

using common::Status;
using common::StatusOr;
namespace pki = common::pki;

namespace {

// The central's default device_cert_validity.
constexpr std::chrono::seconds kValidity(90 * 86400);

// Writes `data` to `path` through a temporary sibling and a rename: a run
// that stops part way leaves whole files or none, never one a later run
// would take for a certificate. 0600: it holds a private key.
Status WriteScratch(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return common::ErrnoStatus("open " + tmp, errno);
  Status st = common::WriteAll(fd, data.data(), data.size(), tmp);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = common::ErrnoStatus("rename " + tmp, errno);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

// One device's key and certificate, as `beaconctl device issue` makes them.
StatusOr<std::string> IssueOne(pki::CertAuthority& ca, const std::string& id, int64_t now) {
  ASSIGN_OR_RETURN(std::string key, pki::NewKeyPem());
  ASSIGN_OR_RETURN(std::string csr, pki::MakeCsr(key, id));
  ASSIGN_OR_RETURN(pki::CsrInfo info, pki::ParseCsr(csr));
  ASSIGN_OR_RETURN(pki::IssuedCert cert,
                   ca.Issue(info.public_key_der, common::PeerKind::kDevice, id, {}, kValidity, now));
  return cert.pem + key;
}

}  // namespace

std::string IdentityPath(const std::string& dir, const Device& device) {
  return dir + "/" + device.Id() + ".pem";
}

StatusOr<IdentityStats> ProvideIdentities(const std::string& ca_dir, const std::string& dir,
                                          const std::vector<Device>& devices) {
  const auto t0 = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(common::MakeDirs(dir, 0700));
  // Checked once here, so that a wrong --ca-dir fails before any thread starts.
  RETURN_IF_ERROR(pki::CertAuthority::Load(ca_dir).status().WithContext("--ca-dir"));
  IdentityStats stats;
  stats.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> issued{0}, reused{0};
  std::mutex mu;
  Status failed;
  auto work = [&] {
    // A CertAuthority per thread: it is thread-compatible, not thread-safe.
    auto ca = pki::CertAuthority::Load(ca_dir);
    if (!ca.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      if (failed.ok()) failed = ca.status();
      return;
    }
    for (size_t i = next++; i < devices.size(); i = next++) {
      const std::string path = IdentityPath(dir, devices[i]);
      if (common::FileExists(path)) {
        ++reused;
        continue;
      }
      auto pem = IssueOne(**ca, devices[i].Id(), now);
      Status st = pem.ok() ? WriteScratch(path, *pem) : pem.status();
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (failed.ok()) failed = st.WithContext("certificate for device " + devices[i].Id());
        next = devices.size();  // the others stop too
        return;
      }
      ++issued;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < stats.threads; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  RETURN_IF_ERROR(failed);
  stats.issued = issued;
  stats.reused = reused;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

}  // namespace swarm

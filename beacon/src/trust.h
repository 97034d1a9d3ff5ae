// The trust bundle a beacon enforces and serves (docs/identity.md "Trust
// bundle", "Revocation"): the CAs its listener accepts client certificates
// from, the serials it refuses, and the bytes and ETag of GET /v1/trust.
//
// The bundle lives in one file (the central's DATA_DIR/ca/trust.pem, a
// relay's DATA_DIR/trust.pem), which is also the server engine's
// client_ca_file and the CA file of a relay's upstream connections.
//
// Thread-safe: Admit() and Served() run on the server's I/O threads
// concurrently with Install()/Reload() on a background thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_set>

#include "common/identity.h"
#include "common/pki.h"
#include "common/status.h"

namespace beacon {

class TrustState {
 public:
  // Reads the bundle at `path`. NotFound if there is none; InvalidArgument
  // if it does not parse (a CRL not signed by a CA of the bundle).
  static common::StatusOr<std::unique_ptr<TrustState>> Open(const std::string& path);

  // The server engine's per-request admission hook: "" to admit, else why not.
  std::string Admit(const common::PeerIdentity& peer) const;

  struct Served {
    std::string pem;
    std::string etag;  // "\"<first 32 hex digits of its SHA-256>\""
  };
  std::shared_ptr<const Served> Current() const;
  common::pki::TrustBundle bundle() const;
  const std::string& path() const { return path_; }

  // Makes `accepted` (already checked by AcceptTrustBundle) the bundle:
  // written durably to path(), then enforced.
  common::Status Install(const common::pki::TrustBundle& accepted);
  // Reads path() again (someone else wrote it: beaconctl at the central).
  // True if it changed.
  common::StatusOr<bool> Reload();


 private:
  explicit TrustState(std::string path) : path_(std::move(path)) {}
  void Apply(common::pki::TrustBundle bundle);

  const std::string path_;
  mutable std::shared_mutex mu_;
  common::pki::TrustBundle bundle_;
  std::shared_ptr<const Served> served_;
  std::unordered_set<std::string> revoked_;
};

}  // namespace beacon

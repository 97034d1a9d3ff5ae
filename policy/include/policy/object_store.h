// Where policy files live on disk, on every hop.
//
// ObjectStore: a folder of content-addressed files named by their SHA-256.
// Put() verifies the digest and writes atomically, so an object that exists
// is always complete and correct. Used by the central (published objects),
// relay beacons (cache) and clients (applied policy). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/env.h"
#include "common/status.h"
#include "policy/manifest.h"

namespace policy {

// The largest policy file anywhere: in a policy folder, a revision or a store.
inline constexpr uint64_t kMaxPolicyFileBytes = 16u << 20;

class ObjectStore {
 public:
  // `env` null: common::Env::Default() (file access goes through the Env seam).
  explicit ObjectStore(std::string dir, common::Env* env = nullptr)
      : dir_(std::move(dir)), env_(env != nullptr ? env : common::Env::Default()) {}
  common::Status Init() const;
  bool Has(const std::string& sha256) const;
  // InvalidArgument if `data` does not hash to `sha256`.
  common::Status Put(const std::string& sha256, const std::string& data) const;
  // NotFound if absent; DataLoss if the stored bytes no longer match.
  common::StatusOr<std::string> Get(const std::string& sha256) const;
  // Deletes an object (a corrupt one, before fetching it again).
  common::Status Remove(const std::string& sha256) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  common::Env* env_;
};

// Fetches every file of `manifest` that `store` lacks, through `fetch` (the
// bytes for a digest, e.g. an HTTPS GET), and stores it. A file whose bytes do
// not match its digest is DataLoss and nothing of it is kept: neither a
// client nor a relay ever keeps a file that was altered on the way.
common::Status FetchMissingFiles(
    const Manifest& manifest, const ObjectStore& store,
    const std::function<common::StatusOr<std::string>(const ManifestFile&)>& fetch);

}  // namespace policy

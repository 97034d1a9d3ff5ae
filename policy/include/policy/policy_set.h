// Where policy files live on disk, on every hop.
//
// ObjectStore: a folder of content-addressed files named by their SHA-256.
// Put() verifies the digest and writes atomically, so an object that exists
// is always complete and correct. Used by the central (published objects),
// relay beacons (cache) and clients (applied policy). Thread-safe.
//
// PolicySource: the central's view of its policy folder. Every file in the
// folder is part of the policy every device gets (targeting comes later).
// Rescan() validates the documents it knows (ValidateDocument), hashes the files, stores them as objects and, when the set
// changed, bumps the revision, which is persisted so it only ever increases.
// Current() is cheap (a shared pointer under a short lock) because it runs
// on every check-in; Rescan() runs on a background thread. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "policy/manifest.h"
#include "policy/signing.h"

namespace policy {

class ObjectStore {
 public:
  explicit ObjectStore(std::string dir) : dir_(std::move(dir)) {}
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
};

// Fetches every file of `manifest` that `store` lacks, through `fetch` (the
// bytes for a digest, e.g. an HTTPS GET), and stores it. A file whose bytes do
// not match its digest is DataLoss and nothing of it is kept: neither a
// client nor a relay ever keeps a file that was altered on the way.
common::Status FetchMissingFiles(
    const Manifest& manifest, const ObjectStore& store,
    const std::function<common::StatusOr<std::string>(const ManifestFile&)>& fetch);

// Validates a policy file by name: policy.xml, schedule.xml and failover.xml
// with their parsers (policy/documents.h); other files are opaque. `source`
// names the file in errors ("/var/lib/beacon/policy/schedule.xml:4:3: ...").
common::Status ValidateDocument(const std::string& name, const std::string& data,
                                const std::string& source);

struct PolicySnapshot {
  Manifest manifest;
  std::string xml;   // serialized manifest
  std::string etag;  // ManifestEtag(xml)
};

class PolicySource {
 public:
  // policy_dir: the administrator's files. state_dir: objects/ and the
  // persisted revision. Scans once before returning.
  // `signer` (kept, not owned; may be null in tests of unsigned policy) signs
  // every published manifest.
  static common::StatusOr<std::unique_ptr<PolicySource>> Open(const std::string& policy_dir,
                                                              const std::string& state_dir,
                                                              const ManifestSigner* signer);
  // The snapshot in service; never null.
  std::shared_ptr<const PolicySnapshot> Current() const;
  // Re-reads the folder and publishes a new revision if anything changed. On
  // error (an unreadable file) the snapshot in service stays.
  common::Status Rescan();
  const ObjectStore& objects() const { return objects_; }

 private:
  PolicySource(std::string policy_dir, std::string state_dir, const ManifestSigner* signer);

  std::string policy_dir_, state_dir_;
  const ManifestSigner* signer_;
  ObjectStore objects_;
  std::mutex scan_mu_;  // one rescan at a time; guards content_key_
  std::string content_key_;  // hash over (name, sha256) of the current set
  mutable std::mutex mu_;    // guards current_
  std::shared_ptr<const PolicySnapshot> current_;
};

}  // namespace policy

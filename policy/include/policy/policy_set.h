// PolicySource: the central's policy service. It serves the newest
// published revision (policy/repository.h) and resolves each device's
// effective policy (policy/targeting.h) into a manifest signed for that
// device. Resolved manifests are cached per device until a new revision is
// published or the device's facts change (Forget). ManifestFor runs on every
// check-in, so a cached answer costs a map lookup under a short lock;
// Refresh() runs on a background thread. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/status.h"
#include "policy/manifest.h"
#include "policy/repository.h"
#include "policy/signing.h"
#include "policy/targeting.h"

namespace policy {

struct PolicySnapshot {
  Manifest manifest;
  std::string xml;   // serialized manifest
  std::string etag;  // ManifestEtag(xml)
};

class PolicySource {
 public:
  // The facts about a device that targeting needs; NotFound for a device the
  // store has never seen (it gets the default group). Other errors fail the
  // request (Unavailable: the device retries).
  using FactsLookup = std::function<common::StatusOr<DeviceFacts>(const std::string& device_id)>;
  // The actions to put in a device's manifest (docs/actions.md); when they
  // change, the caller calls Forget(device) so that the manifest is signed
  // anew with them.
  using ActionsLookup = std::function<std::vector<ManifestAction>(const std::string& device_id)>;

  // repository_dir: published revisions (policy/repository.h), written by
  // beaconctl and only read here. served_dir: where the documents resolved
  // for devices are kept and served from, written only by the central, so
  // that the two may belong to different users. `signer` (kept, not owned;
  // may be null only in tests of unsigned policy) signs every manifest.
  static common::StatusOr<std::unique_ptr<PolicySource>> Open(const std::string& repository_dir,
                                                              const std::string& served_dir,
                                                              const ManifestSigner* signer,
                                                              FactsLookup facts,
                                                              ActionsLookup actions = nullptr);
  // The signed manifest of `device_id` under the revision in service.
  // NotFound when nothing has been published yet.
  common::StatusOr<std::shared_ptr<const PolicySnapshot>> ManifestFor(const std::string& device_id);
  // The manifest ManifestFor would return if it is already resolved, else
  // null; never blocks beyond a short lock (the server's I/O threads call it).
  std::shared_ptr<const PolicySnapshot> CachedManifestFor(const std::string& device_id) const;
  // Takes the newest published revision into service if there is a newer
  // one. On error (a damaged revision) the revision in service stays.
  common::Status Refresh();
  // The device's facts changed (an inventory was imported): resolve it again
  // on its next request.
  void Forget(const std::string& device_id);
  // The revision in service; 0 before the first publish.
  int64_t revision() const;
  // The files manifests name.
  const ObjectStore& objects() const { return served_; }

 private:
  PolicySource(const std::string& repository_dir, const std::string& served_dir, const ManifestSigner* signer,
               FactsLookup facts, ActionsLookup actions);

  PolicyRepository repo_;
  ObjectStore served_;
  const ManifestSigner* signer_;
  FactsLookup facts_;
  ActionsLookup actions_;  // may be null
  std::mutex refresh_mu_;  // one Refresh at a time
  mutable std::mutex mu_;  // guards the members below
  int64_t revision_ = 0;
  // The highest revision this central ever served, kept in served_dir: a
  // restart must not go back either (records removed, a restored backup).
  int64_t served_high_ = 0;
  // Resolutions in flight, by device, each with a token; Refresh clears all
  // and Forget its device's, so that an answer resolved from facts or a
  // revision that changed meanwhile is not cached.
  std::unordered_map<std::string, uint64_t> resolving_;
  std::unordered_set<std::string> stored_;  // digests in served_ checked since the revision began
  uint64_t next_token_ = 0;
  std::shared_ptr<const PolicyTree> tree_;  // null before the first publish
  std::unordered_map<std::string, std::shared_ptr<const PolicySnapshot>> manifests_;  // by device
};

}  // namespace policy

// The central's published policy: immutable, numbered revisions.
//
// Administrators edit a policy folder (policy/targeting.h); nothing in it
// reaches a device until it is published. Publish() validates the whole tree
// and records it as the next revision; a revision is never changed or
// deleted afterwards, and the newest one is the one in service. Rolling back
// publishes an older revision's tree again under a new, higher number, so
// that clients, which refuse revisions older than the one they applied, take
// it.
//
// On disk, under `dir` (the central's data_dir/policy-state):
//   objects/<sha256>   every file of every revision, content-addressed
//                      (ObjectStore)
//   policy-revision    optional, from before revisions were records: the
//                      last number the central published on its own; new
//                      numbers continue above it
//   revisions/<N>      one record per revision; format in docs/policy_format.md
//   publish.lock       held (flock) while publishing, so that two
//                      administrators publishing at once get N and N+1
//
// Readers (the central's policy service, beaconctl history) need no lock: a
// record appears whole (written to a temporary name, fsynced, renamed) after
// its objects are durable. Thread-safe; several processes may use one dir.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "policy/object_store.h"
#include "policy/targeting.h"

namespace policy {

struct RevisionFile {
  std::string path;  // "group/name"
  std::string sha256;
  uint64_t size = 0;
  bool operator==(const RevisionFile&) const = default;
};

struct Revision {
  int64_t number = 0;        // 1, 2, ...
  int64_t published_at = 0;  // unix seconds
  std::string author;        // who published it (a login name)
  std::string message;       // why; one line of UTF-8, may be empty
  int64_t rollback_of = 0;   // the revision whose tree this re-publishes, or 0
  std::vector<RevisionFile> files;  // sorted by path
};

class PolicyRepository {
 public:
  // File access goes through `env` (null: common::Env::Default()); the
  // publishers' lock is a POSIX flock on dir/lock.
  explicit PolicyRepository(std::string dir, common::Env* env = nullptr);
  // Creates the folders if needed.
  common::Status Init() const;

  // The newest revision's number, 0 if nothing was ever published.
  common::StatusOr<int64_t> Latest() const;
  // NotFound if there is no such revision; DataLoss if its record is damaged.
  common::StatusOr<Revision> Get(int64_t number) const;
  // Every revision, oldest first.
  common::StatusOr<std::vector<Revision>> History() const;
  // The files of a revision, each checked against its digest (DataLoss if not).
  common::StatusOr<TreeFiles> Files(const Revision& revision) const;

  // Validates `tree` (PolicyTree::FromFiles, errors named after `source`) and
  // publishes it as Latest()+1 (or above a legacy policy-revision number). FailedPrecondition "nothing to publish" when
  // it equals the newest revision's tree. `author` must be a short token and
  // `message` one line of clean UTF-8 (InvalidArgument otherwise).
  common::StatusOr<Revision> Publish(const TreeFiles& tree, const std::string& source,
                                     const std::string& author, const std::string& message,
                                     int64_t rollback_of = 0) const;

  const ObjectStore& objects() const { return objects_; }

 private:
  // The legacy policy-revision number, 0 without one.
  common::StatusOr<int64_t> Floor() const;

  std::string dir_;
  common::Env* env_;
  ObjectStore objects_;
};

}  // namespace policy

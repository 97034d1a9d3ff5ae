// The client's small key=value state file (STATE_DIR/state): what `status`
// shows and what the scheduler and the inventory counter must remember
// across restarts.
//
// Keys in use:
//   beacon, beacon_since, beacon_why     the beacon in use, since when, why (beacons.h)
//   policy_revision, policy_etag         the applied manifest (applied_policy.h)
//   <event>_at, <event>_result           last run of policy_check, inventory,
//                                        usage_upload, log_upload, flush
//   inventory_sequence                   the last inventory number handed out (uploads.h)
//   usage_sample_at, last_upload_at      last usage sample, last delivered upload
//   enroll_at, enroll_result, trust_refresh_at, trust_refresh_result
//                                        last enrollment outcome, last trust refresh
//   identity_request_at                  when the pending enrollment or renewal was made (identity.h)
//   trust_etag                           the ETag of STATE_DIR/trust.pem (identity.h)
//   renew_refused_at                     the last refused renewal; none again for a day
//
// Set() changes memory only; Save() writes the whole file durably (temporary
// file, fsync, rename, directory fsync), so a crash leaves the old or the new
// file. Not thread-safe: the Client uses it from one thread.
#pragma once

#include <cstdint>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "common/env.h"
#include "common/status.h"

namespace client {

class StateFile {
 public:
  // Reads `path`; a missing file is an empty state. A file that exists but
  // cannot be read is an error rather than an empty state: saving over it
  // would restart inventory_sequence, and the store would then keep the
  // device's older inventories over its new ones.
  // `env` null: common::Env::Default().
  static common::StatusOr<std::unique_ptr<StateFile>> Open(const std::string& path, common::Env* env = nullptr);

  // "" or 0 when the key is absent (or, for GetInt, not a decimal number).
  std::string Get(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;
  // Newlines in `value` become spaces: one line per key.
  void Set(const std::string& key, const std::string& value);
  void SetInt(const std::string& key, int64_t value) { Set(key, std::to_string(value)); }

  common::Status Save() const;
  // Reads the file again (another beacon-client process may have written
  // it while this one did not hold the state lock).
  common::Status Reload();

 private:
  StateFile(std::string path, common::Env* env) : path_(std::move(path)), env_(env) {}

  std::string path_;
  common::Env* env_;
  std::map<std::string, std::string> values_;
};

// One beacon-client at a time works on a state folder: an exclusive flock on
// STATE_DIR/lock, held while it reads or changes anything there. Without it
// a daemon and an `inventory --now` would each keep their own copy of the
// state (and hand out one inventory number twice) and of the outbox index.
class StateLock {
 public:
  // Waits up to `wait` for the lock; Unavailable if another process keeps
  // it that long.
  static common::StatusOr<std::unique_ptr<StateLock>> Acquire(const std::string& dir, std::chrono::seconds wait);
  ~StateLock();
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace client

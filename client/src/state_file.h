// The client's small key=value state file (STATE_DIR/state): what `status`
// shows and what the scheduler must remember across restarts.
//
// Keys in use:
//   beacon, beacon_since, beacon_why     the beacon in use, since when, why (beacons.h)
//   policy_revision, policy_etag         the applied manifest (applied_policy.h)
//   <event>_at, <event>_result           last run of policy_check, inventory,
//                                        usage_upload, log_upload, flush
//   usage_sample_at, last_upload_at      last usage sample, last delivered upload
//
// Set() changes memory only; Save() writes the whole file durably (temporary
// file, fsync, rename, directory fsync), so a crash leaves the old or the new
// file. Not thread-safe: the Client uses it from one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"

namespace client {

class StateFile {
 public:
  // Reads `path`; a missing or unreadable file is an empty state.
  explicit StateFile(std::string path);

  // "" or 0 when the key is absent (or, for GetInt, not a decimal number).
  std::string Get(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;
  // Newlines in `value` become spaces: one line per key.
  void Set(const std::string& key, const std::string& value);
  void SetInt(const std::string& key, int64_t value) { Set(key, std::to_string(value)); }

  common::Status Save() const;

 private:
  std::string path_;
  std::map<std::string, std::string> values_;
};

}  // namespace client

// A beacon's view of its upstream: one HTTPS client per user (HttpClient is
// not thread-safe) plus the headers a relaying beacon adds to what it
// forwards.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "common/http_client.h"
#include "common/spool.h"
#include "common/stop_flag.h"

namespace beacon {

// Headers describing the device a forwarded request is for.
common::HeaderList DeviceHeaders(const std::string& device, const std::string& client_version,
                                 int64_t policy_revision, const std::string& via);

// PUTs one spool entry upstream with its id, kind and digest. OK for 200/201.
common::Status SendUpload(common::HttpClient& client, const common::Spool& spool,
                          const common::SpoolMeta& meta, int* retry_after_s);

}  // namespace beacon

namespace beacon {

// Forwards ready spool entries upstream, oldest first. An entry leaves the
// spool only after the upstream's 200/201; retryable failures back off
// (capped exponential, full jitter, at least the upstream's Retry-After);
// permanent refusals move the entry to rejected/.
void RunRelay(common::Spool& spool, const common::ClientOptions& upstream, common::StopFlag& stop,
              std::chrono::milliseconds backoff_base, std::chrono::milliseconds backoff_cap);

}  // namespace beacon

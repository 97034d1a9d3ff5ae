// Sending a spool entry to the next hop: the one PUT both the client (from
// its outbox) and a relay beacon (from its spool) make.
#pragma once

#include <string>

#include "common/http_client.h"
#include "common/spool.h"
#include "common/status.h"

namespace common {

// PUTs the entry `meta` of `spool` to its upload path: the body is streamed
// from the spool, its SHA-256 travels in X-Beacon-Content-SHA256, and
// `headers` (the device's check-in headers) are added. Returns the answer
// mapped by StatusFromHttp, or the transport error; *retry_after_s is the
// answer's Retry-After (0 if none). Decide what to do with Classify().
Status SendSpoolEntry(HttpClient& client, const Spool& spool, const SpoolMeta& meta,
                      HeaderList headers, int* retry_after_s);

}  // namespace common

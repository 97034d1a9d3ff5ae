// Sending a spool entry to the next hop: the one PUT both the client (from
// its outbox) and a relay beacon (from its spool) make.
#pragma once

#include "common/drain.h"
#include "common/http_client.h"
#include "common/spool.h"

namespace common {

// PUTs the entry `meta` of `spool` to its upload path: the body is streamed
// from the spool, its SHA-256 travels in X-Beacon-Content-SHA256, and
// `headers` (the device's check-in headers) are added. The Attempt carries
// the answer mapped by StatusFromHttp (or the transport error) and its
// Retry-After. Its scope is kEntry when the entry could not be read here or
// the peer refuses its size (413), kPeer otherwise.
Attempt SendSpoolEntry(Transport& transport, const Spool& spool, const SpoolMeta& meta,
                       HeaderList headers);

}  // namespace common

// Sending an upload to the next hop: the one PUT the client (from its
// outbox), a relay beacon (from its spool) and the swarm simulator
// (bench/swarm) make.
#pragma once

#include <cstdint>
#include <string>

#include "common/drain.h"
#include "common/http_client.h"
#include "common/spool.h"

namespace common {

// What identifies an upload on the wire: its path and its declared digest.
struct UploadRef {
  std::string device;
  std::string kind;    // an upload kind (common/protocol.h)
  std::string id;      // the sender's upload id, kept across every retry
  std::string sha256;  // of the body, lower-case hex
  uint64_t size = 0;
};

// PUTs `size` bytes from `source` to the upload path of `upload`, with its
// SHA-256 in X-Beacon-Content-SHA256 and `headers` (the device's check-in
// headers) added. The Attempt carries the answer mapped by StatusFromHttp
// (or the transport error, or the source's error) and its Retry-After. Its
// scope is kEntry when the peer refuses the size (413), kPeer otherwise.
Attempt PutUpload(Transport& transport, const UploadRef& upload, const BodySource& source,
                  HeaderList headers);

// PutUpload for the entry `meta` of `spool`, its body streamed from the
// spool. The scope is also kEntry when the entry could not be read here.
Attempt SendSpoolEntry(Transport& transport, const Spool& spool, const SpoolMeta& meta,
                       HeaderList headers);

}  // namespace common

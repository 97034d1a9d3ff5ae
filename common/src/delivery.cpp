#include "common/delivery.h"

#include "common/protocol.h"
#include "common/retry.h"

namespace common {

Status SendSpoolEntry(HttpClient& client, const Spool& spool, const SpoolMeta& meta,
                      HeaderList headers, int* retry_after_s) {
  *retry_after_s = 0;
  headers.emplace_back(protocol::kContentSha256Header, meta.sha256);
  auto source = [&](uint64_t offset, uint64_t len) { return spool.ReadBody(meta.id, offset, len); };
  auto res = client.Put(protocol::UploadPath(meta.device, meta.kind, meta.id), headers, meta.size,
                        source, meta.kind == "inventory" ? "application/gzip" : "application/octet-stream");
  if (!res.ok()) return res.status();
  *retry_after_s = ParseRetryAfter(res->Header("retry-after"));
  return StatusFromHttp(res->status, "PUT " + meta.kind + " " + meta.id);
}

}  // namespace common

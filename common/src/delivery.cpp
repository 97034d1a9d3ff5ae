#include "common/delivery.h"

#include "common/protocol.h"
#include "common/retry.h"

namespace common {

Attempt SendSpoolEntry(Transport& transport, const Spool& spool, const SpoolMeta& meta,
                       HeaderList headers) {
  headers.emplace_back(protocol::kContentSha256Header, meta.sha256);
  Status local;
  auto source = [&](uint64_t offset, uint64_t len) {
    auto data = spool.ReadBody(meta, offset, len);
    if (!data.ok()) local = data.status();
    return data;
  };
  auto res = transport.Put(protocol::UploadPath(meta.device, meta.kind, meta.id), headers, meta.size,
                           source, meta.kind == "inventory" ? "application/gzip" : "application/octet-stream");
  if (!local.ok()) return Attempt{local, {}, Attempt::Scope::kEntry};
  if (!res.ok()) return Attempt{res.status(), {}, Attempt::Scope::kPeer};
  Attempt attempt;
  attempt.answered = true;
  attempt.status = StatusFromHttp(res->status, "PUT " + meta.kind + " " + meta.id);
  attempt.retry_after = std::chrono::seconds(ParseRetryAfter(res->Header("retry-after")));
  if (res->status == 413) attempt.scope = Attempt::Scope::kEntry;
  return attempt;
}

}  // namespace common

#include "common/delivery.h"

#include "common/protocol.h"
#include "common/retry.h"

namespace common {

Attempt PutUpload(Transport& transport, const UploadRef& upload, const BodySource& source,
                  HeaderList headers) {
  headers.emplace_back(protocol::kContentSha256Header, upload.sha256);
  // Enrollment requests travel like uploads but have their own path.
  const bool enroll = upload.kind == protocol::kEnrollKind;
  auto res = transport.Put(
      enroll ? protocol::EnrollPath(upload.device, upload.id) : protocol::UploadPath(upload.device, upload.kind, upload.id),
      headers, upload.size, source,
      upload.kind == "inventory" ? "application/gzip" : enroll ? "application/xml" : "application/octet-stream");
  if (!res.ok()) return Attempt{res.status(), {}, Attempt::Scope::kPeer};
  Attempt attempt;
  attempt.answered = true;
  attempt.http_status = res->status;
  attempt.status = StatusFromHttp(res->status, "PUT " + upload.kind + " " + upload.id);
  attempt.retry_after = std::chrono::seconds(ParseRetryAfter(res->Header("retry-after")));
  if (res->status == 413) attempt.scope = Attempt::Scope::kEntry;
  return attempt;
}

Attempt SendSpoolEntry(Transport& transport, const Spool& spool, const SpoolMeta& meta,
                       HeaderList headers) {
  // A body that cannot be read here is this entry's problem, not the peer's.
  Status local;
  auto source = [&](uint64_t offset, uint64_t len) {
    auto data = spool.ReadBody(meta, offset, len);
    if (!data.ok()) local = data.status();
    return data;
  };
  Attempt attempt =
      PutUpload(transport, UploadRef{meta.device, meta.kind, meta.id, meta.sha256, meta.size},
                source, std::move(headers));
  if (!local.ok()) return Attempt{local, {}, Attempt::Scope::kEntry};
  return attempt;
}

}  // namespace common

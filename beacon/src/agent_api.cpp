#include "agent_api.h"

#include <algorithm>
#include <ctime>

#include "common/config.h"
#include "common/enrollment.h"
#include "common/identity.h"
#include "common/text.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/sha256.h"
#include "common/uuid.h"

namespace beacon {

using common::Code;
using common::HttpRequest;
using common::HttpResponse;
using common::Status;
namespace proto = common::protocol;

// Device facts carried by every agent request (validated).
struct AgentApi::DeviceContext {
  std::string device;
  std::string client_version;
  int64_t policy_revision = 0;
  int64_t outbox_depth = 0;
  int64_t check_interval = 0;  // 0: not sent
  std::string via;  // set when a beacon relays the request
  int64_t received_at = 0;
};

namespace {

using DeviceContext = AgentApi::DeviceContext;

// Check-in counts are optional: absent leaves the default.
bool ParseCount(const std::string& s, int64_t* out) { return s.empty() || common::ParseDecimal(s, out); }

// Who may act for `device` (docs/identity.md "Mutual TLS on the agent
// endpoints"): the device itself, or a beacon relaying for it. Only a
// beacon's assertions about a forwarded request (Via, Received-At) count.
// PermissionDenied (403) otherwise; anonymous requests never get here on an
// identified route (the engine answered 401).
Status Authorize(const HttpRequest& req, const std::string& device) {
  const common::PeerIdentity* peer = req.identity;
  if (peer == nullptr) return common::PermissionDenied("a client certificate is required");
  if (peer->is_beacon()) return Status::Ok();
  if (peer->id != device) return common::PermissionDenied("this certificate is for another device");
  if (!req.header(proto::kViaHeader).empty() || !req.header(proto::kReceivedAtHeader).empty()) {
    return common::PermissionDenied("relay headers are accepted from beacons only");
  }
  return Status::Ok();
}

Status ReadDeviceContext(const HttpRequest& req, const std::string& device, DeviceContext* ctx) {
  if (!common::IsUuid(device)) return common::InvalidArgument("device id in the path is not a UUID");
  if (req.header(proto::kDeviceHeader) != device) {
    return common::InvalidArgument(std::string(proto::kDeviceHeader) + " must name the device in the path");
  }
  ctx->device = device;
  ctx->client_version = req.header(proto::kClientVersionHeader);
  if (!ctx->client_version.empty() && !common::IsToken(ctx->client_version)) {
    return common::InvalidArgument("bad " + std::string(proto::kClientVersionHeader));
  }
  if (!ParseCount(req.header(proto::kPolicyRevisionHeader), &ctx->policy_revision)) {
    return common::InvalidArgument("bad " + std::string(proto::kPolicyRevisionHeader));
  }
  if (!ParseCount(req.header(proto::kOutboxDepthHeader), &ctx->outbox_depth)) {
    return common::InvalidArgument("bad " + std::string(proto::kOutboxDepthHeader));
  }
  if (!ParseCount(req.header(proto::kCheckIntervalHeader), &ctx->check_interval)) {
    return common::InvalidArgument("bad " + std::string(proto::kCheckIntervalHeader));
  }
  ctx->via = req.header(proto::kViaHeader);
  if (!ctx->via.empty() && !common::IsToken(ctx->via)) {
    return common::InvalidArgument("bad " + std::string(proto::kViaHeader));
  }
  if (!ParseCount(req.header(proto::kReceivedAtHeader), &ctx->received_at)) {
    return common::InvalidArgument("bad " + std::string(proto::kReceivedAtHeader));
  }
  // A relay's clock may run ahead; a received-at is never later than ours.
  ctx->received_at = std::min<int64_t>(ctx->received_at, std::time(nullptr));
  return Authorize(req, device);
}

void Fail(HttpResponse& res, int status, const std::string& message) {
  res.status = status;
  res.content_type = "text/plain";
  res.body = "error: " + message + "\n";
}

// 403 for what the peer may not do, 400 for a malformed request.
void Fail(HttpResponse& res, const Status& st) {
  Fail(res, st.code() == Code::kPermissionDenied ? 403 : 400, st.message());
}

bool EtagMatches(const std::string& if_none_match, const std::string& etag) {
  if (if_none_match.empty()) return false;
  size_t start = 0;
  while (start <= if_none_match.size()) {
    size_t comma = if_none_match.find(',', start);
    if (comma == std::string::npos) comma = if_none_match.size();
    std::string tag = if_none_match.substr(start, comma - start);
    tag.erase(0, tag.find_first_not_of(' '));
    tag.erase(tag.find_last_not_of(' ') + 1);
    if (tag == "*" || tag == etag) return true;
    start = comma + 1;
  }
  return false;
}

}  // namespace

AgentApi::AgentApi(const Settings* settings, common::Spool* spool, CheckinTracker* checkins,
                   policy::PolicySource* policy, inventory::Store* store, PolicyCache* cache, TrustState* trust,
                   ActionBoard* actions)
    : settings_(settings),
      spool_(spool),
      checkins_(checkins),
      policy_(policy),
      store_(store),
      cache_(cache),
      trust_(trust),
      actions_(actions),
      retry_after_(std::to_string(settings->retry_after.count())) {}

void AgentApi::Register(common::HttpServer::Listener& server) {
  server.Get(
      proto::kPingPath, nullptr,
      [](const HttpRequest&, HttpResponse& res) {
        res.body = "ok\n";
        return true;
      },
      common::RouteAccess::kOpen);
  // A check-in whose manifest is at hand is answered on the I/O thread; one
  // that must be resolved (store, signature) or revalidated upstream goes
  // to a worker.
  server.Get(
      proto::kManifestPath, [this](const HttpRequest& q, HttpResponse& r) { HandleManifest(q, r); },
      [this](const HttpRequest& q, HttpResponse& r) { return QuickManifest(q, r); });
  server.Get(proto::kFilePath, [this](const HttpRequest& q, HttpResponse& r) { HandleFile(q, r); });
  server.Put(proto::kUploadPath, settings_->max_upload_size,
             [this](const HttpRequest& q, HttpResponse& r) { return HandleUpload(q, r); });
  server.Get(proto::kTrustPath, nullptr, [this](const HttpRequest& q, HttpResponse& r) { return QuickTrust(q, r); });
  // Enrollment is the one thing a device without a certificate may do.
  server.Put(
      proto::kEnrollPath, common::kMaxEnrollBytes,
      [this](const HttpRequest& q, HttpResponse& r) { return HandleEnroll(q, r); }, common::RouteAccess::kOpen);
  server.Get(
      proto::kEnrollPath, [this](const HttpRequest& q, HttpResponse& r) { HandleEnrollAnswer(q, r); }, nullptr,
      common::RouteAccess::kOpen);
}

void AgentApi::Checkin(const DeviceContext& ctx, const std::string& peer) {
  // A relayed request was already counted by the beacon that saw the device.
  if (!ctx.via.empty()) return;
  checkins_->Record({ctx.device, static_cast<int64_t>(std::time(nullptr)), settings_->name,
                     ctx.client_version, ctx.policy_revision, ctx.outbox_depth, peer, ctx.check_interval});
}

// 503 and 507: the sender keeps its data and comes back after Retry-After.
void AgentApi::Refuse(HttpResponse& res, int status, const std::string& message) const {
  Fail(res, status, message);
  res.Set("Retry-After", retry_after_);
}

bool AgentApi::QuickManifest(const HttpRequest& req, HttpResponse& res) {
  DeviceContext ctx;
  Status st = ReadDeviceContext(req, req.params[0], &ctx);
  if (!st.ok()) {
    Fail(res, st);
    return true;
  }
  if (policy_ != nullptr) {
    auto snap = policy_->CachedManifestFor(ctx.device);
    if (snap == nullptr) return false;
    AnswerManifest(req, snap->xml, snap->etag, res);
    if (!snap->manifest.actions.empty()) actions_->Served(ctx.device, snap->manifest.actions);
  } else {
    auto m = cache_->FreshManifest(ctx.device);
    if (!m) return false;
    AnswerManifest(req, m->xml, m->etag, res);
  }
  Checkin(ctx, req.peer);
  return true;
}

void AgentApi::HandleManifest(const HttpRequest& req, HttpResponse& res) {
  DeviceContext ctx;
  Status st = ReadDeviceContext(req, req.params[0], &ctx);
  if (!st.ok()) return Fail(res, st);
  Checkin(ctx, req.peer);
  if (policy_ != nullptr) {
    auto snap = policy_->ManifestFor(ctx.device);
    if (!snap.ok()) {
      if (snap.status().code() == Code::kNotFound) return Fail(res, 404, "no policy has been published yet");
      common::LogError("manifest for " + ctx.device + ": " + snap.status().ToString());
      return Refuse(res, 503, "policy cannot be resolved right now");
    }
    AnswerManifest(req, (*snap)->xml, (*snap)->etag, res);
    if (!(*snap)->manifest.actions.empty()) actions_->Served(ctx.device, (*snap)->manifest.actions);
  } else {
    auto m = cache_->Manifest(ctx.device, ctx.client_version, ctx.policy_revision);
    if (!m.ok()) return Refuse(res, 503, "policy is not available yet; upstream unreachable");
    AnswerManifest(req, m->xml, m->etag, res);
  }
}

// 304 when the device already has this manifest (the common case), else
// the manifest itself.
void AgentApi::AnswerManifest(const HttpRequest& req, const std::string& xml, const std::string& etag,
                              HttpResponse& res) {
  res.Set("ETag", etag);
  res.Set("Cache-Control", "no-cache");
  if (EtagMatches(req.header("If-None-Match"), etag)) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.content_type = "application/xml";
  res.body = xml;
}

void AgentApi::HandleFile(const HttpRequest& req, HttpResponse& res) {
  const std::string& sha = req.params[0];
  if (!common::IsHexDigest(sha)) return Fail(res, 400, "file name must be a SHA-256 in lower-case hex");
  // File requests carry the device's headers too; count them as check-ins
  // when they are well-formed (the path names no device to compare with).
  std::string device = req.header(proto::kDeviceHeader);
  DeviceContext ctx;
  if (common::IsUuid(device) && ReadDeviceContext(req, device, &ctx).ok()) Checkin(ctx, req.peer);
  auto data = policy_ != nullptr ? policy_->objects().Get(sha) : cache_->File(sha);
  if (!data.ok()) {
    switch (data.status().code()) {
      case Code::kNotFound: return Fail(res, 404, "no such policy file");
      case Code::kUnavailable:
      case Code::kDeadlineExceeded: return Refuse(res, 503, "upstream unreachable");
      default:
        common::LogError("file " + sha + ": " + data.status().ToString());
        return Fail(res, 502, "policy file could not be obtained intact");
    }
  }
  // Named by its digest, the file can never change: cache it forever.
  std::string etag = "\"" + sha + "\"";
  res.Set("ETag", etag);
  res.Set("Cache-Control", "public, max-age=31536000, immutable");
  if (EtagMatches(req.header("If-None-Match"), etag)) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.content_type = "application/octet-stream";
  res.body = std::move(data).value();
}

// The spool entry one upload streams into. It holds one of the
// max_concurrent_uploads slots for as long as it lives; destroyed without
// Finish() (the body did not arrive), its Writer removes the partial file.
class AgentApi::UploadSink : public common::BodySink {
 public:
  UploadSink(const AgentApi* api, std::atomic<int>* in_flight, std::unique_ptr<common::Spool::Writer> writer,
             common::SpoolMeta meta)
      : api_(api), in_flight_(in_flight), writer_(std::move(writer)), meta_(std::move(meta)) {}
  ~UploadSink() override { --*in_flight_; }

  bool Write(const char* data, size_t size, HttpResponse& res) override {
    Status st = writer_->Append(data, size);
    if (st.ok()) return true;
    common::LogError("upload " + common::SpoolKey(meta_) + ": " + st.ToString());
    api_->Refuse(res, st.code() == Code::kResourceExhausted ? 507 : 503, "cannot store uploads right now");
    return false;
  }

  void Finish(HttpResponse& res) override {
    Status commit = writer_->Commit();
    if (commit.code() == Code::kInvalidArgument) return Fail(res, 422, commit.message());
    if (!commit.ok()) {
      common::LogError("upload " + common::SpoolKey(meta_) + ": " + commit.ToString());
      return api_->Refuse(res, commit.code() == Code::kResourceExhausted ? 507 : 503,
                          "cannot store uploads right now");
    }
    common::LogInfo("stored " + meta_.kind + " " + meta_.id + " from device " + meta_.device + " (" +
                    std::to_string(meta_.size) + " bytes)");
    res.status = 201;
    res.body = "stored\n";
  }

 private:
  const AgentApi* api_;
  std::atomic<int>* in_flight_;
  std::unique_ptr<common::Spool::Writer> writer_;
  common::SpoolMeta meta_;
};

// Everything about an upload is decided here, from its head, before the
// engine invites the body (100 Continue) or reads it.
std::unique_ptr<common::BodySink> AgentApi::HandleUpload(const HttpRequest& req, HttpResponse& res) {
  const std::string& device = req.params[0];
  const std::string& kind = req.params[1];
  const std::string& upload_id = req.params[2];
  DeviceContext ctx;
  Status st = ReadDeviceContext(req, device, &ctx);
  if (!st.ok()) {
    Fail(res, st);
    return nullptr;
  }
  // 422: the upload itself is bad, so a sender quarantines it instead of
  // holding its queue behind it. (400 is for a malformed request, which a
  // sender keeps and reports: its bytes may still be good.)
  if (!proto::IsUploadKind(kind)) {
    Fail(res, 422, "unknown upload kind");
    return nullptr;
  }
  // Check-in batches and beacon health come from beacons only: they assert
  // when many devices were seen, and what a beacon says about itself.
  if (proto::IsBeaconOnlyKind(kind) && !req.identity->is_beacon()) {
    Fail(res, 403, "check-in batches and beacon health come from beacons only");
    return nullptr;
  }
  if (!common::IsUuid(upload_id)) {
    Fail(res, 422, "upload id is not a UUID");
    return nullptr;
  }
  std::string sha = req.header(proto::kContentSha256Header);
  if (!common::IsHexDigest(sha)) {
    Fail(res, 400, std::string(proto::kContentSha256Header) + " must be a lower-case hex SHA-256");
    return nullptr;
  }
  Checkin(ctx, req.peer);

  common::SpoolMeta meta;
  meta.id = upload_id;
  meta.device = device;
  meta.kind = kind;
  meta.sha256 = sha;
  meta.size = req.content_length;
  // A relay passes on when the first beacon received the upload; a device's
  // own clock is not trusted for that.
  meta.received_at = (!ctx.via.empty() && ctx.received_at > 0) ? ctx.received_at
                                                                : static_cast<int64_t>(std::time(nullptr));
  meta.via = ctx.via.empty() ? settings_->name : ctx.via;
  meta.client_version = ctx.client_version;
  meta.policy_revision = ctx.policy_revision;
  return Receive(std::move(meta), res);
}

// Opens the spool entry the body streams into, or answers.
std::unique_ptr<common::BodySink> AgentApi::Receive(common::SpoolMeta meta, HttpResponse& res) {
  if (++uploads_in_flight_ > settings_->max_concurrent_uploads) {
    --uploads_in_flight_;
    Refuse(res, 503, "too many uploads in progress");
    return nullptr;
  }
  auto writer = spool_->Begin(meta);
  if (writer.ok()) return std::make_unique<UploadSink>(this, &uploads_in_flight_, std::move(writer).value(), meta);
  --uploads_in_flight_;
  // The answers name the condition, never the request's own data.
  switch (writer.status().code()) {
    case Code::kAlreadyExists:
      // Acknowledged like a new upload, after the engine has read and
      // dropped the body: closing early would make the sender see a write
      // error and send it again, forever. (The store is not asked here: that
      // would put every upload behind the importer. An upload imported
      // before is spooled again and dropped by the importer; see
      // docs/impl.md.)
      res.status = 200;
      res.body = "already stored\n";
      return nullptr;
    case Code::kUnavailable:  // spool_max_size/spool_max_files reached, or this upload is being received
      common::LogWarn("upload " + common::SpoolKey(meta) + " refused: " + writer.status().message());
      Refuse(res, 503, "the spool is full or this upload is being received; retry later");
      return nullptr;
    case Code::kResourceExhausted:  // the disk is short of spool_min_free
      common::LogWarn("upload " + common::SpoolKey(meta) + " refused: " + writer.status().message());
      Refuse(res, 507, "not enough disk space; retry later");
      return nullptr;
    case Code::kInvalidArgument:
      Fail(res, 400, writer.status().message());
      return nullptr;
    default:
      common::LogError("upload " + common::SpoolKey(meta) + ": " + writer.status().ToString());
      Refuse(res, 503, "cannot store uploads right now");
      return nullptr;
  }
}

// An enrollment request is received like an upload (spooled durably, then
// relayed or decided by the importer), without a client certificate. Only
// a beacon relaying it may say where and when it was first received.
std::unique_ptr<common::BodySink> AgentApi::HandleEnroll(const HttpRequest& req, HttpResponse& res) {
  const std::string& device = req.params[0];
  const std::string& request = req.params[1];
  if (!common::IsUuid(device) || !common::IsUuid(request)) {
    Fail(res, 400, "device and request ids must be lower-case UUIDs");
    return nullptr;
  }
  std::string sha = req.header(proto::kContentSha256Header);
  if (!common::IsHexDigest(sha)) {
    Fail(res, 400, std::string(proto::kContentSha256Header) + " must be a lower-case hex SHA-256");
    return nullptr;
  }
  const bool from_beacon = req.identity != nullptr && req.identity->is_beacon();
  std::string via = req.header(proto::kViaHeader);
  int64_t received_at = 0;
  if (!from_beacon && (!via.empty() || !req.header(proto::kReceivedAtHeader).empty())) {
    Fail(res, 403, "relay headers are accepted from beacons only");
    return nullptr;
  }
  if ((!via.empty() && !common::IsToken(via)) || !ParseCount(req.header(proto::kReceivedAtHeader), &received_at)) {
    Fail(res, 400, "bad relay headers");
    return nullptr;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  common::SpoolMeta meta;
  meta.id = request;
  meta.device = device;
  meta.kind = proto::kEnrollKind;
  meta.sha256 = sha;
  meta.size = req.content_length;
  meta.received_at = received_at > 0 ? std::min(received_at, now) : now;
  meta.via = via.empty() ? settings_->name : via;
  return Receive(std::move(meta), res);
}

// The answer to an enrollment or renewal request: from the store at the
// central; from upstream at a relay (once the request has left its spool).
void AgentApi::HandleEnrollAnswer(const HttpRequest& req, HttpResponse& res) {
  const std::string& device = req.params[0];
  const std::string& request = req.params[1];
  if (!common::IsUuid(device) || !common::IsUuid(request)) {
    return Fail(res, 400, "device and request ids must be lower-case UUIDs");
  }
  auto pending = [&] {
    res.status = 202;
    res.body = "pending\n";
    res.Set("Retry-After", "5");
  };
  if (spool_->Contains(device, request)) return pending();
  if (store_ != nullptr) {
    auto e = store_->GetEnrollment(device, request);
    if (!e.ok()) {
      if (e.status().code() == Code::kNotFound) return Fail(res, 404, "no such enrollment request");
      common::LogError("enrollment " + device + "/" + request + ": " + e.status().ToString());
      return Refuse(res, 503, "enrollment cannot be read right now");
    }
    if (e->state == "pending") return pending();
    if (e->state != "issued") return Fail(res, 403, "enrollment refused: " + e->reason);
    res.content_type = "application/x-pem-file";
    res.body = e->cert_pem;
    return;
  }
  auto up = cache_->UpstreamGet(proto::EnrollPath(device, request), 64 << 10);
  if (!up.ok()) return Refuse(res, 503, "upstream unreachable");
  switch (up->status) {
    case 200: {
      // Passed on only if it is what was asked for: a certificate for this device.
      auto id = common::IdentityFromPem(up->body);
      if (!id.ok() || !id->is_device() || id->id != device) {
        common::LogError("enrollment " + device + "/" + request + ": upstream answered something else than its certificate");
        return Fail(res, 502, "upstream answered something else than a certificate for this device");
      }
      res.content_type = "application/x-pem-file";
      res.body = up->body;
      return;
    }
    case 202: return pending();
    case 403: {
      // Relayed as the central said it, when it is one short printable line.
      std::string line = up->body.substr(0, up->body.find('\n'));
      const std::string prefix = "error: enrollment refused: ";
      if (line.rfind(prefix, 0) != 0 || line.size() > 200 || common::Printable(line) != line) line = prefix + "refused upstream";
      return Fail(res, 403, line.substr(7));
    }
    case 404: return Fail(res, 404, "no such enrollment request");
    default: return Refuse(res, 503, "upstream cannot answer right now");
  }
}

// The trust bundle, from memory.
bool AgentApi::QuickTrust(const HttpRequest& req, HttpResponse& res) {
  auto served = trust_->Current();
  res.Set("ETag", served->etag);
  res.Set("Cache-Control", "no-cache");
  if (EtagMatches(req.header("If-None-Match"), served->etag)) {
    res.status = 304;
    return true;
  }
  res.content_type = "application/x-pem-file";
  res.body = served->pem;
  return true;
}

}  // namespace beacon

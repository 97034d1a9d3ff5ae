#include "beacon/beacon.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

#include "checkins.h"
#include "common/fs.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/process.h"
#include "common/protocol.h"
#include "common/sha256.h"
#include "common/spool.h"
#include "common/uuid.h"
#include "importer.h"
#include "inventory/store.h"
#include "beacon/facts.h"
#include "policy/policy_set.h"
#include "policy_cache.h"
#include "upstream.h"

namespace beacon {

using common::Code;
using common::HttpRequest;
using common::HttpResponse;
using common::KeyType;
using common::Status;
using common::StatusOr;
namespace proto = common::protocol;

const std::vector<common::ConfigKey>& ConfigKeys() {
  static const std::vector<common::ConfigKey> keys = {
      {"name", KeyType::kString, "", "this beacon's name in check-ins and logs ([A-Za-z0-9._:-]); default: the host name"},
      {"listen_host", KeyType::kString, "0.0.0.0", "address to listen on"},
      {"listen_port", KeyType::kInt, "8443", "TCP port to listen on (0 = any free port)"},
      {"tls_cert", KeyType::kString, "/etc/beacon/beacon.pem", "PEM certificate chain this beacon presents"},
      {"tls_key", KeyType::kString, "/etc/beacon/beacon.key", "PEM private key of tls_cert"},
      {"ca_file", KeyType::kString, "/etc/beacon/ca.pem", "estate CA bundle used to verify the upstream"},
      {"data_dir", KeyType::kString, "/var/lib/beacon", "spool, caches and (central) the store live here"},
      {"upstream", KeyType::kString, "", "https://host:port of the next beacon or the central; set on relays only"},
      {"store", KeyType::kString, "", "'sqlite' makes this beacon the central (store at data_dir/store.sqlite)"},
      {"policy_signing_key", KeyType::kString, "/etc/beacon/policy.key", "central: PEM Ed25519 private key that signs every published manifest (openssl genpkey -algorithm ed25519)"},
      {"threads", KeyType::kInt, "256", "worker threads; each serves one connection at a time, so connections beyond this wait (even for their TLS handshake)"},
      {"backlog", KeyType::kInt, "4096", "listen backlog (pending connections the kernel queues)"},
      {"read_timeout", KeyType::kDuration, "5s", "longest wait for request bytes before the connection is closed"},
      {"write_timeout", KeyType::kDuration, "5s", "longest wait to send response bytes"},
      {"keep_alive_timeout", KeyType::kDuration, "5s", "how long an idle keep-alive connection is kept; it holds a worker thread meanwhile, and shutdown waits for it"},
      {"max_upload_size", KeyType::kBytes, "64M", "largest upload body accepted (413 above, before reading)"},
      {"max_concurrent_uploads", KeyType::kInt, "32", "uploads received at once; more get 503 with Retry-After"},
      {"spool_max_size", KeyType::kBytes, "2G", "bytes the spool may hold; more get 503 with Retry-After"},
      {"spool_min_free", KeyType::kBytes, "256M", "disk space always left free; below it uploads get 507"},
      {"retry_after", KeyType::kDuration, "60s", "Retry-After sent with 503 and 507"},
      {"policy_cache_ttl", KeyType::kDuration, "60s", "relay: how long a cached manifest is served before revalidation upstream"},
      {"policy_refresh_interval", KeyType::kDuration, "2s", "central: how often it looks for a revision newly published with beaconctl"},
      {"relay_backoff_base", KeyType::kDuration, "1s", "relay: first retry delay after an upstream failure"},
      {"relay_backoff_cap", KeyType::kDuration, "5m", "relay: longest retry delay"},
      {"checkin_flush_interval", KeyType::kDuration, "10s", "how often tracked check-ins are stored (central) or sent upstream (relay)"},
      {"log_level", KeyType::kString, "info", "debug, info, warn or error"},
  };
  return keys;
}

namespace {

// Device facts carried by every agent request (validated).
struct DeviceContext {
  std::string device;
  std::string client_version;
  int64_t policy_revision = 0;
  int64_t outbox_depth = 0;
  std::string via;  // set when a beacon relays the request
  int64_t received_at = 0;
};

// Check-in counts are optional: absent leaves the default.
bool ParseCount(const std::string& s, int64_t* out) { return s.empty() || common::ParseDecimal(s, out); }

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
  ctx->via = req.header(proto::kViaHeader);
  if (!ctx->via.empty() && !common::IsToken(ctx->via)) {
    return common::InvalidArgument("bad " + std::string(proto::kViaHeader));
  }
  if (!ParseCount(req.header(proto::kReceivedAtHeader), &ctx->received_at)) {
    return common::InvalidArgument("bad " + std::string(proto::kReceivedAtHeader));
  }
  return Status::Ok();
}

void Fail(HttpResponse& res, int status, const std::string& message) {
  res.status = status;
  res.content_type = "text/plain";
  res.body = "error: " + message + "\n";
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

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "beacon";
  std::string name;
  for (char c : std::string(buf)) name.push_back(common::IsToken(std::string(1, c)) ? c : '-');
  return name.empty() ? "beacon" : name.substr(0, 64);
}

}  // namespace

struct Beacon::Impl {
  common::Config config;
  std::string name;
  std::string id;
  std::unique_ptr<common::Spool> spool;
  std::unique_ptr<inventory::Store> store;        // central only
  std::unique_ptr<policy::ManifestSigner> signer;  // central only
  std::unique_ptr<policy::PolicySource> policy;   // central only
  std::unique_ptr<PolicyCache> cache;             // relay only
  common::ClientOptions upstream;                 // relay only
  std::unique_ptr<common::HttpServer> server;
  CheckinTracker checkins;
  common::StopFlag stop;
  std::atomic<int> uploads_in_flight{0};
  std::string retry_after;

  bool central() const { return store != nullptr; }

  void Checkin(const DeviceContext& ctx, const std::string& peer) {
    // A relayed request was already counted by the beacon that saw the device.
    if (!ctx.via.empty()) return;
    checkins.Record({ctx.device, static_cast<int64_t>(std::time(nullptr)), name, ctx.client_version,
                     ctx.policy_revision, ctx.outbox_depth, peer});
  }

  void Unavailable(HttpResponse& res, int status, const std::string& message) {
    Fail(res, status, message);
    res.Set("Retry-After", retry_after);
  }

  void HandleManifest(const HttpRequest& req, HttpResponse& res) {
    DeviceContext ctx;
    Status st = ReadDeviceContext(req, req.params[0], &ctx);
    if (!st.ok()) return Fail(res, 400, st.message());
    Checkin(ctx, req.peer);
    std::string xml, etag;
    if (central()) {
      auto snap = policy->ManifestFor(ctx.device);
      if (!snap.ok()) {
        if (snap.status().code() == Code::kNotFound) return Fail(res, 404, snap.status().message());
        common::LogError("manifest for " + ctx.device + ": " + snap.status().ToString());
        return Unavailable(res, 503, "policy cannot be resolved right now");
      }
      xml = (*snap)->xml;
      etag = (*snap)->etag;
    } else {
      auto m = cache->Manifest(ctx.device, ctx.client_version, ctx.policy_revision);
      if (!m.ok()) return Unavailable(res, 503, "policy is not available yet; upstream unreachable");
      xml = std::move(m->xml);
      etag = std::move(m->etag);
    }
    res.Set("ETag", etag);
    res.Set("Cache-Control", "no-cache");
    if (EtagMatches(req.header("If-None-Match"), etag)) {
      res.status = 304;
      return;
    }
    res.status = 200;
    res.content_type = "application/xml";
    res.body = std::move(xml);
  }

  void HandleFile(const HttpRequest& req, HttpResponse& res) {
    const std::string& sha = req.params[0];
    if (!common::IsHexDigest(sha)) return Fail(res, 400, "file name must be a SHA-256 in lower-case hex");
    // File requests carry the device's headers too; count them as check-ins
    // when they are well-formed (the path names no device to compare with).
    std::string device = req.header(proto::kDeviceHeader);
    DeviceContext ctx;
    if (common::IsUuid(device) && ReadDeviceContext(req, device, &ctx).ok()) Checkin(ctx, req.peer);
    auto data = central() ? policy->objects().Get(sha) : cache->File(sha);
    if (!data.ok()) {
      switch (data.status().code()) {
        case Code::kNotFound: return Fail(res, 404, "no such policy file");
        case Code::kUnavailable: return Unavailable(res, 503, "upstream unreachable");
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

  void HandleUpload(const HttpRequest& req, const common::BodyReader& body, HttpResponse& res) {
    const std::string& device = req.params[0];
    const std::string& kind = req.params[1];
    const std::string& upload_id = req.params[2];
    DeviceContext ctx;
    Status st = ReadDeviceContext(req, device, &ctx);
    if (!st.ok()) return Fail(res, 400, st.message());
    // 400, not 404: the item is bad, so a sender quarantines it instead of
    // holding its queue behind it.
    if (!proto::IsUploadKind(kind)) return Fail(res, 400, "unknown upload kind");
    // Check-in batches come from relaying beacons only. (Until beacons prove
    // who they are with certificates, this keeps devices from reporting for
    // each other by accident, not by design; see docs/impl.md.)
    if (kind == "checkins" && ctx.via.empty()) return Fail(res, 403, "check-in batches are relayed by beacons only");
    if (!common::IsUuid(upload_id)) return Fail(res, 400, "upload id is not a UUID");
    std::string sha = req.header(proto::kContentSha256Header);
    if (!common::IsHexDigest(sha)) {
      return Fail(res, 400, std::string(proto::kContentSha256Header) + " must be a lower-case hex SHA-256");
    }
    Checkin(ctx, req.peer);

    struct InFlight {
      std::atomic<int>& n;
      int count;
      explicit InFlight(std::atomic<int>& c) : n(c), count(++c) {}
      ~InFlight() { --n; }
    } in_flight(uploads_in_flight);
    if (in_flight.count > config.GetInt("max_concurrent_uploads")) {
      return Unavailable(res, 503, "too many uploads in progress");
    }
    // An upload we already hold is acknowledged after its body is read and
    // discarded: closing early would make the sender see a write error and
    // send it again, forever. (The store is not asked here: that would put
    // every upload behind the importer's write lock. An id imported before
    // is spooled again and dropped by the importer; see docs/impl.md.)
    auto already_stored = [&] {
      body([](const char*, size_t) { return true; });
      res.status = 200;
      res.body = "already stored\n";
    };
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
    meta.via = ctx.via.empty() ? name : ctx.via;
    meta.client_version = ctx.client_version;
    meta.policy_revision = ctx.policy_revision;
    auto writer = spool->Begin(meta);
    if (!writer.ok()) {
      switch (writer.status().code()) {
        case Code::kAlreadyExists: return already_stored();
        case Code::kUnavailable:  // spool_max_size reached, or this id is being received
          common::LogWarn("upload refused: " + writer.status().message());
          return Unavailable(res, 503, writer.status().message() + "; retry later");
        case Code::kResourceExhausted:  // the disk is short of spool_min_free
          common::LogWarn("upload refused: " + writer.status().message());
          return Unavailable(res, 507, "not enough disk space; retry later");
        case Code::kInvalidArgument: return Fail(res, 400, writer.status().message());
        default:
          common::LogError("upload " + upload_id + ": " + writer.status().ToString());
          return Unavailable(res, 503, "cannot store uploads right now");
      }
    }
    Status write_status;
    bool complete = body([&](const char* data, size_t len) {
      write_status = (*writer)->Append(data, len);
      return write_status.ok();
    });
    if (!write_status.ok()) {
      common::LogError("upload " + upload_id + ": " + write_status.ToString());
      return Unavailable(res, write_status.code() == Code::kResourceExhausted ? 507 : 503,
                         "cannot store uploads right now");
    }
    if (!complete) return Fail(res, 400, "body ended before Content-Length bytes");
    Status commit = (*writer)->Commit();
    if (commit.code() == Code::kAlreadyExists) {
      res.status = 200;
      res.body = "already stored\n";
      return;
    }
    if (commit.code() == Code::kInvalidArgument) return Fail(res, 400, commit.message());
    if (!commit.ok()) {
      common::LogError("upload " + upload_id + ": " + commit.ToString());
      return Unavailable(res, 503, "cannot store uploads right now");
    }
    common::LogInfo("stored " + kind + " " + upload_id + " from device " + device + " (" +
                    std::to_string(meta.size) + " bytes)");
    res.status = 201;
    res.body = "stored\n";
  }

  // Relay: hands tracked check-ins upstream as a "checkins" upload.
  void RunCheckinSender() {
    int64_t interval = std::max<int64_t>(1, config.GetSeconds("checkin_flush_interval"));
    while (stop.SleepFor(std::chrono::seconds(interval))) SendCheckins();
    SendCheckins();
  }

  void SendCheckins() {
    auto batch = checkins.Drain();
    if (batch.empty()) return;
    common::SpoolMeta meta;
    meta.id = common::NewUuid();
    meta.device = id;
    meta.kind = "checkins";
    meta.via = name;
    Status st = spool->Put(meta, EncodeCheckins(batch));
    if (!st.ok()) {
      common::LogWarn("check-ins kept in memory: " + st.ToString());
      checkins.Restore(std::move(batch));
    }
  }
};

Beacon::Beacon() : impl_(new Impl) {}
Beacon::~Beacon() = default;

StatusOr<std::unique_ptr<Beacon>> Beacon::Create(const common::Config& config) {
  std::unique_ptr<Beacon> b(new Beacon);
  Impl& im = *b->impl_;
  im.config = config;
  RETURN_IF_ERROR(common::SetLogLevelFrom(config.GetString("log_level")));
  im.name = config.GetString("name").empty() ? HostName() : config.GetString("name");
  if (!common::IsToken(im.name)) return common::InvalidArgument("name must match [A-Za-z0-9._:-]{1,64}");
  std::string data = config.GetString("data_dir");
  std::string upstream = config.GetString("upstream");
  std::string store = config.GetString("store");
  if (upstream.empty() == store.empty()) {
    return common::InvalidArgument("set exactly one of 'upstream' (a relay beacon) or 'store' (the central)");
  }
  if (!store.empty() && store != "sqlite") return common::InvalidArgument("store must be 'sqlite'");
  RETURN_IF_ERROR(common::MakeDirs(data, 0750));
  // The beacon is the "device" of its own uploads (check-in batches).
  ASSIGN_OR_RETURN(im.id, common::LoadOrCreateUuidFile(data + "/beacon-id"));
  im.retry_after = std::to_string(std::max<int64_t>(1, config.GetSeconds("retry_after")));

  common::Spool::Options so;
  so.dir = data + "/spool";
  so.max_bytes = config.GetBytes("spool_max_size");
  so.min_free_bytes = config.GetBytes("spool_min_free");
  ASSIGN_OR_RETURN(im.spool, common::Spool::Open(so));

  if (!store.empty()) {
    ASSIGN_OR_RETURN(im.store, inventory::OpenSqliteStore(data + "/store.sqlite"));
    ASSIGN_OR_RETURN(im.signer, policy::ManifestSigner::FromPemFile(config.GetString("policy_signing_key")));
    inventory::Store* store_ptr = im.store.get();
    ASSIGN_OR_RETURN(im.policy, policy::PolicySource::Open(
                                    data + "/policy-state", data + "/policy-served", im.signer.get(),
                                    [store_ptr](const std::string& device) { return DeviceFactsFromStore(*store_ptr, device); }));
  } else {
    im.upstream.url = upstream;
    im.upstream.ca_file = config.GetString("ca_file");
    im.upstream.connect_timeout_s = 3;
    im.upstream.read_timeout_s = 30;
    im.upstream.write_timeout_s = 30;
    RETURN_IF_ERROR(common::HttpClient::Create(im.upstream).status());
    // A device waits while its manifest is revalidated: keep that short and
    // fall back to the cache.
    common::ClientOptions policy_upstream = im.upstream;
    policy_upstream.read_timeout_s = 10;
    im.cache = std::make_unique<PolicyCache>(data + "/policy-cache", policy_upstream, im.name,
                                             config.GetSeconds("policy_cache_ttl"));
    RETURN_IF_ERROR(im.cache->Init());
  }

  common::ServerOptions opts;
  opts.host = config.GetString("listen_host");
  opts.port = static_cast<int>(config.GetInt("listen_port"));
  opts.cert_file = config.GetString("tls_cert");
  opts.key_file = config.GetString("tls_key");
  opts.threads = static_cast<int>(config.GetInt("threads"));
  opts.backlog = static_cast<int>(config.GetInt("backlog"));
  opts.read_timeout_s = static_cast<int>(config.GetSeconds("read_timeout"));
  opts.write_timeout_s = static_cast<int>(config.GetSeconds("write_timeout"));
  opts.keep_alive_timeout_s = static_cast<int>(config.GetSeconds("keep_alive_timeout"));
  im.server = std::make_unique<common::HttpServer>(opts);
  Impl* p = &im;
  im.server->Get(proto::kPingPath, [](const HttpRequest&, HttpResponse& res) { res.body = "ok\n"; });
  im.server->Get(proto::kManifestPath, [p](const HttpRequest& q, HttpResponse& r) { p->HandleManifest(q, r); });
  im.server->Get(proto::kFilePath, [p](const HttpRequest& q, HttpResponse& r) { p->HandleFile(q, r); });
  im.server->Put(proto::kUploadPath, config.GetBytes("max_upload_size"),
                 [p](const HttpRequest& q, const common::BodyReader& body, HttpResponse& r) {
                   p->HandleUpload(q, body, r);
                 });
  RETURN_IF_ERROR(im.server->Start());
  common::LogInfo(std::string(im.central() ? "central" : "relay") + " beacon '" + im.name +
                  "' listening on " + opts.host + ":" + std::to_string(im.server->port()) +
                  (im.central() ? "" : ", upstream " + upstream) + "; " +
                  std::to_string(im.spool->Count()) + " uploads waiting in the spool");
  return b;
}

int Beacon::port() const { return impl_->server->port(); }

void Beacon::Run() {
  Impl& im = *impl_;
  std::vector<std::thread> threads;
  if (im.central()) {
    threads.emplace_back([&im] {
      auto every = std::chrono::seconds(std::max<int64_t>(1, im.config.GetSeconds("policy_refresh_interval")));
      while (im.stop.SleepFor(every)) {
        Status st = im.policy->Refresh();
        if (!st.ok()) common::LogError("policy: cannot take the newest revision into service, keeping revision " +
                                       std::to_string(im.policy->revision()) + ": " + st.ToString());
      }
    });
    threads.emplace_back([&im] {
      RunImporter(*im.spool, *im.store, im.checkins, im.stop,
                  std::max<int64_t>(1, im.config.GetSeconds("checkin_flush_interval")),
                  [&im](const std::string& device) { im.policy->Forget(device); });
    });
  } else {
    threads.emplace_back([&im] {
      RunRelay(*im.spool, im.upstream, im.stop,
               std::chrono::seconds(std::max<int64_t>(1, im.config.GetSeconds("relay_backoff_base"))),
               std::chrono::seconds(std::max<int64_t>(1, im.config.GetSeconds("relay_backoff_cap"))));
    });
    threads.emplace_back([&im] { im.RunCheckinSender(); });
  }
  im.server->Serve();
  im.stop.Stop();
  im.spool->Wake();
  for (auto& t : threads) t.join();
  common::LogInfo("stopped");
}

void Beacon::Stop() {
  impl_->stop.Stop();
  impl_->spool->Wake();
  impl_->server->Stop();
}

namespace {

void Usage(std::ostream& out) {
  out << "usage: beacon [--config FILE] [--data-dir DIR]\n"
         "       beacon --help | --version\n\n"
         "The default config file is /etc/beacon/beacon.conf; --data-dir overrides its data_dir.\n"
         "Serves the agent API over HTTPS. With 'upstream' set it relays uploads and policy;\n"
         "with 'store = sqlite' it is the central and imports uploads into the store.\n\n"
         "Configuration keys:\n"
      << common::ConfigHelp(ConfigKeys());
}

}  // namespace

int BeaconMain(int argc, char** argv) {
  common::SetLogTag("beacon");
  std::string config_path = "/etc/beacon/beacon.conf", data_dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      Usage(std::cout);
      return 0;
    } else if (a == "--version") {
      std::cout << "beacon " << BEACON_VERSION << "\n";
      return 0;
    } else if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--data-dir" && i + 1 < argc) {
      data_dir = argv[++i];
    } else {
      std::cerr << "beacon: unknown argument '" << a << "'\n";
      Usage(std::cerr);
      return 2;
    }
  }
  auto config = common::LoadConfig(config_path, &ConfigKeys());
  if (!config.ok()) {
    std::cerr << "beacon: " << config.status().message() << "\n";
    return 2;
  }
  if (!data_dir.empty()) (void)config->Set("data_dir", data_dir, "--data-dir");

  auto beacon = Beacon::Create(*config);
  if (!beacon.ok()) {
    common::LogError(beacon.status().ToString());
    return 1;
  }
  // The signal thread may call Stop() at any moment until the process ends,
  // so the Beacon is never destroyed: it is released, and the OS reclaims it.
  Beacon* b = beacon->release();
  common::StopOnTerminationSignals([b] { b->Stop(); });
  b->Run();
  return 0;
}

}  // namespace beacon

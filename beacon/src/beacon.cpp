#include "beacon/beacon.h"

#include <ctime>
#include <mutex>
#include <thread>

#include "action_board.h"
#include "admin_api.h"
#include "agent_api.h"
#include "beacon/estate_ca.h"
#include "common/identity.h"
#include "common/pki.h"
#include "enroller.h"
#include "estate_view.h"
#include "trust.h"
#include "beacon/facts.h"
#include "checkins.h"
#include "common/fs.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/process.h"
#include "common/service.h"
#include "common/spool.h"
#include "common/uuid.h"
#include "dashboard.h"
#include "importer.h"
#include "metrics.h"
#include "inventory/store.h"
#include "policy/policy_set.h"
#include "policy_cache.h"
#include "self_check.h"
#include "settings.h"
#include "upstream.h"

namespace beacon {

using common::Status;
using common::StatusOr;

namespace {
// The identity in `cert_file`, which must be a beacon certificate of the
// estate: it is what clients see and what a relay presents upstream.
StatusOr<common::PeerIdentity> OwnIdentity(const std::string& cert_file) {
  ASSIGN_OR_RETURN(std::string pem, common::ReadFile(cert_file, 1 << 20));
  auto own = common::IdentityFromPem(pem);
  if (!own.ok() || !own->is_beacon()) {
    return common::InvalidArgument(cert_file + ": not a beacon certificate of the estate (" +
                                   (own.ok() ? "it names a device" : own.status().message()) +
                                   "); make one with `beaconctl beacon issue`");
  }
  return *own;
}

// A periodic task's failure: one the next run may not meet (the store is
// unreachable for a while: Unavailable) is a warning; any other an error.
void LogHousekeeping(const std::string& what, const Status& st) {
  if (st.code() == common::Code::kUnavailable) {
    common::LogWarn(what + ": " + st.ToString() + "; trying again at the next run");
  } else {
    common::LogError(what + ": " + st.ToString());
  }
}
}  // namespace

struct Beacon::Impl {
  Settings settings;
  std::string id;
  std::unique_ptr<common::Spool> spool;
  // Before everything that reports to it (the drain loops, the server).
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<inventory::Store> store;        // central only
  // Central only: every device with its status, for the admin API and
  // /metrics; re-read when a request finds it older than 5 s.
  std::unique_ptr<EstateView> view;
  std::unique_ptr<policy::ManifestSigner> signer;  // central only
  std::unique_ptr<policy::PolicySource> policy;   // central only
  std::unique_ptr<Importer> importer;             // central only
  std::unique_ptr<PolicyCache> cache;             // relay only
  std::unique_ptr<Relay> relay;                   // relay only
  std::unique_ptr<Enroller> enroller;             // central only
  std::unique_ptr<TrustState> trust;
  common::PeerIdentity own;  // what this beacon's certificate says (own_mu)
  std::unique_ptr<ActionBoard> actions;             // central only
  std::unique_ptr<SelfCheck> self_check;
  std::unique_ptr<AgentApi> api;
  std::unique_ptr<AdminApi> admin_api;              // central only: /api/v1 (docs/api.md)
  std::unique_ptr<Dashboard> dashboard;             // central only: / (docs/dashboard.md)
  std::unique_ptr<common::HttpServer> server;
  common::HttpServer::Listener* agent = nullptr;  // the agent API
  common::HttpServer::Listener* admin = nullptr;
  CheckinTracker checkins;
  uint64_t reported_dropped = 0;
  common::StopFlag stop;
  common::Config config;  // as at start-up: a reload reports what differs
  std::mutex reload_mu;   // one Reload() at a time

  // This beacon's certificate as last loaded (start-up or a reload); the
  // health thread reads it.
  common::PeerIdentity Own() {
    std::lock_guard<std::mutex> lock(own_mu);
    return own;
  }
  std::mutex own_mu;  // guards `own` after start-up

  // Makes the trust bundle's changes take effect: new client CAs for the
  // listener, and on a relay new connections upstream.
  void TrustChanged() {
    Status st = server->ReloadTls();
    if (!st.ok()) common::LogError("cannot take the new trust bundle into service: " + st.ToString());
    if (cache) cache->ResetConnections();
    common::LogInfo("trust bundle updated: " + std::to_string(trust->bundle().ca_pems.size()) + " CA(s), " +
                    std::to_string(trust->bundle().RevokedSerials().size()) + " revoked certificate(s)");
  }

  // Central: takes in what beaconctl wrote (revocations, a rollover) and
  // signs the revocation lists anew before they expire.
  void RefreshCentralTrust() {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (TrustNeedsRefresh(settings.data_dir, now, settings.crl_validity)) {
      Status st = PublishTrust(settings.data_dir, *store, now, settings.crl_validity);
      if (!st.ok()) common::LogError("cannot sign new revocation lists: " + st.ToString());
    }
    auto changed = trust->Reload();
    if (!changed.ok()) common::LogError("trust bundle: " + changed.status().ToString());
    if (changed.ok() && *changed) TrustChanged();
  }

  // Relay: revalidates the trust bundle upstream; accepts only a bundle
  // that follows from the one it holds (common::pki::AcceptTrustBundle).
  void RefreshRelayTrust() {
    auto served = trust->Current();
    auto res = cache->UpstreamGet(common::protocol::kTrustPath, common::pki::kMaxTrustBytes,
                                  {{"If-None-Match", served->etag}});
    if (!res.ok()) return common::LogWarn("trust bundle: upstream unreachable: " + res.status().ToString());
    if (res->status == 304) return;
    if (res->status != 200) {
      return common::LogWarn("trust bundle: upstream answered " + std::to_string(res->status));
    }
    auto accepted = common::pki::AcceptTrustBundle(res->body, trust->bundle());
    if (!accepted.ok()) return common::LogError("trust bundle from upstream refused: " + accepted.status().message());
    Status st = trust->Install(*accepted);
    if (!st.ok()) return common::LogError("trust bundle: " + st.ToString());
    TrustChanged();
  }

  // Checks this beacon and hands its report on: upstream as a
  // "beacon-health" upload through the spool (relay), or into the store
  // (central). On failure the book keeps the messages for the next report.
  void ReportHealth() {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    inventory::Health report = self_check->Check(now);
    Status st;
    if (store) {
      st = store->RecordOwnHealth(report, now);
    } else {
      common::SpoolMeta meta;
      meta.id = common::NewUuid();
      meta.device = id;
      meta.kind = "beacon-health";
      meta.via = settings.name;
      st = spool->Put(meta, inventory::ToXml(report));
    }
    if (st.ok()) st = self_check->Sent(report);
    if (!st.ok()) common::LogWarn("health report not handed on: " + st.ToString());
  }

  // Central: the rules every reader of the store computes status with,
  // and the policy revision in service (since when: kept while unchanged).
  void RecordEstateRules() {
    inventory::EstateRules rules;
    rules.disconnect_after = settings.disconnect_after;
    rules.outbox_backlog = settings.outbox_backlog;
    rules.cert_warn_before = settings.cert_warn_before.count();
    rules.policy_revision = policy->revision();
    auto old = store->GetEstateRules();
    rules.policy_since = old.ok() && old->policy_revision == rules.policy_revision && old->policy_since != 0
                             ? old->policy_since
                             : static_cast<int64_t>(std::time(nullptr));
    if (old.ok() && *old == rules) return;
    Status st = store->SetEstateRules(rules);
    if (!st.ok()) LogHousekeeping("cannot record the estate rules", st);
  }

  // Central: actions into manifests, deliveries recorded, expired and old
  // finished actions swept; old cleared health messages deleted.
  void TendActions() {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    auto swept = store->SweepActions(now, now - settings.action_retention.count());
    if (!swept.ok()) LogHousekeeping("actions: sweep", swept.status());
    if (swept.ok() && (swept->first > 0 || swept->second > 0)) {
      common::LogInfo("actions: " + std::to_string(swept->first) + " expired, " + std::to_string(swept->second) +
                      " finished ones deleted");
    }
    auto purged = store->PurgeHealth(now - settings.health_retention.count());
    if (!purged.ok()) LogHousekeeping("health: purge", purged.status());
    auto changed = actions->Refresh(now);
    if (!changed.ok()) return LogHousekeeping("actions", changed.status());
    for (const std::string& device : *changed) policy->Forget(device);
    Status st = actions->Flush(now);
    if (!st.ok()) common::LogWarn("actions: deliveries not recorded yet: " + st.ToString());
  }

  // Central: one point of the estate's history (devices per status; the
  // store counts check-ins itself), and samples past retention deleted.
  void RecordHistory() {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    auto devices = store->ListDeviceStates();
    auto rules = devices.ok() ? store->GetEstateRules() : StatusOr<inventory::EstateRules>(devices.status());
    if (!rules.ok()) return LogHousekeeping("history: read the estate", rules.status());
    Status st = store->RecordEstateSamples(inventory::EstatePoint(*devices, *rules, now));
    // AlreadyExists: another central of the tier recorded this second.
    if (!st.ok() && st.code() != common::Code::kAlreadyExists) return LogHousekeeping("history: record", st);
    auto purged = store->PurgeEstateHistory(now - settings.history_retention.count());
    if (!purged.ok()) LogHousekeeping("history: purge", purged.status());
  }

  // Hands the tracked check-ins on: to the store (central), or upstream as
  // a "checkins" upload through the spool (relay). Kept in memory on failure.
  void FlushCheckins() {
    if (uint64_t dropped = checkins.dropped(); dropped > reported_dropped) {
      common::LogWarn("check-ins of " + std::to_string(dropped - reported_dropped) + " requests were not kept: " +
                      std::to_string(CheckinTracker::kMaxPending) + " devices were pending");
      reported_dropped = dropped;
    }
    auto batch = checkins.Drain();
    if (batch.empty()) return;
    Status st;
    if (store) {
      st = store->RecordCheckins(batch);
    } else {
      common::SpoolMeta meta;
      meta.id = common::NewUuid();
      meta.device = id;
      meta.kind = "checkins";
      meta.via = settings.name;
      st = spool->Put(meta, EncodeCheckins(batch));
    }
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
  ASSIGN_OR_RETURN(im.settings, Settings::FromConfig(config));
  const Settings& s = im.settings;
  RETURN_IF_ERROR(common::SetLogLevelFrom(s.log_level));
  RETURN_IF_ERROR(common::MakeDirs(s.data_dir, 0750));
  // The beacon is the "device" of its own uploads (check-in batches).
  ASSIGN_OR_RETURN(im.id, common::LoadOrCreateUuidFile(s.data_dir + "/beacon-id"));

  common::Spool::Options so;
  so.dir = s.data_dir + "/spool";
  so.max_bytes = s.spool_max_size;
  so.max_files = s.spool_max_files;
  so.min_free_bytes = s.spool_min_free;
  so.max_rejected_bytes = s.spool_max_rejected;
  ASSIGN_OR_RETURN(im.spool, common::Spool::Open(so));
  im.metrics = std::make_unique<Metrics>(Metrics::Options{s.central, s.name, s.metrics_refresh_interval, nullptr});
  Metrics* metrics = im.metrics.get();

  ASSIGN_OR_RETURN(im.own, OwnIdentity(s.server.cert_file));
  im.config = config;
  std::string trust_path;
  if (s.central) {
    ASSIGN_OR_RETURN(im.store, inventory::OpenStore(s.store));
    if (!common::FileExists(CaDir(s.data_dir) + "/ca.key")) {
      return common::FailedPrecondition("no estate CA in " + CaDir(s.data_dir) + ": run `beaconctl --data-dir " +
                                        s.data_dir + " ca init` first");
    }
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (TrustNeedsRefresh(s.data_dir, now, s.crl_validity)) {
      RETURN_IF_ERROR(PublishTrust(s.data_dir, *im.store, now, s.crl_validity));
    }
    trust_path = TrustPath(s.data_dir);
    im.enroller = std::make_unique<Enroller>(s.data_dir, im.store.get(), s.device_cert_validity, s.enroll_approval);
    ASSIGN_OR_RETURN(im.signer, policy::ManifestSigner::FromPemFile(s.policy_signing_key));
    inventory::Store* store = im.store.get();
    im.actions = std::make_unique<ActionBoard>(store);
    ActionBoard* actions = im.actions.get();
    ASSIGN_OR_RETURN(im.policy, policy::PolicySource::Open(
                                    s.data_dir + "/policy-state", s.data_dir + "/policy-served", im.signer.get(),
                                    [store](const std::string& device) { return DeviceFactsFromStore(*store, device); },
                                    [actions](const std::string& device) { return actions->For(device); }));
    policy::PolicySource* policy = im.policy.get();
    im.importer = std::make_unique<Importer>(
        im.spool.get(), store, [policy](const std::string& device) { policy->Forget(device); }, im.enroller.get(),
        [metrics](const common::SpoolMeta& meta, common::Settled settled) { metrics->Imported(meta, settled); });
  } else {
    // The bundle starts as the configured CA file and follows the upstream's.
    trust_path = s.data_dir + "/trust.pem";
    if (!common::FileExists(trust_path)) {
      ASSIGN_OR_RETURN(std::string pem, common::ReadFile(s.ca_file, common::pki::kMaxTrustBytes));
      auto initial = common::pki::ParseTrustBundle(pem);
      if (!initial.ok()) return initial.status().WithContext(s.ca_file);
      RETURN_IF_ERROR(common::WriteFileAtomic(trust_path, initial->ToPem(), 0644));
    }
    common::ClientOptions upstream;
    upstream.url = s.upstream;
    upstream.ca_file = trust_path;
    upstream.cert_file = s.server.cert_file;
    upstream.key_file = s.server.key_file;
    upstream.connect_timeout_s = 3;
    upstream.read_timeout_s = 30;
    upstream.write_timeout_s = 30;
    RETURN_IF_ERROR(common::HttpClient::Create(upstream).status());
    // A device waits while its manifest is revalidated: keep that short and
    // fall back to the cache.
    common::ClientOptions policy_upstream = upstream;
    policy_upstream.read_timeout_s = 10;
    im.cache = std::make_unique<PolicyCache>(s.data_dir + "/policy-cache", policy_upstream, s.name,
                                             s.policy_cache_ttl.count());
    RETURN_IF_ERROR(im.cache->Init());
    common::Drain::Options drain;
    drain.name = "relay";
    drain.backoff_base = s.relay_backoff_base;
    drain.backoff_cap = s.relay_backoff_cap;
    drain.probe_interval = s.relay_probe_interval;
    drain.settled = [metrics](const common::SpoolMeta& meta, common::Settled settled) {
      metrics->Relayed(meta, settled);
    };
    im.relay = std::make_unique<Relay>(
        im.spool.get(),
        [upstream]() -> StatusOr<std::unique_ptr<common::Transport>> {
          ASSIGN_OR_RETURN(auto client, common::HttpClient::Create(upstream));
          return std::unique_ptr<common::Transport>(std::move(client));
        },
        drain);
  }

  ASSIGN_OR_RETURN(im.trust, TrustState::Open(trust_path));
  {
    SelfCheck::Parts parts;
    parts.settings = &im.settings;
    parts.spool = im.spool.get();
    parts.trust = im.trust.get();
    parts.own = [&im] { return im.Own(); };
    if (im.relay) parts.upstream = [relay = im.relay.get()] { return relay->upstream_state(); };
    ASSIGN_OR_RETURN(im.self_check, SelfCheck::Open(std::move(parts)));
  }
  common::ServerOptions server_options = s.server;
  server_options.client_ca_file = trust_path;
  TrustState* trust = im.trust.get();
  server_options.admit = [trust](const common::PeerIdentity& peer) { return trust->Admit(peer); };
  server_options.observe = [metrics](const common::RequestRecord& r) { metrics->Observe(r); };
  im.server = std::make_unique<common::HttpServer>(server_options);
  im.agent = &im.server->Listen(s.listen_host, s.listen_port, "agent");
  im.api = std::make_unique<AgentApi>(&im.settings, im.spool.get(), &im.checkins, im.policy.get(), im.store.get(),
                                      im.cache.get(), im.trust.get(), im.actions.get());
  im.api->Register(*im.agent);
  // The administrators' side: loopback by default, on the same engine and
  // certificate. Device and beacon certificates give no access here
  // (docs/identity.md).
  im.admin = &im.server->Listen(s.admin_listen_host, s.admin_listen_port, "admin");
  im.admin->Get(
      common::protocol::kPingPath, nullptr,
      [](const common::HttpRequest&, common::HttpResponse& res) {
        res.body = "ok\n";
        return true;
      },
      common::RouteAccess::kOpen);
  metrics->Register(*im.admin);
  {
    Metrics::Sources sources;
    sources.server = im.server.get();
    sources.spool = im.spool.get();
    sources.store = im.store.get();
    if (im.store) {
      im.view = std::make_unique<EstateView>(im.store.get(), kEstateViewMaxAge);
      sources.view = im.view.get();
    }
    if (im.relay) sources.upstream_up = [relay = im.relay.get()] { return relay->upstream_state().ok; };
    metrics->Attach(std::move(sources));
  }
  if (im.store) {
    im.admin_api = std::make_unique<AdminApi>(AdminApi::Parts{im.store.get(), s.data_dir + "/policy-state", im.view.get()});
    im.admin_api->Register(*im.admin);
    im.dashboard = std::make_unique<Dashboard>(s.dashboard_js_dir);
    im.dashboard->Register(*im.admin);
  }
  RETURN_IF_ERROR(im.server->Start());
  common::LogInfo(std::string(s.central ? "central" : "relay") + " beacon '" + s.name + "' listening on " +
                  s.listen_host + ":" + std::to_string(im.agent->port()) +
                  ", admin on " + s.admin_listen_host + ":" + std::to_string(im.admin->port()) +
                  (s.central ? "" : ", upstream " + s.upstream) +
                  "; " + std::to_string(im.spool->Count()) + " uploads waiting in the spool");
  return b;
}

int Beacon::port() const { return impl_->agent->port(); }

int Beacon::admin_port() const { return impl_->admin->port(); }

void Beacon::Run() {
  Impl& im = *impl_;
  std::vector<std::thread> threads;
  threads.reserve(9);  // (also keeps GCC 12 from a false -Warray-bounds on emplace_back)
  if (im.importer) {
    threads.emplace_back([&im] {
      while (im.stop.SleepFor(im.settings.policy_refresh_interval)) {
        Status st = im.policy->Refresh();
        if (!st.ok()) common::LogError("policy: cannot take the newest revision into service, keeping revision " +
                                       std::to_string(im.policy->revision()) + ": " + st.ToString());
        im.RefreshCentralTrust();
      }
    });
    threads.emplace_back([&im] { im.importer->Run(im.stop); });
    threads.emplace_back([&im] {
      // Every 5 s, so that a new, cancelled or expired action reaches
      // manifests (and beaconctl) within seconds; the queries are indexed.
      do {
        im.RecordEstateRules();
        im.TendActions();
      } while (im.stop.SleepFor(std::chrono::seconds(5)));
    });
    threads.emplace_back([&im] {
      while (im.stop.SleepFor(im.settings.history_interval)) im.RecordHistory();
    });
  } else {
    threads.emplace_back([&im] { im.relay->Run(im.stop); });
    threads.emplace_back([&im] {
      do {
        im.RefreshRelayTrust();
      } while (im.stop.SleepFor(im.settings.trust_refresh_interval));
    });
  }
  threads.emplace_back([&im] {
    do {
      im.ReportHealth();
    } while (im.stop.SleepFor(im.settings.health_interval));
  });
  threads.emplace_back([&im] {
    while (im.stop.SleepFor(im.settings.checkin_flush_interval)) im.FlushCheckins();
    im.FlushCheckins();
  });
  if (const auto interval = common::service::KeepAliveInterval(); interval.count() > 0) {
    // The keep-alive proves the engine's I/O threads turn (their sweeps
    // advance, about one a second each), not merely that this thread runs.
    threads.emplace_back([&im, interval] {
      uint64_t last = 0;
      while (im.stop.SleepFor(interval)) {
        const uint64_t sweeps = im.server->stats().sweeps;
        if (sweeps != last) {
          common::service::KeepAlive();
        } else {
          common::LogError("watchdog: an I/O thread has not swept for " + std::to_string(interval.count()) +
                           " ms; not telling the service manager that all is well");
        }
        last = sweeps;
      }
    });
  }
  // Listeners bound and spool scanned (Create): ready. Connections arriving
  // before Serve() wait in the listen backlog.
  common::service::Ready((im.settings.central ? "central" : "relay") + std::string(" serving on port ") +
                         std::to_string(im.agent->port()));
  im.server->Serve();
  im.stop.Stop();
  im.spool->Wake();
  for (auto& t : threads) t.join();
  common::LogInfo("stopped");
}

Status Beacon::Reload(const common::Config& config) {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> lock(im.reload_mu);
  // Everything is checked before anything is applied.
  ASSIGN_OR_RETURN(Settings next, Settings::FromConfig(config));
  common::LogLevel level;
  if (!common::ParseLogLevel(next.log_level, &level)) {
    return common::InvalidArgument("log_level must be debug, info, warn or error, not '" + next.log_level + "'");
  }
  // The running paths: a new path is a restart-only change (below).
  ASSIGN_OR_RETURN(common::PeerIdentity own, OwnIdentity(im.settings.server.cert_file));
  // Checks the certificate against its key and swaps the listener's TLS
  // context; on error the old one stays.
  RETURN_IF_ERROR(im.server->ReloadTls());
  {
    std::lock_guard<std::mutex> own_lock(im.own_mu);
    im.own = own;
  }
  if (im.cache) im.cache->ResetConnections();  // upstream: new connections present the new certificate
  std::string restart;
  for (const std::string& key : common::ChangedKeys(im.config, config, ConfigKeys())) {
    if (key != "log_level") restart += (restart.empty() ? "" : ", ") + key;
  }
  if (!restart.empty()) common::LogWarn("reload: changed, not applied until a restart: " + restart);
  // Said before the level changes, so that it is seen whatever the new level.
  common::LogInfo("reloaded: log_level " + next.log_level + ", certificate serial " + own.serial);
  common::SetLogLevel(level);
  return Status::Ok();
}

void Beacon::Stop() {
  impl_->stop.Stop();
  impl_->spool->Wake();
  impl_->server->Stop();
}

}  // namespace beacon

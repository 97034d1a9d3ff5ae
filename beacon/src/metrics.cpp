#include "metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <string_view>
#include <tuple>

#include "common/log.h"
#include "common/protocol.h"
#include "estate_view.h"

namespace beacon {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Requests: from half a millisecond (an answer from memory) to the 30 s an
// upload or an upstream exchange may take.
const Histogram::BucketBoundaries kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,   0.5,   1,      2.5,   5,     10,    30};
// Import lag, in seconds: received_at has a resolution of one second, and a
// device's upload may wait in its outbox and relays for days.
const Histogram::BucketBoundaries kLagBuckets = {1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400};

constexpr common::Settled kAllSettled[] = {common::Settled::kDelivered, common::Settled::kDuplicate,
                                           common::Settled::kRejected,  common::Settled::kHeld,
                                           common::Settled::kRetried,   common::Settled::kStopped,
                                           common::Settled::kLost};
constexpr const char* kStatuses[] = {"never-connected", "pending", "active", "disconnected"};

// An upload kind as a label value: the protocol's kinds, or "other".
std::string KindLabel(const std::string& kind) {
  if (common::protocol::IsUploadKind(kind) || kind == common::protocol::kEnrollKind) return kind;
  return "other";
}

// A counter follows a total kept elsewhere (ServerStats: monotonic since
// the server started).
void Follow(Counter& counter, uint64_t total) {
  const double delta = static_cast<double>(total) - counter.Value();
  if (delta > 0) counter.Increment(delta);
}

// One label set of the request counter, with its route's histogram.
struct RequestSeries {
  std::string listener;
  std::string route;
  std::string method;
  int status = 0;
  Counter* requests = nullptr;
  Histogram* latency = nullptr;

  bool Is(const common::RequestRecord& r) const {
    return status == r.status && route == r.route && method == r.method && listener == r.listener;
  }
};

size_t HashOf(const common::RequestRecord& r) {
  std::hash<std::string_view> h;
  size_t v = h(r.route);
  v = v * 31 + h(r.method);
  v = v * 31 + h(r.listener);
  return v * 31 + static_cast<size_t>(r.status);
}

}  // namespace

struct Metrics::Impl {
  Options options;
  Sources sources;
  prometheus::Registry registry;

  // Requests. Observe finds a series in `table` without a lock: a slot,
  // once published (release), never changes, and a series is never freed
  // before the Metrics. A label set not found within kProbe slots takes
  // `mu`, and the map holding every series.
  static constexpr size_t kSlots = 1024;  // a power of two; label sets are a few hundred at most
  static constexpr size_t kProbe = 8;
  std::array<std::atomic<const RequestSeries*>, kSlots> table{};
  std::mutex mu;
  std::deque<RequestSeries> series;  // stable addresses
  std::map<std::tuple<std::string, std::string, std::string, int>, const RequestSeries*> by_labels;
  std::map<std::pair<std::string, std::string>, Histogram*> latency_by_route;
  Family<Counter>* requests = nullptr;
  Family<Histogram>* latency = nullptr;

  // Engine, read at scrape time.
  Gauge* connections_open = nullptr;
  Counter* connections_accepted = nullptr;
  Counter* handshakes_full = nullptr;
  Counter* handshakes_resumed = nullptr;
  Counter* tls_reloads = nullptr;
  struct Refusal {
    Counter* counter;
    uint64_t (*total)(const common::ServerStats&);
  };
  std::vector<Refusal> refusals;

  // Spool.
  Gauge* spool_entries = nullptr;
  Gauge* spool_bytes = nullptr;
  Gauge* spool_oldest_age = nullptr;
  Gauge* spool_receiving = nullptr;
  Gauge* spool_rejected_bytes = nullptr;

  // Relay.
  std::map<common::Settled, Counter*> relayed;
  Gauge* upstream_up = nullptr;

  // Central.
  Family<Counter>* imports = nullptr;
  Histogram* import_lag = nullptr;
  std::map<std::string, Gauge*> devices;             // by status
  std::map<std::string, Gauge*> devices_condition;   // by condition
  Gauge* open_device_errors = nullptr;
  Gauge* open_device_warnings = nullptr;
  Gauge* open_beacon_errors = nullptr;
  Gauge* open_beacon_warnings = nullptr;
  Gauge* estate_refreshed_at = nullptr;
  Gauge* estate_refresh_seconds = nullptr;
  Counter* estate_refresh_errors = nullptr;

  std::mutex scrape_mu;  // one scrape at a time; guards the fields below
  bool estate_done = false;
  std::chrono::steady_clock::time_point estate_at{};

  explicit Impl(Options o);
  int64_t Now() const { return options.now ? options.now() : static_cast<int64_t>(std::time(nullptr)); }
  const RequestSeries* Find(const common::RequestRecord& r);
  const RequestSeries* Add(const common::RequestRecord& r, size_t hash);
  void ReadServer();
  void ReadSpool();
  void RefreshEstate();
};

Metrics::Impl::Impl(Options o) : options(std::move(o)) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  BuildGauge()
      .Name("beacon_info")
      .Help("Always 1: this beacon's name, role and version")
      .Register(registry)
      .Add({{"name", options.name}, {"role", options.central ? "central" : "relay"}, {"version", BEACON_VERSION}})
      .Set(1);

  requests = &BuildCounter()
                  .Name("beacon_http_requests_total")
                  .Help("Answered requests by listener, route pattern (\"\" when no route took the request), "
                        "method and status")
                  .Register(registry);
  latency = &BuildHistogram()
                 .Name("beacon_http_request_duration_seconds")
                 .Help("From a request's first byte to its answer being queued, by listener and route pattern")
                 .Register(registry);

  connections_open = &BuildGauge().Name("beacon_connections_open").Help("Open connections, both listeners")
                          .Register(registry).Add({});
  connections_accepted = &BuildCounter().Name("beacon_connections_accepted_total")
                              .Help("Connections accepted, both listeners").Register(registry).Add({});
  auto& handshakes = BuildCounter().Name("beacon_tls_handshakes_total")
                         .Help("Completed TLS handshakes: full, or resumed from a session ticket").Register(registry);
  handshakes_full = &handshakes.Add({{"type", "full"}});
  handshakes_resumed = &handshakes.Add({{"type", "resumed"}});
  tls_reloads = &BuildCounter().Name("beacon_tls_reloads_total")
                     .Help("Times the certificate and trust bundle were taken into service anew").Register(registry)
                     .Add({});
  auto& refused = BuildCounter()
                      .Name("beacon_refusals_total")
                      .Help("Connections or requests the engine refused, by cause (each counted under one cause)")
                      .Register(registry);
  using S = common::ServerStats;
  refusals = {
      {&refused.Add({{"cause", "connection_cap"}}), [](const S& s) { return s.refused_connection_cap; }},
      {&refused.Add({{"cause", "address_cap"}}), [](const S& s) { return s.refused_address_cap; }},
      {&refused.Add({{"cause", "busy"}}), [](const S& s) { return s.busy_503; }},
      // ServerStats::timeouts includes the slow bodies; here they are apart.
      {&refused.Add({{"cause", "deadline"}}),
       [](const S& s) { return s.timeouts - std::min(s.timeouts, s.slow_bodies); }},
      {&refused.Add({{"cause", "slow_body"}}), [](const S& s) { return s.slow_bodies; }},
      {&refused.Add({{"cause", "identity"}}), [](const S& s) { return s.refused_identity; }},
      {&refused.Add({{"cause", "admission"}}), [](const S& s) { return s.refused_admission; }},
  };

  auto gauge = [this](const char* name, const char* help) {
    return &BuildGauge().Name(name).Help(help).Register(registry).Add({});
  };
  spool_entries = gauge("beacon_spool_entries", "Uploads in the spool's ready/, waiting to be relayed or imported");
  spool_bytes = gauge("beacon_spool_bytes", "Body bytes of the uploads in ready/");
  spool_oldest_age = gauge("beacon_spool_oldest_age_seconds",
                           "Age of the oldest upload in ready/, from when the first beacon received it; 0 when empty");
  spool_receiving = gauge("beacon_spool_receiving", "Upload bodies being received right now");
  spool_rejected_bytes = gauge("beacon_spool_rejected_bytes", "Bytes of the files in the spool's rejected/");

  if (!options.central) {
    auto& deliveries = BuildCounter()
                           .Name("beacon_relay_deliveries_total")
                           .Help("What the relay's drain loop did with each upload it tried to send upstream")
                           .Register(registry);
    for (common::Settled s : kAllSettled) relayed[s] = &deliveries.Add({{"outcome", common::SettledName(s)}});
    upstream_up = gauge("beacon_relay_upstream_up", "1 while the upstream answers (the last exchange or probe), else 0");
    return;
  }
  imports = &BuildCounter()
                 .Name("beacon_imports_total")
                 .Help("What the importer did with each upload, by upload kind and result")
                 .Register(registry);
  import_lag = &BuildHistogram()
                    .Name("beacon_import_lag_seconds")
                    .Help("From when the first beacon received an upload to its import into the store")
                    .Register(registry)
                    .Add({}, kLagBuckets);
  auto& by_status = BuildGauge().Name("beacon_devices").Help("Devices by status (docs/estate.md)").Register(registry);
  for (const char* s : kStatuses) devices[s] = &by_status.Add({{"status", s}});
  auto& by_condition = BuildGauge()
                           .Name("beacon_devices_with_condition")
                           .Help("Devices that have each condition (docs/estate.md)")
                           .Register(registry);
  for (const char* c : inventory::kConditions) devices_condition[c] = &by_condition.Add({{"condition", c}});
  auto& open = BuildGauge()
                   .Name("beacon_health_messages_open")
                   .Help("Open health messages, by sender (device or beacon) and type (error or warning)")
                   .Register(registry);
  open_device_errors = &open.Add({{"source", "device"}, {"type", "error"}});
  open_device_warnings = &open.Add({{"source", "device"}, {"type", "warning"}});
  open_beacon_errors = &open.Add({{"source", "beacon"}, {"type", "error"}});
  open_beacon_warnings = &open.Add({{"source", "beacon"}, {"type", "warning"}});
  estate_refreshed_at = gauge("beacon_estate_refresh_timestamp_seconds",
                              "When devices per status and open health messages were last computed (unix seconds)");
  estate_refresh_seconds = gauge("beacon_estate_refresh_duration_seconds", "How long that computation took");
  estate_refresh_errors = &BuildCounter()
                               .Name("beacon_estate_refresh_errors_total")
                               .Help("Computations that failed (the store could not be read; the last values stay)")
                               .Register(registry)
                               .Add({});
}

const RequestSeries* Metrics::Impl::Find(const common::RequestRecord& r) {
  const size_t hash = HashOf(r);
  for (size_t i = 0; i < kProbe; ++i) {
    const RequestSeries* s = table[(hash + i) & (kSlots - 1)].load(std::memory_order_acquire);
    if (s == nullptr) break;
    if (s->Is(r)) return s;
  }
  return Add(r, hash);
}

const RequestSeries* Metrics::Impl::Add(const common::RequestRecord& r, size_t hash) {
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_tuple(r.listener, r.route, r.method, r.status);
  auto found = by_labels.find(key);
  const RequestSeries* s = found != by_labels.end() ? found->second : nullptr;
  if (s == nullptr) {
    Histogram*& h = latency_by_route[{r.listener, r.route}];
    if (h == nullptr) h = &latency->Add({{"listener", r.listener}, {"route", r.route}}, kLatencyBuckets);
    Counter& c = requests->Add(
        {{"listener", r.listener}, {"route", r.route}, {"method", r.method}, {"status", std::to_string(r.status)}});
    s = &series.emplace_back(RequestSeries{r.listener, r.route, r.method, r.status, &c, h});
    by_labels.emplace(std::move(key), s);
  }
  // Published in the first free slot of its probe sequence, if any: later
  // requests of this label set then find it without the lock.
  for (size_t i = 0; i < kProbe; ++i) {
    auto& slot = table[(hash + i) & (kSlots - 1)];
    const RequestSeries* there = slot.load(std::memory_order_relaxed);
    if (there == s) break;
    if (there == nullptr) {
      slot.store(s, std::memory_order_release);
      break;
    }
  }
  return s;
}

void Metrics::Impl::ReadServer() {
  if (sources.server == nullptr) return;
  const common::ServerStats st = sources.server->stats();
  connections_open->Set(static_cast<double>(st.connections_open));
  Follow(*connections_accepted, st.connections_accepted);
  Follow(*handshakes_full, st.handshakes_full);
  Follow(*handshakes_resumed, st.handshakes_resumed);
  Follow(*tls_reloads, st.tls_reloads);
  for (const Refusal& r : refusals) Follow(*r.counter, r.total(st));
}

void Metrics::Impl::ReadSpool() {
  if (sources.spool == nullptr) return;
  const common::Spool::Stats st = sources.spool->stats();
  spool_entries->Set(static_cast<double>(st.entries));
  spool_bytes->Set(static_cast<double>(st.bytes));
  spool_oldest_age->Set(st.entries == 0 ? 0.0 : static_cast<double>(std::max<int64_t>(0, Now() - st.oldest_received_at)));
  spool_receiving->Set(static_cast<double>(st.receiving));
  spool_rejected_bytes->Set(static_cast<double>(st.rejected_bytes));
}

// Devices per status from the estate view (shared with the admin API, so
// the estate is read once for both) and the beacons' open messages, at most
// every estate_refresh. Under scrape_mu.
void Metrics::Impl::RefreshEstate() {
  if (sources.store == nullptr || sources.view == nullptr) return;
  const auto started = std::chrono::steady_clock::now();
  if (estate_done && started - estate_at < options.estate_refresh) return;
  estate_done = true;
  estate_at = started;
  auto failed = [this](const common::Status& st) {
    estate_refresh_errors->Increment();
    common::LogWarn("metrics: devices per status not computed, the last values stay: " + st.ToString());
  };
  auto snapshot = sources.view->Get();
  if (!snapshot.ok()) return failed(snapshot.status());
  auto beacons = sources.store->ListBeacons();
  if (!beacons.ok()) return failed(beacons.status());
  const EstateSnapshot& view = **snapshot;
  std::map<std::string, int64_t> by_status, by_condition;
  int64_t errors = 0, warnings = 0;
  for (const ViewDevice& d : view.devices) {
    ++by_status[inventory::DeviceStatusName(d.verdict.status)];
    for (const std::string& c : d.verdict.conditions) ++by_condition[c];
    errors += d.state.open_errors;
    warnings += d.state.open_warnings;
  }
  for (auto& [status, gauge] : devices) gauge->Set(static_cast<double>(by_status[status]));
  for (auto& [condition, gauge] : devices_condition) gauge->Set(static_cast<double>(by_condition[condition]));
  open_device_errors->Set(static_cast<double>(errors));
  open_device_warnings->Set(static_cast<double>(warnings));
  errors = warnings = 0;
  for (const inventory::BeaconState& b : *beacons) {
    errors += b.open_errors;
    warnings += b.open_warnings;
  }
  open_beacon_errors->Set(static_cast<double>(errors));
  open_beacon_warnings->Set(static_cast<double>(warnings));
  estate_refreshed_at->Set(static_cast<double>(view.taken_at));
  estate_refresh_seconds->Set(view.read_seconds);
}

Metrics::Metrics(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Metrics::~Metrics() = default;

void Metrics::Attach(Sources sources) { impl_->sources = std::move(sources); }

void Metrics::Observe(const common::RequestRecord& record) {
  try {
    const RequestSeries* s = impl_->Find(record);
    s->requests->Increment();
    s->latency->Observe(record.seconds);
  } catch (const std::exception& e) {
    // On an I/O thread: a request is never failed for its metrics.
    common::LogWarn(std::string("metrics: request not counted: ") + e.what());
  }
}

void Metrics::Relayed(const common::SpoolMeta&, common::Settled settled) {
  auto it = impl_->relayed.find(settled);
  if (it != impl_->relayed.end()) it->second->Increment();
}

void Metrics::Imported(const common::SpoolMeta& meta, common::Settled settled) {
  if (impl_->imports == nullptr) return;
  const char* result = settled == common::Settled::kDelivered ? "imported" : common::SettledName(settled);
  impl_->imports->Add({{"kind", KindLabel(meta.kind)}, {"result", result}}).Increment();
  if (settled == common::Settled::kDelivered && meta.received_at > 0) {
    impl_->import_lag->Observe(static_cast<double>(std::max<int64_t>(0, impl_->Now() - meta.received_at)));
  }
}

std::string Metrics::Scrape() {
  std::lock_guard<std::mutex> lock(impl_->scrape_mu);
  impl_->ReadServer();
  impl_->ReadSpool();
  if (impl_->upstream_up != nullptr && impl_->sources.upstream_up) {
    impl_->upstream_up->Set(impl_->sources.upstream_up() ? 1 : 0);
  }
  impl_->RefreshEstate();
  return prometheus::TextSerializer().Serialize(impl_->registry.Collect());
}

void Metrics::Register(common::HttpServer::Listener& listener) {
  listener.Get(
      kMetricsPath,
      [this](const common::HttpRequest&, common::HttpResponse& res) {
        res.content_type = kMetricsContentType;
        res.body = Scrape();
      },
      nullptr, common::RouteAccess::kOpen);
}

}  // namespace beacon

// GET /metrics (docs/metrics.md): the exposition parses, counters move with
// what happens (requests through a real engine, entries through a real drain
// loop, uploads through the real importer and store), label sets stay
// bounded, and the store-wide gauges are cached between refreshes.
#include "metrics.h"

#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <thread>
#include <vector>

#include "common/uuid.h"
#include "estate_view.h"
#include "importer.h"
#include "inventory/inventory.h"
#include "inventory/pack.h"
#include "support/temp_dir.h"
#include "support/tls_raw.h"

namespace {

using beacon::Metrics;
using testing_support::TempDir;
using testing_support::TlsExchange;

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the text format: every line is a comment ("# HELP name ...",
// "# TYPE name type") or a sample "name{label="value",...} value".
std::vector<Sample> Parse(const std::string& text) {
  static const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? ([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN)))");
  static const std::regex comment(R"(# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)))");
  static const std::regex label(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)")re");
  std::vector<Sample> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    REQUIRE(end != std::string::npos);  // every line ends with a newline
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    INFO(line);
    if (line.empty()) continue;
    std::smatch m;
    if (line[0] == '#') {
      CHECK(std::regex_match(line, comment));
      continue;
    }
    REQUIRE(std::regex_match(line, m, sample));
    Sample s;
    s.name = m[1];
    const std::string labels = m[3];
    for (std::sregex_iterator it(labels.begin(), labels.end(), label), last; it != last; ++it) {
      s.labels[(*it)[1]] = (*it)[2];
    }
    s.value = std::stod(m[4]);
    out.push_back(std::move(s));
  }
  return out;
}

// The sum of the samples of `name` whose labels include `labels`.
double Value(const std::vector<Sample>& samples, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  double sum = 0;
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (match) sum += s.value;
  }
  return sum;
}

size_t Count(const std::vector<Sample>& samples, const std::string& name) {
  size_t n = 0;
  for (const Sample& s : samples) n += s.name == name;
  return n;
}

// An engine with an "agent" listener (one route) and an "admin" listener
// serving /metrics, both on free loopback ports, as a beacon wires them.
struct Served {
  Metrics metrics;
  common::HttpServer server;
  common::HttpServer::Listener& agent;
  common::HttpServer::Listener& admin;
  std::thread thread;

  static common::ServerOptions Options(Metrics* m) {
    common::ServerOptions o;
    o.cert_file = std::string(TEST_CERT_DIR) + "/server.pem";
    o.key_file = std::string(TEST_CERT_DIR) + "/server.key";
    o.io_threads = 1;
    o.workers = 2;
    o.observe = [m](const common::RequestRecord& r) { m->Observe(r); };
    return o;
  }
  explicit Served(const common::Spool* spool = nullptr)
      : metrics(Metrics::Options{false, "unit", std::chrono::seconds(15), nullptr}),
        server(Options(&metrics)),
        agent(server.Listen("127.0.0.1", 0, "agent")),
        admin(server.Listen("127.0.0.1", 0, "admin")) {
    agent.Get("/v1/things/:id", [](const common::HttpRequest& req, common::HttpResponse& res) {
      res.body = req.params[0] + "\n";
    });
    metrics.Register(admin);
    Metrics::Sources sources;
    sources.server = &server;
    sources.spool = spool;
    sources.upstream_up = [] { return true; };
    metrics.Attach(std::move(sources));
    REQUIRE(server.Start().ok());
    thread = std::thread([this] { server.Serve(); });
  }
  ~Served() {
    server.Stop();
    thread.join();
  }
  // GET /metrics over TLS: the answer's head and body.
  std::pair<std::string, std::string> Scrape() {
    auto r = TlsExchange(admin.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000);
    REQUIRE(testing_support::FirstStatus(r.data) == 200);
    size_t split = r.data.find("\r\n\r\n");
    REQUIRE(split != std::string::npos);
    return {r.data.substr(0, split), r.data.substr(split + 4)};
  }
};

void Get(int port, const std::string& path) {
  (void)TlsExchange(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1000);
}

}  // namespace

TEST_CASE("metrics: the exposition parses and counters move with requests") {
  Served s;
  auto [head, first] = s.Scrape();
  CHECK(head.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  auto before = Parse(first);
  CHECK(Value(before, "beacon_info", {{"role", "relay"}, {"name", "unit"}}) == 1);
  CHECK(Value(before, "beacon_http_requests_total", {{"route", "/v1/things/:id"}}) == 0);

  Get(s.agent.port(), "/v1/things/a");
  Get(s.agent.port(), "/v1/things/b");
  Get(s.agent.port(), "/nowhere");
  auto after = Parse(s.Scrape().second);
  const std::map<std::string, std::string> things{
      {"listener", "agent"}, {"route", "/v1/things/:id"}, {"method", "GET"}, {"status", "200"}};
  CHECK(Value(after, "beacon_http_requests_total", things) == 2);
  CHECK(Value(after, "beacon_http_requests_total", {{"listener", "agent"}, {"route", ""}, {"status", "404"}}) == 1);
  CHECK(Value(after, "beacon_http_request_duration_seconds_count", {{"route", "/v1/things/:id"}}) == 2);
  CHECK(Value(after, "beacon_http_request_duration_seconds_bucket",
              {{"route", "/v1/things/:id"}, {"le", "+Inf"}}) == 2);
  // The first scrape itself was answered and counted on the admin listener.
  CHECK(Value(after, "beacon_http_requests_total", {{"listener", "admin"}, {"route", "/metrics"}}) >= 1);
  // The engine's counters, read at scrape time: every exchange was a new
  // connection with a full handshake, and nothing was refused.
  CHECK(Value(after, "beacon_connections_accepted_total") >= 5);
  CHECK(Value(after, "beacon_tls_handshakes_total", {{"type", "full"}}) >= 5);
  CHECK(Value(after, "beacon_refusals_total") == 0);
  CHECK(Count(after, "beacon_refusals_total") == 7);
  CHECK(Value(after, "beacon_relay_upstream_up") == 1);
  CHECK(Count(after, "beacon_relay_deliveries_total") == 7);
  CHECK(Count(after, "beacon_devices") == 0);  // a relay has no store
}

TEST_CASE("metrics: unknown paths count under route \"\" and add no series") {
  Served s;
  Get(s.agent.port(), "/v1/things/a");
  Get(s.agent.port(), "/unknown/0");
  const size_t series = Count(Parse(s.Scrape().second), "beacon_http_requests_total");
  for (int i = 1; i <= 40; ++i) Get(s.agent.port(), "/unknown/" + std::to_string(i));
  auto samples = Parse(s.Scrape().second);
  CHECK(Value(samples, "beacon_http_requests_total", {{"route", ""}, {"status", "404"}}) == 41);
  // The admin listener's own /metrics series appeared with the first scrape;
  // the 40 paths added nothing.
  CHECK(Count(samples, "beacon_http_requests_total") <= series + 1);
  for (const Sample& x : samples) {
    if (x.labels.count("route")) CHECK(x.labels.at("route").find("unknown") == std::string::npos);
  }
}

TEST_CASE("metrics: concurrent observers all count") {
  Metrics m(Metrics::Options{false, "unit", std::chrono::seconds(15), nullptr});
  const std::string agent = "agent", route = "/v1/x", get = "GET", none;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) m.Observe({agent, i % 2 ? route : none, get, 200 + t, 0.001});
    });
  }
  for (auto& t : threads) t.join();
  auto samples = Parse(m.Scrape());
  CHECK(Value(samples, "beacon_http_requests_total") == 20000);
  CHECK(Value(samples, "beacon_http_requests_total", {{"route", "/v1/x"}, {"status", "201"}}) == 2500);
  CHECK(Count(samples, "beacon_http_requests_total") == 8);
  CHECK(Value(samples, "beacon_http_request_duration_seconds_count") == 20000);
}

TEST_CASE("metrics: the spool and the relay's drain outcomes") {
  TempDir t;
  common::Spool::Options o;
  o.dir = t.path;
  o.min_free_bytes = 0;
  auto spool = std::move(common::Spool::Open(o)).value();
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto put = [&](int64_t received_at, size_t size) {
    common::SpoolMeta m;
    m.id = common::NewUuid();
    m.device = common::NewUuid();
    m.kind = "logs";
    m.received_at = received_at;
    REQUIRE(spool->Put(m, std::string(size, 'x')).ok());
  };
  put(now - 100, 10);
  put(now - 300, 20);
  put(now - 5, 30);
  Metrics m(Metrics::Options{false, "unit", std::chrono::seconds(15), [now] { return now; }});
  Metrics::Sources sources;
  sources.spool = spool.get();
  sources.upstream_up = [] { return false; };
  m.Attach(std::move(sources));
  auto samples = Parse(m.Scrape());
  CHECK(Value(samples, "beacon_spool_entries") == 3);
  CHECK(Value(samples, "beacon_spool_bytes") == 60);
  CHECK(Value(samples, "beacon_spool_oldest_age_seconds") == 300);
  CHECK(Value(samples, "beacon_relay_upstream_up") == 0);

  // A real drain loop: the first entry is delivered, the second proven
  // bad, the third finds the peer down.
  common::Drain::Options d;
  d.name = "test";
  d.batch = 3;
  d.settled = [&m](const common::SpoolMeta& meta, common::Settled s) { m.Relayed(meta, s); };
  int n = 0;
  common::Drain drain(
      spool.get(),
      [&n](const std::vector<common::SpoolMeta>& metas) {
        std::vector<common::Attempt> out;
        for (size_t i = 0; i < metas.size(); ++i, ++n) {
          out.push_back({n == 0 ? common::Status::Ok()
                                : n == 1 ? common::InvalidArgument("bad bytes") : common::Unavailable("down")});
        }
        return out;
      },
      d);
  (void)drain.RunPass();
  samples = Parse(m.Scrape());
  CHECK(Value(samples, "beacon_relay_deliveries_total", {{"outcome", "delivered"}}) == 1);
  CHECK(Value(samples, "beacon_relay_deliveries_total", {{"outcome", "rejected"}}) == 1);
  CHECK(Value(samples, "beacon_relay_deliveries_total", {{"outcome", "retried"}}) == 1);
  CHECK(Value(samples, "beacon_relay_deliveries_total") == 3);
  // Left: the third (age 5); the first was delivered, the second (the
  // oldest) rejected.
  CHECK(Value(samples, "beacon_spool_entries") == 1);
  CHECK(Value(samples, "beacon_spool_bytes") == 30);
  CHECK(Value(samples, "beacon_spool_oldest_age_seconds") == 5);
  CHECK(Value(samples, "beacon_spool_rejected_bytes") > 0);
}

TEST_CASE("metrics: the central's imports, lag, devices per status and open messages") {
  TempDir t;
  common::Spool::Options o;
  o.dir = t.path + "/spool";
  o.min_free_bytes = 0;
  auto spool = std::move(common::Spool::Open(o)).value();
  auto store = std::move(inventory::OpenSqliteStore(t.path + "/store.sqlite")).value();
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const std::string device = common::NewUuid(), other = common::NewUuid();
  REQUIRE(store->RecordCheckins({{device, now, "dmz", "0.1.0", 0, 0, "127.0.0.1", 0},
                                 {other, now, "dmz", "0.1.0", 0, 0, "127.0.0.1", 0}})
              .ok());

  // Each Metrics with its own estate view (the central shares one with the API).
  std::vector<std::unique_ptr<beacon::EstateView>> views;
  auto make = [&](std::chrono::seconds refresh) {
    auto m = std::make_unique<Metrics>(Metrics::Options{true, "central", refresh, [now] { return now + 42; }});
    views.push_back(std::make_unique<beacon::EstateView>(store.get(), beacon::kEstateViewMaxAge));
    Metrics::Sources sources;
    sources.spool = spool.get();
    sources.store = store.get();
    sources.view = views.back().get();
    m->Attach(std::move(sources));
    return m;
  };
  auto cached = make(std::chrono::hours(1));
  auto samples = Parse(cached->Scrape());
  CHECK(Value(samples, "beacon_devices", {{"status", "pending"}}) == 2);
  CHECK(Value(samples, "beacon_devices", {{"status", "active"}}) == 0);
  CHECK(Count(samples, "beacon_devices") == 4);
  CHECK(Count(samples, "beacon_devices_with_condition") == 5);
  CHECK(Count(samples, "beacon_relay_deliveries_total") == 0);  // the central has no relay

  // The device's inventory, through the real importer.
  inventory::Inventory inv;
  inv.device_id = device;
  inv.collected_at = "2026-11-22T10:00:00Z";
  inv.os.name = "Debian GNU/Linux";
  inv.os.hostname = "host-a";
  auto gz = inventory::Gzip(inventory::ToXml(inv));
  REQUIRE(gz.ok());
  common::SpoolMeta meta;
  meta.id = common::NewUuid();
  meta.device = device;
  meta.kind = "inventory";
  meta.via = "dmz";
  meta.received_at = now - 10;
  REQUIRE(spool->Put(meta, *gz).ok());
  meta.id = common::NewUuid();
  REQUIRE(spool->Put(meta, "not gzip").ok());
  beacon::Importer importer(
      spool.get(), store.get(), [](const std::string&) {}, nullptr,
      [m = cached.get()](const common::SpoolMeta& e, common::Settled s) { m->Imported(e, s); });
  auto pass = importer.RunPass();
  REQUIRE(pass.delivered == 1);
  REQUIRE(pass.rejected == 1);

  samples = Parse(cached->Scrape());
  CHECK(Value(samples, "beacon_imports_total", {{"kind", "inventory"}, {"result", "imported"}}) == 1);
  CHECK(Value(samples, "beacon_imports_total", {{"kind", "inventory"}, {"result", "rejected"}}) == 1);
  CHECK(Value(samples, "beacon_import_lag_seconds_count") == 1);
  CHECK(Value(samples, "beacon_import_lag_seconds_sum") == 52);  // received at now - 10, imported at now + 42
  CHECK(Value(samples, "beacon_import_lag_seconds_bucket", {{"le", "30"}}) == 0);
  CHECK(Value(samples, "beacon_import_lag_seconds_bucket", {{"le", "60"}}) == 1);
  // Within the refresh interval the store is not read again.
  CHECK(Value(samples, "beacon_devices", {{"status", "active"}}) == 0);
  CHECK(Value(samples, "beacon_devices", {{"status", "pending"}}) == 2);

  auto fresh = make(std::chrono::seconds(0));
  samples = Parse(fresh->Scrape());
  CHECK(Value(samples, "beacon_devices", {{"status", "active"}}) == 1);
  CHECK(Value(samples, "beacon_devices", {{"status", "pending"}}) == 1);
  CHECK(Value(samples, "beacon_health_messages_open") == 0);
  // The view's own time: when it read the store.
  CHECK(Value(samples, "beacon_estate_refresh_timestamp_seconds") >= now);
  CHECK(Value(samples, "beacon_estate_refresh_errors_total") == 0);
}

// A beacon's metrics in the Prometheus text format (docs/metrics.md), served
// as GET /metrics on the administrators' listener of every beacon.
//
// Owns a prometheus::Registry (prometheus-cpp core: counters, gauges,
// histograms and the text serializer; its own HTTP exposer is not used, our
// engine serves the route). Nothing else includes prometheus-cpp headers.
//
// Two kinds of series:
//   - moved as things happen: answered requests (Observe, the engine's
//     ServerOptions::observe hook) and what the drain loop did with each
//     entry (Relayed on a relay, Imported on the central: the
//     Drain::Options::settled hook, so outcomes are decided in one place);
//   - read at scrape time from the Sources: the engine's ServerStats, the
//     spool's stats, the relay's upstream state, and on the central the
//     devices per status and condition and the open health messages. Those
//     come from the estate view the admin API uses (estate_view.h: every
//     device's state, re-read from the store when older than a few seconds,
//     on its own thread), at most every Options::estate_refresh; store reads
//     never wait for the importer.
//
// Label values are bounded: a request is counted under its route's pattern
// ("" when no route took it), never its path; methods and statuses are the
// engine's; upload kinds outside the protocol's count as "other".
//
// Thread safety: Observe, Relayed and Imported may be called from any
// thread at once. Observe runs on the engine's I/O threads: after the first
// request of a label set it takes no lock (a fixed table of published
// series; only the latency histogram's own short lock). Scrapes may come
// from several threads and are serialized. Attach is called once, before the
// server starts. The Metrics must outlive the server and the drain loops
// that call it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/drain.h"
#include "common/http_server.h"
#include "common/spool.h"
#include "inventory/estate.h"

namespace beacon {

class EstateView;

class Metrics {
 public:
  struct Options {
    bool central = false;  // the central's series (imports, estate) or the relay's
    std::string name;      // this beacon's name (beacon_info)
    // Central: the longest time devices per status and open health messages
    // are served from the last computation.
    std::chrono::seconds estate_refresh{15};
    // Unix seconds (spool age, import lag, status); tests set their own.
    std::function<int64_t()> now;
  };
  // What is read at scrape time. Pointers are not owned and must outlive
  // the Metrics; null members are left out of the exposition.
  struct Sources {
    const common::HttpServer* server = nullptr;
    const common::Spool* spool = nullptr;
    std::function<bool()> upstream_up;          // relay: the upstream answers
    inventory::EstateStore* store = nullptr;    // central: open health messages of beacons
    EstateView* view = nullptr;                 // central: devices per status (the admin API's view)
  };

  explicit Metrics(Options options);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Once, before the server starts (and so before the first scrape).
  void Attach(Sources sources);

  // ServerOptions::observe: one answered request.
  void Observe(const common::RequestRecord& record);
  // Drain::Options::settled of the relay's loop: one delivery outcome.
  void Relayed(const common::SpoolMeta& meta, common::Settled settled);
  // Drain::Options::settled of the importer's loop: one import outcome and,
  // for an imported upload, its lag (received_at to now).
  void Imported(const common::SpoolMeta& meta, common::Settled settled);

  // The exposition (text format 0.0.4), with the scrape-time series read now.
  std::string Scrape();
  // Adds GET /metrics (open: no certificate or token; see docs/metrics.md)
  // to `listener`, answered on the worker pool.
  void Register(common::HttpServer::Listener& listener);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The content type of the exposition.
inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr char kMetricsPath[] = "/metrics";

}  // namespace beacon

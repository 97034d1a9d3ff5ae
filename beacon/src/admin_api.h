// The administrators' REST API, /api/v1 on the central's admin listener
// (docs/api.md; docs/openapi.json describes every path). JSON in and out
// (nlohmann-json), read from the store with the same code as beaconctl.
//
// Every request is authenticated here, not by the engine: the routes are
// RouteAccess::kOpen (administrators hold no estate certificate), and each
// one first checks `Authorization: Bearer <token>` against the store's API
// tokens (a live token: 401 otherwise; an admin route with a read token:
// 403). Then the query is checked strictly (api_query.h) and the handler
// runs on the engine's worker pool. Every answer the API gives, errors
// included, is JSON with Cache-Control: no-store and
// X-Content-Type-Options: nosniff; unknown /api/v1 paths of up to
// kMaxCatchAllDepth segments below /api/v1 get a JSON 404 (deeper or oddly
// spelt paths get the engine's own text 404, as documented).
//
// Thread safety: handlers run concurrently; the store is thread-safe and
// the estate view (estate_view.h) is shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/http_server.h"

namespace inventory {
class Store;
}

namespace beacon {

class EstateView;

inline constexpr uint64_t kMaxApiBody = 16 * 1024;  // a POST body, checked before it is read
inline constexpr int kMaxCatchAllDepth = 6;  // segments after /api/v1 answered with a JSON 404

struct ApiRoute {
  std::string method;   // "GET" or "POST"
  std::string pattern;  // as documented: "/api/v1/devices/{id}"
  bool admin = false;   // needs an admin token
};

class AdminApi {
 public:
  struct Parts {
    inventory::Store* store = nullptr;     // the central's store; must outlive the API
    std::string policy_state;              // DATA_DIR/policy-state: published revisions
    EstateView* view = nullptr;            // the central's (shared with /metrics); must outlive the API
  };
  explicit AdminApi(Parts parts);
  ~AdminApi();

  // Adds every /api/v1 route (and the JSON 404/405 catch-alls) to `admin`.
  void Register(common::HttpServer::Listener& admin);

  // The routes served, for the OpenAPI check (tests) and docs.
  static const std::vector<ApiRoute>& Routes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace beacon

#include "admin_api.h"

#include <ctime>

#include "api_handlers.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/status.h"
#include "estate_view.h"
#include "inventory/store.h"

namespace beacon {

namespace {

using RouteFn = ApiReply (*)(ApiContext&);

struct RouteEntry {
  ApiRoute route;
  RouteFn fn;
};

const std::vector<RouteEntry>& Table() {
  static const std::vector<RouteEntry> table = {
      {{"GET", "/api/v1/token", false}, TokenRoute},
      {{"GET", "/api/v1/summary", false}, SummaryRoute},
      {{"GET", "/api/v1/devices", false}, ListDevicesRoute},
      {{"GET", "/api/v1/devices/{id}", false}, DeviceRoute},
      {{"GET", "/api/v1/devices/{id}/software", false}, DeviceSoftwareRoute},
      {{"GET", "/api/v1/devices/{id}/files", false}, DeviceFilesRoute},
      {{"GET", "/api/v1/devices/{id}/sections", false}, DeviceSectionsRoute},
      {{"GET", "/api/v1/devices/{id}/usage", false}, DeviceUsageRoute},
      {{"GET", "/api/v1/devices/{id}/changes", false}, DeviceChangesRoute},
      {{"GET", "/api/v1/devices/{id}/resolution", false}, DeviceResolutionRoute},
      {{"GET", "/api/v1/software", false}, SoftwareRoute},
      {{"GET", "/api/v1/usage", false}, UsageRoute},
      {{"GET", "/api/v1/changes", false}, ChangesRoute},
      {{"GET", "/api/v1/beacons", false}, BeaconsRoute},
      {{"GET", "/api/v1/health", false}, HealthRoute},
      {{"GET", "/api/v1/actions", false}, ListActionsRoute},
      {{"GET", "/api/v1/actions/{id}", false}, ActionRoute},
      {{"POST", "/api/v1/actions", true}, CreateActionRoute},
      {{"POST", "/api/v1/actions/{id}/cancel", true}, CancelActionRoute},
      {{"GET", "/api/v1/policy/revisions", false}, PolicyRevisionsRoute},
  };
  return table;
}

// "/api/v1/devices/{id}" -> "/api/v1/devices/:id" (the engine's form).
std::string EnginePattern(const std::string& documented) {
  std::string out;
  for (size_t i = 0; i < documented.size(); ++i) {
    if (documented[i] == '{') {
      size_t close = documented.find('}', i);
      out += ':' + documented.substr(i + 1, close - i - 1);
      i = close;
    } else {
      out += documented[i];
    }
  }
  return out;
}

void SetHeaders(common::HttpResponse& res) {
  res.content_type = "application/json";
  res.Set("Cache-Control", "no-store");
  res.Set("X-Content-Type-Options", "nosniff");
}

void Answer(common::HttpResponse& res, int status, const Json& body) {
  res.status = status;
  // Device-reported text that is not UTF-8 must not cost the whole answer.
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  SetHeaders(res);
}

void AnswerError(common::HttpResponse& res, const ApiError& e) {
  Json err;
  err["code"] = e.code();
  err["message"] = e.what();
  err["parameter"] = e.parameter().empty() ? Json(nullptr) : Json(e.parameter());
  Json body;
  body["error"] = std::move(err);
  Answer(res, e.status(), body);
}

bool IsLowerHex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The request's live token, or an ApiError (401 / 403).
inventory::ApiToken Authenticate(inventory::Store& store, const common::HttpRequest& req, bool admin) {
  const std::string header = req.header("Authorization");
  // The scheme's name is case-insensitive (RFC 9110 section 11.1).
  std::string scheme = header.substr(0, 7);
  for (char& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  const bool bearer = header.size() > 7 && scheme == "bearer ";
  const std::string token = bearer ? header.substr(7) : "";
  auto refuse = [](const std::string& why) {
    return ApiError(401, "unauthenticated",
                    why + "; send Authorization: Bearer <token> (beaconctl token create)");
  };
  if (header.empty()) throw refuse("an API token is required");
  if (token.size() != 68 || token.compare(0, 4, "bkt_") != 0 || !IsLowerHex(token.substr(4))) {
    throw refuse("the Authorization header does not hold an API token");
  }
  // The store keeps SHA-256 digests only and finds the token by its digest
  // (an index lookup). Timing can at most reveal how a digest compares with
  // stored ones, which does not help to find a 256-bit token, so no
  // constant-time comparison is needed here.
  auto found = store.FindApiToken(common::Sha256Hex(token));
  if (!found.ok() && found.status().code() == common::Code::kNotFound)
    throw refuse("unknown API token");
  if (!found.ok()) StoreFailed(found.status());
  if (found->revoked_at != 0) throw refuse("this API token was revoked");
  if (admin && found->role != "admin") {
    throw ApiError(403, "forbidden",
                   "this needs an admin token; token '" + found->name + "' may only read");
  }
  return std::move(*found);
}

}  // namespace

struct AdminApi::Impl {
  Parts parts;

  void Serve(const RouteEntry* entry, const common::HttpRequest& req, common::HttpResponse& res) {
    try {
      const inventory::ApiToken token =
          Authenticate(*parts.store, req, entry != nullptr && entry->route.admin);
      if (entry == nullptr) return NoRoute(req, res);
      ApiContext ctx{*parts.store, *parts.view, parts.policy_state, req,
                     static_cast<int64_t>(std::time(nullptr)), token};
      ApiReply reply = entry->fn(ctx);
      if (entry->route.method == "POST") {
        common::LogInfo("admin API: token '" + token.name + "': " + req.method + " " + req.path + " -> " +
                        std::to_string(reply.status));
      }
      Answer(res, reply.status, reply.body);
    } catch (const ApiError& e) {
      AnswerError(res, e);
    } catch (const std::exception& e) {
      common::LogError(std::string("admin API: ") + req.method + " " + req.path + ": " + e.what());
      AnswerError(res, ApiError(500, "internal", "internal error; see the central's log"));
    }
    if (res.status == 401) res.Set("WWW-Authenticate", "Bearer realm=\"beacon\"");
  }

  // A path no route has for this method: 405 if another method has it, else 404.
  static void NoRoute(const common::HttpRequest& req, common::HttpResponse& res) {
    std::string allow;
    for (const auto& e : Table()) {
      if (common::MatchRoute(EnginePattern(e.route.pattern), req.path, nullptr)) {
        allow += (allow.empty() ? "" : ", ") + e.route.method;
      }
    }
    if (allow.empty()) throw ApiError(404, "not_found", "no such endpoint: see docs/api.md");
    res.Set("Allow", allow);
    throw ApiError(405, "method_not_allowed",
                   req.method + " is not allowed here; allowed: " + allow);
  }
};

AdminApi::AdminApi(Parts parts) : impl_(new Impl) {
  impl_->parts = std::move(parts);
}

AdminApi::~AdminApi() = default;

const std::vector<ApiRoute>& AdminApi::Routes() {
  static const std::vector<ApiRoute> routes = [] {
    std::vector<ApiRoute> out;
    for (const auto& e : Table()) out.push_back(e.route);
    return out;
  }();
  return routes;
}

void AdminApi::Register(common::HttpServer::Listener& admin) {
  Impl* impl = impl_.get();
  for (const RouteEntry& e : Table()) {
    const RouteEntry* entry = &e;
    common::Handler h = [impl, entry](const common::HttpRequest& req, common::HttpResponse& res) {
      impl->Serve(entry, req, res);
    };
    if (e.route.method == "GET") {
      admin.Get(EnginePattern(e.route.pattern), h, nullptr, common::RouteAccess::kOpen);
    } else {
      admin.Post(EnginePattern(e.route.pattern), kMaxApiBody, h, common::RouteAccess::kOpen);
    }
  }
  // After the routes (the engine takes the first match): every other path
  // under /api/v1 answers a JSON 404, or 405 when another method has it.
  common::Handler none = [impl](const common::HttpRequest& req, common::HttpResponse& res) {
    impl->Serve(nullptr, req, res);
  };
  std::string pattern = "/api/v1";
  for (int depth = 0; depth <= kMaxCatchAllDepth; ++depth) {
    admin.Get(pattern, none, nullptr, common::RouteAccess::kOpen);
    admin.Post(pattern, kMaxApiBody, none, common::RouteAccess::kOpen);
    pattern += "/:p" + std::to_string(depth);
  }
}

void StoreFailed(const common::Status& st) {
  if (st.code() == common::Code::kUnavailable || st.code() == common::Code::kDeadlineExceeded) {
    common::LogWarn("admin API: store unavailable: " + st.ToString());
    throw ApiError(503, "unavailable", "the store is unavailable for now; try again");
  }
  common::LogError("admin API: store: " + st.ToString());
  throw ApiError(500, "internal", "the store failed; see the central's log");
}

std::shared_ptr<const EstateSnapshot> Snapshot(ApiContext& ctx) {
  auto snap = ctx.view.Get();
  if (!snap.ok()) StoreFailed(snap.status());
  return *snap;
}

void PutAsOf(Json& obj, const EstateSnapshot& snap, int64_t now) {
  PutTime(obj, "as_of", snap.taken_at);
  obj["age_seconds"] = std::max<int64_t>(0, now - snap.taken_at);
}

}  // namespace beacon

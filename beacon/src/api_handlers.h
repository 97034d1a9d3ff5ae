// The admin API's handlers (private to beacon/src): one function per route
// of admin_api.cpp's table. Each parses its own query (api_query.h), reads
// the store or the estate view, and returns the JSON answer; a refusal is an
// ApiError, caught by the dispatcher.
#pragma once

#include <cstdint>
#include <string>

#include "api_json.h"
#include "api_query.h"
#include "common/http_server.h"
#include "common/status.h"
#include "estate_view.h"
#include "inventory/store.h"

namespace beacon {

// What a handler works with, for one request.
struct ApiContext {
  inventory::Store& store;
  EstateView& view;
  const std::string& policy_state;
  const common::HttpRequest& req;
  int64_t now;  // unix seconds when the request was taken up
  const inventory::ApiToken& token;  // the request's, checked: live, and admin for an admin route
};

struct ApiReply {
  int status = 200;
  Json body;
};

// A store failure as an answer: 503 "unavailable" for Unavailable (and
// DeadlineExceeded), 500 "internal" for the rest (logged; the message sent
// says only that the store failed).
[[noreturn]] void StoreFailed(const common::Status& st);
template <typename T>
T Must(common::StatusOr<T> v) {
  if (!v.ok()) StoreFailed(v.status());
  return std::move(*v);
}
// The estate view's snapshot (503 while it cannot be read).
std::shared_ptr<const EstateSnapshot> Snapshot(ApiContext& ctx);
// {"as_of", "as_of_unix", "age_seconds"} of a snapshot, into `obj`.
void PutAsOf(Json& obj, const EstateSnapshot& snap, int64_t now);

// api_devices.cpp
ApiReply ListDevicesRoute(ApiContext& ctx);
ApiReply DeviceRoute(ApiContext& ctx);
ApiReply DeviceSoftwareRoute(ApiContext& ctx);
ApiReply DeviceFilesRoute(ApiContext& ctx);
ApiReply DeviceSectionsRoute(ApiContext& ctx);
ApiReply DeviceUsageRoute(ApiContext& ctx);
ApiReply DeviceChangesRoute(ApiContext& ctx);
ApiReply DeviceResolutionRoute(ApiContext& ctx);

// api_estate.cpp
ApiReply TokenRoute(ApiContext& ctx);
ApiReply SummaryRoute(ApiContext& ctx);
ApiReply SoftwareRoute(ApiContext& ctx);
ApiReply UsageRoute(ApiContext& ctx);
ApiReply ChangesRoute(ApiContext& ctx);
ApiReply BeaconsRoute(ApiContext& ctx);
ApiReply HealthRoute(ApiContext& ctx);
ApiReply PolicyRevisionsRoute(ApiContext& ctx);

// api_actions.cpp
ApiReply ListActionsRoute(ApiContext& ctx);
ApiReply ActionRoute(ApiContext& ctx);
ApiReply CreateActionRoute(ApiContext& ctx);
ApiReply CancelActionRoute(ApiContext& ctx);

}  // namespace beacon

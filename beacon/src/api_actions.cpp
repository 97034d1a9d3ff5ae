// /api/v1/actions: list, one, create (admin) and cancel (admin), by the rules
// `beaconctl action` follows (beacon/action_requests.h).
#include <set>

#include "api_handlers.h"
#include "beacon/action_requests.h"

namespace beacon {

namespace {

constexpr int64_t kMaxList = 5000;
constexpr int64_t kDefaultList = 1000;

[[noreturn]] void BadBody(const std::string& field, const std::string& message) {
  throw ApiError(400, "invalid_body", message, field);
}

// The body of POST /api/v1/actions: a JSON object of kind, device or group,
// and expires_in; nothing else, no key twice.
ActionRequest ParseCreateBody(const common::HttpRequest& req) {
  const std::string type = req.header("Content-Type");
  if (type.substr(0, type.find(';')) != "application/json") {
    throw ApiError(415, "unsupported_media_type",
                   "send the body as Content-Type: application/json");
  }
  std::set<std::string> keys;
  bool repeated = false;
  std::string repeated_key;
  auto seen = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
      const std::string k = parsed.get<std::string>();
      if (!keys.insert(k).second && !repeated) {
        repeated = true;
        repeated_key = k;
      }
    }
    return true;
  };
  nlohmann::json doc = nlohmann::json::parse(req.body, seen, /*allow_exceptions=*/false);
  if (doc.is_discarded()) BadBody("", "the body is not JSON");
  if (!doc.is_object()) BadBody("", "the body must be a JSON object");
  if (repeated) BadBody(repeated_key, repeated_key + " is given more than once");
  ActionRequest r;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& k = it.key();
    if (k == "kind" || k == "device" || k == "group") {
      if (!it->is_string()) BadBody(k, k + " must be a string");
      (k == "kind" ? r.kind : k == "device" ? r.device : r.group) = it->get<std::string>();
    } else if (k == "expires_in") {
      if (!it->is_number_integer()) BadBody(k, "expires_in must be an integer number of seconds");
      r.lifetime = it->get<int64_t>();
    } else {
      BadBody(k.size() <= 64 ? k : "",
              "unknown field; the fields are kind, device, group and expires_in");
    }
  }
  ActionField field = ActionField::kNone;
  const common::Status st = CheckActionRequest(r, &field);
  if (!st.ok()) {
    static const char* const kNames[] = {"", "kind", "device", "group", "expires_in"};
    BadBody(kNames[static_cast<int>(field)],
            field == ActionField::kLifetime
                ? "expires_in must be from 1 to 2592000 seconds (30 days)"
                : st.message());
  }
  return r;
}

Json Rows(const std::vector<inventory::ActionRow>& rows) {
  Json items = Json::array();
  for (const auto& a : rows) items.push_back(ActionJson(a));
  return ListJson(std::move(items), static_cast<int64_t>(rows.size()));
}

}  // namespace

ApiReply ListActionsRoute(ApiContext& ctx) {
  const Query q = Query::Parse(ctx.req.query, {"device", "state", "limit"});
  inventory::ActionFilter f;
  f.device = q.DeviceId("device").value_or("");
  f.state = q.Get("state").value_or("");
  if (!f.state.empty() && !IsActionState(f.state))
    BadParameter("state", "state must be one of " + ActionStateNames());
  const int64_t limit = q.Int("limit", 1, kMaxList, kDefaultList);
  f.limit = limit + 1;  // one more tells whether the list was cut
  auto rows = Must(ctx.store.ListActions(f));
  const bool truncated = static_cast<int64_t>(rows.size()) > limit;
  if (truncated) rows.resize(static_cast<size_t>(limit));
  Json j = Rows(rows);
  j["truncated"] = truncated;
  return {200, std::move(j)};
}

ApiReply ActionRoute(ApiContext& ctx) {
  Query::Parse(ctx.req.query, {});
  const std::string& id = ctx.req.params.at(0);
  CheckUuidSegment(id, "id");
  auto a = ctx.store.GetAction(id);
  if (!a.ok() && a.status().code() == common::Code::kNotFound)
    throw ApiError(404, "not_found", "no action " + id, "id");
  return {200, ActionJson(Must(std::move(a)))};
}

ApiReply CreateActionRoute(ApiContext& ctx) {
  Query::Parse(ctx.req.query, {});
  const ActionRequest r = ParseCreateBody(ctx.req);
  auto rows = CreateActions(ctx.store, ctx.policy_state, r, ctx.now);
  if (!rows.ok()) {
    const common::Status& st = rows.status();
    const std::string field = r.device.empty() ? "group" : "device";
    if (st.code() == common::Code::kNotFound) throw ApiError(404, "not_found", st.message(), field);
    if (st.code() == common::Code::kFailedPrecondition)
      throw ApiError(409, "conflict", st.message(), field);
    if (st.code() == common::Code::kInvalidArgument) BadBody(field, st.message());
    StoreFailed(st);
  }
  return {201, Rows(*rows)};
}

ApiReply CancelActionRoute(ApiContext& ctx) {
  Query::Parse(ctx.req.query, {});
  const std::string& id = ctx.req.params.at(0);
  CheckUuidSegment(id, "id");
  if (!ctx.req.body.empty() && ctx.req.body != "{}") BadBody("", "cancel takes no body (or {})");
  auto a = ctx.store.CancelAction(id, ctx.now);
  if (!a.ok() && a.status().code() == common::Code::kNotFound)
    throw ApiError(404, "not_found", "no action " + id, "id");
  if (!a.ok() && a.status().code() == common::Code::kFailedPrecondition) {
    throw ApiError(409, "conflict", a.status().message(), "id");
  }
  return {200, ActionJson(Must(std::move(a)))};
}

}  // namespace beacon

// /api/v1/summary, /software, /usage, /changes, /beacons, /health and
// /policy/revisions: the estate-wide reads.
#include <algorithm>
#include <map>

#include "api_handlers.h"
#include "beacon/estate_report.h"
#include "common/uuid.h"
#include "inventory/version.h"
#include "policy/repository.h"

namespace beacon {

namespace {

constexpr int64_t kMaxList = 5000;
constexpr int64_t kDefaultList = 1000;
constexpr int64_t kDefaultHistory = 86400;  // a day: 1,440 check-in points, 288 per status

// A device named by a query parameter: 400 if malformed, 404 if unknown.
std::optional<std::string> KnownDeviceParam(ApiContext& ctx, const Query& q,
                                            const std::string& name) {
  auto id = q.DeviceId(name);
  if (!id) return id;
  auto state = ctx.store.GetDeviceState(*id);
  if (!state.ok() && state.status().code() == common::Code::kNotFound) {
    throw ApiError(404, "not_found",
                   "device " + *id + " is unknown to the central (never seen, never enrolled)",
                   name);
  }
  Must(std::move(state));
  return id;
}

// Up to `limit` of `rows` as JSON items, with total and truncated.
template <typename Rows, typename ToJson>
Json LimitedList(const Rows& rows, int64_t limit, ToJson to_json) {
  Json items = Json::array();
  for (const auto& r : rows) {
    if (static_cast<int64_t>(items.size()) == limit) break;
    items.push_back(to_json(r));
  }
  Json j = ListJson(std::move(items), static_cast<int64_t>(rows.size()));
  j["truncated"] = static_cast<int64_t>(rows.size()) > limit;
  return j;
}

// The estate history's series from `since`, for charts: always "checkins"
// and one "status:<name>" per status, in that order (empty when nothing was
// recorded), then any other series the store holds.
Json HistoryJson(ApiContext& ctx, int64_t since) {
  std::vector<std::string> names = {"checkins"};
  for (inventory::DeviceStatus s : kDeviceStatuses)
    names.push_back(std::string("status:") + inventory::DeviceStatusName(s));
  std::map<std::string, Json> points;
  for (const auto& sample : Must(ctx.store.EstateHistory(since))) {
    if (std::find(names.begin(), names.end(), sample.series) == names.end())
      names.push_back(sample.series);
    auto& p = points[sample.series];
    if (p.is_null()) p = Json::array();
    p.push_back(Json::array({sample.at, sample.value}));
  }
  Json series = Json::array();
  for (const auto& name : names) {
    auto it = points.find(name);
    series.push_back(
        Json{{"name", name}, {"points", it == points.end() ? Json::array() : it->second}});
  }
  Json j;
  PutTime(j, "since", since);
  j["series"] = std::move(series);
  return j;
}

}  // namespace

ApiReply TokenRoute(ApiContext& ctx) {
  Query::Parse(ctx.req.query, {});
  Json j;
  j["id"] = ctx.token.id;
  j["name"] = ctx.token.name;
  j["role"] = ctx.token.role;
  PutTime(j, "created", ctx.token.created_at);
  return {200, std::move(j)};
}

ApiReply SummaryRoute(ApiContext& ctx) {
  const Query q = Query::Parse(ctx.req.query, {"since"});
  const int64_t since = q.Time("since").value_or(ctx.now - kDefaultHistory);
  auto snap = Snapshot(ctx);
  EstateTally tally;
  for (const ViewDevice& d : snap->devices) tally.Add(d.state, d.verdict);
  const auto beacons = Must(ctx.store.ListBeacons());
  for (const auto& b : beacons)
    tally.Add(b, inventory::BeaconStatusOf(b, snap->rules, snap->taken_at));
  const int64_t published = Must(policy::PolicyRepository(ctx.policy_state).Latest());

  Json j;
  PutAsOf(j, *snap, ctx.now);
  Json by_status, by_condition;
  for (size_t s = 0; s < kStatusCount; ++s)
    by_status[inventory::DeviceStatusName(kDeviceStatuses[s])] = tally.by_status[s];
  for (size_t c = 0; c < kConditionCount; ++c)
    by_condition[inventory::kConditions[c]] = tally.by_condition[c];
  j["devices"] =
      Json{{"total", tally.devices}, {"by_status", by_status}, {"by_condition", by_condition}};
  j["beacons"] = Json{{"total", tally.beacons},
                      {"online", tally.beacons_online},
                      {"offline", tally.beacons - tally.beacons_online}};
  j["health"] = Json{{"open_errors", tally.open_errors}, {"open_warnings", tally.open_warnings}};
  j["actions"] = Json{{"pending", tally.pending_actions}};
  Json policy;
  policy["published_revision"] = published;
  policy["served_revision"] = snap->rules.policy_revision;
  PutTime(policy, "served_since", snap->rules.policy_since);
  j["policy"] = std::move(policy);
  j["history"] = HistoryJson(ctx, since);
  return {200, std::move(j)};
}

ApiReply SoftwareRoute(ApiContext& ctx) {
  const Query q = Query::Parse(ctx.req.query, {"name", "below", "at_least", "limit"});
  const std::string name = q.Required("name");
  size_t literal = 0;
  for (char c : name) literal += (c != '*' && c != '?') ? 1 : 0;
  // FindSoftware returns every match at once: a pattern of wildcards alone
  // would return every package of every device.
  if (literal < 2) BadParameter("name", "name must have at least 2 characters besides '*' and '?'");
  const auto below = q.Get("below");
  const auto at_least = q.Get("at_least");
  if (below && !inventory::IsDebianVersion(*below))
    BadParameter("below", "below must be a Debian version");
  if (at_least && !inventory::IsDebianVersion(*at_least)) {
    BadParameter("at_least", "at_least must be a Debian version");
  }
  const int64_t limit = q.Int("limit", 1, kMaxList, kDefaultList);
  std::vector<inventory::SoftwareRow> rows;
  for (auto& r : Must(ctx.store.FindSoftware(name))) {
    if (below && inventory::CompareDebianVersions(r.version, *below) >= 0) continue;
    if (at_least && inventory::CompareDebianVersions(r.version, *at_least) < 0) continue;
    rows.push_back(std::move(r));
  }
  return {200, LimitedList(rows, limit, [](const auto& r) { return SoftwareJson(r, true); })};
}

ApiReply UsageRoute(ApiContext& ctx) {
  const Query q = Query::Parse(ctx.req.query, {"device", "limit"});
  const auto device = KnownDeviceParam(ctx, q, "device");
  const int64_t limit = q.Int("limit", 1, kMaxList, kDefaultList);
  const auto rows = Must(ctx.store.UsageSummary(device.value_or("")));
  return {200, LimitedList(rows, limit, UsageJson)};
}

ApiReply ChangesRoute(ApiContext& ctx) {
  const Query q = Query::Parse(ctx.req.query, {"since", "device", "limit"});
  const auto since = q.Time("since");
  const auto device = KnownDeviceParam(ctx, q, "device");
  if (!since && !device) BadParameter("since", "since is required (unless device is given)");
  const int64_t limit = q.Int("limit", 1, kMaxList, kDefaultList);
  const auto rows = Must(ctx.store.Changes(since.value_or(0), device.value_or("")));
  return {200, LimitedList(rows, limit, ChangeJson)};
}

ApiReply BeaconsRoute(ApiContext& ctx) {
  Query::Parse(ctx.req.query, {});
  const auto rules = Must(ctx.store.GetEstateRules());
  Json items = Json::array();
  for (const auto& b : Must(ctx.store.ListBeacons())) {
    items.push_back(BeaconJson(b, inventory::BeaconStatusOf(b, rules, ctx.now)));
  }
  const int64_t n = static_cast<int64_t>(items.size());
  return {200, ListJson(std::move(items), n)};
}

ApiReply HealthRoute(ApiContext& ctx) {
  const Query q = Query::Parse(ctx.req.query, {"device", "beacon", "open", "limit"});
  inventory::HealthFilter f;
  f.device = q.DeviceId("device").value_or("");
  if (auto b = q.Get("beacon")) {
    if (!common::IsToken(*b))
      BadParameter("beacon", "beacon must be a beacon name ([A-Za-z0-9._:-]{1,64})");
    f.beacon = *b;
  }
  if (!f.device.empty() && !f.beacon.empty())
    BadParameter("beacon", "give device or beacon, not both");
  f.open_only = q.Bool("open", false);
  const int64_t limit = q.Int("limit", 1, kMaxList, kDefaultList);
  f.limit = limit + 1;  // one more tells whether the list was cut
  const auto rows = Must(ctx.store.ListHealth(f));
  Json j = LimitedList(rows, limit, HealthJson);
  j["total"] = std::min<int64_t>(static_cast<int64_t>(rows.size()), limit);
  return {200, std::move(j)};
}

ApiReply PolicyRevisionsRoute(ApiContext& ctx) {
  Query::Parse(ctx.req.query, {});
  const auto revisions = Must(policy::PolicyRepository(ctx.policy_state).History());
  Json items = Json::array();
  for (const auto& r : revisions) items.push_back(RevisionJson(r));
  const int64_t n = static_cast<int64_t>(items.size());
  return {200, ListJson(std::move(items), n)};
}

}  // namespace beacon

// /api/v1/devices and /api/v1/devices/{id}[/...]: the device list from the
// estate view, and one device read live from the store.
#include <algorithm>
#include <optional>
#include <string>

#include "api_handlers.h"
#include "beacon/estate_report.h"
#include "beacon/resolve.h"
#include "common/uuid.h"
#include "policy/repository.h"

namespace beacon {

namespace {

constexpr int64_t kMaxPage = 500;
constexpr int64_t kDefaultPage = 50;
constexpr int64_t kRecentUploads = 10;
constexpr int64_t kDeviceActions = 50;

// The device named by the path, checked: 400 for a malformed id, 404 for a
// device the store has never heard of.
inventory::DeviceState KnownDevice(ApiContext& ctx) {
  const std::string& id = ctx.req.params.at(0);
  CheckUuidSegment(id, "id");
  auto state = ctx.store.GetDeviceState(id);
  if (!state.ok() && state.status().code() == common::Code::kNotFound) {
    throw ApiError(404, "not_found",
                   "device " + id + " is unknown to the central (never seen, never enrolled)",
                   "id");
  }
  return Must(std::move(state));
}

// A store read about a device that the store may not know for want of a
// check-in or an inventory (an enrolled device: DeviceSoftware says NotFound
// then): nothing, as for a device without any.
template <typename T>
T OrEmpty(common::StatusOr<T> v) {
  if (!v.ok() && v.status().code() == common::Code::kNotFound) return T{};
  return Must(std::move(v));
}

}  // namespace

ApiReply ListDevicesRoute(ApiContext& ctx) {
  const Query q = Query::Parse(
      ctx.req.query, {"status", "condition", "via", "os", "q", "sort", "limit", "cursor"});
  DeviceQuery dq;
  // The filters, as text, identify the cursor's scope.
  std::string scope;
  if (auto v = q.Get("status")) {
    dq.status = DeviceStatusFromName(*v);
    if (!dq.status) BadParameter("status", "status must be one of " + StatusNames());
    scope += "status=" + *v + "\n";
  }
  if (auto v = q.Get("condition")) {
    dq.condition = ConditionIndex(*v);
    if (!dq.condition) BadParameter("condition", "condition must be one of " + ConditionNames());
    scope += "condition=" + *v + "\n";
  }
  if (auto v = q.Get("via")) {
    if (!common::IsToken(*v))
      BadParameter("via", "via must be a beacon name ([A-Za-z0-9._:-]{1,64})");
    dq.via = *v;
    scope += "via=" + *v + "\n";
  }
  if (auto v = q.Get("os")) {
    if (v->empty()) BadParameter("os", "os must not be empty");
    dq.os_glob = *v;
    scope += "os=" + *v + "\n";
  }
  if (auto v = q.Get("q")) {
    if (v->empty()) BadParameter("q", "q must not be empty");
    dq.q = *v;
    scope += "q=" + *v + "\n";
  }
  std::string sort = q.Get("sort").value_or("hostname");
  dq.descending = !sort.empty() && sort[0] == '-';
  auto key = DeviceSortFromName(dq.descending ? sort.substr(1) : sort);
  if (!key)
    BadParameter(
        "sort",
        "sort must be hostname, last_seen, status, os or inventory_at, with '-' for descending");
  dq.sort = *key;
  dq.limit = static_cast<size_t>(q.Int("limit", 1, kMaxPage, kDefaultPage));
  if (auto c = q.Get("cursor")) {
    Cursor cur = DecodeCursor(*c, sort, scope);
    dq.after = std::make_pair(cur.key, cur.device_id);
  }

  auto snap = Snapshot(ctx);
  auto page = ListDevices(*snap, dq);
  if (!page.ok())
    throw ApiError(400, "invalid_cursor", "cursor is not a cursor this server made", "cursor");
  Json body;
  PutAsOf(body, *snap, ctx.now);
  body["total"] = page->total;
  body["limit"] = dq.limit;
  Json items = Json::array();
  for (const ViewDevice* d : page->items) items.push_back(DeviceItemJson(d->state, d->verdict));
  body["items"] = std::move(items);
  if (page->more) {
    const ViewDevice& last = *page->items.back();
    body["next_cursor"] =
        EncodeCursor({sort, scope, SortKeyText(last, dq.sort), last.state.device_id});
  } else {
    body["next_cursor"] = nullptr;
  }
  return {200, std::move(body)};
}

ApiReply DeviceRoute(ApiContext& ctx) {
  Query::Parse(ctx.req.query, {});
  const inventory::DeviceState d = KnownDevice(ctx);
  const std::string& id = d.device_id;
  const inventory::EstateRules rules = Must(ctx.store.GetEstateRules());
  const inventory::DeviceVerdict v = inventory::DeviceStatusOf(d, rules, ctx.now);
  auto row = ctx.store.GetDevice(id);  // NotFound for a device only enrolled
  if (!row.ok() && row.status().code() != common::Code::kNotFound) StoreFailed(row.status());
  const auto addresses = OrEmpty(ctx.store.DeviceAddresses(id));
  const auto vias = Must(ctx.store.DeviceVias(id));
  const auto uploads = Must(ctx.store.RecentUploads(id, kRecentUploads));
  inventory::HealthFilter open;
  open.device = id;
  open.open_only = true;
  const auto health = Must(ctx.store.ListHealth(open));
  inventory::ActionFilter mine;
  mine.device = id;
  mine.limit = kDeviceActions;
  const auto actions = Must(ctx.store.ListActions(mine));
  const int64_t published = Must(policy::PolicyRepository(ctx.policy_state).Latest());

  Json j;
  PutTime(j, "as_of", ctx.now);
  Json item = DeviceItemJson(d, v);
  for (auto it = item.begin(); it != item.end(); ++it) j[it.key()] = it.value();
  j["served_revision"] = rules.policy_revision;
  PutTime(j, "enrolled", d.enrolled_at);
  PutTime(j, "first_seen", d.first_seen);
  j["check_interval"] = d.check_interval > 0 ? d.check_interval : rules.default_check_interval;
  j["check_interval_default"] = d.check_interval <= 0;
  j["inventory_sequence"] = d.inventory_sequence;
  j["packages"] = row.ok() ? row->packages : 0;
  j["outbox_depth"] = d.outbox_depth;
  PutTime(j, "certificate_expires", d.cert_not_after);
  j["clone_suspected"] = d.clone_suspected;
  j["addresses"] = addresses;
  j["hardware"] = HardwareJson(OrEmpty(ctx.store.DeviceHardware(id)));
  Json policy;
  policy["applied_revision"] = d.policy_revision;
  policy["served_revision"] = rules.policy_revision;
  PutTime(policy, "served_since", rules.policy_since);
  policy["published_revision"] = published;
  policy["in_sync"] = v.in_sync;
  j["policy"] = std::move(policy);
  Json via_list = Json::array();
  for (const auto& x : vias) {
    Json o;
    o["via"] = x.via;
    PutTime(o, "last_seen", x.last_seen);
    via_list.push_back(std::move(o));
  }
  j["vias"] = std::move(via_list);
  Json upload_list = Json::array();
  for (const auto& u : uploads) {
    Json o;
    o["upload_id"] = u.upload_id;
    o["kind"] = u.kind;
    o["size"] = u.size;
    PutTime(o, "received", u.received_at);
    o["via"] = u.via;
    upload_list.push_back(std::move(o));
  }
  j["uploads"] = std::move(upload_list);
  Json health_list = Json::array();
  for (const auto& h : health) health_list.push_back(HealthJson(h));
  j["health"] = std::move(health_list);
  Json action_list = Json::array();
  for (const auto& a : actions) action_list.push_back(ActionJson(a));
  j["actions"] = std::move(action_list);
  return {200, std::move(j)};
}

ApiReply DeviceSoftwareRoute(ApiContext& ctx) {
  Query::Parse(ctx.req.query, {});
  const std::string id = KnownDevice(ctx).device_id;
  Json items = Json::array();
  for (const auto& p : OrEmpty(ctx.store.DeviceSoftware(id)))
    items.push_back(SoftwareJson(p, false));
  const int64_t n = static_cast<int64_t>(items.size());
  return {200, ListJson(std::move(items), n)};
}

ApiReply DeviceFilesRoute(ApiContext& ctx) {
  Query::Parse(ctx.req.query, {});
  const std::string id = KnownDevice(ctx).device_id;
  Json items = Json::array();
  for (const auto& f : OrEmpty(ctx.store.DeviceFiles(id))) items.push_back(FileJson(f));
  const int64_t n = static_cast<int64_t>(items.size());
  return {200, ListJson(std::move(items), n)};
}

ApiReply DeviceSectionsRoute(ApiContext& ctx) {
  const Query q = Query::Parse(ctx.req.query, {"name"});
  const std::optional<std::string> name = q.Get("name");
  if (name && (name->empty() || name->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") !=
                                    std::string::npos)) {
    BadParameter("name", "name must be a section name: lower-case letters, digits and '_'");
  }
  const std::string id = KnownDevice(ctx).device_id;
  Json items = Json::array();
  for (const auto& section : OrEmpty(ctx.store.DeviceSections(id))) {
    if (!name || section.name == *name) items.push_back(SectionJson(section));
  }
  const int64_t n = static_cast<int64_t>(items.size());
  return {200, ListJson(std::move(items), n)};
}

ApiReply DeviceUsageRoute(ApiContext& ctx) {
  Query::Parse(ctx.req.query, {});
  const std::string id = KnownDevice(ctx).device_id;
  Json items = Json::array();
  for (const auto& u : OrEmpty(ctx.store.UsageSummary(id))) items.push_back(UsageJson(u));
  const int64_t n = static_cast<int64_t>(items.size());
  return {200, ListJson(std::move(items), n)};
}

ApiReply DeviceChangesRoute(ApiContext& ctx) {
  const Query q = Query::Parse(ctx.req.query, {"since"});
  const std::string id = KnownDevice(ctx).device_id;
  Json items = Json::array();
  for (const auto& c : OrEmpty(ctx.store.Changes(q.Time("since").value_or(0), id)))
    items.push_back(ChangeJson(c));
  const int64_t n = static_cast<int64_t>(items.size());
  return {200, ListJson(std::move(items), n)};
}

ApiReply DeviceResolutionRoute(ApiContext& ctx) {
  Query::Parse(ctx.req.query, {});
  const std::string id = KnownDevice(ctx).device_id;
  auto res = ResolveDevice(ctx.store, ctx.policy_state, id);
  if (!res.ok() && res.status().code() == common::Code::kFailedPrecondition) {
    throw ApiError(409, "conflict", res.status().message());
  }
  const DeviceResolution r = Must(std::move(res));
  Json j;
  j["device_id"] = id;
  j["revision"] = r.revision;
  j["known"] = r.known;
  j["inventoried"] = r.facts.inventoried;
  j["hostname"] = r.facts.hostname;
  j["os"] = r.facts.os;
  j["addresses"] = r.facts.addresses;
  j["groups"] = r.resolution.groups;
  Json origins = Json::array();
  for (const auto& o : r.resolution.origins) {
    origins.push_back(Json{{"file", o.file}, {"part", o.part}, {"group", o.group}});
  }
  j["origins"] = std::move(origins);
  Json files = Json::array();
  for (const auto& [name, content] : r.resolution.files)
    files.push_back(Json{{"name", name}, {"content", content}});
  j["files"] = std::move(files);
  return {200, std::move(j)};
}

}  // namespace beacon

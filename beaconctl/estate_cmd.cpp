#include "estate_cmd.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iterator>
#include <nlohmann/json.hpp>
#include <ostream>

#include "beacon/estate_report.h"
#include "common/text.h"
#include "common/uuid.h"
#include "inventory/store.h"
#include "table.h"

namespace beaconctl {

using common::Status;

namespace {

Status Usage(const std::string& why) { return common::InvalidArgument("usage: " + why); }

// The table's REVISION cell: "4", or "3 (served 4)" while behind.
std::string RevisionText(int64_t applied, bool in_sync, const inventory::EstateRules& rules) {
  std::string s = std::to_string(applied);
  if (!in_sync && rules.policy_revision > 0) s += " (served " + std::to_string(rules.policy_revision) + ")";
  return s;
}

// The columns of the health listings (health, device show).
std::vector<Column> HealthColumns() {
  return {{.field = "source_kind", .header = "SOURCE"},
          {.field = "source", .header = "NAME"},
          {.field = "id", .header = "ID"},
          {.field = "component", .header = "COMPONENT"},
          {.field = "type", .header = "TYPE"},
          {.field = "priority", .header = "PRIO", .right = true},
          {.field = "first_seen", .header = "FIRST SEEN", .time = true},
          {.field = "last_seen", .header = "LAST SEEN", .time = true},
          {.field = "count", .header = "COUNT", .right = true},
          {.field = "cleared", .header = "CLEARED", .time = true},
          {.field = "received", .time = true},
          {.field = "text", .header = "TEXT"}};
}

Listing HealthListing(const std::vector<inventory::HealthRow>& rows) {
  Listing l;
  l.columns = HealthColumns();
  for (const auto& r : rows) {
    const auto& m = r.message;
    l.rows.push_back({Value::Text(r.source_kind), Value::Untrusted(r.source), Value::Untrusted(m.id),
                      Value::Untrusted(m.component), Value::Text(inventory::HealthTypeName(m.type)),
                      Value::Int(m.priority), Value::Time(m.first_seen), Value::Time(m.last_seen), Value::Int(m.count),
                      Value::Time(m.cleared_at, "open"), Value::Time(r.received_at), Value::Untrusted(m.text)});
  }
  return l;
}

Status Summary(inventory::Store& store, int64_t now, Format format, std::ostream& out) {
  ASSIGN_OR_RETURN(auto rules, store.GetEstateRules());
  ASSIGN_OR_RETURN(auto devices, store.ListDeviceStates());
  ASSIGN_OR_RETURN(auto beacons, store.ListBeacons());
  beacon::EstateTally tally;
  for (const auto& d : devices) tally.Add(d, inventory::DeviceStatusOf(d, rules, now));
  for (const auto& b : beacons) tally.Add(b, inventory::BeaconStatusOf(b, rules, now));
  Listing l;
  l.columns = {{.field = "group", .header = "GROUP"},
               {.field = "name", .header = "NAME"},
               {.field = "count", .header = "COUNT", .right = true}};
  auto add = [&](const char* group, const std::string& name, int64_t n) {
    l.rows.push_back({Value::Text(group), Value::Text(name), Value::Int(n)});
  };
  add("devices", "total", tally.devices);
  for (size_t s = 0; s < beacon::kStatusCount; ++s) {
    add("status", inventory::DeviceStatusName(beacon::kDeviceStatuses[s]), tally.by_status[s]);
  }
  for (size_t c = 0; c < beacon::kConditionCount; ++c) add("condition", inventory::kConditions[c], tally.by_condition[c]);
  add("beacons", "online", tally.beacons_online);
  add("beacons", "offline", tally.beacons - tally.beacons_online);
  add("health", "open-errors", tally.open_errors);
  add("health", "open-warnings", tally.open_warnings);
  Print(out, format, l);
  return Status::Ok();
}

std::vector<Column> DeviceColumns() {
  return {{.field = "id", .header = "DEVICE"},
          {.field = "hostname", .header = "HOSTNAME"},
          {.field = "os", .header = "OS"},
          {.field = "status", .header = "STATUS"},
          {.field = "why"},
          {.field = "conditions", .header = "CONDITIONS"},
          {.field = "last_seen", .header = "LAST SEEN", .time = true},
          {.field = "via", .header = "VIA"},
          {.field = "client_version", .header = "VERSION"},
          {.field = "policy_revision", .header = "REVISION", .right = true},
          {.field = "in_sync", .header = "IN SYNC"}};
}

std::vector<Value> DeviceValues(const inventory::DeviceState& d, const inventory::DeviceVerdict& v,
                                const inventory::EstateRules& rules) {
  return {Value::Untrusted(d.device_id),
          Value::Untrusted(d.hostname),
          Value::Untrusted(d.os),
          Value::Text(inventory::DeviceStatusName(v.status)),
          Value::Untrusted(v.why),
          Value::List(v.conditions),
          Value::Time(d.last_seen),
          Value::Untrusted(d.via),
          Value::Untrusted(d.client_version),
          Value::Int(d.policy_revision).Shown(RevisionText(d.policy_revision, v.in_sync, rules)),
          Value::Bool(v.in_sync)};
}

}  // namespace

EstateCommand::EstateCommand(CLI::App& app, CLI::App& device) {
  status_ = app.add_subcommand("status", "devices per status and condition, beacons online, open health messages");
  format_.AddTo(*status_);
  devices_ = app.add_subcommand("devices", "list devices with their status, sorted by hostname");
  devices_->add_option("--status", status_filter_, "only this status: " + beacon::StatusNames())->type_name("STATUS");
  devices_->add_option("--os", os_glob_, "only an OS matching GLOB ('*', '?', case ignored)")->type_name("GLOB");
  devices_->add_option("--name", name_glob_, "only a host name matching GLOB ('*', '?', case ignored)")
      ->type_name("GLOB");
  devices_->add_option("--condition", condition_filter_, "only devices with this condition: " + beacon::ConditionNames())
      ->type_name("CONDITION");
  format_.AddTo(*devices_);
  show_ = device.add_subcommand("show", "a device's status and why, check-ins, inventory, policy, health, actions");
  show_->add_option("DEVICE_ID", device_, "the device")->required();
  format_.AddTo(*show_);
  beacons_ = app.add_subcommand("beacons", "the beacons: online or offline and why, spool, upstream, certificate");
  format_.AddTo(*beacons_);
  health_ = app.add_subcommand("health", "health messages from devices and beacons, newest first");
  CLI::Option* dev = health_->add_option("--device", device_, "only this device's")->type_name("DEVICE_ID");
  health_->add_option("--beacon", beacon_, "only this beacon's")->type_name("NAME")->excludes(dev);
  health_->add_flag("--open", open_only_, "only messages not cleared");
  health_->add_option("--limit", limit_, "at most N messages (1..100000, default 1000)")->type_name("N");
  format_.AddTo(*health_);
}

bool EstateCommand::Chosen() const {
  return status_->parsed() || devices_->parsed() || show_->parsed() || beacons_->parsed() || health_->parsed();
}

namespace {

Status Devices(inventory::Store& store, int64_t now, const std::string& status, const std::string& os,
               const std::string& name, const std::string& condition, Format format, std::ostream& out) {
  if (!status.empty() && !beacon::DeviceStatusFromName(status)) {
    return Usage("--status '" + common::Printable(status) + "' is not one of " + beacon::StatusNames());
  }
  if (!condition.empty() && !beacon::ConditionIndex(condition)) {
    return Usage("--condition '" + common::Printable(condition) + "' is not one of " + beacon::ConditionNames());
  }
  ASSIGN_OR_RETURN(auto rules, store.GetEstateRules());
  ASSIGN_OR_RETURN(auto devices, store.ListDeviceStates());
  Listing l;
  l.columns = DeviceColumns();
  for (const auto& d : devices) {
    const inventory::DeviceVerdict v = inventory::DeviceStatusOf(d, rules, now);
    if (!status.empty() && status != inventory::DeviceStatusName(v.status)) continue;
    if (!condition.empty() && std::find(v.conditions.begin(), v.conditions.end(), condition) == v.conditions.end()) {
      continue;
    }
    if (!os.empty() && !beacon::GlobMatch(os, d.os)) continue;
    if (!name.empty() && !beacon::GlobMatch(name, d.hostname)) continue;
    l.rows.push_back(DeviceValues(d, v, rules));
  }
  Print(out, format, l);
  return Status::Ok();
}

// A size for people: "24.0 GiB", "512.0 MiB"; "-" for 0 (not reported).
std::string HumanBytes(uint64_t bytes) {
  if (bytes == 0) return "-";
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

Status Show(inventory::Store& store, int64_t now, const std::string& id, Format format, std::ostream& out) {
  if (!common::IsUuid(id)) return Usage("'" + common::Printable(id) + "' is not a device id (a lower-case UUID)");
  ASSIGN_OR_RETURN(auto rules, store.GetEstateRules());
  auto state = store.GetDeviceState(id);
  if (!state.ok() && state.status().code() == common::Code::kNotFound) {
    return common::NotFound("device " + id + " is unknown to the central (never seen, never enrolled)");
  }
  RETURN_IF_ERROR(state.status());
  const inventory::DeviceState& d = *state;
  const inventory::DeviceVerdict v = inventory::DeviceStatusOf(d, rules, now);
  ASSIGN_OR_RETURN(auto vias, store.DeviceVias(id));
  ASSIGN_OR_RETURN(auto uploads, store.RecentUploads(id, 10));
  auto hardware = store.DeviceHardware(id);  // NotFound for a device only enrolled: none
  if (!hardware.ok() && hardware.status().code() != common::Code::kNotFound) return hardware.status();
  const inventory::Hardware hw = hardware.ok() ? *hardware : inventory::Hardware{};
  inventory::HealthFilter open;
  open.device = id;
  open.open_only = true;
  ASSIGN_OR_RETURN(auto health, store.ListHealth(open));
  inventory::ActionFilter mine;
  mine.device = id;
  ASSIGN_OR_RETURN(auto all_actions, store.ListActions(mine));
  std::vector<inventory::ActionRow> actions;
  for (auto& a : all_actions) {
    if (a.state == "pending" || a.state == "delivered") actions.push_back(std::move(a));
  }

  std::vector<Column> columns = DeviceColumns();
  std::vector<Value> row = DeviceValues(d, v, rules);
  columns[4].header = "WHY";  // a record has room for it
  const std::string interval = std::to_string(d.check_interval > 0 ? d.check_interval : rules.default_check_interval);
  std::vector<std::pair<Column, Value>> more = {
      {{.field = "served_revision", .header = "SERVED REVISION"}, Value::Int(rules.policy_revision)},
      {{.field = "enrolled", .header = "ENROLLED", .time = true}, Value::Time(d.enrolled_at)},
      {{.field = "first_seen", .header = "FIRST SEEN", .time = true}, Value::Time(d.first_seen)},
      {{.field = "check_interval", .header = "CHECK INTERVAL"},
       Value::Int(d.check_interval).Shown(d.check_interval > 0 ? interval + "s" : interval + "s (default)")},
      {{.field = "inventory", .header = "INVENTORY", .time = true},
       Value::Time(d.inventory_at, "none").Shown(d.inventoried ? FormatTime(d.inventory_at) + " (#" +
                                                                      std::to_string(d.inventory_sequence) + ")"
                                                                : "none")},
      {{.field = "inventory_sequence"}, Value::Int(d.inventory_sequence)},
      {{.field = "outbox_depth", .header = "OUTBOX", .right = true}, Value::Int(d.outbox_depth)},
      {{.field = "certificate_expires", .header = "CERTIFICATE", .time = true}, Value::Time(d.cert_not_after, "none")},
      {{.field = "clone_suspected", .header = "CLONE SUSPECTED"}, Value::Bool(d.clone_suspected)},
      {{.field = "open_errors", .header = "OPEN ERRORS"}, Value::Int(d.open_errors)},
      {{.field = "open_warnings", .header = "OPEN WARNINGS"}, Value::Int(d.open_warnings)},
      {{.field = "vendor", .header = "VENDOR"}, Value::Untrusted(hw.vendor)},
      {{.field = "model", .header = "MODEL"}, Value::Untrusted(hw.model)},
      {{.field = "serial", .header = "SERIAL"}, Value::Untrusted(hw.serial)},
      {{.field = "cpu_model", .header = "CPU"}, Value::Untrusted(hw.cpu_model)},
      {{.field = "cpu_cores", .header = "CPU CORES"}, Value::Int(hw.cpu_cores)},
      {{.field = "memory_bytes", .header = "MEMORY"},
       Value::Int(static_cast<int64_t>(hw.memory_bytes)).Shown(HumanBytes(hw.memory_bytes))},
  };
  for (auto& [c, val] : more) {
    columns.push_back(c);
    row.push_back(std::move(val));
  }

  Listing via_list;
  via_list.columns = {{.field = "via", .header = "VIA"}, {.field = "last_seen", .header = "LAST SEEN", .time = true}};
  for (const auto& x : vias) via_list.rows.push_back({Value::Untrusted(x.via), Value::Time(x.last_seen)});
  Listing upload_list;
  upload_list.columns = {{.field = "upload_id", .header = "UPLOAD"},
                         {.field = "kind", .header = "KIND"},
                         {.field = "size", .header = "SIZE", .right = true},
                         {.field = "received", .header = "RECEIVED", .time = true},
                         {.field = "via", .header = "VIA"}};
  for (const auto& u : uploads) {
    upload_list.rows.push_back({Value::Untrusted(u.upload_id), Value::Text(u.kind),
                                Value::Int(static_cast<int64_t>(u.size)), Value::Time(u.received_at),
                                Value::Untrusted(u.via)});
  }
  Listing disk_list;
  disk_list.columns = {{.field = "name", .header = "DISK"},
                       {.field = "model", .header = "MODEL"},
                       {.field = "size_bytes", .header = "SIZE", .right = true}};
  for (const auto& disk : hw.disks) {
    disk_list.rows.push_back({Value::Untrusted(disk.name), Value::Untrusted(disk.model),
                              Value::Int(static_cast<int64_t>(disk.size_bytes)).Shown(HumanBytes(disk.size_bytes))});
  }
  Listing health_list = HealthListing(health);
  Listing action_list;
  action_list.columns = {{.field = "id", .header = "ACTION"},
                         {.field = "kind", .header = "KIND"},
                         {.field = "state", .header = "STATE"},
                         {.field = "created", .header = "CREATED", .time = true},
                         {.field = "expires", .header = "EXPIRES", .time = true}};
  for (const auto& a : actions) {
    action_list.rows.push_back({Value::Text(a.id), Value::Text(a.kind), Value::Text(a.state),
                                Value::Time(a.created_at), Value::Time(a.expires_at)});
  }

  if (format == Format::kJson) {
    nlohmann::ordered_json doc = JsonObject(columns, row);
    doc["disks"] = JsonArray(disk_list);
    doc["vias"] = JsonArray(via_list);
    doc["health"] = JsonArray(health_list);
    doc["uploads"] = JsonArray(upload_list);
    doc["actions"] = JsonArray(action_list);
    PrintJson(out, doc);
    return Status::Ok();
  }
  if (format == Format::kCsv) {  // the record's own fields; the lists are in --json
    Print(out, format, Listing{columns, {row}});
    return Status::Ok();
  }
  PrintFields(out, columns, row);
  out << "\ndisks:\n";
  Print(out, format, disk_list, "(none)");
  out << "\ncheck-ins through:\n";
  Print(out, format, via_list, "(none)");
  out << "\nopen health messages:\n";
  Print(out, format, health_list, "(none)");
  out << "\nrecent uploads:\n";
  Print(out, format, upload_list, "(none)");
  out << "\npending actions:\n";
  Print(out, format, action_list, "(none)");
  return Status::Ok();
}

Status Beacons(inventory::Store& store, int64_t now, Format format, std::ostream& out) {
  ASSIGN_OR_RETURN(auto rules, store.GetEstateRules());
  ASSIGN_OR_RETURN(auto beacons, store.ListBeacons());
  Listing l;
  l.columns = {{.field = "name", .header = "BEACON"},
               {.field = "state", .header = "STATE"},
               {.field = "version", .header = "VERSION"},
               {.field = "central"},
               {.field = "last_contact", .header = "LAST CONTACT", .time = true},
               {.field = "interval"},
               {.field = "spool_files", .header = "SPOOL", .right = true},
               {.field = "spool_bytes", .header = "BYTES", .right = true},
               {.field = "spool_oldest", .header = "OLDEST", .time = true},
               {.field = "rejected", .header = "REJECTED", .right = true},
               {.field = "disk_free"},
               {.field = "upstream_ok", .header = "UPSTREAM"},
               {.field = "upstream_since", .header = "SINCE", .time = true},
               {.field = "certificate_expires", .header = "CERTIFICATE", .time = true},
               {.field = "revoked"},
               {.field = "open_errors", .header = "ERRORS", .right = true},
               {.field = "open_warnings", .header = "WARNINGS", .right = true},
               {.field = "why", .header = "WHY"}};
  for (const auto& b : beacons) {
    const inventory::BeaconVerdict v = inventory::BeaconStatusOf(b, rules, now);
    const auto& s = b.status;
    const bool heard = b.last_contact > 0;
    // Its own report knows its certificate best; the store's issued
    // certificates stand in for a beacon never heard from.
    const int64_t cert = s.cert_not_after > 0 ? s.cert_not_after : b.cert_not_after;
    l.rows.push_back(
        {Value::Untrusted(b.name), Value::Text(v.online ? "online" : "offline"), Value::Untrusted(s.version),
         Value::Bool(s.central), Value::Time(b.last_contact), Value::Int(s.interval),
         Value::Int(static_cast<int64_t>(s.spool_files)), Value::Int(static_cast<int64_t>(s.spool_bytes)),
         Value::Time(s.spool_oldest, "-"), Value::Int(static_cast<int64_t>(s.rejected_files)),
         Value::Int(static_cast<int64_t>(s.disk_free)),
         Value::Bool(s.upstream_ok).Shown(!heard ? "-" : s.central ? "(central)" : s.upstream_ok ? "reachable" : "unreachable"),
         Value::Time(s.upstream_since, "-"), Value::Time(cert, "none").Shown(b.revoked ? "revoked" : cert > 0 ? FormatTime(cert) : "none"),
         Value::Bool(b.revoked), Value::Int(b.open_errors), Value::Int(b.open_warnings), Value::Untrusted(v.why)});
  }
  Print(out, format, l, "(no beacon has reported, and none has a certificate)");
  return Status::Ok();
}

}  // namespace

Status EstateCommand::Run(inventory::Store& store, int64_t now, std::ostream& out) const {
  const Format format = format_.Get();
  if (status_->parsed()) return Summary(store, now, format, out);
  if (devices_->parsed()) {
    return Devices(store, now, status_filter_, os_glob_, name_glob_, condition_filter_, format, out);
  }
  if (show_->parsed()) return Show(store, now, device_, format, out);
  if (beacons_->parsed()) return Beacons(store, now, format, out);
  if (health_->parsed()) {
    if (!device_.empty() && !common::IsUuid(device_)) {
      return Usage("--device '" + common::Printable(device_) + "' is not a device id (a lower-case UUID)");
    }
    if (!beacon_.empty() && !common::IsToken(beacon_)) {
      return Usage("--beacon '" + common::Printable(beacon_) + "' is not a beacon name ([A-Za-z0-9._:-]{1,64})");
    }
    if (limit_ < 1 || limit_ > 100000) return Usage("--limit must be 1..100000");
    inventory::HealthFilter filter;
    filter.device = device_;
    filter.beacon = beacon_;
    filter.open_only = open_only_;
    filter.limit = limit_;
    ASSIGN_OR_RETURN(auto rows, store.ListHealth(filter));
    Print(out, format, HealthListing(rows));
    return Status::Ok();
  }
  return Usage("no command");
}

}  // namespace beaconctl

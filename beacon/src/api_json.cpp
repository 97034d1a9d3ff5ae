#include "api_json.h"

#include "common/time.h"
#include "inventory/sections.h"

namespace beacon {

void PutTime(Json& obj, const std::string& name, int64_t t) {
  if (t == 0) {
    obj[name] = nullptr;
    obj[name + "_unix"] = nullptr;
  } else {
    obj[name] = common::FormatRfc3339(t);
    obj[name + "_unix"] = t;
  }
}

Json DeviceItemJson(const inventory::DeviceState& d, const inventory::DeviceVerdict& v) {
  Json j;
  j["device_id"] = d.device_id;
  j["hostname"] = d.hostname;
  j["os"] = d.os;
  j["status"] = inventory::DeviceStatusName(v.status);
  j["why"] = v.why;
  j["conditions"] = v.conditions;
  PutTime(j, "last_seen", d.last_seen);
  j["via"] = d.via;
  j["client_version"] = d.client_version;
  j["policy_revision"] = d.policy_revision;
  j["in_sync"] = v.in_sync;
  PutTime(j, "inventory_at", d.inventory_at);
  j["open_errors"] = d.open_errors;
  j["open_warnings"] = d.open_warnings;
  j["pending_actions"] = d.pending_actions;
  return j;
}

Json ActionJson(const inventory::ActionRow& a) {
  Json j;
  j["id"] = a.id;
  j["kind"] = a.kind;
  j["device_id"] = a.device_id;
  j["group"] = a.group;
  j["state"] = a.state;
  PutTime(j, "created", a.created_at);
  PutTime(j, "expires", a.expires_at);
  PutTime(j, "delivered", a.delivered_at);
  PutTime(j, "finished", a.finished_at);
  j["result"] = a.result;
  return j;
}

Json HealthJson(const inventory::HealthRow& r) {
  const auto& m = r.message;
  Json j;
  j["source_kind"] = r.source_kind;
  j["source"] = r.source;
  j["id"] = m.id;
  j["component"] = m.component;
  j["type"] = inventory::HealthTypeName(m.type);
  j["priority"] = m.priority;
  PutTime(j, "first_seen", m.first_seen);
  PutTime(j, "last_seen", m.last_seen);
  j["count"] = m.count;
  PutTime(j, "cleared", m.cleared_at);
  PutTime(j, "received", r.received_at);
  j["text"] = m.text;
  return j;
}

Json BeaconJson(const inventory::BeaconState& b, const inventory::BeaconVerdict& v) {
  const auto& s = b.status;
  const bool heard = b.last_contact > 0;
  Json j;
  j["name"] = b.name;
  j["state"] = v.online ? "online" : "offline";
  j["why"] = v.why;
  j["version"] = s.version;
  j["central"] = s.central;
  PutTime(j, "last_contact", b.last_contact);
  j["interval"] = s.interval;
  j["spool_files"] = s.spool_files;
  j["spool_bytes"] = s.spool_bytes;
  PutTime(j, "spool_oldest", s.spool_oldest);
  j["rejected"] = s.rejected_files;
  j["disk_free"] = s.disk_free;
  j["upstream_ok"] = heard ? Json(s.upstream_ok) : Json(nullptr);
  PutTime(j, "upstream_since", s.upstream_since);
  // Its own report knows its certificate best; the store's issued
  // certificates stand in for a beacon never heard from (as beaconctl).
  PutTime(j, "certificate_expires", s.cert_not_after > 0 ? s.cert_not_after : b.cert_not_after);
  j["revoked"] = b.revoked;
  j["open_errors"] = b.open_errors;
  j["open_warnings"] = b.open_warnings;
  return j;
}

Json SoftwareJson(const inventory::SoftwareRow& r, bool with_device) {
  Json j;
  if (with_device) {
    j["device_id"] = r.device_id;
    j["hostname"] = r.hostname;
  }
  j["name"] = r.name;
  j["version"] = r.version;
  j["arch"] = r.arch;
  return j;
}

Json UsageJson(const inventory::UsageRow& r) {
  Json j;
  j["program"] = r.program;
  j["devices"] = r.devices;
  j["seconds"] = r.seconds;
  j["launches"] = r.launches;
  PutTime(j, "last_seen", r.last_seen);
  return j;
}

Json ChangeJson(const inventory::ChangeRow& r) {
  Json j;
  PutTime(j, "at", r.at);
  j["device_id"] = r.device_id;
  j["hostname"] = r.hostname;
  j["part"] = r.part;
  j["key"] = r.key;
  j["change"] = r.change;
  j["before"] = r.before;
  j["after"] = r.after;
  return j;
}

Json FileJson(const inventory::FileEvidence& f) {
  Json j;
  j["path"] = f.path;
  j["size"] = f.size;
  PutTime(j, "modified", f.modified);
  j["sha256"] = f.sha256;
  return j;
}

Json HardwareJson(const inventory::Hardware& h) {
  if (h == inventory::Hardware{}) return nullptr;
  Json j;
  j["vendor"] = h.vendor;
  j["model"] = h.model;
  j["serial"] = h.serial;
  j["cpu_model"] = h.cpu_model;
  j["cpu_cores"] = h.cpu_cores;
  j["memory_bytes"] = h.memory_bytes;
  Json disks = Json::array();
  for (const auto& d : h.disks) disks.push_back(Json{{"name", d.name}, {"model", d.model}, {"size_bytes", d.size_bytes}});
  j["disks"] = std::move(disks);
  Json nics = Json::array();
  for (const auto& n : h.interfaces) {
    nics.push_back(Json{{"name", n.name}, {"mac", n.mac}, {"virtual", n.is_virtual}, {"addresses", n.addresses}});
  }
  j["interfaces"] = std::move(nics);
  return j;
}

Json SectionJson(const inventory::Section& s) {
  Json j;
  j["name"] = s.name;
  j["volatile"] = inventory::IsVolatileSection(s.name);
  j["notes"] = s.notes;
  Json items = Json::array();
  for (const auto& item : s.items) {
    Json fields = Json::object();
    Json volatile_fields = Json::array();
    for (const auto& f : item.fields) {
      fields[f.name] = f.value;
      if (inventory::IsVolatileField(s.name, f.name)) volatile_fields.push_back(f.name);
    }
    items.push_back(Json{{"key", item.key}, {"fields", std::move(fields)}, {"volatile_fields", std::move(volatile_fields)}});
  }
  j["items"] = std::move(items);
  return j;
}

Json RevisionJson(const policy::Revision& r) {
  Json j;
  j["revision"] = r.number;
  PutTime(j, "published", r.published_at);
  j["author"] = r.author;
  j["files"] = r.files.size();
  j["rollback_of"] = r.rollback_of;
  j["message"] = r.message;
  return j;
}

Json ListJson(Json items, int64_t total) {
  if (!items.is_array()) items = Json::array();
  Json j;
  j["items"] = std::move(items);
  j["total"] = total;
  return j;
}

}  // namespace beacon

// SqlStore's reads of a device's current hardware: the summary tables
// (hardware, disks, interfaces, addresses) and the detailed sections
// (sections, items). Each read runs in one snapshot with its existence check.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "inventory/sections.h"
#include "inventory/store.h"
#include "sql.h"
#include "sql_store.h"

namespace inventory::sql {

using common::Status;
using common::StatusOr;

namespace {

// An item's fields as the importer wrote them (store_parts.cpp FieldsJson:
// an object of text values in the collector's order). A value that is not
// such an object was not written by us: DataLoss, naming the item.
StatusOr<std::vector<Field>> ParseFields(const std::string& json, const std::string& what) {
  const auto o = nlohmann::ordered_json::parse(json, nullptr, false);
  if (!o.is_object()) return common::DataLoss(what + ": fields are not a JSON object");
  std::vector<Field> fields;
  fields.reserve(o.size());
  for (const auto& [name, value] : o.items()) {
    if (!value.is_string()) return common::DataLoss(what + ": field '" + name + "' is not text");
    fields.push_back({name, value.get<std::string>()});
  }
  return fields;
}

}  // namespace

StatusOr<Hardware> SqlStore::DeviceHardware(const std::string& device_id) {
  return Read([&](Conn* db) -> StatusOr<Hardware> {
    Transaction snapshot(db, TxnKind::kSnapshot);
    RETURN_IF_ERROR(snapshot.Begin());
    RETURN_IF_ERROR(RequireDevice(db, device_id));
    const std::string what = path_ + ": hardware of device " + device_id;
    Hardware hw;
    {
      Stmt s(db, what);
      RETURN_IF_ERROR(s.Prepare(
          "SELECT vendor, model, serial, cpu_model, cpu_cores, memory_bytes FROM hardware WHERE device_id = ?1"));
      RETURN_IF_ERROR(s.Bind(1, device_id));
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) {
        hw.vendor = s.Text(0);
        hw.model = s.Text(1);
        hw.serial = s.Text(2);
        hw.cpu_model = s.Text(3);
        hw.cpu_cores = static_cast<uint32_t>(s.Int(4));
        hw.memory_bytes = static_cast<uint64_t>(s.Int(5));
      }
    }
    {
      Stmt s(db, what);
      RETURN_IF_ERROR(
          s.Prepare("SELECT name, model, size_bytes FROM disks WHERE device_id = ?1 ORDER BY position"));
      RETURN_IF_ERROR(s.Bind(1, device_id));
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        hw.disks.push_back({s.Text(0), s.Text(1), static_cast<uint64_t>(s.Int(2))});
      }
    }
    {
      // One row per address, interfaces without one once (LEFT JOIN).
      Stmt s(db, what);
      RETURN_IF_ERROR(s.Prepare(R"sql(
        SELECT i.position, i.name, i.mac, i.virtual, a.address
        FROM interfaces i LEFT JOIN addresses a
          ON a.device_id = i.device_id AND a.interface_position = i.position
        WHERE i.device_id = ?1
        ORDER BY i.position, a.position)sql"));
      RETURN_IF_ERROR(s.Bind(1, device_id));
      int64_t last = -1;
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        if (s.Int(0) != last) {
          last = s.Int(0);
          hw.interfaces.push_back({.name = s.Text(1), .mac = s.Text(2), .addresses = {}, .is_virtual = s.Int(3) != 0});
        }
        std::string address = s.Text(4);  // NULL (no address) reads as ""
        if (!address.empty()) hw.interfaces.back().addresses.push_back(std::move(address));
      }
    }
    return hw;
  });
}

StatusOr<std::vector<Section>> SqlStore::DeviceSections(const std::string& device_id) {
  return Read([&](Conn* db) -> StatusOr<std::vector<Section>> {
    Transaction snapshot(db, TxnKind::kSnapshot);
    RETURN_IF_ERROR(snapshot.Begin());
    RETURN_IF_ERROR(RequireDevice(db, device_id));
    const std::string what = path_ + ": sections of device " + device_id;
    std::vector<Section> sections;
    std::map<std::string, size_t> by_name;
    {
      Stmt s(db, what);
      RETURN_IF_ERROR(s.Prepare("SELECT name, notes FROM sections WHERE device_id = ?1 ORDER BY name"));
      RETURN_IF_ERROR(s.Bind(1, device_id));
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        Section& section = sections.emplace_back();
        section.name = s.Text(0);
        // Notes are stored one per line (store_parts.cpp ApplySection).
        const std::string notes = s.Text(1);
        for (size_t at = 0; at < notes.size();) {
          size_t end = notes.find('\n', at);
          if (end == std::string::npos) end = notes.size();
          if (end > at) section.notes.push_back(notes.substr(at, end - at));
          at = end + 1;
        }
        by_name[section.name] = sections.size() - 1;
      }
    }
    Stmt s(db, what);
    RETURN_IF_ERROR(
        s.Prepare("SELECT section, item_key, fields FROM items WHERE device_id = ?1 ORDER BY section, item_key"));
    RETURN_IF_ERROR(s.Bind(1, device_id));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      auto it = by_name.find(s.Text(0));
      if (it == by_name.end()) continue;  // items are written with their section, in one transaction
      Item item{.key = s.Text(1)};
      ASSIGN_OR_RETURN(item.fields, ParseFields(s.Text(2), what + ", " + s.Text(0) + " item '" + item.key + "'"));
      sections[it->second].items.push_back(std::move(item));
    }
    // Sorted here, byte by byte as Section::Find expects: PostgreSQL's
    // ORDER BY follows the database's collation, which may differ.
    std::sort(sections.begin(), sections.end(),
              [](const Section& a, const Section& b) { return a.name < b.name; });
    for (Section& section : sections) section.SortItems();
    return sections;
  });
}

}  // namespace inventory::sql

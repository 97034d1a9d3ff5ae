// SqlStore's application of an inventory to the device's current one, part
// by part (docs/store.md "Inventories, deltas and history"): a part whose
// digest the store already has costs nothing; the software part and the
// sections are compared row by row, and what ended goes to history.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "inventory/inventory.h"
#include "inventory/sections.h"
#include "inventory/store.h"
#include "sql.h"
#include "sql_store.h"

namespace inventory::sql {

using common::Status;
using common::StatusOr;

namespace {

std::string OsDisplayName(const OsInfo& os) {
  if (!os.pretty_name.empty()) return os.pretty_name;
  if (os.name.empty()) return os.version;
  if (os.version.empty()) return os.name;
  return os.name + " " + os.version;
}

// The item's fields as a JSON object, in the collector's order; `stable`
// leaves out the volatile ones (free space, who is logged in): two states
// of an item differ for history only when their stable forms differ.
std::string FieldsJson(const std::string& section, const Item& item, bool stable) {
  nlohmann::ordered_json o = nlohmann::ordered_json::object();
  for (const Field& f : item.fields) {
    if (stable && IsVolatileField(section, f.name)) continue;
    o[f.name] = f.value;
  }
  return o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Status SqlStore::InsertHistory(const std::string& device_id, const std::string& part,
                               const std::string& key, const std::string& value, int64_t first_seen,
                               int64_t last_seen, int64_t gone_at, bool baseline) {
  Stmt s(writer(), path_ + ": history of " + device_id);
  RETURN_IF_ERROR(s.Prepare(R"sql(
    INSERT INTO history (device_id, part, item_key, value, first_seen, last_seen, gone_at, baseline)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8))sql"));
  RETURN_IF_ERROR(s.Bind(1, device_id));
  RETURN_IF_ERROR(s.Bind(2, part));
  RETURN_IF_ERROR(s.Bind(3, key));
  RETURN_IF_ERROR(s.Bind(4, value));
  RETURN_IF_ERROR(s.Bind(5, first_seen));
  RETURN_IF_ERROR(s.Bind(6, last_seen));
  RETURN_IF_ERROR(s.Bind(7, gone_at));
  RETURN_IF_ERROR(s.Bind(8, static_cast<int64_t>(baseline)));
  return s.Run();
}

Status SqlStore::ClearDeviceRows(const PartContext& c, std::initializer_list<const char*> tables) {
  for (const char* table : tables) {
    Stmt s(writer(), c.ctx + ": clear " + table);
    const std::string sql = std::string("DELETE FROM ") + table + " WHERE device_id = ?1";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    RETURN_IF_ERROR(s.Bind(1, c.info.device_id));
    RETURN_IF_ERROR(s.Run());
  }
  return Status::Ok();
}

Status SqlStore::ApplyOs(const PartContext& c, const Inventory& inv) {
  const std::string& id = c.info.device_id;
  const std::string ctx = c.ctx;
  {
    Stmt s(writer(), ctx + ": update device os");
    RETURN_IF_ERROR(s.Prepare("UPDATE devices SET hostname = ?2, os = ?3 WHERE device_id = ?1"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, inv.os.hostname));
    RETURN_IF_ERROR(s.Bind(3, OsDisplayName(inv.os)));
    RETURN_IF_ERROR(s.Run());
  }
  RETURN_IF_ERROR(ClearDeviceRows(c, {"os"}));
  {
    const OsInfo& os = inv.os;
    Stmt s(writer(), ctx + ": insert os");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO os (device_id, name, os_id, version, version_id, pretty_name, kernel, arch,
                      hostname)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9))sql"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, os.name));
    RETURN_IF_ERROR(s.Bind(3, os.id));
    RETURN_IF_ERROR(s.Bind(4, os.version));
    RETURN_IF_ERROR(s.Bind(5, os.version_id));
    RETURN_IF_ERROR(s.Bind(6, os.pretty_name));
    RETURN_IF_ERROR(s.Bind(7, os.kernel));
    RETURN_IF_ERROR(s.Bind(8, os.arch));
    RETURN_IF_ERROR(s.Bind(9, os.hostname));
    RETURN_IF_ERROR(s.Run());
  }

  return Status::Ok();
}

Status SqlStore::ApplyHardware(const PartContext& c, const Inventory& inv) {
  const std::string& id = c.info.device_id;
  const std::string ctx = c.ctx;
  // Children before parents, explicitly: the result must not depend on
  // whether foreign_keys (and so ON DELETE CASCADE) happens to be on.
  RETURN_IF_ERROR(ClearDeviceRows(c, {"addresses", "interfaces", "disks", "hardware"}));
  const Hardware& hw = inv.hardware;
  {
    Stmt s(writer(), ctx + ": insert hardware");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO hardware (device_id, vendor, model, serial, cpu_model, cpu_cores, memory_bytes)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, hw.vendor));
    RETURN_IF_ERROR(s.Bind(3, hw.model));
    RETURN_IF_ERROR(s.Bind(4, hw.serial));
    RETURN_IF_ERROR(s.Bind(5, hw.cpu_model));
    RETURN_IF_ERROR(s.Bind(6, static_cast<int64_t>(hw.cpu_cores)));
    RETURN_IF_ERROR(s.BindUnsigned(7, hw.memory_bytes));
    RETURN_IF_ERROR(s.Run());
  }

  {
    Stmt s(writer(), ctx + ": insert disk");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO disks (device_id, position, name, model, size_bytes)
      VALUES (?1, ?2, ?3, ?4, ?5))sql"));
    int64_t pos = 0;
    for (const Disk& d : hw.disks) {
      RETURN_IF_ERROR(s.Bind(1, id));
      RETURN_IF_ERROR(s.Bind(2, pos++));
      RETURN_IF_ERROR(s.Bind(3, d.name));
      RETURN_IF_ERROR(s.Bind(4, d.model));
      RETURN_IF_ERROR(s.BindUnsigned(5, d.size_bytes));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
  }

  {
    Stmt ifs(writer(), ctx + ": insert interface");
    RETURN_IF_ERROR(ifs.Prepare(R"sql(
      INSERT INTO interfaces (device_id, position, name, mac, virtual) VALUES (?1, ?2, ?3, ?4, ?5))sql"));
    Stmt addr(writer(), ctx + ": insert address");
    RETURN_IF_ERROR(addr.Prepare(R"sql(
      INSERT INTO addresses (device_id, interface_position, position, address)
      VALUES (?1, ?2, ?3, ?4))sql"));
    int64_t pos = 0;
    for (const NetInterface& nic : hw.interfaces) {
      RETURN_IF_ERROR(ifs.Bind(1, id));
      RETURN_IF_ERROR(ifs.Bind(2, pos));
      RETURN_IF_ERROR(ifs.Bind(3, nic.name));
      RETURN_IF_ERROR(ifs.Bind(4, nic.mac));
      RETURN_IF_ERROR(ifs.Bind(5, static_cast<int64_t>(nic.is_virtual)));
      RETURN_IF_ERROR(ifs.Run());
      RETURN_IF_ERROR(ifs.Reset());
      int64_t apos = 0;
      for (const std::string& a : nic.addresses) {
        RETURN_IF_ERROR(addr.Bind(1, id));
        RETURN_IF_ERROR(addr.Bind(2, pos));
        RETURN_IF_ERROR(addr.Bind(3, apos++));
        RETURN_IF_ERROR(addr.Bind(4, a));
        RETURN_IF_ERROR(addr.Run());
        RETURN_IF_ERROR(addr.Reset());
      }
      ++pos;
    }
  }

  return Status::Ok();
}

Status SqlStore::ApplyFiles(const PartContext& c, const Inventory& inv) {
  const std::string& id = c.info.device_id;
  const std::string ctx = c.ctx;
  RETURN_IF_ERROR(ClearDeviceRows(c, {"files"}));
  {
    Stmt s(writer(), ctx + ": insert file");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO files (device_id, position, path, size, modified, sha256)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6))sql"));
    int64_t pos = 0;
    for (const FileEvidence& f : inv.files) {
      RETURN_IF_ERROR(s.Bind(1, id));
      RETURN_IF_ERROR(s.Bind(2, pos++));
      RETURN_IF_ERROR(s.Bind(3, f.path));
      RETURN_IF_ERROR(s.Bind(4, static_cast<int64_t>(f.size)));
      RETURN_IF_ERROR(s.Bind(5, f.modified));
      RETURN_IF_ERROR(s.Bind(6, f.sha256));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
  }
  return Status::Ok();
}

Status SqlStore::ApplySection(const PartContext& c, const Section& section) {
  const std::string& id = c.info.device_id;
  struct Current {
    std::string stable;
    int64_t first_seen;
    bool baseline;
  };
  std::map<std::string, Current> current;
  {
    Stmt s(writer(), c.ctx + ": read section " + section.name);
    RETURN_IF_ERROR(s.Prepare(
        "SELECT item_key, stable, first_seen, baseline FROM items WHERE device_id = ?1 AND section = ?2"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, section.name));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      current[s.Text(0)] = {s.Text(1), s.Int(2), s.Int(3) != 0};
    }
  }
  Stmt del(writer(), c.ctx + ": remove item");
  RETURN_IF_ERROR(del.Prepare("DELETE FROM items WHERE device_id = ?1 AND section = ?2 AND item_key = ?3"));
  RowInserter put(writer(), c.ctx + ": put items",
                  "INSERT INTO items (device_id, section, item_key, fields, stable, first_seen, baseline)", 7,
                  R"sql(ON CONFLICT (device_id, section, item_key) DO UPDATE SET
      fields = excluded.fields, stable = excluded.stable, first_seen = excluded.first_seen,
      baseline = excluded.baseline)sql");
  const bool volatile_section = IsVolatileSection(section.name);
  std::set<std::string> seen;
  for (const Item& item : section.items) {
    const std::string stable = FieldsJson(section.name, item, true);
    // A volatile section's items are marked baseline: a new process or
    // session is not a change to the machine, so Changes never lists it
    // as added (and, without history, never as removed).
    Current state{stable, c.info.received_at, c.baseline || volatile_section};
    auto it = current.find(item.key);
    if (it != current.end()) {
      if (it->second.stable == stable || volatile_section) {
        state = it->second;  // the same item: its span goes on
        state.stable = stable;
      } else {
        RETURN_IF_ERROR(InsertHistory(id, section.name, item.key, it->second.stable, it->second.first_seen,
                                      c.previous_received, c.info.received_at, it->second.baseline));
      }
    }
    seen.insert(item.key);
    RETURN_IF_ERROR(put.Add({id, section.name, item.key, FieldsJson(section.name, item, false), state.stable,
                             state.first_seen, int64_t{state.baseline}}));
  }
  RETURN_IF_ERROR(put.Flush());
  for (const auto& [key, cur] : current) {
    if (seen.count(key)) continue;
    if (!volatile_section) {
      RETURN_IF_ERROR(InsertHistory(id, section.name, key, cur.stable, cur.first_seen, c.previous_received,
                                    c.info.received_at, cur.baseline));
    }
    RETURN_IF_ERROR(del.Bind(1, id));
    RETURN_IF_ERROR(del.Bind(2, section.name));
    RETURN_IF_ERROR(del.Bind(3, key));
    RETURN_IF_ERROR(del.Run());
    RETURN_IF_ERROR(del.Reset());
  }
  std::string notes;
  for (const std::string& n : section.notes) notes += n + "\n";
  Stmt s(writer(), c.ctx + ": put section " + section.name);
  RETURN_IF_ERROR(s.Prepare(R"sql(
    INSERT INTO sections (device_id, name, notes) VALUES (?1, ?2, ?3)
    ON CONFLICT (device_id, name) DO UPDATE SET notes = excluded.notes)sql"));
  RETURN_IF_ERROR(s.Bind(1, id));
  RETURN_IF_ERROR(s.Bind(2, section.name));
  RETURN_IF_ERROR(s.Bind(3, notes));
  return s.Run();
}

Status SqlStore::ApplyInventory(const UploadInfo& info, const Inventory& inv, int64_t collected_at) {
  PartContext c{info, path_ + ": import upload " + info.upload_id};
  const std::string& id = info.device_id;
  // What the store has: the previous inventory's arrival (the last time its
  // rows were seen) and the digest of each part.
  std::map<std::string, std::string> stored;
  {
    Stmt s(writer(), c.ctx + ": read parts");
    RETURN_IF_ERROR(s.Prepare("SELECT inventory_received FROM devices WHERE device_id = ?1"));
    RETURN_IF_ERROR(s.Bind(1, id));
    ASSIGN_OR_RETURN(bool row, s.Step());
    c.previous_received = row ? s.Int(0) : 0;
    Stmt p(writer(), c.ctx + ": read part digests");
    RETURN_IF_ERROR(p.Prepare("SELECT part, digest FROM device_parts WHERE device_id = ?1"));
    RETURN_IF_ERROR(p.Bind(1, id));
    for (;;) {
      ASSIGN_OR_RETURN(bool more, p.Step());
      if (!more) break;
      stored[p.Text(0)] = p.Text(1);
    }
  }
  {
    Stmt s(writer(), c.ctx + ": update device");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      UPDATE devices SET inventory_at = ?2, inventory_upload = ?3, inventory_sequence = ?4,
                         inventory_received = ?5
      WHERE device_id = ?1)sql"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, collected_at));
    RETURN_IF_ERROR(s.Bind(3, info.upload_id));
    RETURN_IF_ERROR(s.Bind(4, inv.sequence));
    RETURN_IF_ERROR(s.Bind(5, info.received_at));
    RETURN_IF_ERROR(s.Run());
  }

  // The parts this document sets: a delta's own list; for a full inventory
  // every typed part, its sections, and (emptied) the sections stored that
  // it no longer has.
  std::map<std::string, const Section*> sections;
  for (const Section& s : inv.sections) sections[s.name] = &s;
  std::set<std::string> parts(inv.parts.begin(), inv.parts.end());
  if (inv.base == 0) {
    parts = {"os", "hardware", "software", "files"};
    for (const auto& [name, section] : sections) parts.insert(name);
    for (const auto& [part, digest] : stored) parts.insert(part);
  }
  const std::map<std::string, std::string> digests = PartDigests(inv);
  Stmt put(writer(), c.ctx + ": put part digest");
  RETURN_IF_ERROR(put.Prepare(R"sql(
    INSERT INTO device_parts (device_id, part, digest) VALUES (?1, ?2, ?3)
    ON CONFLICT (device_id, part) DO UPDATE SET digest = excluded.digest)sql"));
  for (const std::string& part : parts) {
    auto d = digests.find(part);
    const std::string digest = d != digests.end() ? d->second : std::string("gone");
    auto have = stored.find(part);
    // A volatile section's digest does not follow its content (PartDigests):
    // whenever the document carries one, it replaces the stored one.
    const bool carried_volatile = IsVolatileSection(part) && sections.count(part) != 0;
    if (have != stored.end() && have->second == digest && !carried_volatile) continue;
    // The first report of a part is the baseline: what it lists was there,
    // not installed or added then.
    c.baseline = have == stored.end();
    if (part == "os") {
      RETURN_IF_ERROR(ApplyOs(c, inv));
    } else if (part == "hardware") {
      RETURN_IF_ERROR(ApplyHardware(c, inv));
    } else if (part == "software") {
      RETURN_IF_ERROR(ApplySoftware(c, inv.software));
    } else if (part == "files") {
      RETURN_IF_ERROR(ApplyFiles(c, inv));
    } else {
      auto it = sections.find(part);
      RETURN_IF_ERROR(ApplySection(c, it != sections.end() ? *it->second : Section{.name = part}));
    }
    RETURN_IF_ERROR(put.Bind(1, id));
    RETURN_IF_ERROR(put.Bind(2, part));
    RETURN_IF_ERROR(put.Bind(3, digest));
    RETURN_IF_ERROR(put.Run());
    RETURN_IF_ERROR(put.Reset());
  }
  return Status::Ok();
}

}  // namespace inventory::sql

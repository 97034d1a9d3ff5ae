// XML form of the inventory and usage documents. The formats are specified in docs/inventory.md;
// a change here must change that page too. Reading goes through the one strict XML reader
// (common/xml.h); writing through pugixml, whose escaping the reader undoes.

#include "inventory/inventory.h"
#include "inventory/sections.h"
#include "inventory/usage.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "doc_xml.h"

#include "common/sha256.h"
#include "common/uuid.h"
#include "common/xml.h"

namespace inventory {
namespace {

using namespace docxml;
using common::Status;
using common::StatusOr;
using common::xml::Document;
using common::xml::Element;

Status ReadOs(const Element& el, OsInfo* os) {
  RETURN_IF_ERROR(el.Attributes({"name"}, {"id", "version", "version-id", "pretty-name", "kernel", "arch", "hostname"}));
  RETURN_IF_ERROR(el.Children({}).status());
  RETURN_IF_ERROR(Text(el, "name", &os->name));
  RETURN_IF_ERROR(Text(el, "id", &os->id));
  RETURN_IF_ERROR(Text(el, "version", &os->version));
  RETURN_IF_ERROR(Text(el, "version-id", &os->version_id));
  RETURN_IF_ERROR(Text(el, "pretty-name", &os->pretty_name));
  RETURN_IF_ERROR(Text(el, "kernel", &os->kernel));
  RETURN_IF_ERROR(Text(el, "arch", &os->arch));
  return Text(el, "hostname", &os->hostname);
}

Status ReadDisk(const Element& el, Disk* disk) {
  RETURN_IF_ERROR(el.Attributes({"name"}, {"model", "size-bytes"}));
  RETURN_IF_ERROR(el.Children({}).status());
  RETURN_IF_ERROR(NonEmpty(el, "name", &disk->name));
  RETURN_IF_ERROR(Text(el, "model", &disk->model));
  return el.Decimal("size-bytes", &disk->size_bytes);
}

Status ReadInterface(const Element& el, NetInterface* itf) {
  RETURN_IF_ERROR(el.Attributes({"name"}, {"mac", "virtual"}));
  RETURN_IF_ERROR(NonEmpty(el, "name", &itf->name));
  RETURN_IF_ERROR(Text(el, "mac", &itf->mac));
  if (el.Has("virtual")) RETURN_IF_ERROR(el.Bool("virtual", &itf->is_virtual));
  ASSIGN_OR_RETURN(auto addresses, el.Children({"address"}));
  for (const Element& a : addresses) {
    RETURN_IF_ERROR(a.Attributes({"value"}));
    RETURN_IF_ERROR(a.Children({}).status());
    RETURN_IF_ERROR(NonEmpty(a, "value", &itf->addresses.emplace_back()));
  }
  return Status::Ok();
}

Status ReadHardware(const Element& el, Hardware* hw) {
  RETURN_IF_ERROR(el.Attributes({}, {"vendor", "model", "serial", "cpu-model", "cpu-cores", "memory-bytes"}));
  RETURN_IF_ERROR(Text(el, "vendor", &hw->vendor));
  RETURN_IF_ERROR(Text(el, "model", &hw->model));
  RETURN_IF_ERROR(Text(el, "serial", &hw->serial));
  RETURN_IF_ERROR(Text(el, "cpu-model", &hw->cpu_model));
  uint64_t cores = 0;
  RETURN_IF_ERROR(el.Decimal("cpu-cores", &cores, 0, std::numeric_limits<uint32_t>::max()));
  hw->cpu_cores = static_cast<uint32_t>(cores);
  RETURN_IF_ERROR(el.Decimal("memory-bytes", &hw->memory_bytes));
  ASSIGN_OR_RETURN(auto children, el.Children({"disk", "interface"}));
  for (const Element& c : children) {
    if (c.name() == "disk") {
      RETURN_IF_ERROR(ReadDisk(c, &hw->disks.emplace_back()));
    } else {
      RETURN_IF_ERROR(ReadInterface(c, &hw->interfaces.emplace_back()));
    }
  }
  return Status::Ok();
}

Status ReadSoftware(const Element& el, std::vector<Package>* software) {
  RETURN_IF_ERROR(el.Attributes({}));
  ASSIGN_OR_RETURN(auto packages, el.Children({"package"}));
  software->reserve(packages.size());
  for (const Element& c : packages) {
    RETURN_IF_ERROR(c.Attributes({"name", "version"}, {"arch", "source", "installed", "size",
                                                       "section", "maintainer", "summary"}));
    RETURN_IF_ERROR(c.Children({}).status());
    Package& p = software->emplace_back();
    RETURN_IF_ERROR(NonEmpty(c, "name", &p.name));
    RETURN_IF_ERROR(NonEmpty(c, "version", &p.version));
    RETURN_IF_ERROR(Text(c, "arch", &p.arch));
    // An absent source means the default database, as in the struct.
    RETURN_IF_ERROR(Text(c, "source", &p.source));
    RETURN_IF_ERROR(c.Decimal("installed", &p.installed_at, 0, kMaxTime));
    RETURN_IF_ERROR(c.Decimal("size", &p.size_bytes));
    RETURN_IF_ERROR(Text(c, "section", &p.section));
    RETURN_IF_ERROR(Text(c, "maintainer", &p.maintainer));
    RETURN_IF_ERROR(Text(c, "summary", &p.summary));
  }
  return Status::Ok();
}

Status ReadFiles(const Element& el, std::vector<FileEvidence>* files) {
  RETURN_IF_ERROR(el.Attributes({}));
  ASSIGN_OR_RETURN(auto children, el.Children({"file"}));
  for (const Element& c : children) {
    RETURN_IF_ERROR(c.Attributes({"path", "size", "modified"}, {"sha256"}));
    RETURN_IF_ERROR(c.Children({}).status());
    FileEvidence& f = files->emplace_back();
    RETURN_IF_ERROR(NonEmpty(c, "path", &f.path));
    RETURN_IF_ERROR(c.Decimal("size", &f.size));
    RETURN_IF_ERROR(c.Decimal("modified", &f.modified, 0, kMaxTime));
    f.sha256 = c.Value("sha256");
    if (!f.sha256.empty() && !common::IsHexDigest(f.sha256)) {
      return c.ValueError("sha256", "is not 64 lower-case hex digits");
    }
  }
  return Status::Ok();
}

Status ReadInventory(const Element& root, Inventory* inv) {
  RETURN_IF_ERROR(root.Attributes({"version", "device", "collected"}, {"sequence", "base"}));
  RETURN_IF_ERROR(root.Expect("version", kFormatVersion));
  inv->device_id = root.Value("device");
  if (!common::IsUuid(inv->device_id)) {
    return root.ValueError("device", "is not a lower-case UUID like 123e4567-e89b-12d3-a456-426614174000");
  }
  RETURN_IF_ERROR(root.Time("collected", &inv->collected_at));
  RETURN_IF_ERROR(root.Decimal("sequence", &inv->sequence));
  RETURN_IF_ERROR(root.Decimal("base", &inv->base));
  if (inv->base > 0 && inv->base >= inv->sequence) {
    return root.AttributeError("base", "a delta must be relative to an earlier inventory (base < sequence)");
  }

  ASSIGN_OR_RETURN(auto children, root.Children({"os", "hardware", "software", "files", "section"}));
  std::set<std::string, std::less<>> seen;
  for (const Element& c : children) {
    std::string_view name = c.name();
    std::string part(name);
    if (name == "os") {
      RETURN_IF_ERROR(ReadOs(c, &inv->os));
    } else if (name == "hardware") {
      RETURN_IF_ERROR(ReadHardware(c, &inv->hardware));
    } else if (name == "software") {
      RETURN_IF_ERROR(ReadSoftware(c, &inv->software));
    } else if (name == "files") {
      RETURN_IF_ERROR(ReadFiles(c, &inv->files));
    } else {
      Section& section = inv->sections.emplace_back();
      RETURN_IF_ERROR(ReadSection(c, &section));
      part = section.name;
    }
    // A set, not a search of the list: a hostile document may carry a
    // million sections, and a quadratic check would be its cost to us.
    if (!seen.insert(part).second) {
      return c.Error(name == "section" ? "section '" + part + "' is given twice in <inventory>"
                                       : "<" + part + "> is given twice in <inventory>");
    }
    inv->parts.push_back(part);
  }
  std::sort(inv->parts.begin(), inv->parts.end());
  const bool has_os = std::binary_search(inv->parts.begin(), inv->parts.end(), "os");
  if (inv->base == 0) inv->parts.clear();  // a full inventory has every part
  std::sort(inv->sections.begin(), inv->sections.end(),
            [](const Section& a, const Section& b) { return a.name < b.name; });
  // A delta carries only what changed; a full inventory always has its os.
  if (inv->base == 0 && !has_os) {
    return root.Error("<inventory> lacks <os>");
  }
  return Status::Ok();
}

void WriteOs(pugi::xml_node root, const OsInfo& o) {
  pugi::xml_node os = root.append_child("os");
  SetAttr(os, "name", o.name);
  SetAttr(os, "id", o.id);
  SetAttr(os, "version", o.version);
  SetAttr(os, "version-id", o.version_id);
  SetAttr(os, "pretty-name", o.pretty_name);
  SetAttr(os, "kernel", o.kernel);
  SetAttr(os, "arch", o.arch);
  SetAttr(os, "hostname", o.hostname);
}

void WriteHardware(pugi::xml_node root, const Hardware& hw) {
  pugi::xml_node hwn = root.append_child("hardware");
  SetAttr(hwn, "vendor", hw.vendor);
  SetAttr(hwn, "model", hw.model);
  SetAttr(hwn, "serial", hw.serial);
  SetAttr(hwn, "cpu-model", hw.cpu_model);
  SetAttr(hwn, "cpu-cores", uint64_t{hw.cpu_cores});
  SetAttr(hwn, "memory-bytes", hw.memory_bytes);
  for (const Disk& d : hw.disks) {
    pugi::xml_node dn = hwn.append_child("disk");
    SetAttr(dn, "name", d.name);
    SetAttr(dn, "model", d.model);
    SetAttr(dn, "size-bytes", d.size_bytes);
  }
  for (const NetInterface& itf : hw.interfaces) {
    pugi::xml_node in = hwn.append_child("interface");
    SetAttr(in, "name", itf.name);
    SetAttr(in, "mac", itf.mac);
    // Written only when true, so a hardware interface's element is as before.
    if (itf.is_virtual) SetAttr(in, "virtual", "true");
    for (const std::string& a : itf.addresses) SetAttr(in.append_child("address"), "value", a);
  }
}

void WriteSoftware(pugi::xml_node root, const std::vector<Package>& software) {
  pugi::xml_node sw = root.append_child("software");
  for (const Package& p : software) {
    pugi::xml_node pn = sw.append_child("package");
    SetAttr(pn, "name", p.name);
    SetAttr(pn, "version", p.version);
    SetAttr(pn, "arch", p.arch);
    SetAttr(pn, "source", p.source);
    // Details only when known: most of a document's bytes are packages.
    if (p.installed_at > 0) SetAttr(pn, "installed", static_cast<uint64_t>(p.installed_at));
    if (p.size_bytes > 0) SetAttr(pn, "size", p.size_bytes);
    if (!p.section.empty()) SetAttr(pn, "section", p.section);
    if (!p.maintainer.empty()) SetAttr(pn, "maintainer", p.maintainer);
    if (!p.summary.empty()) SetAttr(pn, "summary", p.summary);
  }
}

void WriteFiles(pugi::xml_node root, const std::vector<FileEvidence>& files) {
  pugi::xml_node fs = root.append_child("files");
  for (const FileEvidence& f : files) {
    pugi::xml_node fn = fs.append_child("file");
    SetAttr(fn, "path", f.path);
    SetAttr(fn, "size", f.size);
    SetAttr(fn, "modified", static_cast<uint64_t>(f.modified));
    if (!f.sha256.empty()) SetAttr(fn, "sha256", f.sha256);
  }
}

// Writes part `name` of `inv` under `root`; an absent section is written empty.
void WritePart(pugi::xml_node root, const Inventory& inv, const std::string& name) {
  if (name == "os") return WriteOs(root, inv.os);
  if (name == "hardware") return WriteHardware(root, inv.hardware);
  if (name == "software") return WriteSoftware(root, inv.software);
  if (name == "files") return WriteFiles(root, inv.files);
  for (const Section& s : inv.sections) {
    if (s.name == name) return WriteSection(root, s);
  }
  WriteSection(root, Section{.name = name});
}

// The parts a full inventory has: files only with file evidence, as before
// deltas existed, so an inventory without them is byte-identical.
std::vector<std::string> FullParts(const Inventory& inv) {
  std::vector<std::string> parts = {"os", "hardware", "software"};
  if (!inv.files.empty()) parts.push_back("files");
  for (const Section& s : inv.sections) parts.push_back(s.name);
  return parts;
}

}  // namespace

std::string ToXml(const Inventory& inv) {
  pugi::xml_document doc;
  pugi::xml_node root = NewDocument(&doc, "inventory");
  SetAttr(root, "device", inv.device_id);
  SetAttr(root, "collected", inv.collected_at);
  // Only a numbered inventory carries its number: absent means 0.
  if (inv.sequence > 0) SetAttr(root, "sequence", static_cast<uint64_t>(inv.sequence));
  if (inv.base > 0) SetAttr(root, "base", static_cast<uint64_t>(inv.base));
  for (const std::string& part : inv.base > 0 ? inv.parts : FullParts(inv)) WritePart(root, inv, part);
  return Serialize(doc);
}

namespace {

// Feeds values to SHA-256 each with its length first, so that no two
// different sequences of values hash alike ("ab","c" vs "a","bc"). Hashing
// the fields directly costs a fraction of serializing the part.
class PartHasher {
 public:
  PartHasher& Add(std::string_view v) {
    Add(static_cast<uint64_t>(v.size()));
    sha_.Update(v.data(), v.size());
    return *this;
  }
  PartHasher& Add(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    sha_.Update(b, sizeof b);
    return *this;
  }
  PartHasher& Add(int64_t v) { return Add(static_cast<uint64_t>(v)); }
  std::string Digest() { return sha_.HexDigest(); }

 private:
  common::Sha256 sha_;
};

}  // namespace

std::map<std::string, std::string> PartDigests(const Inventory& inv) {
  std::map<std::string, std::string> digests;
  {
    PartHasher h;
    const OsInfo& o = inv.os;
    h.Add(o.name).Add(o.id).Add(o.version).Add(o.version_id).Add(o.pretty_name).Add(o.kernel).Add(o.arch);
    digests["os"] = h.Add(o.hostname).Digest();
  }
  {
    PartHasher h;
    const Hardware& hw = inv.hardware;
    h.Add(hw.vendor).Add(hw.model).Add(hw.serial).Add(hw.cpu_model).Add(uint64_t{hw.cpu_cores}).Add(hw.memory_bytes);
    h.Add(static_cast<uint64_t>(hw.disks.size()));
    for (const Disk& d : hw.disks) h.Add(d.name).Add(d.model).Add(d.size_bytes);
    h.Add(static_cast<uint64_t>(hw.interfaces.size()));
    for (const NetInterface& i : hw.interfaces) {
      h.Add(i.name).Add(i.mac).Add(uint64_t{i.is_virtual}).Add(static_cast<uint64_t>(i.addresses.size()));
      for (const std::string& a : i.addresses) h.Add(a);
    }
    digests["hardware"] = h.Digest();
  }
  {
    PartHasher h;
    h.Add(static_cast<uint64_t>(inv.software.size()));
    for (const Package& p : inv.software) {
      h.Add(p.name).Add(p.version).Add(p.arch).Add(p.source).Add(p.installed_at).Add(p.size_bytes);
      h.Add(p.section).Add(p.maintainer).Add(p.summary);
    }
    digests["software"] = h.Digest();
  }
  {
    PartHasher h;
    h.Add(static_cast<uint64_t>(inv.files.size()));
    for (const FileEvidence& f : inv.files) h.Add(f.path).Add(f.size).Add(f.modified).Add(f.sha256);
    digests["files"] = h.Digest();
  }
  for (const Section& s : inv.sections) {
    PartHasher h;
    if (IsVolatileSection(s.name)) {
      // Its content changes without a change to the machine (who is logged
      // in, the process list): it counts by its presence only, so it never
      // makes a delta on its own.
      digests[s.name] = h.Add(std::string_view("volatile section")).Digest();
      continue;
    }
    h.Add(static_cast<uint64_t>(s.notes.size()));
    for (const std::string& n : s.notes) h.Add(n);
    h.Add(static_cast<uint64_t>(s.items.size()));
    for (const Item& item : s.items) {
      h.Add(item.key).Add(static_cast<uint64_t>(item.fields.size()));
      for (const Field& f : item.fields) h.Add(f.name).Add(f.value);
    }
    digests[s.name] = h.Digest();
  }
  return digests;
}

Inventory MakeDelta(Inventory full, const std::map<std::string, std::string>& previous, int64_t base) {
  full.base = base;
  full.parts.clear();
  const std::map<std::string, std::string> now = PartDigests(full);
  for (const auto& [part, digest] : now) {
    auto it = previous.find(part);
    if (it == previous.end() || it->second != digest) full.parts.push_back(part);
  }
  for (const auto& [part, digest] : previous) {
    if (!now.count(part)) full.parts.push_back(part);
  }
  std::sort(full.parts.begin(), full.parts.end());
  return full;
}

StatusOr<Inventory> ParseInventoryXml(const std::string& xml, const std::string& source) {
  ASSIGN_OR_RETURN(Document doc, Document::Parse(xml, source, "inventory", kLimits));
  Inventory inv;
  RETURN_IF_ERROR(ReadInventory(doc.root(), &inv));
  return inv;
}

}  // namespace inventory

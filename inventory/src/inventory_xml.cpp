// XML form of the inventory and usage documents. The formats are specified in docs/inventory.md;
// a change here must change that page too. Reading goes through the one strict XML reader
// (common/xml.h); writing through pugixml, whose escaping the reader undoes.

#include "inventory/inventory.h"
#include "inventory/usage.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "common/sha256.h"
#include "common/uuid.h"
#include "common/xml.h"

namespace inventory {
namespace {

using common::Status;
using common::StatusOr;
using common::xml::Document;
using common::xml::Element;

constexpr std::string_view kFormatVersion = "1";

// What one inventory or usage document may cost: the importer accepts up to
// 256 MiB of XML (a machine with 400,000 packages is about 40 MiB); elements
// and attributes are bounded so that a hostile document cannot make the tree
// larger than a few hundred MiB.
constexpr common::xml::Limits kLimits{.max_bytes = 256u << 20,
                                      .max_elements = 4'000'000,
                                      .max_attributes = 16'000'000,
                                      .max_value_bytes = 8u << 10};

// Times in the usage document and file modification times: unix seconds up
// to 2^40 (year 36812), so that arithmetic on them cannot overflow.
constexpr int64_t kMaxTime = int64_t{1} << 40;

// Collected strings (DMI fields, package versions) are bytes from the machine,
// not necessarily UTF-8. The document must stay parseable by our own strict
// reader, so what it would refuse (invalid sequences, control characters other
// than tab, LF and CR, which reach administrators' terminals) becomes U+FFFD
// and an over-long value is cut, instead of failing serialization.
void SetAttr(pugi::xml_node node, const char* name, const std::string& value) {
  std::string clean = common::xml::SanitizeText(value, kLimits.max_value_bytes);
  node.append_attribute(name).set_value(clean.c_str());
}

// Numbers above what the reader's decimal parser takes (18 digits) are
// written as its maximum; no real size or count comes near it.
void SetAttr(pugi::xml_node node, const char* name, uint64_t value) {
  value = std::min(value, static_cast<uint64_t>(common::xml::kMaxDecimal));
  node.append_attribute(name).set_value(std::to_string(value).c_str());
}

class StringWriter : public pugi::xml_writer {
 public:
  explicit StringWriter(std::string* out) : out_(out) {}
  void write(const void* data, size_t size) override {
    out_->append(static_cast<const char*>(data), size);
  }

 private:
  std::string* out_;
};

// Collected text: anything the reader accepts, tab and line breaks included
// (the writer escapes them), possibly empty.
Status Text(const Element& el, std::string_view name, std::string* out) {
  return el.String(name, out, {.line_breaks = true});
}
Status NonEmpty(const Element& el, std::string_view name, std::string* out) {
  return el.String(name, out, {.min_bytes = 1, .line_breaks = true});
}

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
    RETURN_IF_ERROR(c.Attributes({"name", "version"}, {"arch", "source"}));
    RETURN_IF_ERROR(c.Children({}).status());
    Package& p = software->emplace_back();
    RETURN_IF_ERROR(NonEmpty(c, "name", &p.name));
    RETURN_IF_ERROR(NonEmpty(c, "version", &p.version));
    RETURN_IF_ERROR(Text(c, "arch", &p.arch));
    // An absent source means the default database, as in the struct.
    RETURN_IF_ERROR(Text(c, "source", &p.source));
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
  RETURN_IF_ERROR(root.Attributes({"version", "device", "collected"}, {"sequence"}));
  RETURN_IF_ERROR(root.Expect("version", kFormatVersion));
  inv->device_id = root.Value("device");
  if (!common::IsUuid(inv->device_id)) {
    return root.ValueError("device", "is not a lower-case UUID like 123e4567-e89b-12d3-a456-426614174000");
  }
  RETURN_IF_ERROR(root.Time("collected", &inv->collected_at));
  RETURN_IF_ERROR(root.Decimal("sequence", &inv->sequence));

  ASSIGN_OR_RETURN(auto children, root.UniqueChildren({"os", "hardware", "software", "files"}));
  bool seen_os = false;
  for (const Element& c : children) {
    std::string_view name = c.name();
    if (name == "os") {
      seen_os = true;
      RETURN_IF_ERROR(ReadOs(c, &inv->os));
    } else if (name == "hardware") {
      RETURN_IF_ERROR(ReadHardware(c, &inv->hardware));
    } else if (name == "software") {
      RETURN_IF_ERROR(ReadSoftware(c, &inv->software));
    } else {
      RETURN_IF_ERROR(ReadFiles(c, &inv->files));
    }
  }
  if (!seen_os) return root.Error("<inventory> lacks <os>");
  return Status::Ok();
}

Status ReadUsage(const Element& root, Usage* u) {
  RETURN_IF_ERROR(root.Attributes({"version", "device", "from", "to", "sample-interval", "samples"}));
  RETURN_IF_ERROR(root.Expect("version", kFormatVersion));
  u->device_id = root.Value("device");
  if (!common::IsUuid(u->device_id)) return root.ValueError("device", "is not a lower-case UUID");
  RETURN_IF_ERROR(root.Decimal("from", &u->period_start, 0, kMaxTime));
  RETURN_IF_ERROR(root.Decimal("to", &u->period_end, 0, kMaxTime));
  RETURN_IF_ERROR(root.Decimal("sample-interval", &u->sample_seconds, 1, 86400));
  RETURN_IF_ERROR(root.Decimal("samples", &u->samples));
  if (u->period_end < u->period_start) return root.AttributeError("to", "the period ends before it starts");
  ASSIGN_OR_RETURN(auto programs, root.Children({"program"}));
  for (const Element& c : programs) {
    RETURN_IF_ERROR(c.Attributes({"path", "samples", "first-seen", "last-seen"}));
    RETURN_IF_ERROR(c.Children({}).status());
    ProgramUsage& p = u->programs.emplace_back();
    RETURN_IF_ERROR(NonEmpty(c, "path", &p.program));
    RETURN_IF_ERROR(c.Decimal("samples", &p.samples, 0, u->samples));
    RETURN_IF_ERROR(c.Decimal("first-seen", &p.first_seen, 0, kMaxTime));
    RETURN_IF_ERROR(c.Decimal("last-seen", &p.last_seen, 0, kMaxTime));
    if (p.samples == 0 || p.first_seen > p.last_seen || p.first_seen < u->period_start ||
        p.last_seen > u->period_end) {
      return c.Error("program '" + common::xml::SanitizeText(p.program, 256) +
                     "': samples and times must lie within the period");
    }
    if (u->programs.size() > 1 && u->programs[u->programs.size() - 2].program >= p.program) {
      return c.Error("programs must be sorted by path and unique");
    }
  }
  return Status::Ok();
}

// A document with the XML declaration and a root element carrying version="1".
pugi::xml_node NewDocument(pugi::xml_document* doc, const char* root_name) {
  pugi::xml_node decl = doc->append_child(pugi::node_declaration);
  decl.append_attribute("version").set_value("1.0");
  decl.append_attribute("encoding").set_value("UTF-8");
  pugi::xml_node root = doc->append_child(root_name);
  SetAttr(root, "version", std::string(kFormatVersion));
  return root;
}

std::string Serialize(const pugi::xml_document& doc) {
  std::string out;
  StringWriter writer(&out);
  doc.save(writer, "  ", pugi::format_default, pugi::encoding_utf8);
  return out;
}

}  // namespace

std::string ToXml(const Inventory& inv) {
  pugi::xml_document doc;
  pugi::xml_node root = NewDocument(&doc, "inventory");
  SetAttr(root, "device", inv.device_id);
  SetAttr(root, "collected", inv.collected_at);
  // Only a numbered inventory carries its number: absent means 0.
  if (inv.sequence > 0) SetAttr(root, "sequence", static_cast<uint64_t>(inv.sequence));

  pugi::xml_node os = root.append_child("os");
  SetAttr(os, "name", inv.os.name);
  SetAttr(os, "id", inv.os.id);
  SetAttr(os, "version", inv.os.version);
  SetAttr(os, "version-id", inv.os.version_id);
  SetAttr(os, "pretty-name", inv.os.pretty_name);
  SetAttr(os, "kernel", inv.os.kernel);
  SetAttr(os, "arch", inv.os.arch);
  SetAttr(os, "hostname", inv.os.hostname);

  const Hardware& hw = inv.hardware;
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

  pugi::xml_node sw = root.append_child("software");
  for (const Package& p : inv.software) {
    pugi::xml_node pn = sw.append_child("package");
    SetAttr(pn, "name", p.name);
    SetAttr(pn, "version", p.version);
    SetAttr(pn, "arch", p.arch);
    SetAttr(pn, "source", p.source);
  }
  if (!inv.files.empty()) {
    pugi::xml_node fs = root.append_child("files");
    for (const FileEvidence& f : inv.files) {
      pugi::xml_node fn = fs.append_child("file");
      SetAttr(fn, "path", f.path);
      SetAttr(fn, "size", f.size);
      SetAttr(fn, "modified", static_cast<uint64_t>(f.modified));
      if (!f.sha256.empty()) SetAttr(fn, "sha256", f.sha256);
    }
  }

  return Serialize(doc);
}

std::string ToXml(const Usage& u) {
  pugi::xml_document doc;
  pugi::xml_node root = NewDocument(&doc, "usage");
  SetAttr(root, "device", u.device_id);
  SetAttr(root, "from", static_cast<uint64_t>(u.period_start));
  SetAttr(root, "to", static_cast<uint64_t>(u.period_end));
  SetAttr(root, "sample-interval", static_cast<uint64_t>(u.sample_seconds));
  SetAttr(root, "samples", u.samples);
  for (const ProgramUsage& p : u.programs) {
    pugi::xml_node pn = root.append_child("program");
    SetAttr(pn, "path", p.program);
    SetAttr(pn, "samples", p.samples);
    SetAttr(pn, "first-seen", static_cast<uint64_t>(p.first_seen));
    SetAttr(pn, "last-seen", static_cast<uint64_t>(p.last_seen));
  }
  return Serialize(doc);
}

StatusOr<Inventory> ParseInventoryXml(const std::string& xml, const std::string& source) {
  ASSIGN_OR_RETURN(Document doc, Document::Parse(xml, source, "inventory", kLimits));
  Inventory inv;
  RETURN_IF_ERROR(ReadInventory(doc.root(), &inv));
  return inv;
}

StatusOr<Usage> ParseUsageXml(const std::string& xml, const std::string& source) {
  ASSIGN_OR_RETURN(Document doc, Document::Parse(xml, source, "usage", kLimits));
  Usage usage;
  RETURN_IF_ERROR(ReadUsage(doc.root(), &usage));
  return usage;
}

}  // namespace inventory

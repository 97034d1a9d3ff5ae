// XML form of the inventory and usage documents. The formats are specified in docs/inventory.md;
// a change here must change that page too.

#include "inventory/inventory.h"
#include "inventory/usage.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "common/sha256.h"
#include "common/text.h"
#include "common/uuid.h"

namespace inventory {
namespace {

using common::Status;
using common::StatusOr;

constexpr std::string_view kFormatVersion = "1";


// Collected strings (DMI fields, package versions) are bytes from the machine,
// not necessarily UTF-8. The document must stay parseable by our own strict
// reader, so invalid sequences and control characters (which XML 1.0 does not
// allow, and which would reach administrators' terminals) become U+FFFD
// instead of failing serialization.
bool IsXmlControl(unsigned char c) { return c < 0x20 && c != '\t' && c != '\n' && c != '\r'; }

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len = common::Utf8SequenceLength(s, i);
    if (len == 0 || (len == 1 && IsXmlControl(static_cast<unsigned char>(s[i])))) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

void SetAttr(pugi::xml_node node, const char* name, const std::string& value) {
  std::string clean = SanitizeUtf8(value);
  node.append_attribute(name).set_value(clean.c_str());
}

void SetAttr(pugi::xml_node node, const char* name, uint64_t value) {
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

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)", the RFC 3339 date-time production.
bool IsRfc3339(std::string_view s) {
  auto digits = [&](size_t pos, size_t n, int lo, int hi) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (!IsDigit(s[i])) return false;
      v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi;
  };
  if (s.size() < 20) return false;
  if (!digits(0, 4, 0, 9999) || s[4] != '-' || !digits(5, 2, 1, 12) || s[7] != '-' ||
      !digits(8, 2, 1, 31) || s[10] != 'T' || !digits(11, 2, 0, 23) || s[13] != ':' ||
      !digits(14, 2, 0, 59) || s[16] != ':' || !digits(17, 2, 0, 60)) {
    return false;
  }
  size_t pos = 19;
  if (s[pos] == '.') {
    size_t start = ++pos;
    while (pos < s.size() && IsDigit(s[pos])) ++pos;
    if (pos == start) return false;
  }
  if (pos < s.size() && s[pos] == 'Z') return pos + 1 == s.size();
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    return pos + 6 == s.size() && digits(pos + 1, 2, 0, 23) && s[pos + 3] == ':' &&
           digits(pos + 4, 2, 0, 59);
  }
  return false;
}

// Walks a parsed pugixml tree and turns each mistake into a located error.
class Reader {
 public:
  Reader(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  // "source:line:column: " for a byte offset into the original text. Columns
  // count UTF-8 characters, not bytes, so they match what an editor shows.
  std::string Where(ptrdiff_t offset) const {
    size_t end = offset < 0 ? 0 : std::min(static_cast<size_t>(offset), text_.size());
    size_t line = 1;
    size_t column = 1;
    for (size_t i = 0; i < end; ++i) {
      unsigned char c = static_cast<unsigned char>(text_[i]);
      if (c == '\n') {
        ++line;
        column = 1;
      } else if ((c & 0xC0) != 0x80) {
        ++column;
      }
    }
    return source_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  }

  Status ErrorAt(ptrdiff_t offset, const std::string& message) const {
    return common::InvalidArgument(Where(offset) + message);
  }

  // pugixml's element offset points at the name; the '<' before it is what
  // a reader looks for.
  Status ErrorAt(pugi::xml_node node, const std::string& message) const {
    ptrdiff_t offset = node.offset_debug();
    if (node.type() == pugi::node_element && offset > 0) --offset;
    return ErrorAt(offset, message);
  }

  // pugixml keeps no offset for attributes, so the start tag is re-scanned
  // from the element's name to find the `nth` attribute called `name`.
  Status ErrorAt(pugi::xml_node el, pugi::xml_attribute attr, const std::string& message,
                 int nth = 0) const {
    return ErrorAt(AttributeOffset(el, attr.name(), nth), message);
  }

  Status CheckUtf8() const {
    for (size_t i = 0; i < text_.size();) {
      size_t len = common::Utf8SequenceLength(text_, i);
      if (len == 0) {
        return ErrorAt(static_cast<ptrdiff_t>(i), "invalid UTF-8 byte sequence");
      }
      if (len == 1 && IsXmlControl(static_cast<unsigned char>(text_[i]))) {
        return ErrorAt(static_cast<ptrdiff_t>(i), "control character not allowed in XML");
      }
      i += len;
    }
    return Status::Ok();
  }

  // Rejects attributes outside `known`, duplicates (pugixml keeps both), and
  // missing `required` ones.
  Status CheckAttributes(pugi::xml_node el, std::initializer_list<std::string_view> known,
                         std::initializer_list<std::string_view> required) const {
    for (pugi::xml_attribute a = el.first_attribute(); a; a = a.next_attribute()) {
      std::string_view name = a.name();
      int earlier = 0;
      bool ok = false;
      for (std::string_view k : known) ok = ok || k == name;
      if (!ok) {
        return ErrorAt(el, a,
                       "unknown attribute '" + std::string(name) + "' on <" + el.name() + ">");
      }
      for (pugi::xml_attribute b = el.first_attribute(); b != a; b = b.next_attribute()) {
        if (name == b.name()) ++earlier;
      }
      if (earlier > 0) {
        return ErrorAt(el, a,
                       "duplicate attribute '" + std::string(name) + "' on <" + el.name() + ">",
                       earlier);
      }
    }
    for (std::string_view r : required) {
      if (!el.attribute(std::string(r).c_str())) {
        return ErrorAt(
            el, "missing required attribute '" + std::string(r) + "' on <" + el.name() + ">");
      }
    }
    return Status::Ok();
  }

  // Elements that carry only attributes or only child elements; text there is
  // a mistake (e.g. a value written as content instead of an attribute).
  Status CheckNoText(pugi::xml_node child, pugi::xml_node parent) const {
    if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
      return ErrorAt(child, std::string("unexpected text in <") + parent.name() + ">");
    }
    return Status::Ok();
  }

  Status UnknownElement(pugi::xml_node child, pugi::xml_node parent) const {
    return ErrorAt(
        child, std::string("unknown element <") + child.name() + "> in <" + parent.name() + ">");
  }

  Status CheckLeaf(pugi::xml_node el) const {
    for (pugi::xml_node c = el.first_child(); c; c = c.next_sibling()) {
      RETURN_IF_ERROR(CheckNoText(c, el));
      if (c.type() == pugi::node_element) return UnknownElement(c, el);
    }
    return Status::Ok();
  }

  // Strict decimal: no sign, no spaces, no hex, no overflow.
  Status ReadUint(pugi::xml_node el, const char* name, uint64_t max, uint64_t* out) const {
    pugi::xml_attribute a = el.attribute(name);
    if (!a) return Status::Ok();
    std::string_view v = a.value();
    uint64_t n = 0;
    bool ok = !v.empty() && v.size() <= 20;
    for (char c : v) {
      if (!ok) break;
      uint64_t d = static_cast<uint64_t>(c - '0');
      if (!IsDigit(c) || d > max || n > (max - d) / 10) {
        ok = false;
      } else {
        n = n * 10 + d;
      }
    }
    if (!ok) {
      return ErrorAt(el, a,
                     std::string("attribute '") + name + "' on <" + el.name() + ">: '" +
                         std::string(v) + "' is not a decimal integer in [0, " +
                         std::to_string(max) + "]");
    }
    *out = n;
    return Status::Ok();
  }

  Status ReadNonEmpty(pugi::xml_node el, const char* name, std::string* out) const {
    pugi::xml_attribute a = el.attribute(name);
    if (a && *a.value() == '\0') {
      return ErrorAt(
          el, a, std::string("attribute '") + name + "' on <" + el.name() + "> must not be empty");
    }
    *out = a.value();
    return Status::Ok();
  }

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

  // The input has already parsed, so the tag is well formed: name, then
  // (space name space? '=' space? quoted-value)*.
  ptrdiff_t AttributeOffset(pugi::xml_node el, std::string_view name, int nth) const {
    ptrdiff_t el_offset = el.offset_debug();
    if (el_offset < 0) return 0;
    size_t pos = static_cast<size_t>(el_offset);
    size_t n = text_.size();
    while (pos < n && !IsSpace(text_[pos]) && text_[pos] != '>' && text_[pos] != '/') ++pos;
    for (;;) {
      while (pos < n && IsSpace(text_[pos])) ++pos;
      if (pos >= n || text_[pos] == '>' || text_[pos] == '/') break;
      size_t name_start = pos;
      while (pos < n && !IsSpace(text_[pos]) && text_[pos] != '=') ++pos;
      if (std::string_view(text_).substr(name_start, pos - name_start) == name && nth-- == 0) {
        return static_cast<ptrdiff_t>(name_start);
      }
      while (pos < n && text_[pos] != '"' && text_[pos] != '\'') ++pos;
      if (pos >= n) break;
      size_t close = text_.find(text_[pos], pos + 1);
      if (close == std::string::npos) break;
      pos = close + 1;
    }
    return el_offset > 0 ? el_offset - 1 : 0;
  }

  const std::string& text_;
  const std::string& source_;
};

Status ReadOs(const Reader& r, pugi::xml_node el, OsInfo* os) {
  RETURN_IF_ERROR(r.CheckAttributes(
      el, {"name", "id", "version", "version-id", "pretty-name", "kernel", "arch", "hostname"},
      {"name"}));
  RETURN_IF_ERROR(r.CheckLeaf(el));
  os->name = el.attribute("name").value();
  os->id = el.attribute("id").value();
  os->version = el.attribute("version").value();
  os->version_id = el.attribute("version-id").value();
  os->pretty_name = el.attribute("pretty-name").value();
  os->kernel = el.attribute("kernel").value();
  os->arch = el.attribute("arch").value();
  os->hostname = el.attribute("hostname").value();
  return Status::Ok();
}

Status ReadDisk(const Reader& r, pugi::xml_node el, Disk* disk) {
  RETURN_IF_ERROR(r.CheckAttributes(el, {"name", "model", "size-bytes"}, {"name"}));
  RETURN_IF_ERROR(r.CheckLeaf(el));
  RETURN_IF_ERROR(r.ReadNonEmpty(el, "name", &disk->name));
  disk->model = el.attribute("model").value();
  return r.ReadUint(el, "size-bytes", std::numeric_limits<uint64_t>::max(), &disk->size_bytes);
}

Status ReadInterface(const Reader& r, pugi::xml_node el, NetInterface* itf) {
  RETURN_IF_ERROR(r.CheckAttributes(el, {"name", "mac"}, {"name"}));
  RETURN_IF_ERROR(r.ReadNonEmpty(el, "name", &itf->name));
  itf->mac = el.attribute("mac").value();
  for (pugi::xml_node c = el.first_child(); c; c = c.next_sibling()) {
    RETURN_IF_ERROR(r.CheckNoText(c, el));
    if (c.type() != pugi::node_element) continue;
    if (std::string_view(c.name()) != "address") return r.UnknownElement(c, el);
    RETURN_IF_ERROR(r.CheckAttributes(c, {"value"}, {"value"}));
    RETURN_IF_ERROR(r.CheckLeaf(c));
    std::string value;
    RETURN_IF_ERROR(r.ReadNonEmpty(c, "value", &value));
    itf->addresses.push_back(std::move(value));
  }
  return Status::Ok();
}

Status ReadHardware(const Reader& r, pugi::xml_node el, Hardware* hw) {
  RETURN_IF_ERROR(r.CheckAttributes(
      el, {"vendor", "model", "serial", "cpu-model", "cpu-cores", "memory-bytes"}, {}));
  hw->vendor = el.attribute("vendor").value();
  hw->model = el.attribute("model").value();
  hw->serial = el.attribute("serial").value();
  hw->cpu_model = el.attribute("cpu-model").value();
  uint64_t cores = 0;
  RETURN_IF_ERROR(r.ReadUint(el, "cpu-cores", std::numeric_limits<uint32_t>::max(), &cores));
  hw->cpu_cores = static_cast<uint32_t>(cores);
  RETURN_IF_ERROR(
      r.ReadUint(el, "memory-bytes", std::numeric_limits<uint64_t>::max(), &hw->memory_bytes));
  for (pugi::xml_node c = el.first_child(); c; c = c.next_sibling()) {
    RETURN_IF_ERROR(r.CheckNoText(c, el));
    if (c.type() != pugi::node_element) continue;
    std::string_view name = c.name();
    if (name == "disk") {
      RETURN_IF_ERROR(ReadDisk(r, c, &hw->disks.emplace_back()));
    } else if (name == "interface") {
      RETURN_IF_ERROR(ReadInterface(r, c, &hw->interfaces.emplace_back()));
    } else {
      return r.UnknownElement(c, el);
    }
  }
  return Status::Ok();
}

Status ReadSoftware(const Reader& r, pugi::xml_node el, std::vector<Package>* software) {
  RETURN_IF_ERROR(r.CheckAttributes(el, {}, {}));
  for (pugi::xml_node c = el.first_child(); c; c = c.next_sibling()) {
    RETURN_IF_ERROR(r.CheckNoText(c, el));
    if (c.type() != pugi::node_element) continue;
    if (std::string_view(c.name()) != "package") return r.UnknownElement(c, el);
    RETURN_IF_ERROR(
        r.CheckAttributes(c, {"name", "version", "arch", "source"}, {"name", "version"}));
    RETURN_IF_ERROR(r.CheckLeaf(c));
    Package& p = software->emplace_back();
    RETURN_IF_ERROR(r.ReadNonEmpty(c, "name", &p.name));
    RETURN_IF_ERROR(r.ReadNonEmpty(c, "version", &p.version));
    p.arch = c.attribute("arch").value();
    // An absent source means the default database, as in the struct.
    if (pugi::xml_attribute s = c.attribute("source")) p.source = s.value();
  }
  return Status::Ok();
}

Status ReadFiles(const Reader& r, pugi::xml_node el, std::vector<FileEvidence>* files) {
  RETURN_IF_ERROR(r.CheckAttributes(el, {}, {}));
  for (pugi::xml_node c = el.first_child(); c; c = c.next_sibling()) {
    RETURN_IF_ERROR(r.CheckNoText(c, el));
    if (c.type() != pugi::node_element) continue;
    if (std::string_view(c.name()) != "file") return r.UnknownElement(c, el);
    RETURN_IF_ERROR(r.CheckAttributes(c, {"path", "size", "modified", "sha256"}, {"path", "size", "modified"}));
    RETURN_IF_ERROR(r.CheckLeaf(c));
    FileEvidence& f = files->emplace_back();
    RETURN_IF_ERROR(r.ReadNonEmpty(c, "path", &f.path));
    RETURN_IF_ERROR(r.ReadUint(c, "size", std::numeric_limits<uint64_t>::max(), &f.size));
    uint64_t modified = 0;
    RETURN_IF_ERROR(r.ReadUint(c, "modified", uint64_t{1} << 40, &modified));
    f.modified = static_cast<int64_t>(modified);
    f.sha256 = c.attribute("sha256").value();
    if (!f.sha256.empty() && !common::IsHexDigest(f.sha256)) {
      return r.ErrorAt(c, c.attribute("sha256"), "sha256 must be 64 lower-case hex digits");
    }
  }
  return Status::Ok();
}

Status ReadInventory(const Reader& r, pugi::xml_node root, Inventory* inv) {
  RETURN_IF_ERROR(r.CheckAttributes(root, {"version", "device", "collected"},
                                    {"version", "device", "collected"}));
  pugi::xml_attribute version = root.attribute("version");
  if (std::string_view(version.value()) != kFormatVersion) {
    return r.ErrorAt(root, version,
                     "unsupported inventory version '" + std::string(version.value()) +
                         "' (this reader knows version " + std::string(kFormatVersion) + ")");
  }
  pugi::xml_attribute device = root.attribute("device");
  if (!common::IsUuid(device.value())) {
    return r.ErrorAt(root, device,
                     "bad device id '" + std::string(device.value()) +
                         "': want a lower-case UUID like "
                         "123e4567-e89b-12d3-a456-426614174000");
  }
  inv->device_id = device.value();
  pugi::xml_attribute collected = root.attribute("collected");
  if (!IsRfc3339(collected.value())) {
    return r.ErrorAt(root, collected,
                     "bad collected time '" + std::string(collected.value()) +
                         "': want RFC 3339 like 2026-11-22T16:00:00Z");
  }
  inv->collected_at = collected.value();

  bool seen_os = false, seen_hw = false, seen_sw = false, seen_files = false;
  for (pugi::xml_node c = root.first_child(); c; c = c.next_sibling()) {
    RETURN_IF_ERROR(r.CheckNoText(c, root));
    if (c.type() != pugi::node_element) continue;
    std::string_view name = c.name();
    bool* seen = name == "os"         ? &seen_os
                 : name == "hardware" ? &seen_hw
                 : name == "software" ? &seen_sw
                 : name == "files"    ? &seen_files
                                      : nullptr;
    if (seen == nullptr) return r.UnknownElement(c, root);
    if (*seen) return r.ErrorAt(c, "duplicate element <" + std::string(name) + "> in <inventory>");
    *seen = true;
    if (name == "os") {
      RETURN_IF_ERROR(ReadOs(r, c, &inv->os));
    } else if (name == "hardware") {
      RETURN_IF_ERROR(ReadHardware(r, c, &inv->hardware));
    } else if (name == "software") {
      RETURN_IF_ERROR(ReadSoftware(r, c, &inv->software));
    } else {
      RETURN_IF_ERROR(ReadFiles(r, c, &inv->files));
    }
  }
  if (!seen_os) return r.ErrorAt(root, "missing required element <os> in <inventory>");
  return Status::Ok();
}

Status ReadUsage(const Reader& r, pugi::xml_node root, Usage* u) {
  RETURN_IF_ERROR(r.CheckAttributes(root, {"version", "device", "from", "to", "sample-interval", "samples"},
                                    {"version", "device", "from", "to", "sample-interval", "samples"}));
  pugi::xml_attribute version = root.attribute("version");
  if (std::string_view(version.value()) != kFormatVersion) {
    return r.ErrorAt(root, version, "unsupported usage version '" + std::string(version.value()) + "'");
  }
  pugi::xml_attribute device = root.attribute("device");
  if (!common::IsUuid(device.value())) {
    return r.ErrorAt(root, device, "bad device id '" + std::string(device.value()) + "'");
  }
  u->device_id = device.value();
  constexpr uint64_t kMaxTime = uint64_t{1} << 40;
  uint64_t from = 0, to = 0, interval = 0;
  RETURN_IF_ERROR(r.ReadUint(root, "from", kMaxTime, &from));
  RETURN_IF_ERROR(r.ReadUint(root, "to", kMaxTime, &to));
  RETURN_IF_ERROR(r.ReadUint(root, "sample-interval", 86400, &interval));
  RETURN_IF_ERROR(r.ReadUint(root, "samples", kMaxTime, &u->samples));
  if (to < from) return r.ErrorAt(root, root.attribute("to"), "the period ends before it starts");
  if (interval == 0) return r.ErrorAt(root, root.attribute("sample-interval"), "'sample-interval' must be 1 .. 86400");
  u->period_start = static_cast<int64_t>(from);
  u->period_end = static_cast<int64_t>(to);
  u->sample_seconds = static_cast<int64_t>(interval);
  for (pugi::xml_node c = root.first_child(); c; c = c.next_sibling()) {
    RETURN_IF_ERROR(r.CheckNoText(c, root));
    if (c.type() != pugi::node_element) continue;
    if (std::string_view(c.name()) != "program") return r.UnknownElement(c, root);
    RETURN_IF_ERROR(r.CheckAttributes(c, {"path", "samples", "first-seen", "last-seen"},
                                      {"path", "samples", "first-seen", "last-seen"}));
    RETURN_IF_ERROR(r.CheckLeaf(c));
    ProgramUsage& p = u->programs.emplace_back();
    RETURN_IF_ERROR(r.ReadNonEmpty(c, "path", &p.program));
    uint64_t first = 0, last = 0;
    RETURN_IF_ERROR(r.ReadUint(c, "samples", u->samples, &p.samples));
    RETURN_IF_ERROR(r.ReadUint(c, "first-seen", kMaxTime, &first));
    RETURN_IF_ERROR(r.ReadUint(c, "last-seen", kMaxTime, &last));
    p.first_seen = static_cast<int64_t>(first);
    p.last_seen = static_cast<int64_t>(last);
    if (p.samples == 0 || first > last || first < from || last > to) {
      return r.ErrorAt(c, "program '" + p.program + "': samples and times must lie within the period");
    }
    if (u->programs.size() > 1 && u->programs[u->programs.size() - 2].program >= p.program) {
      return r.ErrorAt(c, "programs must be sorted by path and unique");
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

namespace {

// The document's one root element, which must be named `want`.
StatusOr<pugi::xml_node> LoadRoot(const Reader& r, const std::string& xml, pugi::xml_document* doc,
                                  std::string_view want) {
  // pugixml does not validate UTF-8; checking first keeps every string in
  // the result valid for SQLite, JSON and the dashboard downstream.
  RETURN_IF_ERROR(r.CheckUtf8());
  // load_buffer (not load_string) so that an embedded NUL is an error rather
  // than a silent end of input, and so offsets index `xml` itself.
  pugi::xml_parse_result res =
      doc->load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!res) {
    return r.ErrorAt(res.offset, std::string("not well-formed XML: ") + res.description());
  }
  pugi::xml_node root;
  for (pugi::xml_node c = doc->first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    if (root) return r.ErrorAt(c, "more than one root element");
    root = c;
  }
  if (std::string_view(root.name()) != want) {
    return r.ErrorAt(root, "root element is <" + std::string(root.name()) + ">, want <" + std::string(want) + ">");
  }
  return root;
}

}  // namespace

StatusOr<Inventory> ParseInventoryXml(const std::string& xml, const std::string& source) {
  Reader r(xml, source);
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node root, LoadRoot(r, xml, &doc, "inventory"));
  Inventory inv;
  RETURN_IF_ERROR(ReadInventory(r, root, &inv));
  return inv;
}

StatusOr<Usage> ParseUsageXml(const std::string& xml, const std::string& source) {
  Reader r(xml, source);
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(pugi::xml_node root, LoadRoot(r, xml, &doc, "usage"));
  Usage usage;
  RETURN_IF_ERROR(ReadUsage(r, root, &usage));
  return usage;
}

}  // namespace inventory

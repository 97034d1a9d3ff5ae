// XML form of the usage document (docs/inventory.md#usage), read with the
// one strict XML reader (common/xml.h) and written through pugixml.
#include <cstdint>
#include <string>
#include <tuple>

#include <pugixml.hpp>

#include "common/time.h"
#include "common/uuid.h"
#include "common/xml.h"
#include "doc_xml.h"
#include "inventory/usage.h"

namespace inventory {
namespace {

using namespace docxml;
using common::StatusOr;
using common::xml::Document;

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
    RETURN_IF_ERROR(c.Attributes({"path", "samples", "first-seen", "last-seen"},
                                 {"day", "launches", "run-seconds"}));
    ProgramUsage& p = u->programs.emplace_back();
    RETURN_IF_ERROR(NonEmpty(c, "path", &p.program));
    RETURN_IF_ERROR(c.Decimal("samples", &p.samples, 0, u->samples));
    RETURN_IF_ERROR(c.Decimal("first-seen", &p.first_seen, 0, kMaxTime));
    RETURN_IF_ERROR(c.Decimal("last-seen", &p.last_seen, 0, kMaxTime));
    if (c.Has("day")) {
      std::string rfc = std::string(c.Value("day")) + "T00:00:00Z";
      if (c.Value("day").size() != 10 || !common::ParseRfc3339(rfc).ok()) {
        return c.ValueError("day", "is not a date YYYY-MM-DD");
      }
      p.day = std::string(c.Value("day"));
    }
    RETURN_IF_ERROR(c.Decimal("launches", &p.launches));
    RETURN_IF_ERROR(c.Decimal("run-seconds", &p.run_seconds, 0, kMaxTime));
    if (p.samples == 0 || p.first_seen > p.last_seen || p.first_seen < u->period_start ||
        p.last_seen > u->period_end) {
      return c.Error("program '" + common::xml::SanitizeText(p.program, 256) +
                     "': samples and times must lie within the period");
    }
    if (u->programs.size() > 1) {
      const ProgramUsage& prev = u->programs[u->programs.size() - 2];
      if (std::tie(prev.program, prev.day) >= std::tie(p.program, p.day)) {
        return c.Error("programs must be sorted by path and day, each pair once");
      }
    }
    ASSIGN_OR_RETURN(auto users, c.Children({"user"}));
    for (const Element& e : users) {
      RETURN_IF_ERROR(e.Attributes({"name"}));
      RETURN_IF_ERROR(e.Children({}).status());
      RETURN_IF_ERROR(NonEmpty(e, "name", &p.users.emplace_back()));
      if (p.users.size() > 1 && p.users[p.users.size() - 2] >= p.users.back()) {
        return e.Error("users must be sorted by name, each once");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

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
    if (!p.day.empty()) {
      SetAttr(pn, "day", p.day);
      SetAttr(pn, "launches", p.launches);
      SetAttr(pn, "run-seconds", static_cast<uint64_t>(p.run_seconds));
    }
    for (const std::string& user : p.users) SetAttr(pn.append_child("user"), "name", user);
  }
  return Serialize(doc);
}

StatusOr<Usage> ParseUsageXml(const std::string& xml, const std::string& source) {
  ASSIGN_OR_RETURN(Document doc, Document::Parse(xml, source, "usage", kLimits));
  Usage usage;
  RETURN_IF_ERROR(ReadUsage(doc.root(), &usage));
  return usage;
}

}  // namespace inventory

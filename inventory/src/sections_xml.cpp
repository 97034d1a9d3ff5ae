// XML form of the detailed inventory's sections (docs/inventory.md#sections).
#include <set>
#include <string>
#include <string_view>

#include "doc_xml.h"
#include "inventory/sections.h"

namespace inventory::docxml {

namespace {

// Section and field names: what a collector may use as a name.
bool IsName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// The typed parts of an inventory; a section may not take their names,
// because deltas name parts and sections in one list.
bool IsReservedPart(std::string_view s) {
  return s == "os" || s == "hardware" || s == "software" || s == "files";
}

}  // namespace

void WriteSection(pugi::xml_node parent, const Section& section) {
  pugi::xml_node sn = parent.append_child("section");
  SetAttr(sn, "name", section.name);
  for (const std::string& note : section.notes) SetAttr(sn.append_child("note"), "text", note);
  for (const Item& item : section.items) {
    pugi::xml_node in = sn.append_child("item");
    SetAttr(in, "key", item.key);
    for (const Field& f : item.fields) {
      pugi::xml_node fn = in.append_child("field");
      SetAttr(fn, "name", f.name);
      SetAttr(fn, "value", f.value);
    }
  }
}

Status ReadSection(const Element& el, Section* section) {
  RETURN_IF_ERROR(el.Attributes({"name"}));
  section->name = std::string(el.Value("name"));
  if (!IsName(section->name) || IsReservedPart(section->name)) {
    return el.ValueError("name", "is not a section name (1-64 of a-z, 0-9, _; not os, hardware, "
                                 "software or files)");
  }
  ASSIGN_OR_RETURN(auto children, el.Children({"note", "item"}));
  std::set<std::string, std::less<>> keys;
  for (const Element& c : children) {
    if (c.name() == "note") {
      RETURN_IF_ERROR(c.Attributes({"text"}));
      RETURN_IF_ERROR(c.Children({}).status());
      RETURN_IF_ERROR(NonEmpty(c, "text", &section->notes.emplace_back()));
      continue;
    }
    RETURN_IF_ERROR(c.Attributes({"key"}));
    Item& item = section->items.emplace_back();
    RETURN_IF_ERROR(NonEmpty(c, "key", &item.key));
    if (!keys.insert(item.key).second) return c.ValueError("key", "is given twice in this section");
    ASSIGN_OR_RETURN(auto fields, c.Children({"field"}));
    std::set<std::string, std::less<>> names;
    for (const Element& f : fields) {
      RETURN_IF_ERROR(f.Attributes({"name", "value"}));
      RETURN_IF_ERROR(f.Children({}).status());
      Field& field = item.fields.emplace_back();
      field.name = std::string(f.Value("name"));
      if (!IsName(field.name)) return f.ValueError("name", "is not a field name (1-64 of a-z, 0-9, _)");
      if (!names.insert(field.name).second) return f.ValueError("name", "is given twice in this item");
      RETURN_IF_ERROR(Text(f, "value", &field.value));
    }
  }
  section->SortItems();
  return Status::Ok();
}

}  // namespace inventory::docxml

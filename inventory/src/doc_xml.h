// Plumbing shared by the XML forms of the documents a device uploads
// (inventory, sections, usage): limits, writing attributes so that the
// strict reader (common/xml.h) always accepts the output, and reading text
// attributes. Private to inventory/.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <pugixml.hpp>

#include "common/status.h"
#include "common/xml.h"
#include "inventory/sections.h"

namespace inventory::docxml {

using common::Status;
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
inline void SetAttr(pugi::xml_node node, const char* name, const std::string& value) {
  std::string clean = common::xml::SanitizeText(value, kLimits.max_value_bytes);
  node.append_attribute(name).set_value(clean.c_str());
}

// Numbers above what the reader's decimal parser takes (18 digits) are
// written as its maximum; no real size or count comes near it.
inline void SetAttr(pugi::xml_node node, const char* name, uint64_t value) {
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
inline Status Text(const Element& el, std::string_view name, std::string* out) {
  return el.String(name, out, {.line_breaks = true});
}
inline Status NonEmpty(const Element& el, std::string_view name, std::string* out) {
  return el.String(name, out, {.min_bytes = 1, .line_breaks = true});
}

// A document with the XML declaration and a root element carrying version="1".
inline pugi::xml_node NewDocument(pugi::xml_document* doc, const char* root_name) {
  pugi::xml_node decl = doc->append_child(pugi::node_declaration);
  decl.append_attribute("version").set_value("1.0");
  decl.append_attribute("encoding").set_value("UTF-8");
  pugi::xml_node root = doc->append_child(root_name);
  SetAttr(root, "version", std::string(kFormatVersion));
  return root;
}

inline std::string Serialize(const pugi::xml_document& doc) {
  std::string out;
  StringWriter writer(&out);
  doc.save(writer, "  ", pugi::format_default, pugi::encoding_utf8);
  return out;
}

}  // namespace inventory::docxml

namespace inventory::docxml {

// <section> (docs/inventory.md#sections), written under `parent` and read
// back: InvalidArgument naming the element for a bad name, a key or field
// given twice, or an empty key.
void WriteSection(pugi::xml_node parent, const Section& section);
Status ReadSection(const Element& el, Section* section);

}  // namespace inventory::docxml

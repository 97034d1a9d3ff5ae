// The one XML reader itself (common/xml.h): any bytes are parsed as a
// document, and every error names the source with a line and column; then
// the same bytes, made acceptable by SanitizeText and written as a value,
// must read back unchanged.
#include <cstdint>
#include <string>

#include "common/xml.h"

namespace {

bool Located(const common::Status& s) { return s.ok() || s.message().rfind("fuzz:", 0) == 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  common::xml::Limits limits;
  limits.max_elements = 1000;
  limits.max_value_bytes = 256;
  auto doc = common::xml::Document::Parse(text, "fuzz", "doc", limits);
  if (!Located(doc.status())) __builtin_trap();
  if (doc.ok()) {
    common::xml::Element root = doc->root();
    int64_t n = 0;
    bool b = false;
    std::string s;
    if (!Located(root.Attributes({"a"}, {"b", "t"})) || !Located(root.Decimal("a", &n)) ||
        !Located(root.Bool("b", &b)) || !Located(root.Time("t", &s)) || !Located(root.String("a", &s))) {
      __builtin_trap();
    }
    auto children = root.UniqueChildren({"a", "b"});
    if (!Located(children.status())) __builtin_trap();
    if (children.ok()) {
      for (const auto& c : *children) {
        if (!Located(c.Children({"a"}).status()) || !Located(c.Token("a", &s))) __builtin_trap();
      }
    }
  }

  std::string clean = common::xml::SanitizeText(text, 1000);
  std::string escaped;
  for (char c : clean) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\t': escaped += "&#9;"; break;
      case '\n': escaped += "&#10;"; break;
      case '\r': escaped += "&#13;"; break;
      default: escaped += c;
    }
  }
  std::string written = "<doc v=\"" + escaped + "\"/>";
  auto back = common::xml::Document::Parse(written, "again", "doc");
  if (!back.ok() || back->root().Value("v") != clean) __builtin_trap();
  return 0;
}

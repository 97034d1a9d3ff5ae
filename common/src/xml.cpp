// The strict reader of common/xml.h on pugixml.
//
// pugixml is fast and non-recursive but lenient: it keeps duplicate
// attributes, leaves unknown entity references as they are, accepts a raw '<'
// in attribute values and decodes &#0; into an early end of string. So the
// reader checks the raw text before parsing (UTF-8, characters, size) and the
// raw attribute values after it (references), and walks the tree once, in
// document order, so that the first mistake in the text is the one reported.
//
// pugixml keeps no position for attributes, but it parses a private copy of
// the text in place, so every name is a pointer into that copy: the distance
// between an element's name and an attribute's name is the distance in the
// original text.

#include "common/xml.h"

#include <pugixml.hpp>

#include <algorithm>
#include <cstdio>
#include <unordered_set>

#include "common/config.h"
#include "common/text.h"
#include "common/time.h"

namespace common::xml {

struct DocumentImpl {
  std::string_view text;
  std::string source;
  Limits limits;
  pugi::xml_document doc;

  Status ErrorAt(size_t offset, std::string_view message) const {
    size_t line = 0, column = 0;
    LineColumn(text, offset, &line, &column);
    // Messages quote names and values from the document: keep them safe for
    // a terminal whatever a caller put in.
    return InvalidArgument(source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                           Printable(message));
  }
  // pugixml's offset is that of the name; people look for the '<' before it.
  size_t ElementOffset(pugi::xml_node n) const {
    ptrdiff_t off = n.offset_debug();
    return off > 0 ? static_cast<size_t>(off - 1) : 0;
  }
  size_t AttributeOffset(pugi::xml_node n, pugi::xml_attribute a) const {
    ptrdiff_t off = n.offset_debug();
    if (off < 0) return 0;
    return static_cast<size_t>(off + (a.name() - n.name()));
  }
};

namespace {

constexpr unsigned kParseOptions = pugi::parse_default | pugi::parse_doctype | pugi::parse_pi |
                                   pugi::parse_declaration | pugi::parse_fragment;

// The characters a document may contain, raw or as a reference: XML 1.0's
// Char without the C1 controls and DEL, which reach terminals as escapes.
bool IsAllowedChar(uint32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0x7E) || (c >= 0xA0 && c <= 0xD7FF) ||
         (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

std::string CodePoint(uint32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
  return buf;
}

std::string ForbiddenChar(uint32_t c) {
  bool control = c < 0x20 || (c >= 0x7F && c <= 0x9F);
  return (control ? "control character " : "character ") + CodePoint(c) + " is not allowed";
}

// A valid sequence of `len` bytes at s[i] as a code point.
uint32_t Decode(std::string_view s, size_t i, size_t len) {
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k])); };
  switch (len) {
    case 1: return b(0);
    case 2: return (b(0) & 0x1F) << 6 | (b(1) & 0x3F);
    case 3: return (b(0) & 0x0F) << 12 | (b(1) & 0x3F) << 6 | (b(2) & 0x3F);
    default: return (b(0) & 0x07) << 18 | (b(1) & 0x3F) << 12 | (b(2) & 0x3F) << 6 | (b(3) & 0x3F);
  }
}

// Text from the document (names, values) inside a message: at most 64 bytes,
// cut on a character boundary, and safe for a terminal.
std::string Shown(std::string_view s) {
  if (s.size() <= 64) return Printable(s);
  size_t cut = 64;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return Printable(s.substr(0, cut)) + "...";
}

std::string Tag(std::string_view name) { return "<" + Shown(name) + ">"; }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool Contains(std::initializer_list<std::string_view> list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

pugi::xml_attribute FindAttribute(pugi::xml_node n, std::string_view name) {
  for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
    if (name == a.name()) return a;
  }
  return {};
}

// Before parsing: UTF-8, allowed characters, and the element count, so that
// pugixml never builds a tree larger than the limits allow.
Status CheckRawText(const DocumentImpl& d) {
  std::string_view s = d.text;
  size_t starts = 0, equals = 0;
  for (size_t i = 0; i < s.size();) {
    // ASCII, nearly every byte of a document, needs no decoding.
    const auto byte = static_cast<unsigned char>(s[i]);
    size_t len = byte < 0x80 ? 1 : Utf8SequenceLength(s, i);
    if (len == 0) return d.ErrorAt(i, "invalid UTF-8 byte sequence");
    uint32_t c = len == 1 ? byte : Decode(s, i, len);
    if (!IsAllowedChar(c)) return d.ErrorAt(i, ForbiddenChar(c));
    if (c == '<' && (i + 1 >= s.size() || s[i + 1] != '/') && ++starts > d.limits.max_elements) {
      return d.ErrorAt(i, "more than " + std::to_string(d.limits.max_elements) +
                              " elements (the limit for this document)");
    }
    if (c == '=' && ++equals > d.limits.max_attributes) {
      return d.ErrorAt(i, "more than " + std::to_string(d.limits.max_attributes) +
                              " attributes (the limit for this document)");
    }
    i += len;
  }
  return Status::Ok();
}

// One reference starting at s[i] == '&' inside an attribute value that ends
// at `end`: its length, or an error.
StatusOr<size_t> CheckReference(const DocumentImpl& d, size_t i, size_t end) {
  std::string_view s = d.text;
  size_t semi = s.find(';', i);
  // The longest valid reference is "&#x10FFFF;" or "&#1114111;".
  if (semi == std::string_view::npos || semi >= end || semi - i > 10) {
    return d.ErrorAt(i, "'&' must start a reference (&amp; &lt; &gt; &quot; &apos; &#N; &#xH;)");
  }
  std::string_view ref = s.substr(i + 1, semi - i - 1);
  if (ref == "amp" || ref == "lt" || ref == "gt" || ref == "quot" || ref == "apos") return semi - i + 1;
  if (ref.empty() || ref[0] != '#') {
    return d.ErrorAt(i, "entity reference '&" + Shown(ref) +
                            ";' is not allowed: only &amp; &lt; &gt; &quot; &apos; and character references");
  }
  bool hex = ref.size() > 1 && ref[1] == 'x';
  std::string_view digits = ref.substr(hex ? 2 : 1);
  uint32_t c = 0;
  bool ok = !digits.empty() && digits.size() <= 7;
  for (char ch : digits) {
    if (!ok) break;
    uint32_t v = 0;
    if (ch >= '0' && ch <= '9') v = static_cast<uint32_t>(ch - '0');
    else if (hex && ch >= 'a' && ch <= 'f') v = static_cast<uint32_t>(ch - 'a' + 10);
    else if (hex && ch >= 'A' && ch <= 'F') v = static_cast<uint32_t>(ch - 'A' + 10);
    else ok = false;
    c = c * (hex ? 16 : 10) + v;
  }
  if (!ok) return d.ErrorAt(i, "'&" + Shown(ref) + ";' is not a character reference");
  if (!IsAllowedChar(c)) return d.ErrorAt(i, ForbiddenChar(c) + " (written '&" + Shown(ref) + ";')");
  return semi - i + 1;
}

// An element's attributes: unique, with valid references, not too long.
Status CheckAttributes(const DocumentImpl& d, pugi::xml_node n) {
  size_t count = 0;
  for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) ++count;
  // Few attributes: compare pairs. Many (a hostile document): a set, so that
  // 50,000 attributes cost 50,000 steps and not a billion.
  std::unordered_set<std::string_view> seen;
  for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
    std::string_view name = a.name();
    bool repeated = false;
    if (count <= 16) {
      for (pugi::xml_attribute b = n.first_attribute(); b != a; b = b.next_attribute()) {
        repeated = repeated || name == b.name();
      }
    } else {
      repeated = !seen.insert(name).second;
    }
    if (repeated) {
      return d.ErrorAt(d.ElementOffset(n), "duplicate attribute '" + Shown(name) + "' on " + Tag(n.name()));
    }

    // The raw value: name S? '=' S? quote ... quote. pugixml accepted the tag,
    // so this shape is certain.
    std::string_view s = d.text;
    size_t p = d.AttributeOffset(n, a) + name.size();
    while (p < s.size() && (IsSpace(s[p]) || s[p] == '=')) ++p;
    if (p >= s.size()) continue;
    size_t end = s.find(s[p], p + 1);
    if (end == std::string_view::npos) end = s.size();
    for (size_t i = p + 1; i < end;) {
      if (s[i] == '<') return d.ErrorAt(i, "'<' in an attribute value must be written &lt;");
      if (s[i] != '&') {
        ++i;
        continue;
      }
      ASSIGN_OR_RETURN(size_t len, CheckReference(d, i, end));
      i += len;
    }
    size_t decoded = std::string_view(a.value()).size();
    if (decoded > d.limits.max_value_bytes) {
      return d.ErrorAt(d.ElementOffset(n), Tag(n.name()) + " '" + Shown(name) + "' is " + std::to_string(decoded) +
                               " bytes long, more than the " + std::to_string(d.limits.max_value_bytes) +
                               " allowed");
    }
  }
  return Status::Ok();
}

// The XML declaration: only at the very start (after a byte order mark).
Status CheckDeclaration(const DocumentImpl& d, pugi::xml_node n) {
  size_t lt = d.ElementOffset(n) - 1;  // "<?xml": the name is two bytes in
  size_t start = d.text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  if (lt != start) return d.ErrorAt(lt, "the XML declaration must come first");
  for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
    std::string_view name = a.name(), value = a.value();
    std::string lower(value);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
    if (name == "version") {
      if (value != "1.0") return d.ErrorAt(lt, "XML version '" + Shown(value) + "' is not supported (expected 1.0)");
    } else if (name == "encoding") {
      if (lower != "utf-8") return d.ErrorAt(lt, "encoding '" + Shown(value) + "' is not supported (expected UTF-8)");
    } else if (name != "standalone") {
      return d.ErrorAt(lt, "unknown attribute '" + Shown(name) + "' in the XML declaration");
    }
  }
  return Status::Ok();
}

// Every node once, in document order, without recursion.
Status Walk(const DocumentImpl& d, std::string_view root_name) {
  pugi::xml_node root;
  pugi::xml_node n = d.doc.first_child();
  while (n) {
    pugi::xml_node parent = n.parent();
    bool top = parent == d.doc;
    switch (n.type()) {
      case pugi::node_declaration: RETURN_IF_ERROR(CheckDeclaration(d, n)); break;
      case pugi::node_doctype: {
        size_t at = d.text.rfind("<!", static_cast<size_t>(std::max<ptrdiff_t>(n.offset_debug(), 0)));
        return d.ErrorAt(at == std::string_view::npos ? 0 : at,
                         "a DOCTYPE is not allowed (no DTD, no entities)");
      }
      case pugi::node_pi: return d.ErrorAt(d.ElementOffset(n) - 1, "processing instructions are not allowed");
      case pugi::node_pcdata:
      case pugi::node_cdata: {
        ptrdiff_t at = n.offset_debug();
        size_t off = at < 0 ? 0 : static_cast<size_t>(at);
        // pcdata starts at its first character, which may be blank.
        while (off < d.text.size() && IsSpace(d.text[off])) ++off;
        return d.ErrorAt(off, top ? "text outside the root element"
                                  : "unexpected text in " + Tag(parent.name()));
      }
      case pugi::node_element:
        if (top) {
          if (root) return d.ErrorAt(d.ElementOffset(n), "a second root element " + Tag(n.name()));
          if (root_name != n.name()) {
            return d.ErrorAt(d.ElementOffset(n),
                             "root element is " + Tag(n.name()) + ", expected " + Tag(root_name));
          }
          root = n;
        }
        RETURN_IF_ERROR(CheckAttributes(d, n));
        break;
      default: break;  // comments are not kept (no parse_comments)
    }
    if (n.first_child()) {
      n = n.first_child();
      continue;
    }
    while (n && !n.next_sibling()) {
      n = n.parent();
      if (n == d.doc) n = pugi::xml_node();
    }
    if (n) n = n.next_sibling();
  }
  if (!root) return d.ErrorAt(d.text.size(), "no root element; expected " + Tag(root_name));
  return Status::Ok();
}

}  // namespace

std::string EscapeAttribute(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\t': out += "&#9;"; break;
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string SanitizeText(std::string_view s, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(s.size(), max_bytes));
  for (size_t i = 0; i < s.size();) {
    size_t len = Utf8SequenceLength(s, i);
    std::string_view piece = "\xEF\xBF\xBD";  // U+FFFD
    if (len != 0 && IsAllowedChar(Decode(s, i, len))) piece = s.substr(i, len);
    i += len == 0 ? 1 : len;
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
  }
  return out;
}

void LineColumn(std::string_view text, size_t offset, size_t* line, size_t* column) {
  *line = 1;
  *column = 1;
  offset = std::min(offset, text.size());
  for (size_t i = 0; i < offset; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++*line;
      *column = 1;
    } else if ((c & 0xC0) != 0x80) {  // a continuation byte is part of the character before
      ++*column;
    }
  }
}

// ------------------------------------------------------------------ Document

Document::Document(std::unique_ptr<DocumentImpl> impl) : impl_(std::move(impl)) {}
Document::Document(Document&&) noexcept = default;
Document& Document::operator=(Document&&) noexcept = default;
Document::~Document() = default;

StatusOr<Document> Document::Parse(std::string_view text, std::string source, std::string_view root,
                                   const Limits& limits) {
  auto d = std::make_unique<DocumentImpl>();
  d->text = text;
  d->source = std::move(source);
  d->limits = limits;
  if (text.size() > limits.max_bytes) {
    return InvalidArgument(d->source + ": the document is " + std::to_string(text.size()) +
                           " bytes, more than the " + std::to_string(limits.max_bytes) + " allowed");
  }
  RETURN_IF_ERROR(CheckRawText(*d));
  // load_buffer (not load_string): the length is explicit, and offsets index `text`.
  pugi::xml_parse_result r = d->doc.load_buffer(text.data(), text.size(), kParseOptions, pugi::encoding_utf8);
  if (!r) {
    return d->ErrorAt(r.offset < 0 ? 0 : static_cast<size_t>(r.offset),
                      std::string("not well-formed XML: ") + r.description());
  }
  RETURN_IF_ERROR(Walk(*d, root));
  return Document(std::move(d));
}

Element Document::root() const { return Element(impl_.get(), impl_->doc.document_element().internal_object()); }

const std::string& Document::source() const { return impl_->source; }

Status Document::ErrorAt(size_t offset, std::string_view message) const { return impl_->ErrorAt(offset, message); }

// ------------------------------------------------------------------- Element

std::string_view Element::name() const { return pugi::xml_node(node_).name(); }

Status Element::Attributes(std::initializer_list<std::string_view> required,
                           std::initializer_list<std::string_view> optional) const {
  pugi::xml_node n(node_);
  for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
    if (!Contains(required, a.name()) && !Contains(optional, a.name())) {
      return Error("unknown attribute '" + Shown(a.name()) + "' on " + Tag(n.name()));
    }
  }
  for (std::string_view r : required) {
    if (!FindAttribute(n, r)) return Error(Tag(n.name()) + " lacks '" + std::string(r) + "'");
  }
  return Status::Ok();
}

StatusOr<std::vector<Element>> Element::Children(std::initializer_list<std::string_view> allowed) const {
  return ChildrenImpl(allowed, false);
}

StatusOr<std::vector<Element>> Element::UniqueChildren(std::initializer_list<std::string_view> allowed) const {
  return ChildrenImpl(allowed, true);
}

StatusOr<std::vector<Element>> Element::ChildrenImpl(std::initializer_list<std::string_view> allowed,
                                                     bool unique) const {
  pugi::xml_node n(node_);
  std::vector<Element> out;
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
    // Parse refused text, PIs and DOCTYPEs; comments are not kept.
    if (c.type() != pugi::node_element) continue;
    if (!Contains(allowed, c.name())) {
      return doc_->ErrorAt(doc_->ElementOffset(c), "unknown element " + Tag(c.name()) + " in " + Tag(n.name()));
    }
    if (unique) {
      for (const Element& e : out) {
        if (e.name() == c.name()) {
          return doc_->ErrorAt(doc_->ElementOffset(c), Tag(c.name()) + " is given twice in " + Tag(n.name()));
        }
      }
    }
    out.push_back(Element(doc_, c.internal_object()));
  }
  return out;
}

bool Element::Has(std::string_view attribute) const { return static_cast<bool>(FindAttribute(pugi::xml_node(node_), attribute)); }

std::string_view Element::Value(std::string_view attribute) const {
  return FindAttribute(pugi::xml_node(node_), attribute).value();
}

Status Element::String(std::string_view attribute, std::string* out, const TextRule& rule) const {
  if (!Has(attribute)) return Status::Ok();
  std::string_view v = Value(attribute);
  if (v.size() < rule.min_bytes) {
    return AttributeError(attribute, Tag(name()) + " '" + std::string(attribute) + "' must not be " +
                                         (rule.min_bytes == 1 ? std::string("empty")
                                                              : "shorter than " + std::to_string(rule.min_bytes) + " bytes"));
  }
  if (v.size() > rule.max_bytes) {
    return AttributeError(attribute, Tag(name()) + " '" + std::string(attribute) + "' is " + std::to_string(v.size()) +
                                         " bytes long, more than the " + std::to_string(rule.max_bytes) + " allowed");
  }
  if (!rule.line_breaks) {
    for (char c : v) {
      if (c == '\t' || c == '\n' || c == '\r') {
        return ValueError(attribute, "contains control character " + CodePoint(static_cast<uint32_t>(c)));
      }
    }
  }
  *out = std::string(v);
  return Status::Ok();
}

Status Element::Token(std::string_view attribute, std::string* out, size_t max_bytes) const {
  if (!Has(attribute)) return Status::Ok();
  std::string_view v = Value(attribute);
  bool ok = !v.empty() && v.size() <= max_bytes && std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
  if (!ok) return ValueError(attribute, "is not 1.." + std::to_string(max_bytes) + " of [A-Za-z0-9._-]");
  *out = std::string(v);
  return Status::Ok();
}

Status Element::Decimal(std::string_view attribute, int64_t* out, int64_t min, int64_t max) const {
  if (!Has(attribute)) return Status::Ok();
  std::string_view v = Value(attribute);
  int64_t n = 0;
  if ((v.size() > 1 && v[0] == '0') || !ParseDecimal(v, &n, max) || n < min) {
    return ValueError(attribute, "is not a decimal integer " + std::to_string(min) + " .. " + std::to_string(max));
  }
  *out = n;
  return Status::Ok();
}

Status Element::Decimal(std::string_view attribute, uint64_t* out, uint64_t min, uint64_t max) const {
  int64_t n = 0;
  const auto cap = static_cast<uint64_t>(kMaxDecimal);
  RETURN_IF_ERROR(Decimal(attribute, &n, static_cast<int64_t>(std::min(min, cap)),
                          static_cast<int64_t>(std::min(max, cap))));
  if (Has(attribute)) *out = static_cast<uint64_t>(n);
  return Status::Ok();
}

Status Element::Bool(std::string_view attribute, bool* out) const {
  if (!Has(attribute)) return Status::Ok();
  std::string_view v = Value(attribute);
  if (v == "true") *out = true;
  else if (v == "false") *out = false;
  else return ValueError(attribute, "is not true or false");
  return Status::Ok();
}

Status Element::Time(std::string_view attribute, std::string* text, int64_t* unix_seconds) const {
  if (!Has(attribute)) return Status::Ok();
  std::string_view v = Value(attribute);
  StatusOr<int64_t> t = ParseRfc3339(v);
  if (!t.ok()) return ValueError(attribute, "is not an RFC 3339 date-time like 2026-11-22T16:00:00Z");
  *text = std::string(v);
  if (unix_seconds != nullptr) *unix_seconds = *t;
  return Status::Ok();
}

Status Element::Expect(std::string_view attribute, std::string_view expected) const {
  if (!Has(attribute)) return Error(Tag(name()) + " lacks '" + std::string(attribute) + "'");
  if (Value(attribute) != expected) {
    return ValueError(attribute, "is not supported (expected " + std::string(expected) + ")");
  }
  return Status::Ok();
}

Status Element::Error(std::string_view message) const {
  return doc_->ErrorAt(doc_->ElementOffset(pugi::xml_node(node_)), message);
}

// The position convention of xml.h: an attribute's problems are shown at its
// element, as the policy documents have always done (docs/policy_format.md).
Status Element::AttributeError(std::string_view /*attribute*/, std::string_view message) const {
  return Error(message);
}

Status Element::ValueError(std::string_view attribute, std::string_view problem) const {
  return AttributeError(attribute, Tag(name()) + " '" + std::string(attribute) + "': '" + Shown(Value(attribute)) +
                                       "' " + std::string(problem));
}

}  // namespace common::xml

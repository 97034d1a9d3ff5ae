// The one strict XML reader for every document the project parses: the policy
// documents (policy/documents.h), the manifest (policy/manifest.h), the
// inventory and the usage document (inventory/inventory.h, usage.h).
//
// Our formats keep all their data in attributes, so the reader is small: it
// parses with pugixml, refuses everything no format could mean, and hands out
// elements whose attributes and children the caller declares and reads through
// typed accessors. Writers stay with each format.
//
// Errors. Every error is InvalidArgument "source:line:column: message". Line
// and column are 1-based; the column counts characters (UTF-8 sequences, a tab
// is one), as an editor shows it. The position is
//   - for an element or any of its attributes (unknown, given twice, missing,
//     a bad value, a bad combination): the element's '<', so that one
//     mistake has one position however the tag is laid out;
//   - for a bad byte, character or reference: that byte;
//   - for text where none may be: its first non-blank character;
//   - for malformed XML: where pugixml stopped.
// Only a document over Limits::max_bytes is reported without a position
// ("source: ...").
//
// What Parse refuses in every document (callers declare the rest):
//   - more than Limits::max_bytes bytes, Limits::max_elements start tags or
//     Limits::max_attributes attributes (counted before parsing, see Limits);
//   - bytes that are not UTF-8; control characters (U+0000..U+001F except tab,
//     LF and CR, and U+007F..U+009F) and U+FFFE, U+FFFF, raw or written as a
//     character reference;
//   - malformed XML; a DOCTYPE (so no entity is ever declared or expanded);
//     a processing instruction; an XML declaration anywhere but at the start,
//     or one naming a version other than 1.0 or an encoding other than UTF-8;
//   - a reference other than &amp; &lt; &gt; &quot; &apos; &#N; &#xH;, and a
//     raw '<' in an attribute value;
//   - an attribute given twice on one element; a value longer than
//     Limits::max_value_bytes once decoded;
//   - non-blank text or CDATA anywhere (whitespace between elements is fine);
//   - no root element, a second one, or one not named as expected.
// Comments are allowed anywhere. Namespaces mean nothing: "a:b" is a name.
//
// Ownership and threads: a Document refers to the text it parsed, which must
// outlive it; an Element refers to its Document, which must outlive it. Both
// are read-only after Parse and may be read from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace pugi {
struct xml_node_struct;
}

namespace common::xml {

// Bounds on what a document may cost. pugixml spends about 60 bytes per
// element and 40 per attribute, so the counts bound memory as well as time.
struct Limits {
  size_t max_bytes = 1u << 20;          // the whole document
  size_t max_elements = 100'000;        // start tags and comments ('<' not followed by '/')
  size_t max_attributes = 1'000'000;    // counted as '=' anywhere, an upper bound
  size_t max_value_bytes = 8u << 10;    // one attribute value, decoded
};

// The largest number Decimal reads: common::ParseDecimal takes at most 18 digits.
inline constexpr int64_t kMaxDecimal = 999'999'999'999'999'999;

// What String accepts beyond the document-wide rules.
struct TextRule {
  size_t min_bytes = 0;         // 1: the value must not be empty
  size_t max_bytes = SIZE_MAX;  // Limits::max_value_bytes applies anyway
  // Tab, LF and CR, which a writer must escape as &#9; &#10; &#13; (XML turns
  // them into spaces when they are written raw). Refused unless allowed.
  bool line_breaks = false;
};

class Document;
struct DocumentImpl;  // private to xml.cpp

// One element of a parsed Document: a cheap handle, copyable.
class Element {
 public:
  std::string_view name() const;

  // Declares the attributes this element may carry: each one present must be
  // in `required` or `optional` ("unknown attribute 'x' on <e>"), and each of
  // `required` must be present ("<e> lacks 'x'"). Call it before reading any
  // attribute.
  Status Attributes(std::initializer_list<std::string_view> required,
                    std::initializer_list<std::string_view> optional = {}) const;

  // The child elements in document order, each named one of `allowed`
  // ("unknown element <x> in <e>", at the child). Children({}) checks that
  // there are none.
  StatusOr<std::vector<Element>> Children(std::initializer_list<std::string_view> allowed) const;
  // The same, where each name may appear at most once ("<x> is given twice in
  // <e>", at the second).
  StatusOr<std::vector<Element>> UniqueChildren(std::initializer_list<std::string_view> allowed) const;

  bool Has(std::string_view attribute) const;
  // The decoded value; "" when the attribute is absent. Valid while the
  // Document lives. UTF-8 with no character Parse refuses, but it may hold
  // tab, LF and CR written as references; String checks for those.
  std::string_view Value(std::string_view attribute) const;

  // Typed accessors. When the attribute is absent each returns OK and leaves
  // *out as it was (the caller's default); presence is Attributes' business.
  // A bad value is "<e> 'attr': 'value' is not ...", the value cut to 64
  // bytes and made printable.

  // Text checked against `rule`.
  Status String(std::string_view attribute, std::string* out, const TextRule& rule = {}) const;
  // 1 to max_bytes of [A-Za-z0-9._-].
  Status Token(std::string_view attribute, std::string* out, size_t max_bytes = 64) const;
  // A decimal through common::ParseDecimal, in [min, max], in its one
  // spelling: digits only, no sign, no leading zero ("0" itself is fine).
  Status Decimal(std::string_view attribute, int64_t* out, int64_t min = 0, int64_t max = kMaxDecimal) const;
  Status Decimal(std::string_view attribute, uint64_t* out, uint64_t min = 0,
                 uint64_t max = static_cast<uint64_t>(kMaxDecimal)) const;
  // "true" or "false".
  Status Bool(std::string_view attribute, bool* out) const;
  // An RFC 3339 date-time through common::ParseRfc3339: the text as written
  // and, if `unix_seconds` is given, the instant.
  Status Time(std::string_view attribute, std::string* text, int64_t* unix_seconds = nullptr) const;
  // The attribute must be present and equal `expected` (version="1"):
  // "<e> lacks 'x'" or "<e> 'x': '2' is not supported (expected 1)".
  Status Expect(std::string_view attribute, std::string_view expected) const;

  // Located errors for what the caller checks itself.
  // At the element's '<': "source:line:column: message".
  Status Error(std::string_view message) const;
  // An error about `attribute`; by the convention above it is shown at the
  // element's '<' too (naming the attribute lets that convention change in
  // one place).
  Status AttributeError(std::string_view attribute, std::string_view message) const;
  // AttributeError with the accessors' wording: "<e> 'attr': 'value' <problem>".
  Status ValueError(std::string_view attribute, std::string_view problem) const;

 private:
  friend class Document;
  Element(const DocumentImpl* doc, pugi::xml_node_struct* node) : doc_(doc), node_(node) {}
  StatusOr<std::vector<Element>> ChildrenImpl(std::initializer_list<std::string_view> allowed, bool unique) const;

  const DocumentImpl* doc_ = nullptr;
  pugi::xml_node_struct* node_ = nullptr;
};

class Document {
 public:
  // Parses `text` (kept by reference: it must outlive the Document) and
  // checks everything listed at the top of this file, including that the
  // root element is named `root`. `source` names the text in errors.
  static StatusOr<Document> Parse(std::string_view text, std::string source, std::string_view root,
                                  const Limits& limits = {});

  Document(Document&&) noexcept;
  Document& operator=(Document&&) noexcept;
  ~Document();

  Element root() const;
  const std::string& source() const;
  // "source:line:column: message" for a byte offset into the text.
  Status ErrorAt(size_t offset, std::string_view message) const;

 private:
  explicit Document(std::unique_ptr<DocumentImpl> impl);
  std::unique_ptr<DocumentImpl> impl_;
};

// For writers: `text` made acceptable to the reader as an attribute value.
// Bytes that are not UTF-8 and characters Parse refuses become U+FFFD, and
// the result is cut to at most `max_bytes` on a character boundary. Tab, LF
// and CR are kept (a writer escapes them).
std::string SanitizeText(std::string_view text, size_t max_bytes = Limits{}.max_value_bytes);

// For writers: `text` as an attribute value between double quotes: & < > "
// escaped, and tab, LF and CR written as character references so that the
// reader gets them back (raw, XML would turn them into spaces). Apply
// SanitizeText first to text that may hold what the reader refuses.
std::string EscapeAttribute(std::string_view text);

// 1-based line and column (in characters, as above) of a byte offset in
// `text`; offsets past the end count as the end.
void LineColumn(std::string_view text, size_t offset, size_t* line, size_t* column);

}  // namespace common::xml

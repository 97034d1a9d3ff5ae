#include "common/xml.h"

#include <catch2/catch.hpp>

#include <string>

namespace {

using common::xml::Document;
using common::xml::Element;
using common::xml::Limits;

// The error Parse gives for `text` with root <doc>, or "accepted".
std::string ParseError(const std::string& text, const Limits& limits = {}) {
  auto d = Document::Parse(text, "t.xml", "doc", limits);
  if (d.ok()) return "accepted";
  CHECK(d.status().code() == common::Code::kInvalidArgument);
  return d.status().message();
}

}  // namespace

TEST_CASE("xml: a document's elements and attributes", "[common][xml]") {
  const std::string text =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
      "<!-- comments are fine -->\n"
      "<doc version=\"1\" name=\"a &amp; b &lt;&gt;&quot;&apos; &#233;&#x1F600;\">\n"
      "  <item n=\"1\"/><!-- here too -->\n"
      "  <item n=\"2\"></item>\n"
      "</doc>\n";
  auto d = Document::Parse(text, "t.xml", "doc");
  REQUIRE(d.ok());
  Element root = d->root();
  CHECK(root.name() == "doc");
  CHECK(root.Attributes({"version"}, {"name", "absent"}).ok());
  CHECK(root.Expect("version", "1").ok());
  CHECK(root.Has("name"));
  CHECK_FALSE(root.Has("absent"));
  CHECK(root.Value("name") == "a & b <>\"' \xC3\xA9\xF0\x9F\x98\x80");
  CHECK(root.Value("absent").empty());
  auto items = root.Children({"item"});
  REQUIRE(items.ok());
  REQUIRE(items->size() == 2);
  int64_t n = 0;
  CHECK((*items)[1].Decimal("n", &n).ok());
  CHECK(n == 2);
  CHECK((*items)[0].Children({}).ok());

  // Elements stay valid when the Document moves.
  Document moved = std::move(*d);
  CHECK(root.Value("version") == "1");
  CHECK(moved.root().name() == "doc");

  // A byte order mark before the declaration is fine.
  CHECK(ParseError("\xEF\xBB\xBF<?xml version=\"1.0\"?><doc/>") == "accepted");
}

TEST_CASE("xml: positions are 1-based lines and character columns", "[common][xml]") {
  size_t line = 0, column = 0;
  common::xml::LineColumn("ab\ncd", 4, &line, &column);
  CHECK(line == 2);
  CHECK(column == 2);
  common::xml::LineColumn("\xC3\xA9\xC3\xA9x", 4, &line, &column);  // two two-byte characters
  CHECK(line == 1);
  CHECK(column == 3);
  common::xml::LineColumn("\tx", 1, &line, &column);  // a tab is one character
  CHECK(column == 2);
  common::xml::LineColumn("ab", 99, &line, &column);  // past the end: the end
  CHECK(column == 3);

  // An error about an element or any of its attributes points at the
  // element's '<', on the line and column an editor shows.
  const std::string text = "<doc>\n  <!-- \xC3\xA9\xC3\xA9 --><item\tn=\"x\" n2=\"1\"/>\n</doc>";
  auto d = Document::Parse(text, "t.xml", "doc");
  REQUIRE(d.ok());
  auto items = d->root().Children({"item"});
  REQUIRE(items.ok());
  Element item = (*items)[0];
  CHECK(item.Error("boom").message() == "t.xml:2:14: boom");
  CHECK(item.AttributeError("n", "boom").message() == "t.xml:2:14: boom");
  CHECK(item.AttributeError("n2", "boom").message() == "t.xml:2:14: boom");
  CHECK(item.AttributeError("absent", "boom").message() == "t.xml:2:14: boom");
  CHECK(item.Attributes({"n"}).message() == "t.xml:2:14: unknown attribute 'n2' on <item>");
  CHECK(item.Attributes({"n", "n2", "n3"}).message() == "t.xml:2:14: <item> lacks 'n3'");
  CHECK(d->root().Children({"other"}).status().message() == "t.xml:2:14: unknown element <item> in <doc>");
  CHECK(d->ErrorAt(0, "at the start").message() == "t.xml:1:1: at the start");
}

TEST_CASE("xml: duplicate attributes are refused", "[common][xml]") {
  CHECK(ParseError("<doc a=\"1\" b=\"2\" a=\"3\"/>") == "t.xml:1:1: duplicate attribute 'a' on <doc>");
  CHECK(ParseError("<doc><x a=\"1\" a=\"1\"/></doc>") == "t.xml:1:6: duplicate attribute 'a' on <x>");

  // Many attributes, repeated or not, cost no quadratic time.
  std::string many = "<doc";
  for (int i = 0; i < 50000; ++i) many += " a" + std::to_string(i) + "=\"x\"";
  std::string repeated = many + " a49999=\"y\"/>";
  CHECK_THAT(ParseError(repeated), Catch::Contains("duplicate attribute 'a49999' on <doc>"));
  auto d = Document::Parse(many + "/>", "t.xml", "doc");
  REQUIRE(d.ok());
  CHECK(d->root().Attributes({}).message() == "t.xml:1:1: unknown attribute 'a0' on <doc>");
}

TEST_CASE("xml: no DTD, no entities beyond the predefined ones", "[common][xml]") {
  const std::string laughs =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE doc [\n <!ENTITY lol \"lol\">\n"
      " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
      " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n]>\n"
      "<doc a=\"&lol3;\"/>";
  CHECK(ParseError(laughs) == "t.xml:2:1: a DOCTYPE is not allowed (no DTD, no entities)");
  CHECK(ParseError("<!DOCTYPE doc SYSTEM \"file:///etc/passwd\"><doc/>") ==
        "t.xml:1:1: a DOCTYPE is not allowed (no DTD, no entities)");
  // Without a DTD, an entity reference is an error rather than text kept as is.
  CHECK(ParseError("<doc a=\"x&xxe;\"/>") ==
        "t.xml:1:10: entity reference '&xxe;' is not allowed: only &amp; &lt; &gt; &quot; &apos; and character "
        "references");
  CHECK(ParseError("<doc a=\"fish & chips\"/>") ==
        "t.xml:1:14: '&' must start a reference (&amp; &lt; &gt; &quot; &apos; &#N; &#xH;)");
  CHECK(ParseError("<doc a=\"&amp\"/>") ==
        "t.xml:1:9: '&' must start a reference (&amp; &lt; &gt; &quot; &apos; &#N; &#xH;)");
  CHECK_THAT(ParseError("<doc a=\"&#;\"/>"), Catch::Contains("'&#;' is not a character reference"));
  CHECK_THAT(ParseError("<doc a=\"&#x;\"/>"), Catch::Contains("'&#x;' is not a character reference"));
  CHECK_THAT(ParseError("<doc a=\"&#12a;\"/>"), Catch::Contains("is not a character reference"));
  CHECK_THAT(ParseError("<doc a=\"&#99999999;\"/>"), Catch::Contains("'&#99999999;' is not a character reference"));
  CHECK(ParseError("<doc a=\"&#0;\"/>") == "t.xml:1:9: control character U+0000 is not allowed (written '&#0;')");
  CHECK_THAT(ParseError("<doc a=\"&#x1b;[2J\"/>"), Catch::Contains("control character U+001B is not allowed"));
  CHECK_THAT(ParseError("<doc a=\"&#x9B;\"/>"), Catch::Contains("control character U+009B is not allowed"));
  CHECK_THAT(ParseError("<doc a=\"&#xD800;\"/>"), Catch::Contains("character U+D800 is not allowed"));
  CHECK_THAT(ParseError("<doc a=\"&#x110000;\"/>"), Catch::Contains("character U+110000 is not allowed"));
  CHECK(ParseError("<doc a=\"&#9;&#10;&#13;&#x10FFFF;\"/>") == "accepted");
  CHECK(ParseError("<doc a=\"x<y\"/>") == "t.xml:1:10: '<' in an attribute value must be written &lt;");
  CHECK(ParseError("<doc a='say \"hi\" &amp; go'/>") == "accepted");
}

TEST_CASE("xml: control characters and bad bytes anywhere", "[common][xml]") {
  CHECK(ParseError("<doc a=\"x\x1b]0;pwned\x07\"/>") == "t.xml:1:10: control character U+001B is not allowed");
  CHECK(ParseError(std::string("<doc>\n<!-- \0 --></doc>", 22)) == "t.xml:2:6: control character U+0000 is not allowed");
  CHECK(ParseError("<doc a=\"\x7f\"/>") == "t.xml:1:9: control character U+007F is not allowed");
  CHECK(ParseError("<doc a=\"\xC2\x9B\"/>") == "t.xml:1:9: control character U+009B is not allowed");
  CHECK(ParseError("<doc a=\"\xEF\xBF\xBE\"/>") == "t.xml:1:9: character U+FFFE is not allowed");
  CHECK(ParseError("<doc a=\"\xC3\x28\"/>") == "t.xml:1:9: invalid UTF-8 byte sequence");
  CHECK(ParseError("<doc a=\"\xED\xA0\x80\"/>") == "t.xml:1:9: invalid UTF-8 byte sequence");  // a surrogate
  CHECK(ParseError("<doc a=\"\xC0\xBC\"/>") == "t.xml:1:9: invalid UTF-8 byte sequence");      // overlong '<'
  // Tabs and line breaks are whitespace, raw or not.
  CHECK(ParseError("<doc\ta=\"x\ty\"\r\n/>") == "accepted");
}

TEST_CASE("xml: limits on size, elements and values", "[common][xml]") {
  Limits small;
  small.max_bytes = 100;
  small.max_elements = 3;
  small.max_value_bytes = 10;
  CHECK(ParseError(std::string(101, ' '), small) == "t.xml: the document is 101 bytes, more than the 100 allowed");
  CHECK(ParseError("<doc><a/><b/></doc>", small) == "accepted");
  CHECK(ParseError("<doc><a/>\n<b/><c/></doc>", small) == "t.xml:2:5: more than 3 elements (the limit for this document)");
  CHECK(ParseError("<doc a=\"0123456789\"/>", small) == "accepted");
  CHECK(ParseError("<doc a=\"&lt;123456789\"/>", small) == "accepted");  // counted decoded
  CHECK(ParseError("<doc a=\"01234567890\"/>", small) == "t.xml:1:1: <doc> 'a' is 11 bytes long, more than the 10 allowed");

  Limits few;
  few.max_attributes = 2;
  CHECK(ParseError("<doc a=\"1\" b=\"2\"/>", few) == "accepted");
  CHECK(ParseError("<doc a=\"1\" b=\"2\" c=\"3\"/>", few) == "t.xml:1:19: more than 2 attributes (the limit for this document)");

  // The defaults: a huge value is refused at its attribute, a huge document before parsing.
  CHECK(ParseError("<doc a=\"" + std::string(9000, 'x') + "\"/>") ==
        "t.xml:1:1: <doc> 'a' is 9000 bytes long, more than the 8192 allowed");
  CHECK_THAT(ParseError("<doc a=\"" + std::string(2u << 20, 'x') + "\"/>"),
             Catch::StartsWith("t.xml: the document is ") && Catch::EndsWith("more than the 1048576 allowed"));
  std::string flat = "<doc>";
  for (int i = 0; i < 100001; ++i) flat += "<a/>";
  CHECK_THAT(ParseError(flat + "</doc>", Limits{.max_bytes = 1u << 30}),
             Catch::StartsWith("t.xml:1:400002: more than 100000 elements"));

  // Deep nesting: parsed and walked without recursion.
  std::string deep;
  for (int i = 0; i < 90000; ++i) deep += "<doc>";
  for (int i = 0; i < 90000; ++i) deep += "</doc>";
  auto d = Document::Parse(deep, "t.xml", "doc");
  REQUIRE(d.ok());
  CHECK(d->root().Children({}).status().message() == "t.xml:1:6: unknown element <doc> in <doc>");
}

TEST_CASE("xml: text, markup and roots that no format means", "[common][xml]") {
  CHECK(ParseError("<doc>text</doc>") == "t.xml:1:6: unexpected text in <doc>");
  CHECK(ParseError("<doc><a>\n  text</a></doc>") == "t.xml:2:3: unexpected text in <a>");
  CHECK(ParseError("<doc><![CDATA[x]]></doc>") == "t.xml:1:15: unexpected text in <doc>");
  CHECK(ParseError("<doc>&amp;</doc>") == "t.xml:1:6: unexpected text in <doc>");
  CHECK(ParseError("<doc>\n  \t\r\n</doc>") == "accepted");
  CHECK(ParseError("junk<doc/>") == "t.xml:1:1: text outside the root element");
  CHECK(ParseError("<doc/>\njunk") == "t.xml:2:1: text outside the root element");
  CHECK(ParseError("<doc/><doc/>") == "t.xml:1:7: a second root element <doc>");
  CHECK(ParseError("<other/>") == "t.xml:1:1: root element is <other>, expected <doc>");
  CHECK(ParseError("") == "t.xml:1:1: no root element; expected <doc>");
  CHECK(ParseError("<!-- only a comment -->\n") == "t.xml:2:1: no root element; expected <doc>");
  CHECK(ParseError("<doc><?php evil() ?></doc>") == "t.xml:1:6: processing instructions are not allowed");
  CHECK(ParseError("\n<?xml version=\"1.0\"?><doc/>") == "t.xml:2:1: the XML declaration must come first");
  CHECK(ParseError("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><doc/>") ==
        "t.xml:1:1: encoding 'ISO-8859-1' is not supported (expected UTF-8)");
  CHECK(ParseError("<?xml version=\"1.1\"?><doc/>") == "t.xml:1:1: XML version '1.1' is not supported (expected 1.0)");
  CHECK(ParseError("<?xml version=\"1.0\" standalone=\"yes\"?><doc/>") == "accepted");
  CHECK_THAT(ParseError("<doc>\n<a></b></doc>"), Catch::StartsWith("t.xml:2:") && Catch::Contains("not well-formed XML"));
  CHECK_THAT(ParseError("<doc a=\"1\"b=\"2\"/>"), Catch::StartsWith("t.xml:1:") && Catch::Contains("not well-formed XML"));
  CHECK_THAT(ParseError("<doc"), Catch::StartsWith("t.xml:1:") && Catch::Contains("not well-formed XML"));
}

TEST_CASE("xml: unique children", "[common][xml]") {
  auto d = Document::Parse("<doc><a/><b/>\n<a/></doc>", "t.xml", "doc");
  REQUIRE(d.ok());
  CHECK(d->root().Children({"a", "b"}).ok());
  CHECK(d->root().UniqueChildren({"a", "b"}).status().message() == "t.xml:2:1: <a> is given twice in <doc>");
}

TEST_CASE("xml: typed accessors", "[common][xml]") {
  const std::string text =
      "<doc s=\"text\" empty=\"\" tab=\"a&#9;b\" token=\"lab-2.east_1\" bad-token=\"a b\" n=\"42\" zero=\"0\""
      " lead=\"042\" neg=\"-1\" plus=\"+1\" big=\"999999999999999999\" huge=\"1000000000000000000\""
      " yes=\"true\" no=\"false\" maybe=\"True\" t=\"2026-11-22T17:00:00+01:00\" bad-t=\"yesterday\""
      " v=\"2\" long=\"" + std::string(100, 'x') + "\"/>";
  auto d = Document::Parse(text, "t.xml", "doc");
  REQUIRE(d.ok());
  Element e = d->root();

  std::string s = "default";
  CHECK(e.String("absent", &s).ok());
  CHECK(s == "default");  // absent: unchanged
  CHECK(e.String("s", &s).ok());
  CHECK(s == "text");
  CHECK(e.String("empty", &s).ok());
  CHECK(s.empty());
  CHECK(e.String("empty", &s, {.min_bytes = 1}).message() == "t.xml:1:1: <doc> 'empty' must not be empty");
  CHECK(e.String("s", &s, {.max_bytes = 3}).message() == "t.xml:1:1: <doc> 's' is 4 bytes long, more than the 3 allowed");
  CHECK(e.String("tab", &s).message() == "t.xml:1:1: <doc> 'tab': 'a?b' contains control character U+0009");
  CHECK(e.String("tab", &s, {.line_breaks = true}).ok());
  CHECK(s == "a\tb");

  CHECK(e.Token("token", &s).ok());
  CHECK(s == "lab-2.east_1");
  CHECK(e.Token("bad-token", &s).message() == "t.xml:1:1: <doc> 'bad-token': 'a b' is not 1..64 of [A-Za-z0-9._-]");
  CHECK_FALSE(e.Token("token", &s, 5).ok());
  CHECK_FALSE(e.Token("empty", &s).ok());

  int64_t n = -7;
  CHECK(e.Decimal("absent", &n).ok());
  CHECK(n == -7);
  CHECK(e.Decimal("n", &n).ok());
  CHECK(n == 42);
  CHECK(e.Decimal("zero", &n).ok());
  CHECK(n == 0);
  CHECK(e.Decimal("big", &n).ok());
  CHECK(n == common::xml::kMaxDecimal);
  uint64_t u = 0;
  CHECK(e.Decimal("big", &u).ok());
  CHECK(u == 999999999999999999u);
  CHECK_THAT(e.Decimal("lead", &n).message(), Catch::EndsWith("<doc> 'lead': '042' is not a decimal integer 0 .. 999999999999999999"));
  for (const char* bad : {"neg", "plus", "huge", "s", "empty"}) {
    INFO(bad);
    CHECK_THAT(e.Decimal(bad, &n).message(), Catch::Contains("is not a decimal integer"));
  }
  CHECK_THAT(e.Decimal("n", &n, 0, 41).message(), Catch::Contains("'42' is not a decimal integer 0 .. 41"));
  CHECK_THAT(e.Decimal("n", &n, 43, 50).message(), Catch::Contains("'42' is not a decimal integer 43 .. 50"));
  CHECK_THAT(e.Decimal("n", &u, 0, 41).message(), Catch::Contains("'42' is not a decimal integer 0 .. 41"));

  bool b = false;
  CHECK(e.Bool("yes", &b).ok());
  CHECK(b);
  CHECK(e.Bool("no", &b).ok());
  CHECK_FALSE(b);
  CHECK_THAT(e.Bool("maybe", &b).message(), Catch::EndsWith("<doc> 'maybe': 'True' is not true or false"));

  int64_t when = 0;
  CHECK(e.Time("t", &s, &when).ok());
  CHECK(s == "2026-11-22T17:00:00+01:00");  // as written
  CHECK(when == 1795363200);
  CHECK_THAT(e.Time("bad-t", &s).message(),
             Catch::EndsWith("<doc> 'bad-t': 'yesterday' is not an RFC 3339 date-time like 2026-11-22T16:00:00Z"));

  CHECK(e.Expect("v", "2").ok());
  CHECK_THAT(e.Expect("v", "1").message(), Catch::EndsWith("<doc> 'v': '2' is not supported (expected 1)"));
  CHECK(e.Expect("absent", "1").message() == "t.xml:1:1: <doc> lacks 'absent'");

  // Values in messages are cut, so a huge value makes a short message.
  CHECK(e.ValueError("long", "is bad").message().size() < 120);
  CHECK_THAT(e.ValueError("long", "is bad").message(), Catch::Contains("xxx...' is bad"));
}

TEST_CASE("xml: names and values in messages are made printable", "[common][xml]") {
  // A bidi override in an element name reaches the message as '?'.
  auto d = Document::Parse("<doc><a\xE2\x80\xAE/></doc>", "t.xml", "doc");
  REQUIRE(d.ok());
  CHECK(d->root().Children({}).status().message() == "t.xml:1:6: unknown element <a?> in <doc>");
}

TEST_CASE("xml: SanitizeText makes any bytes a value the reader accepts", "[common][xml]") {
  using common::xml::SanitizeText;
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(SanitizeText("plain \xC3\xA9 text") == "plain \xC3\xA9 text");
  CHECK(SanitizeText("tab\there\nand\r") == "tab\there\nand\r");  // kept: a writer escapes them
  CHECK(SanitizeText("ab\xff\xfe" "cd") == "ab" + fffd + fffd + "cd");
  CHECK(SanitizeText("esc\x1b[2J") == "esc" + fffd + "[2J");
  CHECK(SanitizeText(std::string("nul\0x", 5)) == "nul" + fffd + "x");
  CHECK(SanitizeText("del\x7f c1\xC2\x9B") == "del" + fffd + " c1" + fffd);
  CHECK(SanitizeText("\xEF\xBF\xBF") == fffd);                       // U+FFFF
  CHECK(SanitizeText("\xC3\xA9\xC3\xA9\xC3\xA9", 5) == "\xC3\xA9\xC3\xA9");  // cut between characters
  CHECK(SanitizeText(std::string(10000, 'x')).size() == 8192);

  // Whatever it returns, written as a value, parses back unchanged.
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  std::string clean = SanitizeText(all);
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
  std::string text = "<doc v=\"" + escaped + "\"/>";
  auto d = Document::Parse(text, "t.xml", "doc");
  REQUIRE(d.ok());
  CHECK(d->root().Value("v") == clean);
}

#include "common/text.h"

#include <string>

#include <catch2/catch.hpp>

namespace {

TEST_CASE("EscapeBytes keeps every byte of a name and reads back exactly", "[text]") {
  struct Case {
    std::string bytes;
    std::string text;
  };
  const Case cases[] = {
      {"/opt/app/bin/app", "/opt/app/bin/app"},
      {"/home/anna/r\xc3\xa9sum\xc3\xa9.pdf", "/home/anna/r\xc3\xa9sum\xc3\xa9.pdf"},  // UTF-8 kept
      {"/srv/latin1-\xe9t\xe9", "/srv/latin1-\\xe9t\\xe9"},                           // Latin-1 bytes
      {"/a\\b", "/a\\\\b"},                                                          // backslash doubled
      {"/tab\there\nline", "/tab\\x09here\\x0aline"},                                // controls
      {"/del\x7f", "/del\\x7f"},
      {"/c1-\xc2\x9b", "/c1-\\xc2\\x9b"},                  // C1 CSI as two bytes
      {"/nonchar-\xef\xbf\xbf", "/nonchar-\\xef\\xbf\\xbf"},  // U+FFFF
      {"/overlong-\xc0\xaf", "/overlong-\\xc0\\xaf"},
      {"/cut-\xe2\x82", "/cut-\\xe2\\x82"},                 // truncated sequence
      {std::string("/nul\0x", 6), "/nul\\x00x"},
      {"", ""},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(common::EscapeBytes(c.bytes) == c.text);
    CHECK(common::IsValidUtf8(c.text));
    std::string back;
    REQUIRE(common::UnescapeBytes(c.text, &back));
    CHECK(back == c.bytes);
  }
  // Every single byte value round-trips.
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    std::string back;
    REQUIRE(common::UnescapeBytes(common::EscapeBytes(one), &back));
    CHECK(back == one);
  }
}

TEST_CASE("UnescapeBytes refuses what EscapeBytes never writes", "[text]") {
  std::string out;
  for (const char* bad : {"\\", "a\\", "\\x", "\\x4", "\\xZZ", "\\x4A", "\\n", "\\x41", "\\\\\\"}) {
    INFO(bad);
    CHECK_FALSE(common::UnescapeBytes(bad, &out));
  }
}

}  // namespace

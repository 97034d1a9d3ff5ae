// The admin API's input checks (beacon/src/api_query.h): the strict query
// string, its typed values, and the device list's cursor.
#include "api_query.h"

#include <catch2/catch.hpp>
#include <string>

namespace {

using beacon::ApiError;
using beacon::Query;

// The error a parse raises: "code parameter".
std::string ErrorOf(const std::string& raw, std::initializer_list<std::string_view> allowed) {
  try {
    Query::Parse(raw, allowed);
  } catch (const ApiError& e) {
    return e.code() + " " + e.parameter();
  }
  return "ok";
}

}  // namespace

TEST_CASE("query strings: names, values, percent-encoding and '+'", "[api]") {
  Query q =
      Query::Parse("q=web%2D01+x&status=active&empty=&flag", {"q", "status", "empty", "flag"});
  CHECK(q.Get("q") == "web-01 x");
  CHECK(q.Get("status") == "active");
  CHECK(q.Get("empty") == "");
  CHECK(q.Get("flag") == "");
  CHECK_FALSE(q.Get("other").has_value());
  CHECK(Query::Parse("", {}).Get("q") == std::nullopt);
  CHECK(Query::Parse("q=%C3%A9t%C3%A9", {"q"}).Get("q") == "\xc3\xa9t\xc3\xa9");  // UTF-8 is text
  CHECK(Query::Parse("q=a%3Db%26c", {"q"}).Get("q") == "a=b&c");
}

TEST_CASE("query strings: every refusal names its parameter", "[api]") {
  CHECK(ErrorOf("limit=1&limit=2", {"limit"}) == "repeated_parameter limit");
  CHECK(ErrorOf("limit=1&lim%69t=2", {"limit"}) ==
        "repeated_parameter limit");  // the same name, encoded
  CHECK(ErrorOf("nope=1", {"limit"}) == "unknown_parameter nope");
  CHECK(ErrorOf("q=a&&limit=1", {"q", "limit"}) == "malformed_query ");
  CHECK(ErrorOf("q=a&", {"q"}) == "malformed_query ");
  CHECK(ErrorOf("=a", {"q"}) == "malformed_query ");
  CHECK(ErrorOf("q=%", {"q"}) == "invalid_parameter q");
  CHECK(ErrorOf("q=%4", {"q"}) == "invalid_parameter q");
  CHECK(ErrorOf("q=%zz", {"q"}) == "invalid_parameter q");
  CHECK(ErrorOf("q=%00", {"q"}) == "invalid_parameter q");        // NUL
  CHECK(ErrorOf("q=a%0Ab", {"q"}) == "invalid_parameter q");      // LF
  CHECK(ErrorOf("q=%1B%5B2J", {"q"}) == "invalid_parameter q");   // an escape sequence
  CHECK(ErrorOf("q=%7F", {"q"}) == "invalid_parameter q");        // DEL
  CHECK(ErrorOf("q=%C2%85", {"q"}) == "invalid_parameter q");     // C1 (NEL)
  CHECK(ErrorOf("q=%FF%FE", {"q"}) == "invalid_parameter q");     // not UTF-8
  CHECK(ErrorOf("q=%C0%AF", {"q"}) == "invalid_parameter q");     // overlong '/'
  CHECK(ErrorOf("q=%ED%A0%80", {"q"}) == "invalid_parameter q");  // a surrogate
  CHECK(ErrorOf("q=" + std::string(257, 'a'), {"q"}) == "invalid_parameter q");
  CHECK(ErrorOf("q=" + std::string(256, 'a'), {"q"}) == "ok");
  CHECK(ErrorOf("cursor=" + std::string(1024, 'a'), {"cursor"}) == "ok");
  CHECK(ErrorOf("cursor=" + std::string(1025, 'a'), {"cursor"}) == "invalid_parameter cursor");
  // A name that is not text is named as it was sent.
  CHECK(ErrorOf("%FFx=1", {"q"}) == "invalid_parameter %FFx");
  CHECK(ErrorOf("a%00b=1", {"q"}) == "invalid_parameter a%00b");
  CHECK(ErrorOf("q'%20OR%201=1", {"q"}) == "unknown_parameter q' OR 1");
}

TEST_CASE("typed values: integers, booleans, times, device ids", "[api]") {
  Query q = Query::Parse(
      "limit=500&open=true&since=2026-11-30&at=1795190400&t=2026-11-30T08:00:00Z&"
      "device=aaaaaaaa-0000-4000-8000-000000000001",
      {"limit", "open", "since", "at", "t", "device"});
  CHECK(q.Int("limit", 1, 500, 50) == 500);
  CHECK(q.Int("absent", 1, 500, 50) == 50);
  CHECK(q.Bool("open", false));
  CHECK(q.Time("since") == 1795996800);
  CHECK(q.Time("at") == 1795190400);
  CHECK(q.Time("t") == 1796025600);
  CHECK(q.DeviceId("device") == "aaaaaaaa-0000-4000-8000-000000000001");

  auto refused = [](const std::string& raw, auto use) {
    try {
      use(Query::Parse(raw, {"x"}));
    } catch (const ApiError& e) {
      return e.code() == "invalid_parameter" && e.parameter() == "x";
    }
    return false;
  };
  auto as_limit = [](const Query& v) { v.Int("x", 1, 500, 50); };
  for (const char* bad : {"x=501", "x=0", "x=-1", "x=%2B5", "x=", "x=1e3", "x=5%20",
                          "x=99999999999999999999", "x=0x10"}) {
    INFO(bad);
    CHECK(refused(bad, as_limit));
  }
  CHECK(refused("x=yes", [](const Query& v) { v.Bool("x", false); }));
  for (const char* bad :
       {"x=yesterday", "x=2026-02-30", "x=-5", "x=2026-11-30T08:00", "x=99999999999999"}) {
    INFO(bad);
    CHECK(refused(bad, [](const Query& v) { v.Time("x"); }));
  }
  for (const char* bad :
       {"x=AAAAAAAA-0000-4000-8000-000000000001", "x=1'%20OR%20'1'='1", "x=..%2F..%2Fetc"}) {
    INFO(bad);
    CHECK(refused(bad, [](const Query& v) { v.DeviceId("x"); }));
  }
}

TEST_CASE("cursors: opaque, exact, and only for their own sort and filters", "[api]") {
  beacon::Cursor c{"-hostname", "status=active\n", std::string("web\x01\xff", 5),
                   "aaaaaaaa-0000-4000-8000-000000000001"};
  const std::string text = beacon::EncodeCursor(c);
  CHECK(
      text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
      std::string::npos);
  beacon::Cursor back = beacon::DecodeCursor(text, "-hostname", "status=active\n");
  CHECK(back.key == c.key);
  CHECK(back.device_id == c.device_id);

  auto code = [](const std::string& t, const std::string& sort, const std::string& scope) {
    try {
      beacon::DecodeCursor(t, sort, scope);
    } catch (const ApiError& e) {
      return e.code() + " " + e.parameter();
    }
    return std::string("ok");
  };
  CHECK(code(text, "hostname", "status=active\n") == "invalid_cursor cursor");    // another sort
  CHECK(code(text, "-hostname", "status=pending\n") == "invalid_cursor cursor");  // other filters
  CHECK(code(text, "-hostname", "") == "invalid_cursor cursor");
  CHECK(code(text + "=", "-hostname", "status=active\n") == "invalid_cursor cursor");  // padding
  CHECK(code(text.substr(1), "-hostname", "status=active\n") == "invalid_cursor cursor");
  CHECK(code("", "-hostname", "") == "invalid_cursor cursor");
  CHECK(code("e30", "hostname", "") == "invalid_cursor cursor");  // "{}"
  CHECK(code("not a cursor!", "hostname", "") == "invalid_cursor cursor");
  CHECK(code("bnVsbA", "hostname", "") == "invalid_cursor cursor");  // "null"
  // A cursor with a device id that is not one.
  beacon::Cursor odd{"hostname", "", "web", "x"};
  CHECK(code(beacon::EncodeCursor(odd), "hostname", "") == "invalid_cursor cursor");
}

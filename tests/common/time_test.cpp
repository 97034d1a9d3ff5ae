#include "common/time.h"

#include <catch2/catch.hpp>

namespace {

int64_t Parsed(const char* s) {
  auto t = common::ParseRfc3339(s);
  INFO(s);
  REQUIRE(t.ok());
  return *t;
}

}  // namespace

TEST_CASE("time: RFC 3339 instants parse to unix seconds", "[common][time]") {
  CHECK(Parsed("1970-01-01T00:00:00Z") == 0);
  CHECK(Parsed("2026-11-22T16:00:00Z") == 1795363200);
  CHECK(Parsed("2026-11-22T17:00:00+01:00") == 1795363200);
  CHECK(Parsed("2026-11-22T10:30:00-05:30") == 1795363200);
  CHECK(Parsed("2026-11-22T16:00:00-00:00") == 1795363200);
  CHECK(Parsed("2026-11-22T16:00:00.999999Z") == 1795363200);  // the fraction is dropped
  CHECK(Parsed("2026-11-22t16:00:00z") == 1795363200);         // RFC 3339 5.6 allows lower case
  CHECK(Parsed("2024-02-29T00:00:00Z") == 1709164800);         // a leap day
  CHECK(Parsed("2016-12-31T23:59:60Z") == 1483228800);         // a leap second: the next second
  CHECK(Parsed("1969-12-31T23:59:59Z") == -1);
  CHECK(Parsed("0000-01-01T00:00:00Z") == -62167219200);
  CHECK(Parsed("9999-12-31T23:59:59Z") == 253402300799);
}

TEST_CASE("time: anything else is refused with the text quoted", "[common][time]") {
  for (const char* bad :
       {"", "yesterday", "2026-11-22", "2026-11-22T16:00Z", "2026-11-22T16:00:00", "2026-11-22 16:00:00Z",
        "2026-11-22T16:00:00ZZ", "2026-11-22T16:00:00.Z", "2026-11-22T16:00:00+0100", "2026-11-22T16:00:00+24:00",
        "2026-11-22T16:00:00+01:60", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T16:60:00Z", "2026-11-22T16:00:61Z",
        "+2026-11-22T16:00:00Z", "2026-11-2216:00:00Z", "2026-1a-22T16:00:00Z", "2026-11-22T16:00:00 Z"}) {
    INFO(bad);
    auto t = common::ParseRfc3339(bad);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().code() == common::Code::kInvalidArgument);
    CHECK(t.status().message() ==
          "'" + std::string(bad) + "' is not an RFC 3339 date-time like 2026-11-22T16:00:00Z");
  }
  // A long text is cut in the message.
  auto t = common::ParseRfc3339(std::string(10000, '9'));
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().message().size() < 150);
}

TEST_CASE("time: FormatRfc3339 and ParseRfc3339 are one pair", "[common][time]") {
  CHECK(common::FormatRfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(common::FormatRfc3339(1795363200) == "2026-11-22T16:00:00Z");
  for (int64_t t : {int64_t{0}, int64_t{1}, int64_t{951782400}, int64_t{1795363199}, int64_t{4102444800},
                    int64_t{253402300799}}) {
    INFO(t);
    CHECK(Parsed(common::FormatRfc3339(t).c_str()) == t);
  }
}

TEST_CASE("time: HTTP dates (IMF-fixdate) parse to unix seconds, other forms are refused", "[common][time]") {
  auto parsed = [](const char* s) {
    auto t = common::ParseHttpDate(s);
    INFO(s);
    REQUIRE(t.ok());
    return *t;
  };
  CHECK(parsed("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK(parsed("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
  CHECK(parsed("Sun, 22 Nov 2026 16:00:00 GMT") == 1795363200);
  CHECK(parsed("Thu, 29 Feb 2024 00:00:00 GMT") == 1709164800);
  CHECK(parsed("Sat, 31 Dec 2016 23:59:60 GMT") == 1483228800);
  for (const char* bad : {
           "",
           "Sunday, 06-Nov-94 08:49:37 GMT",  // RFC 850
           "Sun Nov  6 08:49:37 1994",        // asctime
           "Sun, 06 Nov 1994 08:49:37 UTC",
           "Sun, 06 Nov 1994 08:49:37 GMT ",
           " Sun, 06 Nov 1994 08:49:37 GMT",
           "Mon, 06 Nov 1994 08:49:37 GMT",   // the wrong weekday
           "sun, 06 Nov 1994 08:49:37 GMT",
           "Sun, 06 nov 1994 08:49:37 GMT",
           "Sun, 6 Nov 1994 08:49:37 GMT",
           "Sun, 31 Nov 1994 08:49:37 GMT",   // no such day
           "Sun, 06 Nov 1994 24:49:37 GMT",
           "Sun, 06 Nov 1994 08:60:37 GMT",
           "Sun, 06 Nov 1994 08:49:61 GMT",
           "Sun, 06 Nov 19x4 08:49:37 GMT",
           "Sun, 06 Nov 1994 08-49-37 GMT",
       }) {
    INFO(bad);
    auto t = common::ParseHttpDate(bad);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().code() == common::Code::kInvalidArgument);
    CHECK(t.status().message() ==
          "'" + std::string(bad) + "' is not an HTTP date like Sun, 06 Nov 1994 08:49:37 GMT");
  }
}

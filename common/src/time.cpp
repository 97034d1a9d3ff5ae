#include "common/time.h"

#include <chrono>
#include <cstdio>

namespace common {
namespace {

// The value of `n` decimal digits at s[pos], or -1 if any is not a digit.
int Digits(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// The text in a message: at most 64 bytes, cut on a UTF-8 character boundary.
std::string Shown(std::string_view s) {
  if (s.size() <= 64) return std::string(s);
  size_t cut = 64;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

}  // namespace

StatusOr<int64_t> ParseRfc3339(std::string_view s) {
  auto bad = [&] {
    return InvalidArgument("'" + Shown(s) + "' is not an RFC 3339 date-time like 2026-11-22T16:00:00Z");
  };
  // The shortest form is "YYYY-MM-DDTHH:MM:SSZ".
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':') {
    return bad();
  }
  const int year = Digits(s, 0, 4), month = Digits(s, 5, 2), day = Digits(s, 8, 2);
  const int hour = Digits(s, 11, 2), minute = Digits(s, 14, 2), second = Digits(s, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 ||
      second > 60) {
    return bad();
  }
  const std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return bad();

  size_t pos = 19;
  if (s[pos] == '.') {
    const size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return bad();
  }
  int64_t offset = 0;
  const std::string_view zone = s.substr(pos);
  if (zone == "Z" || zone == "z") {
    offset = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const int oh = Digits(zone, 1, 2), om = Digits(zone, 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return bad();
    offset = (zone[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else {
    return bad();
  }
  const int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  return days * 86400 + hour * 3600 + minute * 60 + second - offset;
}

StatusOr<int64_t> ParseHttpDate(std::string_view s) {
  auto bad = [&] {
    return InvalidArgument("'" + Shown(s) + "' is not an HTTP date like Sun, 06 Nov 1994 08:49:37 GMT");
  };
  // "Sun, 06 Nov 1994 08:49:37 GMT": exactly 29 characters.
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT") {
    return bad();
  }
  static constexpr std::string_view kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int month = 0;
  while (month < 12 && kMonths[month] != s.substr(8, 3)) ++month;
  const int day = Digits(s, 5, 2), year = Digits(s, 12, 4);
  const int hour = Digits(s, 17, 2), minute = Digits(s, 20, 2), second = Digits(s, 23, 2);
  if (month == 12 || day < 0 || year < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 ||
      second > 60) {
    return bad();
  }
  const std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month + 1)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return bad();
  const std::chrono::sys_days days(ymd);
  if (kDays[std::chrono::weekday(days).c_encoding()] != s.substr(0, 3)) return bad();
  return int64_t{days.time_since_epoch().count()} * 86400 + hour * 3600 + minute * 60 + second;
}

std::string FormatRfc3339(int64_t unix_seconds) {
  const std::chrono::sys_seconds t{std::chrono::seconds(unix_seconds)};
  const auto days = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{t - days};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

}  // namespace common

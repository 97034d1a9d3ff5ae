// Instants written as text: the one RFC 3339 parser, and its formatter.
//
// Every document that carries a date-time (the inventory's `collected`, the
// store's copy of it, log lines) reads it with ParseRfc3339 and writes it with
// FormatRfc3339, so that what one part writes the others read. Device clocks
// are recorded, never used to order anything (DESIGN.md); these functions only
// convert. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace common {

// Parses an RFC 3339 date-time (section 5.6):
//
//   date-time = YYYY "-" MM "-" DD "T" hh ":" mm ":" ss ["." 1*DIGIT] zone
//   zone      = "Z" / ("+" / "-") hh ":" mm
//
// to unix seconds. "T" and "Z" may be lower case, as the RFC allows; nothing
// else is accepted (no space for "T", no missing seconds or zone). The date
// must exist (no February 30); hh 00-23, mm 00-59, ss 00-60, where 60 (a leap
// second) counts as the start of the next second. The fraction is dropped; an
// offset is applied, so "2026-11-22T17:00:00+01:00" is 2026-11-22T16:00:00Z.
// Years are 0000 to 9999.
//
// InvalidArgument "'<text>' is not an RFC 3339 date-time like
// 2026-11-22T16:00:00Z" (the text cut to 64 bytes); callers add where it was.
StatusOr<int64_t> ParseRfc3339(std::string_view text);

// UTC, whole seconds, upper-case "T" and "Z": "2026-11-22T16:00:00Z".
// ParseRfc3339(FormatRfc3339(t)) == t for every t from 1970 to the end of 9999.
std::string FormatRfc3339(int64_t unix_seconds);

// Parses an HTTP date in its one current form, the IMF-fixdate of RFC 9110
// section 5.6.7 (what every server sends in `Date`):
//
//   IMF-fixdate = day-name "," SP DD SP month SP YYYY SP hh ":" mm ":" ss SP "GMT"
//   e.g. "Sun, 06 Nov 1994 08:49:37 GMT"
//
// to unix seconds. Day and month names are case-sensitive ("Sun".."Sat",
// "Jan".."Dec"); the day name must be the date's own weekday; the date must
// exist; hh 00-23, mm 00-59, ss 00-60 (60 as in ParseRfc3339). The obsolete
// RFC 850 and asctime forms are refused, as is anything around the date.
// InvalidArgument "'<text>' is not an HTTP date like Sun, 06 Nov 1994
// 08:49:37 GMT" (the text cut to 64 bytes).
StatusOr<int64_t> ParseHttpDate(std::string_view text);

}  // namespace common

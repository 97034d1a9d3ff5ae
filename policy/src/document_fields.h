// The value checks, formats and attribute readers every policy document
// shares: one spelling for durations, sizes, clock times, URLs, CIDRs and
// paths, checked the same way wherever they appear (documents.cpp).
// Private to policy/; pure functions, thread-safe.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/xml.h"
#include "policy/documents.h"

namespace policy::fields {

using common::xml::Document;
using common::xml::Element;

constexpr int64_t kMinute = 60;
constexpr int64_t kDay = 86400;

// A decimal without sign or leading zeros (so that every value has exactly
// one spelling), at most `max`.
bool ParseCanonicalInt(const std::string& s, int64_t max, int64_t* out);
bool IsAbsolutePath(const std::string& s);
bool IsHostName(const std::string& h);
// scheme "://" host [":" port], nothing else. Returns "host:port" with the
// host lower-cased and the port made explicit, the identity used to find
// duplicates; nullopt if `url` is not of that form.
std::optional<std::string> UrlKey(const std::string& url, const std::string& scheme, bool port_required,
                                  int default_port);

// address "/" prefix, IPv4 or IPv6, with no bits set past the prefix.
struct Cidr {
  int family = AF_INET;
  std::array<unsigned char, 16> bytes{};
  size_t prefix = 0;
};
std::optional<Cidr> ParseCidr(const std::string& s);
bool IsCidr(const std::string& s);
// "HH:MM" to minutes after midnight.
bool ParseClock(const std::string& s, int* minutes);

std::string FormatDuration(int64_t seconds);
std::string FormatBytes(uint64_t bytes);
std::string FormatClock(int minutes);
const char* Bool(bool b);  // "true" / "false"
// XML attribute escaping for the writers.
std::string Escape(const std::string& s);

// "<element> 'key'" for messages.
std::string Where(const Element& e, std::string_view key);
common::Status ReadDuration(const Element& e, std::string_view key, int64_t min, int64_t max, int64_t* out);
common::Status ReadText(const Element& e, std::string_view key, size_t max, std::string* out);
common::Status ParseFileRule(const Element& rule, FileRule* out);

}  // namespace policy::fields

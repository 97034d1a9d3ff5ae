// The value checks, formats and attribute readers the policy documents share
// (documents.cpp). Private to policy/.
#include "document_fields.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "common/config.h"
#include "common/uuid.h"

namespace policy::fields {

using common::Status;
using common::StatusOr;
// ------------------------------------------------------------ value checks

// A decimal without sign or leading zeros (so that every value has exactly
// one spelling), at most `max`.
bool ParseCanonicalInt(const std::string& s, int64_t max, int64_t* out) {
  if (s.size() > 1 && s[0] == '0') return false;
  return common::ParseDecimal(s, out, max);
}

// "/..." or a drive path "C:\..." / "C:/...".
bool IsAbsolutePath(const std::string& s) {
  if (s.empty()) return false;
  if (s[0] == '/') return true;
  return s.size() >= 3 && std::isalpha(static_cast<unsigned char>(s[0])) && s[1] == ':' &&
         (s[2] == '\\' || s[2] == '/');
}

bool IsHostName(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  bool all_numeric = true;
  size_t start = 0;
  while (true) {
    size_t dot = h.find('.', start);
    std::string label = h.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
      if (!std::isdigit(static_cast<unsigned char>(c))) all_numeric = false;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // "10.0.0.300" is neither a name nor an address.
  if (all_numeric) {
    in_addr a{};
    return inet_pton(AF_INET, h.c_str(), &a) == 1;
  }
  return true;
}

// scheme "://" host [":" port], nothing else. Returns "host:port" with the
// host lower-cased and the port made explicit, the identity used to find
// duplicates; nullopt if `url` is not of that form.
std::optional<std::string> UrlKey(const std::string& url, const std::string& scheme, bool port_required,
                                  int default_port) {
  std::string prefix = scheme + "://";
  if (url.size() > 2048 || url.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::string rest = url.substr(prefix.size());
  std::string host, port;
  bool has_port = false;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = rest.substr(1, close - 1);
    in6_addr a{};
    if (inet_pton(AF_INET6, host.c_str(), &a) != 1) return std::nullopt;
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return std::nullopt;
    has_port = !rest.empty();
    if (has_port) port = rest.substr(1);
    host = "[" + host + "]";
  } else {
    size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (!IsHostName(host)) return std::nullopt;
    has_port = colon != std::string::npos;
    if (has_port) port = rest.substr(colon + 1);
  }
  if (port_required && !has_port) return std::nullopt;
  int64_t p = default_port;
  if (has_port && (!ParseCanonicalInt(port, 65535, &p) || p == 0)) return std::nullopt;
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host + ":" + std::to_string(p);
}


std::optional<Cidr> ParseCidr(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos || s.size() > 64) return std::nullopt;
  std::string addr = s.substr(0, slash);
  Cidr c;
  bool v6 = addr.find(':') != std::string::npos;
  c.family = v6 ? AF_INET6 : AF_INET;
  if (inet_pton(c.family, addr.c_str(), c.bytes.data()) != 1) return std::nullopt;
  int64_t prefix = 0;
  if (!ParseCanonicalInt(s.substr(slash + 1), v6 ? 128 : 32, &prefix)) return std::nullopt;
  c.prefix = static_cast<size_t>(prefix);
  for (size_t bit = c.prefix; bit < (v6 ? 128u : 32u); ++bit) {
    if (c.bytes[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;
  }
  return c;
}

bool IsCidr(const std::string& s) { return ParseCidr(s).has_value(); }

// "HH:MM", 00:00 .. 23:59, as minutes after midnight.
bool ParseClock(const std::string& s, int* minutes) {
  if (s.size() != 5 || s[2] != ':') return false;
  for (size_t i : {0, 1, 3, 4}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return false;
  *minutes = h * 60 + m;
  return true;
}

// ------------------------------------------------------------- formatting

std::string FormatDuration(int64_t s) {
  if (s == 0) return "0s";
  if (s % kDay == 0) return std::to_string(s / kDay) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % kMinute == 0) return std::to_string(s / kMinute) + "m";
  return std::to_string(s) + "s";
}

std::string FormatBytes(uint64_t b) {
  if (b != 0 && b % (1ull << 30) == 0) return std::to_string(b >> 30) + "G";
  if (b != 0 && b % (1ull << 20) == 0) return std::to_string(b >> 20) + "M";
  if (b != 0 && b % (1ull << 10) == 0) return std::to_string(b >> 10) + "K";
  return std::to_string(b);
}

std::string FormatClock(int minutes) {
  std::string out = "00:00";
  out[0] = static_cast<char>('0' + minutes / 600);
  out[1] = static_cast<char>('0' + minutes / 60 % 10);
  out[3] = static_cast<char>('0' + minutes % 60 / 10);
  out[4] = static_cast<char>('0' + minutes % 10);
  return out;
}

std::string Escape(const std::string& s) { return common::xml::EscapeAttribute(s); }

const char* Bool(bool b) { return b ? "true" : "false"; }

// ----------------------------------------------------------------- reading
//
// Every document is read with the one strict reader (common/xml.h), which
// refuses malformed XML, duplicate attributes, text, DTDs, control characters
// and unknown references, and locates each error at the element's '<'. What
// is left here is each document's own grammar.

// "<e> 'key': ", the start of a message about one attribute.
std::string Where(const Element& e, std::string_view key) {
  return "<" + std::string(e.name()) + "> '" + std::string(key) + "': ";
}

// A duration attribute within [min, max]; absent leaves *out.
Status ReadDuration(const Element& e, std::string_view key, int64_t min, int64_t max, int64_t* out) {
  if (!e.Has(key)) return Status::Ok();
  auto d = common::ParseDuration(std::string(e.Value(key)));
  if (!d.ok()) return e.AttributeError(key, Where(e, key) + d.status().message());
  if (*d < min || *d > max) {
    return e.ValueError(key, "is outside " + FormatDuration(min) + " .. " + FormatDuration(max));
  }
  *out = *d;
  return Status::Ok();
}

// Free text (paths, globs, credentials): 1..max bytes without control
// characters, which XML attribute normalisation would otherwise silently turn
// into spaces.
Status ReadText(const Element& e, std::string_view key, size_t max, std::string* out) {
  return e.String(key, out, {.min_bytes = 1, .max_bytes = max});
}

Status ParseFileRule(const Element& rule, FileRule* out) {
  RETURN_IF_ERROR(rule.Attributes({}));
  ASSIGN_OR_RETURN(auto children, rule.Children({"include", "exclude", "pattern"}));
  for (const Element& c : children) {
    RETURN_IF_ERROR(c.Children({}).status());
    std::string value;
    if (c.name() == "pattern") {
      RETURN_IF_ERROR(c.Attributes({"glob"}));
      RETURN_IF_ERROR(ReadText(c, "glob", 255, &value));
      if (value.find_first_of("/\\") != std::string::npos) {
        return c.ValueError("glob", "must not contain '/' or '\\' (a glob matches a base name)");
      }
      out->patterns.push_back(value);
    } else {
      RETURN_IF_ERROR(c.Attributes({"path"}));
      RETURN_IF_ERROR(ReadText(c, "path", 4096, &value));
      if (!IsAbsolutePath(value)) return c.ValueError("path", "is not an absolute path");
      (c.name() == "include" ? out->include : out->exclude).push_back(value);
    }
  }
  if (out->include.empty()) return rule.Error("<rule> needs at least one <include>");
  if (out->patterns.empty()) return rule.Error("<rule> needs at least one <pattern>");
  return Status::Ok();
}

}  // namespace policy::fields

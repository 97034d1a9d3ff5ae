#include "api_query.h"

#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/config.h"
#include "common/sha256.h"
#include "common/text.h"
#include "common/time.h"
#include "common/uuid.h"

namespace beacon {

namespace {

// A name as it may appear in an error: the bytes kept exactly but made
// UTF-8 (common::EscapeBytes), cut to 64 bytes.
std::string ShownName(std::string_view name) {
  std::string s = common::EscapeBytes(name);
  if (s.size() > 64) {
    s.resize(64);
    while (!s.empty() && !common::IsValidUtf8(s)) s.pop_back();
  }
  return s;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding with '+' as a space; false for a '%' not followed by two
// hex digits.
bool Decode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c != '%') {
      out->push_back(c);
    } else {
      if (i + 2 >= in.size()) return false;
      const int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return true;
}

// UTF-8 without C0, DEL or C1 control characters.
bool CleanText(std::string_view s) {
  if (!common::IsValidUtf8(s)) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x20 || b == 0x7f) return false;
    if (b == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9f) return false;
  }
  return true;
}

std::string Base64Url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

// Strict: only [A-Za-z0-9_-], no padding, a length base64 can have.
std::optional<std::string> FromBase64Url(std::string_view text) {
  if (text.empty() || text.size() % 4 == 1) return std::nullopt;
  std::string b64(text);
  for (char& c : b64) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return std::nullopt;
    }
  }
  const size_t pad = (4 - b64.size() % 4) % 4;
  b64.append(pad, '=');
  std::string out(b64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0 || static_cast<size_t>(n) < pad) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string ScopeDigest(const std::string& sort, const std::string& scope) {
  return common::Sha256Hex(sort + '\n' + scope).substr(0, 16);
}

}  // namespace

void BadParameter(const std::string& parameter, const std::string& message) {
  throw ApiError(400, "invalid_parameter", message, parameter);
}

Query Query::Parse(std::string_view raw, std::initializer_list<std::string_view> allowed) {
  Query q;
  if (raw.empty()) return q;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t end = raw.find('&', start);
    if (end == std::string_view::npos) end = raw.size();
    const std::string_view pair = raw.substr(start, end - start);
    start = end + 1;
    if (pair.empty())
      throw ApiError(400, "malformed_query", "the query string has an empty name=value pair");
    const size_t eq = pair.find('=');
    const std::string_view raw_name = pair.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string name, value;
    if (raw_name.empty())
      throw ApiError(400, "malformed_query", "the query string has a parameter without a name");
    if (!Decode(raw_name, &name) || !CleanText(name)) {
      throw ApiError(400, "invalid_parameter", "a parameter name is not percent-encoded UTF-8 text",
                     ShownName(raw_name));
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      throw ApiError(400, "unknown_parameter",
                     "this endpoint takes no parameter '" + ShownName(name) + "'", ShownName(name));
    }
    if (!Decode(raw_value, &value)) BadParameter(name, name + " has a malformed percent-encoding");
    if (!CleanText(value))
      BadParameter(name, name + " must be UTF-8 text without control characters");
    const size_t cap = name == "cursor" ? kMaxCursorBytes : kMaxValueBytes;
    if (value.size() > cap)
      BadParameter(name, name + " is longer than " + std::to_string(cap) + " bytes");
    if (!q.values_.emplace(name, std::move(value)).second) {
      throw ApiError(400, "repeated_parameter", name + " is given more than once", name);
    }
    if (end == raw.size()) break;
  }
  return q;
}

std::optional<std::string> Query::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Query::Required(const std::string& name) const {
  auto v = Get(name);
  if (!v || v->empty()) BadParameter(name, name + " is required");
  return *v;
}

int64_t Query::Int(const std::string& name, int64_t min, int64_t max, int64_t fallback) const {
  auto v = Get(name);
  if (!v) return fallback;
  int64_t n = 0;
  if (!common::ParseDecimal(*v, &n) || n < min || n > max) {
    BadParameter(name, name + " must be an integer from " + std::to_string(min) + " to " +
                           std::to_string(max));
  }
  return n;
}

bool Query::Bool(const std::string& name, bool fallback) const {
  auto v = Get(name);
  if (!v) return fallback;
  if (*v == "1" || *v == "true") return true;
  if (*v == "0" || *v == "false") return false;
  BadParameter(name, name + " must be 1, true, 0 or false");
}

std::optional<int64_t> Query::Time(const std::string& name) const {
  auto v = Get(name);
  if (!v) return std::nullopt;
  int64_t t = 0;
  if (!v->empty() && v->find_first_not_of("0123456789") == std::string::npos) {
    if (common::ParseDecimal(*v, &t, int64_t{253402300799})) return t;  // up to 9999-12-31
  } else {
    auto parsed = common::ParseRfc3339(v->size() == 10 ? *v + "T00:00:00Z" : *v);
    if (parsed.ok() && *parsed >= 0) return *parsed;
  }
  BadParameter(
      name,
      name +
          " must be unix seconds, an RFC 3339 time (2026-11-30T08:00:00Z) or a date (2026-11-30)");
}

std::optional<std::string> Query::DeviceId(const std::string& name) const {
  auto v = Get(name);
  if (v && !common::IsUuid(*v))
    BadParameter(name, name + " must be a device id (a lower-case UUID)");
  return v;
}

void CheckUuidSegment(const std::string& segment, const std::string& parameter) {
  if (!common::IsUuid(segment)) BadParameter(parameter, parameter + " must be a lower-case UUID");
}

std::string EncodeCursor(const Cursor& c) {
  nlohmann::json doc = {{"v", 1},
                        {"s", c.sort},
                        {"f", ScopeDigest(c.sort, c.scope)},
                        {"k", common::EscapeBytes(c.key)},
                        {"i", c.device_id}};
  return Base64Url(doc.dump());
}

Cursor DecodeCursor(const std::string& text, const std::string& sort, const std::string& scope) {
  auto invalid = [](const std::string& why) {
    return ApiError(400, "invalid_cursor", why, "cursor");
  };
  auto bytes = FromBase64Url(text);
  if (!bytes) throw invalid("cursor is not a cursor this server made");
  nlohmann::json doc = nlohmann::json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  auto text_field = [&doc](const char* name) {
    return doc.contains(name) && doc[name].is_string();
  };
  const bool shaped = doc.is_object() && doc.size() == 5 && doc.contains("v") && doc["v"] == 1 &&
                      text_field("s") && text_field("f") && text_field("k") && text_field("i");
  Cursor c;
  if (!shaped || !common::UnescapeBytes(doc["k"].get<std::string>(), &c.key) ||
      !common::IsUuid(doc["i"].get<std::string>())) {
    throw invalid("cursor is not a cursor this server made");
  }
  if (doc["s"] != sort || doc["f"] != ScopeDigest(sort, scope)) {
    throw invalid("cursor was made for another sort or other filters; start again without it");
  }
  c.sort = sort;
  c.scope = scope;
  c.device_id = doc["i"].get<std::string>();
  return c;
}

}  // namespace beacon

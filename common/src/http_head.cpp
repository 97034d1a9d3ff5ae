// Checks on what a request head says (http_engine.h), apart from the
// session that reads it.
#include <string>
#include <string_view>

#include "common/config.h"
#include "http_engine.h"

namespace common::engine {

// "%0d", "%0A", "%00", "%7f": a percent-encoded control character. Header
// values are never decoded here, but other software on the way may decode
// them; no value of this protocol needs one.
bool HasEncodedControl(std::string_view v) {
  for (size_t i = 0; i + 2 < v.size(); ++i) {
    if (v[i] != '%') continue;
    char a = v[i + 1], b = static_cast<char>(v[i + 2] | 0x20);
    bool hex_b = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f');
    if ((a == '0' || a == '1') && hex_b) return true;
    if (a == '7' && b == 'f') return true;
  }
  return false;
}

bool SafeHeaderText(const std::string& s) {
  return s.find_first_of(std::string("\r\n\0", 3)) == std::string::npos;
}

Refusal CheckLength(bool get, size_t lengths, const std::string& text, uint64_t max_body, int64_t* length) {
  *length = 0;
  if (lengths > 1) return {400, "duplicate Content-Length"};
  if (get) {
    if (lengths == 1 && text != "0") return {400, "a GET or HEAD request has no body"};
    return {};
  }
  if (lengths == 0) return {411, "Content-Length is required"};
  if (!ParseDecimal(text, length)) return {400, "Content-Length is not a decimal number"};
  if (static_cast<uint64_t>(*length) > max_body) return {413, "body larger than " + std::to_string(max_body) + " bytes"};
  return {};
}

}  // namespace common::engine

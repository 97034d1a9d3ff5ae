#include "common/text.h"

#include <cstdint>

namespace common {

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return len;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string Printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    const auto next = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
    const auto third = i + 2 < s.size() ? static_cast<unsigned char>(s[i + 2]) : 0;
    if (u < 0x20 || u == 0x7f) {
      out += '?';
    } else if (u == 0xC2 && next >= 0x80 && next <= 0x9F) {
      out += '?';  // C1 controls (U+0080..U+009F), e.g. the one-byte CSI
      ++i;
    } else if (u == 0xE2 && ((next == 0x80 && third >= 0xAA && third <= 0xAE) ||
                             (next == 0x81 && third >= 0xA6 && third <= 0xA9))) {
      out += '?';  // bidi embeddings, overrides and isolates reorder the table
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

namespace {

// Characters a document reader refuses (common/xml.h) even though they are
// valid UTF-8: they are escaped byte by byte like invalid sequences.
bool RefusedCharacter(std::string_view s, size_t i, size_t len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  if (len == 1) return b(0) < 0x20 || b(0) == 0x7f;
  if (len == 2) return b(0) == 0xC2 && b(1) >= 0x80 && b(1) <= 0x9F;
  if (len == 3) return b(0) == 0xEF && b(1) == 0xBF && (b(2) == 0xBE || b(2) == 0xBF);
  return false;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string EscapeBytes(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    size_t len = Utf8SequenceLength(bytes, i);
    if (len == 0 || RefusedCharacter(bytes, i, len)) {
      const size_t n = len == 0 ? 1 : len;
      for (size_t k = 0; k < n; ++k) {
        const auto u = static_cast<unsigned char>(bytes[i + k]);
        out += "\\x";
        out += kHex[u >> 4];
        out += kHex[u & 15];
      }
      i += n;
    } else if (bytes[i] == '\\') {
      out += "\\\\";
      ++i;
    } else {
      out.append(bytes.substr(i, len));
      i += len;
    }
  }
  return out;
}

bool UnescapeBytes(std::string_view text, std::string* out) {
  out->clear();
  out->reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      *out += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '\\') {
      *out += '\\';
      ++i;
      continue;
    }
    if (i + 3 >= text.size() || text[i + 1] != 'x') return false;
    const int hi = HexValue(text[i + 2]);
    const int lo = HexValue(text[i + 3]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 3;
  }
  // Only the one form EscapeBytes writes: "\\x41" for "A" is refused.
  return EscapeBytes(*out) == text;
}

}  // namespace common

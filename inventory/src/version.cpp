#include "inventory/version.h"

#include <cstddef>

namespace inventory {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

struct Parts {
  std::string_view epoch, upstream, revision;
};

Parts Split(std::string_view v) {
  Parts p;
  size_t colon = v.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    std::string_view e = v.substr(0, colon);
    bool digits = true;
    for (char c : e) digits = digits && IsDigit(c);
    if (digits) {
      p.epoch = e;
      v.remove_prefix(colon + 1);
    }
  }
  size_t dash = v.rfind('-');
  if (dash != std::string_view::npos) {
    p.revision = v.substr(dash + 1);
    v = v.substr(0, dash);
  }
  p.upstream = v;
  return p;
}

// dpkg's order of a character in a non-digit run; the end of the part is 0.
int Order(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const char c = s[i];
  if (IsDigit(c)) return 0;
  if (IsAlpha(c)) return static_cast<unsigned char>(c);
  if (c == '~') return -1;
  return static_cast<unsigned char>(c) + 256;
}

// dpkg's verrevcmp: alternating non-digit and digit runs.
int ComparePart(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    while ((i < a.size() && !IsDigit(a[i])) || (j < b.size() && !IsDigit(b[j]))) {
      const int ac = Order(a, i), bc = Order(b, j);
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    int first_diff = 0;
    while (i < a.size() && IsDigit(a[i]) && j < b.size() && IsDigit(b[j])) {
      if (first_diff == 0) first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (i < a.size() && IsDigit(a[i])) return 1;
    if (j < b.size() && IsDigit(b[j])) return -1;
    if (first_diff != 0) return first_diff;
  }
  return 0;
}

// Epochs as numbers of any length: leading zeros dropped, then length, then digits.
int CompareEpoch(std::string_view a, std::string_view b) {
  while (!a.empty() && a.front() == '0') a.remove_prefix(1);
  while (!b.empty() && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b);
}

bool IsUpstreamChar(char c) {
  return IsDigit(c) || IsAlpha(c) || c == '.' || c == '+' || c == '~' || c == '-' || c == ':';
}

}  // namespace

bool IsDebianVersion(std::string_view v) {
  if (v.empty() || v.size() > 256) return false;
  size_t colon = v.find(':');
  bool has_epoch = false;
  if (colon != std::string_view::npos) {
    if (colon == 0) return false;
    for (char c : v.substr(0, colon)) {
      if (!IsDigit(c)) return false;
    }
    has_epoch = true;
  }
  const Parts p = Split(v);
  const bool has_revision =
      v.rfind('-') != std::string_view::npos && v.rfind('-') > (has_epoch ? colon : 0);
  if (p.upstream.empty() || !IsDigit(p.upstream.front())) return false;
  for (char c : p.upstream) {
    if (!IsUpstreamChar(c)) return false;
    if (c == '-' && !has_revision) return false;
    if (c == ':' && !has_epoch) return false;
  }
  if (has_revision) {
    if (p.revision.empty()) return false;
    for (char c : p.revision) {
      if (!IsDigit(c) && !IsAlpha(c) && c != '.' && c != '+' && c != '~') return false;
    }
  }
  return true;
}

int CompareDebianVersions(std::string_view a, std::string_view b) {
  const Parts pa = Split(a), pb = Split(b);
  if (int c = CompareEpoch(pa.epoch, pb.epoch); c != 0) return c;
  if (int c = ComparePart(pa.upstream, pb.upstream); c != 0) return c;
  return ComparePart(pa.revision, pb.revision);
}

}  // namespace inventory
